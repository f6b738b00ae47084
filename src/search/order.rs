//! The order of search results: the default of CONTRACT §8 (the filter's `>=` attribute,
//! else displayName) and the keys of a server-side sort control (RFC 2891). Owns
//! comparison of entries only; value normalisation comes from `directory::matching`.

use std::cmp::Ordering;

use ldap3_proto::proto::LdapFilter;

use crate::directory::entry::Entry;
use crate::directory::matching;
use crate::directory::schema::{self, AttributeType};

/// One sort key: an attribute type and its direction.
#[derive(Debug, Clone, Copy)]
pub struct OrderKey {
    pub attr: &'static AttributeType,
    pub reverse: bool,
}

/// The attribute CONTRACT §8 orders by when no sort control is given: the `>=` item's
/// attribute when the filter is one, or the first `>=` item directly under a top-level
/// AND; otherwise displayName.
pub fn default_key(filter: &LdapFilter) -> OrderKey {
    let ge_attr = match filter {
        LdapFilter::GreaterOrEqual(a, _) => Some(a.as_str()),
        LdapFilter::And(children) => children.iter().find_map(|c| match c {
            LdapFilter::GreaterOrEqual(a, _) => Some(a.as_str()),
            _ => None,
        }),
        _ => None,
    };
    let attr = ge_attr
        .and_then(schema::attribute)
        .or_else(|| schema::attribute("displayName"));
    match attr {
        Some(attr) => OrderKey {
            attr,
            reverse: false,
        },
        // displayName is always in the schema table; this arm keeps the code total.
        None => OrderKey {
            attr: &schema::attributes()[0],
            reverse: false,
        },
    }
}

/// The smallest value of the entry's attribute under the attribute's ordering, as a key.
fn smallest(entry: &Entry, attr: &AttributeType, reverse: bool) -> Option<String> {
    let values = entry.get(attr)?;
    let keys = values.iter().map(|v| matching::ordering_key(attr, v));
    // RFC 2891 §2.2: with reverse order, a multi-valued attribute sorts by its largest value.
    if reverse { keys.max() } else { keys.min() }
}

/// Sorts entries by the keys; entries without a key's attribute come last in either
/// direction (RFC 2891 §2.2); ties go by the DN compared case-insensitively.
pub fn sort_entries(entries: &mut [Entry], keys: &[OrderKey]) {
    let mut keyed: Vec<(Vec<Option<String>>, String, usize)> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            (
                keys.iter()
                    .map(|k| smallest(e, k.attr, k.reverse))
                    .collect(),
                e.dn.to_lowercase(),
                i,
            )
        })
        .collect();
    keyed.sort_by(|a, b| {
        for (i, k) in keys.iter().enumerate() {
            let ord = match (&a.0[i], &b.0[i]) {
                (Some(x), Some(y)) => {
                    if k.reverse {
                        y.cmp(x)
                    } else {
                        x.cmp(y)
                    }
                }
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        a.1.cmp(&b.1)
    });
    let order: Vec<usize> = keyed.into_iter().map(|k| k.2).collect();
    let mut taken: Vec<Option<Entry>> = entries.iter().cloned().map(Some).collect();
    for (slot, idx) in entries.iter_mut().zip(order) {
        if let Some(e) = taken[idx].take() {
            *slot = e;
        }
    }
}
