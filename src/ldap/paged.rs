//! The paged-results store of one connection (RFC 2696): the rest of each paged search,
//! kept behind its cookie, bounded in number and expiring when unused. It decides nothing
//! about what a page holds (`answer` does) and is touched only by the connection task.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::LdapSearchRequest;

use crate::directory::entry::Entry;

/// The rest of a paged search, kept behind its cookie.
#[derive(Debug, Clone)]
pub struct PagedState {
    /// The request (base, scope, filter, attributes) the cookie belongs to: [`fingerprint`].
    pub fingerprint: String,
    /// Entries not sent yet, in answer order.
    pub remaining: Vec<Entry>,
    /// The size limit that cut the answer, reported with the last page.
    pub size_limited: Option<usize>,
}

/// What a request's paged cookie finds.
#[derive(Debug)]
pub enum Resume {
    /// No cookie: a new search (or no paging at all).
    Fresh,
    /// The kept rest of this search.
    Page(PagedState),
    /// The cookie belongs to a different search (the kept state is dropped).
    Mismatch,
    /// No such cookie, or it expired or was evicted.
    Unknown,
}

/// Kept paged searches of one connection.
pub struct PagedStore {
    max: usize,
    ttl: Duration,
    kept: HashMap<Vec<u8>, (Instant, PagedState)>,
}

impl PagedStore {
    /// A store keeping at most `max` searches (at least one), each for `ttl` after its
    /// last page.
    pub fn new(max: usize, ttl: Duration) -> Self {
        PagedStore {
            max: max.max(1),
            ttl,
            kept: HashMap::new(),
        }
    }

    /// Keeps `state` behind `cookie`; beyond the bound the least recently kept search is
    /// forgotten.
    pub fn keep(&mut self, cookie: Vec<u8>, state: PagedState, now: Instant) {
        self.expire(now);
        while self.kept.len() >= self.max {
            let oldest = self
                .kept
                .iter()
                .min_by_key(|(_, (kept_at, _))| *kept_at)
                .map(|(cookie, _)| cookie.clone());
            match oldest {
                Some(cookie) => self.kept.remove(&cookie),
                None => break,
            };
        }
        self.kept.insert(cookie, (now, state));
    }

    /// Takes the state behind the request's cookie (`None`: the request has no cookie).
    pub fn take(&mut self, cookie: Option<&[u8]>, fingerprint: &str, now: Instant) -> Resume {
        self.expire(now);
        let Some(cookie) = cookie else {
            return Resume::Fresh;
        };
        match self.kept.remove(cookie) {
            None => Resume::Unknown,
            Some((_, state)) if state.fingerprint != fingerprint => Resume::Mismatch,
            Some((_, state)) => Resume::Page(state),
        }
    }

    /// Searches kept now.
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    /// True when nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    fn expire(&mut self, now: Instant) {
        let ttl = self.ttl;
        self.kept
            .retain(|_, (kept_at, _)| now.saturating_duration_since(*kept_at) < ttl);
    }
}

/// The non-empty cookie of a request's paged-results control, if any.
pub fn request_cookie(ctrls: &[LdapControl]) -> Option<&[u8]> {
    ctrls.iter().find_map(|c| match c {
        LdapControl::SimplePagedResults { cookie, .. } if !cookie.is_empty() => {
            Some(cookie.as_slice())
        }
        _ => None,
    })
}

/// What must stay the same between the pages of one search (RFC 2696 §3: the follow-up
/// requests repeat the search).
pub fn fingerprint(req: &LdapSearchRequest) -> String {
    format!(
        "{}\u{0}{:?}\u{0}{:?}\u{0}{:?}\u{0}{}",
        req.base, req.scope, req.filter, req.attrs, req.typesonly
    )
}

/// A cookie no other search of this process has: a counter and the clock's nanoseconds.
pub fn new_cookie() -> Vec<u8> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{n:x}.{nanos:x}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(fingerprint: &str, left: usize) -> PagedState {
        PagedState {
            fingerprint: fingerprint.to_string(),
            remaining: (0..left)
                .map(|i| Entry::new(format!("uid=u{i},ou=users,dc=example,dc=com")))
                .collect(),
            size_limited: None,
        }
    }

    #[test]
    fn a_kept_search_is_found_once_by_its_cookie() {
        let now = Instant::now();
        let mut store = PagedStore::new(4, Duration::from_secs(300));
        store.keep(b"c1".to_vec(), state("search a", 3), now);
        match store.take(Some(b"c1"), "search a", now + Duration::from_secs(1)) {
            Resume::Page(s) => assert_eq!(s.remaining.len(), 3),
            other => panic!("expected the kept page, got {other:?}"),
        }
        assert!(matches!(
            store.take(Some(b"c1"), "search a", now),
            Resume::Unknown
        ));
        assert!(matches!(store.take(None, "search a", now), Resume::Fresh));
    }

    #[test]
    fn a_cookie_expires_after_its_ttl() {
        let now = Instant::now();
        let mut store = PagedStore::new(4, Duration::from_secs(300));
        store.keep(b"c1".to_vec(), state("a", 1), now);
        store.keep(
            b"c2".to_vec(),
            state("a", 1),
            now + Duration::from_secs(200),
        );
        let later = now + Duration::from_secs(301);
        assert!(matches!(
            store.take(Some(b"c1"), "a", later),
            Resume::Unknown
        ));
        assert_eq!(store.len(), 1, "the younger search is still kept");
        assert!(matches!(
            store.take(Some(b"c2"), "a", later),
            Resume::Page(_)
        ));
    }

    #[test]
    fn beyond_the_bound_the_oldest_search_is_forgotten() {
        let now = Instant::now();
        let mut store = PagedStore::new(2, Duration::from_secs(300));
        for (i, cookie) in [b"c1", b"c2", b"c3"].iter().enumerate() {
            store.keep(
                cookie.to_vec(),
                state("a", 1),
                now + Duration::from_secs(i as u64),
            );
        }
        assert_eq!(store.len(), 2);
        assert!(matches!(store.take(Some(b"c1"), "a", now), Resume::Unknown));
        assert!(matches!(store.take(Some(b"c2"), "a", now), Resume::Page(_)));
        assert!(matches!(store.take(Some(b"c3"), "a", now), Resume::Page(_)));
    }

    #[test]
    fn a_cookie_of_another_search_is_a_mismatch_and_is_dropped() {
        let now = Instant::now();
        let mut store = PagedStore::new(2, Duration::from_secs(300));
        store.keep(b"c1".to_vec(), state("search a", 2), now);
        assert!(matches!(
            store.take(Some(b"c1"), "search b", now),
            Resume::Mismatch
        ));
        assert!(store.is_empty());
    }

    #[test]
    fn only_a_non_empty_paged_cookie_counts() {
        let ctrls = vec![LdapControl::SimplePagedResults {
            size: 10,
            cookie: Vec::new(),
        }];
        assert_eq!(request_cookie(&ctrls), None);
        let ctrls = vec![LdapControl::SimplePagedResults {
            size: 10,
            cookie: b"k".to_vec(),
        }];
        assert_eq!(request_cookie(&ctrls), Some(&b"k"[..]));
    }
}
