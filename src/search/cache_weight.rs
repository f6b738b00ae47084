//! The caches' weighers: approximately how many bytes one cached Graph answer (its query
//! key and fetched objects) or one cached search result (its key and entries) keeps in memory, so `[search] cache_max_bytes` bounds the
//! cache by memory rather than by entry count. It knows serde_json's layout, not LDAP.

use std::mem::size_of;

use serde_json::Value;

use crate::directory::entry::Entry;
use crate::directory::schema::AttributeType;
use crate::translate::GraphQuery;

/// What a `BTreeMap` node spends per entry beyond the key and value themselves (the
/// node's edges and length fields spread over its up to 11 entries), roughly.
const MAP_ENTRY_OVERHEAD: usize = 16;

/// The weight moka charges for one cached answer: the key's strings and the objects,
/// saturated at `u32::MAX` (moka's weight type).
pub fn answer_bytes(q: &GraphQuery, objects: &[Value]) -> u32 {
    let key = size_of::<GraphQuery>()
        + q.filter.as_ref().map_or(0, String::len)
        + q.search.as_ref().map_or(0, String::len)
        + q.orderby.as_ref().map_or(0, String::len)
        + q.select
            .iter()
            .map(|s| size_of::<String>() + s.len())
            .sum::<usize>();
    let answer = size_of::<Vec<Value>>() + objects.iter().map(value_bytes).sum::<usize>();
    u32::try_from(key + answer).unwrap_or(u32::MAX)
}

/// The weight of one cached search result: its key's bytes and its entries' strings and
/// slots, saturated at `u32::MAX`.
pub fn result_bytes(key_len: usize, entries: &[Entry]) -> u32 {
    let entries: usize = entries
        .iter()
        .map(|e| {
            size_of::<Entry>()
                + e.dn.len()
                + e.attrs
                    .iter()
                    .map(|(_, vals)| {
                        size_of::<(&'static AttributeType, Vec<String>)>()
                            + vals
                                .iter()
                                .map(|v| size_of::<String>() + v.len())
                                .sum::<usize>()
                    })
                    .sum::<usize>()
        })
        .sum();
    u32::try_from(key_len + size_of::<Vec<Entry>>() + entries).unwrap_or(u32::MAX)
}

/// Bytes one JSON value holds: its own slot plus what it owns on the heap.
fn value_bytes(v: &Value) -> usize {
    size_of::<Value>()
        + match v {
            Value::Null | Value::Bool(_) | Value::Number(_) => 0,
            Value::String(s) => s.len(),
            Value::Array(items) => items.iter().map(value_bytes).sum(),
            Value::Object(map) => map
                .iter()
                .map(|(k, v)| size_of::<String>() + k.len() + value_bytes(v) + MAP_ENTRY_OVERHEAD)
                .sum(),
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_answer_weighs_at_least_its_strings_and_grows_with_its_objects() {
        let q = GraphQuery {
            collection: crate::directory::Collection::Users,
            filter: Some("startsWith(displayName,'meg')".into()),
            search: None,
            select: vec!["id".into(), "displayName".into()],
            orderby: None,
            top: Some(999),
            consistency_eventual: false,
            count: false,
        };
        let user = json!({"id": "x".repeat(36), "displayName": "Megan Bowen", "businessPhones": ["+1 425 555 0109"]});
        let text = user.to_string().len();
        let one = answer_bytes(&q, std::slice::from_ref(&user)) as usize;
        let ten = answer_bytes(&q, &vec![user.clone(); 10]) as usize;
        assert!(one > text, "{one} bytes for an object of {text} JSON bytes");
        // Ten objects weigh ten times the object (the key counted once).
        let per_object = ten - one;
        assert_eq!(per_object % 9, 0);
        assert!(per_object / 9 > text && per_object / 9 < 20 * text);
    }
}
