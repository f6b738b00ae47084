//! A mapped LDAP entry: a DN and its attributes (objectClass and operational attributes
//! included). Built by `mapping` and `tree`; read by `filter`, `search` and the LDAP edge.

use super::schema::AttributeType;

/// One LDAP entry as the gateway serves it. Values keep Graph's spelling.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The DN exactly as returned to clients.
    pub dn: String,
    /// Attributes in a stable order; each type appears at most once with at least one value.
    pub attrs: Vec<(&'static AttributeType, Vec<String>)>,
}

impl Entry {
    pub fn new(dn: impl Into<String>) -> Self {
        Entry {
            dn: dn.into(),
            attrs: Vec::new(),
        }
    }

    /// The values of an attribute type (compared by identity of the schema entry).
    pub fn get(&self, at: &AttributeType) -> Option<&[String]> {
        self.attrs
            .iter()
            .find(|(a, _)| std::ptr::eq(*a, at))
            .map(|(_, v)| v.as_slice())
    }

    /// Adds values to an attribute, skipping empty strings; an attribute with no
    /// non-empty value is not created (CONTRACT §5: nothing is invented).
    pub fn push(&mut self, at: &'static AttributeType, values: impl IntoIterator<Item = String>) {
        let values: Vec<String> = values.into_iter().filter(|v| !v.is_empty()).collect();
        if values.is_empty() {
            return;
        }
        if let Some((_, existing)) = self.attrs.iter_mut().find(|(a, _)| std::ptr::eq(*a, at)) {
            for v in values {
                if !existing.contains(&v) {
                    existing.push(v);
                }
            }
        } else {
            self.attrs.push((at, values));
        }
    }
}
