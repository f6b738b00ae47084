//! The gateway's directory copied into slapd: a paged subtree search of everything through
//! the gateway, written as LDIF into a temporary indexed slapd (back-mdb), and the check
//! that both servers return the same entries for the mix's searches. It knows LDAP and the
//! slapd harness, not how the gateway maps Graph.

use std::collections::BTreeMap;

use ldap3::adapters::{EntriesOnly, PagedResults};
use ldap3::{LdapConnAsync, Scope, SearchEntry};

use super::slapd::{self, LdifEntry, Slapd, SlapdSetup};

/// The AD-style types and classes the gateway's entries use (CONTRACT §5).
const AD_STYLE_SCHEMA: &str = include_str!("../../tests/support/ad-style.schema");

/// The mdb database: a map large enough for 100,000 users and their indexes, and the
/// equality and substring indexes on what phones search (CLIENTS.md: names and numbers).
const DATABASE_LINES: &str = "maxsize 4294967296\n\
    index objectClass eq\n\
    index cn,sn,givenName,displayName,mail,uid eq,sub\n\
    index telephoneNumber,mobile eq,sub\n";

/// An entry as compared: DN and attribute (lower case) → sorted values.
type Compared = (String, BTreeMap<String, Vec<String>>);

async fn connect(url: &str) -> ldap3::Ldap {
    let (conn, ldap) = LdapConnAsync::new(url)
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"));
    ldap3::drive!(conn);
    ldap
}

/// Every entry under `base` (paged, 500 a page), with all user attributes.
pub async fn all_entries(url: &str, base: &str) -> Vec<LdifEntry> {
    let mut ldap = connect(url).await;
    let adapters: Vec<Box<dyn ldap3::adapters::Adapter<_, _>>> = vec![
        Box::new(EntriesOnly::new()),
        Box::new(PagedResults::new(500)),
    ];
    let mut stream = ldap
        .streaming_search_with(adapters, base, Scope::Subtree, "(objectClass=*)", vec!["*"])
        .await
        .expect("the export search starts");
    let mut out = Vec::new();
    while let Some(entry) = stream.next().await.expect("the export search") {
        let e = SearchEntry::construct(entry);
        let mut attrs: Vec<(String, Vec<String>)> = e.attrs.into_iter().collect();
        attrs.sort();
        out.push((e.dn, attrs));
    }
    stream
        .finish()
        .await
        .success()
        .expect("the export search succeeds");
    let _ = ldap.unbind().await;
    // slapadd wants parents before children.
    out.sort_by_key(|(dn, _)| dn.matches(',').count());
    out
}

/// A slapd holding `entries`, indexed as [`DATABASE_LINES`] says.
pub fn load_slapd(entries: &[LdifEntry], suffix: &str) -> Slapd {
    let ldif = slapd::to_ldif(entries);
    Slapd::start_tuned(
        &SlapdSetup {
            suffix,
            extra_schemas: vec![("ad-style", AD_STYLE_SCHEMA.to_string())],
            ldif: &ldif,
        },
        DATABASE_LINES,
    )
    .unwrap_or_else(|e| panic!("slapd: {e}"))
}

/// The entries `filter` finds under `base` with `attrs`, sorted by DN.
async fn search(url: &str, base: &str, filter: &str, attrs: &[&str]) -> Vec<Compared> {
    let mut ldap = connect(url).await;
    let (entries, _) = ldap
        .search(base, Scope::Subtree, filter, attrs.to_vec())
        .await
        .unwrap_or_else(|e| panic!("{url} {filter}: {e}"))
        .success()
        .unwrap_or_else(|e| panic!("{url} {filter}: {e}"));
    let _ = ldap.unbind().await;
    let mut out: Vec<Compared> = entries
        .into_iter()
        .map(|e| {
            let e = SearchEntry::construct(e);
            let attrs = e
                .attrs
                .into_iter()
                .map(|(a, mut v)| {
                    v.sort();
                    (a.to_ascii_lowercase(), v)
                })
                .collect();
            (e.dn.to_ascii_lowercase(), attrs)
        })
        .collect();
    out.sort();
    out
}

/// Fails unless the gateway and slapd return the same entries, with the same values of
/// `attrs`, for `filter`; returns how many.
pub async fn same_answer(
    gateway: &str,
    slapd: &str,
    base: &str,
    filter: &str,
    attrs: &[&str],
) -> usize {
    let (g, s) = (
        search(gateway, base, filter, attrs).await,
        search(slapd, base, filter, attrs).await,
    );
    assert_eq!(g, s, "the gateway and slapd differ on {filter}");
    g.len()
}
