//! The result cache: a finished search's ordered entries, kept for `[search] cache_ttl_secs`
//! and keyed by everything that decides them (base, scope, filter, order, memberOf), so an
//! identical search within the lifetime is answered without planning, mapping or re-checking.
//! It holds the same answers as the Graph answer cache beneath it, already mapped. A result
//! planned on an older phone index (another generation) is not answered from it.

use std::sync::Arc;
use std::time::Duration;

use ldap3_proto::proto::LdapSearchScope;

use super::SearchParams;
use super::cache_weight;
use crate::directory::entry::Entry;
use crate::directory::filter::filter_to_string;

/// One search as the cache tells searches apart: the base as written, the scope, the
/// filter's RFC 4515 text, the sort keys and whether memberOf was computed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResultKey(String);

impl ResultKey {
    pub fn of(p: &SearchParams<'_>) -> ResultKey {
        use std::fmt::Write;
        let scope = match p.scope {
            LdapSearchScope::Base => 'b',
            LdapSearchScope::OneLevel => 'o',
            LdapSearchScope::Subtree => 's',
            LdapSearchScope::Children => 'c',
        };
        let mut key = String::with_capacity(p.base.len() + 64);
        key.push(scope);
        key.push(if p.member_of { 'm' } else { '-' });
        // Entries carry only the attributes the search needs (`Needed`): the list is part
        // of what decides them, each name after its length (a client may send any bytes).
        for a in p.attributes {
            let _ = write!(key, "{}:{a}", a.len());
        }
        for k in p.order.unwrap_or_default() {
            let _ = write!(key, "{}{}", if k.reverse { '-' } else { '+' }, k.attr.name);
        }
        // The base is a DN, the filter RFC 4515 text: neither holds an unescaped NUL.
        key.push('\0');
        key.push_str(p.base);
        key.push('\0');
        key.push_str(&filter_to_string(p.filter));
        ResultKey(key)
    }
}

/// Finished searches' entries, weighed by their bytes within `max_bytes`.
pub struct ResultCache {
    cache: moka::sync::Cache<ResultKey, Arc<Kept>>,
}

/// One result and the phone index generation it was planned on.
struct Kept {
    generation: u64,
    entries: Vec<Entry>,
}

impl ResultCache {
    /// A cache whose results live `ttl`; `None` (no caching) when `ttl` is zero.
    pub fn new(ttl: Duration, max_bytes: u64) -> Option<ResultCache> {
        if ttl.is_zero() {
            return None;
        }
        let cache = moka::sync::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|k: &ResultKey, kept: &Arc<Kept>| {
                cache_weight::result_bytes(k.0.len(), &kept.entries)
            })
            .time_to_live(ttl)
            .build();
        Some(ResultCache { cache })
    }

    /// The entries of an identical search finished within the lifetime on the phone index
    /// of `generation`.
    pub fn get(&self, key: &ResultKey, generation: u64) -> Option<Vec<Entry>> {
        self.cache
            .get(key)
            .filter(|kept| kept.generation == generation)
            .map(|kept| kept.entries.clone())
    }

    /// Keeps a search's entries, planned on the phone index of `generation`.
    pub fn insert(&self, key: ResultKey, generation: u64, entries: &[Entry]) {
        let kept = Kept {
            generation,
            entries: entries.to_vec(),
        };
        self.cache.insert(key, Arc::new(kept));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::filter::parse_filter;
    use crate::directory::schema;
    use crate::search::order::OrderKey;

    fn params<'a>(
        base: &'a str,
        scope: LdapSearchScope,
        filter: &'a ldap3_proto::proto::LdapFilter,
        order: Option<&'a [OrderKey]>,
        member_of: bool,
    ) -> SearchParams<'a> {
        SearchParams {
            base,
            scope,
            filter,
            deadline: tokio::time::Instant::now(),
            order,
            member_of,
            attributes: &[],
        }
    }

    #[test]
    fn searches_that_differ_in_anything_that_decides_the_answer_have_different_keys() {
        let f = parse_filter("(cn=a*)").unwrap();
        let g = parse_filter("(cn=a\\2a)").unwrap();
        let sn = [OrderKey {
            attr: schema::attribute("sn").unwrap(),
            reverse: false,
        }];
        let sn_rev = [OrderKey {
            attr: schema::attribute("sn").unwrap(),
            reverse: true,
        }];
        let base = "dc=example,dc=com";
        // Two lists no separator could tell apart if names were simply joined.
        let one = ["cn,sn".to_string()];
        let two = ["cn".to_string(), "sn".to_string()];
        let keys = [
            ResultKey::of(&params(base, LdapSearchScope::Subtree, &f, None, false)),
            ResultKey::of(&params(base, LdapSearchScope::OneLevel, &f, None, false)),
            ResultKey::of(&params(base, LdapSearchScope::Subtree, &g, None, false)),
            ResultKey::of(&params(base, LdapSearchScope::Subtree, &f, None, true)),
            ResultKey::of(&params(
                base,
                LdapSearchScope::Subtree,
                &f,
                Some(&sn),
                false,
            )),
            ResultKey::of(&params(
                base,
                LdapSearchScope::Subtree,
                &f,
                Some(&sn_rev),
                false,
            )),
            ResultKey::of(&params(
                "ou=users,dc=example,dc=com",
                LdapSearchScope::Subtree,
                &f,
                None,
                false,
            )),
            ResultKey::of(&SearchParams {
                attributes: &one,
                ..params(base, LdapSearchScope::Subtree, &f, None, false)
            }),
            ResultKey::of(&SearchParams {
                attributes: &two,
                ..params(base, LdapSearchScope::Subtree, &f, None, false)
            }),
        ];
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
        let again = parse_filter("(cn=a*)").unwrap();
        assert_eq!(
            keys[0],
            ResultKey::of(&params(base, LdapSearchScope::Subtree, &again, None, false))
        );
    }

    #[test]
    fn a_zero_lifetime_keeps_nothing_and_a_result_comes_back_whole_on_its_index() {
        assert!(ResultCache::new(Duration::ZERO, 1 << 20).is_none());
        let cache = ResultCache::new(Duration::from_secs(30), 1 << 20).unwrap();
        let f = parse_filter("(cn=a)").unwrap();
        let key = ResultKey::of(&params("dc=x", LdapSearchScope::Subtree, &f, None, false));
        assert!(cache.get(&key, 0).is_none());
        let mut e = Entry::new("uid=a,dc=x");
        e.push(schema::attribute("cn").unwrap(), vec!["a".to_string()]);
        cache.insert(key.clone(), 7, std::slice::from_ref(&e));
        assert_eq!(cache.get(&key, 7).unwrap(), vec![e]);
        // Planned on another phone index: not an answer any more.
        assert!(cache.get(&key, 8).is_none());
    }

    #[test]
    fn the_cache_never_holds_more_than_its_bytes() {
        let cache = ResultCache::new(Duration::from_secs(30), 4096).unwrap();
        let f = parse_filter("(cn=a)").unwrap();
        let mut e = Entry::new("uid=a,dc=x");
        e.push(schema::attribute("cn").unwrap(), vec!["x".repeat(500)]);
        for i in 0..100 {
            let base = format!("dc=x{i}");
            let key = ResultKey::of(&params(&base, LdapSearchScope::Subtree, &f, None, false));
            cache.insert(key, 0, std::slice::from_ref(&e));
        }
        cache.cache.run_pending_tasks();
        assert!(
            cache.cache.weighted_size() <= 4096,
            "{}",
            cache.cache.weighted_size()
        );
        assert!(cache.cache.entry_count() > 0);
    }
}
