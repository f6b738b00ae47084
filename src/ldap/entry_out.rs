//! Turning a directory entry into a SearchResultEntry PDU: requested attributes, `*`,
//! `+`, `1.1` and typesOnly (RFC 4511 §4.5.1.8). Unknown names are silently omitted.

use ldap3_proto::proto::{LdapPartialAttribute, LdapSearchResultEntry};

use crate::directory::compat;
use crate::directory::entry::Entry;
use crate::directory::schema::{self, AttributeType};

/// What a search asked to see of each entry.
#[derive(Debug, Clone)]
pub struct AttributeSelection {
    all_user: bool,
    all_operational: bool,
    named: Vec<&'static AttributeType>,
    types_only: bool,
}

impl AttributeSelection {
    pub fn new(attrs: &[String], types_only: bool) -> Self {
        let mut sel = AttributeSelection {
            all_user: attrs.is_empty(),
            all_operational: false,
            named: Vec::new(),
            types_only,
        };
        for a in attrs {
            match a.trim() {
                "*" => sel.all_user = true,
                "+" => sel.all_operational = true,
                // "1.1" alone asks for no attributes; with others it is ignored (§4.5.1.8).
                "1.1" => {}
                name => {
                    if let Some(at) = schema::attribute(name)
                        && !sel.named.iter().any(|n| std::ptr::eq(*n, at))
                    {
                        sel.named.push(at);
                    }
                }
            }
        }
        sel
    }

    /// True when `at` (or one of its supertypes) was requested.
    fn wants(&self, at: &'static AttributeType) -> bool {
        if at.operational {
            if self.all_operational {
                return true;
            }
        } else if self.all_user {
            return true;
        }
        self.named.iter().any(|n| at.is_subtype_of(n))
    }

    /// The PDU for `entry` with the selected attributes.
    pub fn render(&self, entry: &Entry) -> LdapSearchResultEntry {
        let attributes = entry
            .attrs
            .iter()
            .filter(|(at, _)| self.wants(at))
            .map(|(at, vals)| LdapPartialAttribute {
                atype: at.name.to_string(),
                vals: if self.types_only {
                    Vec::new()
                } else {
                    vals.iter()
                        .map(|v| match at.is_binary() {
                            // objectGUID, objectSid: one byte per char (CONTRACT §9).
                            true => compat::text_bytes(v),
                            false => v.as_bytes().to_vec(),
                        })
                        .collect()
                },
            })
            .collect();
        LdapSearchResultEntry {
            dn: entry.dn.clone(),
            attributes,
        }
    }
}
