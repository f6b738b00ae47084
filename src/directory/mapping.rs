//! The mapping from Graph users and organizational contacts to LDAP attributes
//! (CONTRACT §5), configurable per attribute. Owns `$select` lists and which Graph
//! property backs an LDAP attribute; it does not decide what Graph can filter (translate).

use super::Collection;
use super::schema::AttributeType;

/// Where an LDAP attribute's values come from in a Graph object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A string or string-collection property; every non-empty value.
    Property(String),
    /// The first of these properties that has a non-empty value (sAMAccountName).
    FirstOf(Vec<String>),
    /// orgContact `phones[]` entries of this `type`, their `number`.
    ContactPhone(String),
    /// A field of the first element of orgContact `addresses`.
    ContactAddress(String),
}

/// One LDAP attribute and its Graph source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeMapping {
    pub attr: &'static AttributeType,
    pub source: Source,
}

/// The mapping for both collections.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    pub users: Vec<AttributeMapping>,
    pub contacts: Vec<AttributeMapping>,
}

impl Mapping {
    /// The mappings of one collection.
    pub fn for_collection(&self, c: Collection) -> &[AttributeMapping] {
        match c {
            Collection::Users => &self.users,
            Collection::Contacts => &self.contacts,
        }
    }

    /// The sources of an LDAP attribute type in a collection (empty when unmapped).
    pub fn sources(&self, c: Collection, at: &AttributeType) -> Vec<&Source> {
        self.for_collection(c)
            .iter()
            .filter(|m| std::ptr::eq(m.attr, at))
            .map(|m| &m.source)
            .collect()
    }
}

// Filled by the directory-model owner:
// - `Mapping::default_mapping() -> Mapping` (CONTRACT §5)
// - `Mapping::select(&self, c) -> Vec<String>`: Graph properties for `$select`
//   (always `id`, and `userPrincipalName` for users)
// - `Mapping::to_entry(&self, c, obj: &serde_json::Value, tree: &Tree) -> Option<Entry>`:
//   the full entry with objectClass and operational attributes, `None` when the object
//   lacks its key (`id`, or `userPrincipalName` for users)
