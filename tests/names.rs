//! Names stored as people type them (stray spaces, NFD and NFC side by side, odd case) are
//! found in strict mode by real `ldapsearch` through the gateway and the in-tree emulator,
//! at one Graph request per collection, and a size-limited answer is not short
//! (CONTRACT §6; docs/exactness.md "Stored-spelling variance").

mod common;

use common::{BASE, ldapsearch, start_with};
use graph_emulator::{SAMPLE_CLIENT_ID, SAMPLE_CLIENT_SECRET, SAMPLE_TENANT_ID, Tenant};
use serde_json::{Value, json};

fn user(n: u32, display: &str, given: &str, sn: &str) -> Value {
    json!({
        "id": format!("00000000-0000-4000-8000-{n:012}"),
        "userPrincipalName": format!("u{n}@example.com"),
        "displayName": display,
        "givenName": given,
        "surname": sn,
        "mail": format!("u{n}@example.com"),
        "accountEnabled": true,
        "businessPhones": [],
    })
}

fn contact(n: u32, display: &str, given: &str, sn: &str) -> Value {
    json!({
        "id": format!("00000000-0000-4000-9000-{n:012}"),
        "displayName": display,
        "givenName": given,
        "surname": sn,
        "phones": [],
        "addresses": [],
    })
}

/// A small tenant with the spellings of issue 7 (and a no-break space, which slapd's NFKC
/// makes a space): every name that should match, and near misses that must not.
fn messy_tenant() -> Tenant {
    let users = vec![
        user(1, "Anna Meyer", "Anna", "Meyer"),
        user(2, "Ben Meyer", "Ben", " Meyer "),
        user(3, "Carl Meyer", "Carl", "Meyer  "),
        user(4, "Dora MEYER", "Dora", "MEYER"),
        user(5, "Eva Meyer", "Eva", "  meyer"),
        user(6, "Fritz Meyerson", "Fritz", "Meyerson"),
        user(7, "Gina Mayer", "Gina", "Mayer"),
        user(10, "John Smith", "John", "Smith"),
        user(11, "John  Smith", "John", "Smith"),
        user(12, "  John  Anderson ", "John", "Anderson"),
        user(13, " john smith  ", "john", "smith"),
        user(17, "John\u{a0}Smith", "John", "Smith"),
        user(14, "Johnny Cash", "Johnny", "Cash"),
        user(15, "Jon Smith", "Jon", "Smith"),
        user(16, "Smith John", "Smith", "John"),
        user(20, "Zo\u{eb} Adams", "Zo\u{eb}", "Adams"),
        user(21, "Zoe\u{308} Baker", "Zoe\u{308}", "Baker"),
        user(22, " Zo\u{eb} Clark", " ZO\u{cb} ", "Clark"),
        user(23, "Zoe Davis", "Zoe", "Davis"),
        user(30, "Hans M\u{fc}ller", "Hans", "M\u{fc}ller"),
        user(31, "Ida Mu\u{308}ller", "Ida", "Mu\u{308}ller"),
        user(32, "Jan Muller", "Jan", "Muller"),
    ];
    let contacts = vec![
        contact(1, "Meyer Consulting", "Olaf", " Meyer"),
        contact(2, "Zoe\u{308} Evans", "Zoe\u{308}", "Evans"),
        contact(3, "Kurt Mayer", "Kurt", "Mayer"),
    ];
    Tenant {
        tenant_id: SAMPLE_TENANT_ID.to_string(),
        client_id: SAMPLE_CLIENT_ID.to_string(),
        client_secret: SAMPLE_CLIENT_SECRET.to_string(),
        users,
        contacts,
    }
}

/// The `cn` of each returned entry, sorted.
fn names(out: &common::LdapSearchOutput) -> Vec<String> {
    let mut v: Vec<String> = out
        .entries()
        .into_iter()
        .filter_map(|(_, attrs)| attrs.into_iter().find(|(a, _)| a == "cn").map(|(_, v)| v))
        .collect();
    v.sort();
    v
}

fn sorted(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messy_names_are_found_in_strict_mode_at_one_request_per_collection() {
    let h = start_with(messy_tenant(), |cfg| {
        cfg.search.strict_substrings = true;
        cfg.search.cache_ttl_secs = 0;
    })
    .await;
    let url = h.url();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "(sn=Meyer)",
            vec![
                "Anna Meyer",
                "Ben Meyer",
                "Carl Meyer",
                "Dora MEYER",
                "Eva Meyer",
                "Meyer Consulting",
            ],
        ),
        (
            "(cn=john*)",
            vec![
                "John Smith",
                "John  Smith",
                "  John  Anderson ",
                " john smith  ",
                "John\u{a0}Smith",
                "Johnny Cash",
            ],
        ),
        (
            "(cn=John Smith)",
            vec![
                "John Smith",
                "John  Smith",
                " john smith  ",
                "John\u{a0}Smith",
            ],
        ),
        (
            "(givenName=Zo\u{eb})",
            vec![
                "Zo\u{eb} Adams",
                "Zoe\u{308} Baker",
                " Zo\u{eb} Clark",
                "Zoe\u{308} Evans",
            ],
        ),
        (
            "(givenName=Zoe\u{308})",
            vec![
                "Zo\u{eb} Adams",
                "Zoe\u{308} Baker",
                " Zo\u{eb} Clark",
                "Zoe\u{308} Evans",
            ],
        ),
        (
            "(sn=M\u{fc}ller)",
            vec!["Hans M\u{fc}ller", "Ida Mu\u{308}ller"],
        ),
        // A phone's name search (Yealink template, CLIENTS.md §1).
        (
            "(|(cn=zo\u{eb}*)(sn=zo\u{eb}*))",
            vec![
                "Zo\u{eb} Adams",
                "Zoe\u{308} Baker",
                " Zo\u{eb} Clark",
                "Zoe\u{308} Evans",
            ],
        ),
    ];
    for (filter, want) in cases {
        h.emu.reset_stats();
        let out = ldapsearch(&["-x", "-H", &url, "-b", BASE, filter, "cn"]).await;
        assert_eq!(out.code, 0, "{filter}: {}", out.stderr);
        assert_eq!(names(&out), sorted(&want), "{filter}");
        // One request to /users and one to /contacts, none rejected.
        let log = h.emu.request_log();
        assert_eq!(h.emu.requests(), 2, "{filter}: {log:#?}");
        assert_eq!(h.emu.rejections(), 0, "{filter}: {log:#?}");
        assert!(
            log.iter().all(|l| l.contains("$filter=")),
            "{filter}: a request without $filter reads the collection: {log:#?}"
        );
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_size_limited_answer_is_not_short() {
    let h = start_with(messy_tenant(), |cfg| {
        cfg.search.strict_substrings = true;
        cfg.search.cache_ttl_secs = 0;
    })
    .await;
    let url = h.url();
    let users = format!("ou=users,{BASE}");
    // Five users match: a limit of five returns all five with success ...
    let out = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-b",
        &users,
        "-z",
        "5",
        "(sn=Meyer)",
        "cn",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.dns().len(), 5, "{}", out.stdout);
    // ... and a limit of four returns four and sizeLimitExceeded (4).
    let out = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-b",
        &users,
        "-z",
        "4",
        "(sn=Meyer)",
        "cn",
    ])
    .await;
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert_eq!(out.dns().len(), 4, "{}", out.stdout);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmapped_ad_types_are_unknown_as_in_openldap() {
    let h = start_with(messy_tenant(), |cfg| cfg.search.cache_ttl_secs = 0).await;
    let url = h.url();
    // CONTRACT §6: ipPhone is neither mapped nor standard, so Undefined, and so is its
    // negation: no entry (slapd without the type answers the same).
    h.emu.reset_stats();
    let out = ldapsearch(&["-x", "-H", &url, "-b", BASE, "(!(ipPhone=*))", "1.1"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.dns().is_empty(), "{}", out.stdout);
    assert_eq!(h.emu.requests(), 0, "{:?}", h.emu.request_log());
    let out = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-b",
        BASE,
        "(&(objectClass=person)(!(otherTelephone=1)))",
        "1.1",
    ])
    .await;
    assert!(out.dns().is_empty(), "{}", out.stdout);
    // pager is standard (RFC 4524) and never mapped for users: absent, its negation TRUE.
    let users = format!("ou=users,{BASE}");
    let out = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-b",
        &users,
        "-s",
        "one",
        "(!(pager=*))",
        "1.1",
    ])
    .await;
    assert_eq!(out.dns().len(), 22, "{}", out.stdout);
    // cn=Subschema publishes exactly the known types.
    let out = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-b",
        "cn=Subschema",
        "-s",
        "base",
        "(objectClass=*)",
        "attributeTypes",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("NAME 'department'"), "{}", out.stdout);
    assert!(out.stdout.contains("NAME 'sAMAccountName'"));
    assert!(!out.stdout.contains("'ipPhone'") && !out.stdout.contains("'otherTelephone'"));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapped_ad_type_is_known_and_published() {
    // CONTRACT §6: mapping ipPhone makes it known: entries without it are absent (its
    // negation is TRUE) and cn=Subschema lists it (python-ldap3 checks names there).
    let h = start_with(messy_tenant(), |cfg| {
        cfg.search.cache_ttl_secs = 0;
        cfg.mapping.users = vec![
            ldap_graph_gateway::directory::mapping::Override::parse("ipPhone", "faxNumber")
                .expect("ipPhone = faxNumber"),
        ];
    })
    .await;
    let url = h.url();
    let users = format!("ou=users,{BASE}");
    let all = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-b",
        &users,
        "-s",
        "one",
        "(objectClass=*)",
        "1.1",
    ])
    .await;
    let out = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-b",
        &users,
        "-s",
        "one",
        "(!(ipPhone=*))",
        "1.1",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!all.dns().is_empty());
    assert_eq!(out.dns().len(), all.dns().len(), "{}", out.stdout);
    let out = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-b",
        "cn=Subschema",
        "-s",
        "base",
        "(objectClass=*)",
        "attributeTypes",
    ])
    .await;
    assert!(out.stdout.contains("NAME 'ipPhone'"), "{}", out.stdout);
    assert!(!out.stdout.contains("'otherTelephone'"));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contains_search_finds_both_normal_forms() {
    // Non-strict substrings: the word-prefix `$search` approximation (CONTRACT §6), asked
    // for in both Unicode normal forms; extra spaces do not matter to its tokens.
    let h = start_with(messy_tenant(), |cfg| {
        cfg.search.strict_substrings = false;
        cfg.search.cache_ttl_secs = 0;
    })
    .await;
    let users = format!("ou=users,{BASE}");
    for filter in ["(cn=*zo\u{eb}*)", "(cn=*zoe\u{308}*)"] {
        h.emu.reset_stats();
        let out = ldapsearch(&["-x", "-H", &h.url(), "-b", &users, filter, "cn"]).await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(
            names(&out),
            sorted(&["Zo\u{eb} Adams", "Zoe\u{308} Baker", " Zo\u{eb} Clark"]),
            "{filter}"
        );
        assert_eq!(h.emu.requests(), 1, "{:?}", h.emu.request_log());
    }
    let out = ldapsearch(&["-x", "-H", &h.url(), "-b", &users, "(cn=*smith*)", "cn"]).await;
    assert_eq!(
        names(&out),
        sorted(&[
            "John Smith",
            "John  Smith",
            " john smith  ",
            "John\u{a0}Smith",
            "Jon Smith",
            "Smith John"
        ])
    );
    h.stop().await;
}
