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

/// Compares two values of `attr` in its ordering; attributes without an ordering rule
/// fall back to caseIgnoreOrderingMatch, and values the rule cannot read sort last.
pub fn compare_values(attr: &AttributeType, a: &str, b: &str) -> Ordering {
    let rule = match attr.ordering {
        schema::Ordering::None => schema::Ordering::CaseIgnore,
        r => r,
    };
    match matching::ordering_compare(rule, a, b) {
        Some(o) => o,
        None => matching::case_ignore_key(a).cmp(&matching::case_ignore_key(b)),
    }
}

/// True when some value of the entry's attribute is at or after `assertion` (the VLV
/// greaterThanOrEqual target, draft-ietf-ldapext-ldapv3-vlv-09 §6.2).
pub fn at_or_after(entry: &Entry, attr: &AttributeType, assertion: &str) -> bool {
    entry.get(attr).is_some_and(|vals| {
        vals.iter()
            .any(|v| compare_values(attr, v, assertion) != Ordering::Less)
    })
}

/// The sort value of an entry: its smallest value, or with reverse order its largest
/// (RFC 2891 §2.2).
fn sort_value<'e>(entry: &'e Entry, attr: &AttributeType, reverse: bool) -> Option<&'e str> {
    let values = entry.get(attr)?;
    let it = values.iter().map(String::as_str);
    if reverse {
        it.max_by(|a, b| compare_values(attr, a, b))
    } else {
        it.min_by(|a, b| compare_values(attr, a, b))
    }
}

/// Sorts entries by the keys; entries without a key's attribute come last in either
/// direction (RFC 2891 §2.2); ties go by the DN compared case-insensitively.
pub fn sort_entries(entries: &mut [Entry], keys: &[OrderKey]) {
    entries.sort_by(|a, b| {
        for k in keys {
            let ord = match (
                sort_value(a, k.attr, k.reverse),
                sort_value(b, k.attr, k.reverse),
            ) {
                (Some(x), Some(y)) => {
                    let o = compare_values(k.attr, x, y);
                    if k.reverse { o.reverse() } else { o }
                }
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        a.dn.to_lowercase().cmp(&b.dn.to_lowercase())
    });
}
