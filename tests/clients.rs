//! Client replays (issue 4 item 4): each test imitates the queries of one desk phone or
//! LDAP client family (CLIENTS.md) and asserts the entries returned, computed from the
//! sample tenant's Graph JSON by tests/support/tenant.rs — never copied from the gateway.

mod common;
#[path = "support/tenant.rs"]
mod tenant;
#[path = "support/tls.rs"]
mod tls;
#[path = "support/tools.rs"]
mod tools;

use std::collections::HashMap;

use common::{Harness, ldapsearch, start, start_with};
use graph_emulator::Tenant;
use ldap_graph_gateway::config::Config;
use ldap_graph_gateway::ldap::accounts::hash_password;
use ldap_graph_gateway::ldap::accounts::{AccountSecret, BindAccount};
use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{LdapConnSettings, Scope, SearchEntry};
use tenant::*;
use tls::TestPki;

const MEGAN_PHONE: &str = "+14255550100";
const ACCOUNT_DN: &str = "cn=phones,dc=example,dc=com";
const ACCOUNT_NAME: &str = "phones@example.com";
const ACCOUNT_PASSWORD: &str = "phone-book-reader";

fn sample() -> Vec<Person> {
    people(&Tenant::sample())
}

fn with_account(cfg: &mut Config, hash: String) {
    cfg.ldap.accounts = vec![BindAccount {
        dn: ACCOUNT_DN.to_string(),
        names: vec![ACCOUNT_NAME.to_string(), "phones".to_string()],
        secret: AccountSecret::Hash(hash),
    }];
}

/// A gateway with `[tls]`, one LDAPS listener, a bind account, and `tweak` applied.
async fn start_tls(pki: &TestPki, tweak: impl FnOnce(&mut Config)) -> Harness {
    let tls = pki.tls_config();
    let hash = hash_password(ACCOUNT_PASSWORD).expect("hash");
    start_with(Tenant::sample(), move |cfg| {
        cfg.tls = Some(tls);
        cfg.ldap.ldaps_listen = vec![tls::loopback_any()];
        with_account(cfg, hash);
        tweak(cfg);
    })
    .await
}

fn ldaps_url(h: &Harness) -> String {
    tls::ldaps_url(h.server.ldaps_addrs[0])
}

/// What a size-limited search must return: the first `limit` entries in the order of
/// CONTRACT §8 for `order_attr`, and 4 when more matched.
fn limited(want: Vec<Person>, order_attr: &str, limit: usize) -> (Vec<Person>, i32) {
    let sorted = in_contract_order(want, order_attr);
    if sorted.len() > limit {
        (sorted[..limit].to_vec(), 4)
    } else {
        (sorted, 0)
    }
}

/// Runs a search, checks its exit code, and compares entries as a set (when not cut) or
/// in order (when a size limit cut the answer).
#[track_caller]
fn check_limited(what: &str, out: &common::LdapSearchOutput, want: &(Vec<Person>, i32)) {
    assert_eq!(
        out.code, want.1,
        "{what}: exit code (stderr: {})",
        out.stderr
    );
    if want.1 == 4 {
        assert_same_order(what, &out.dns(), &want.0);
    } else {
        assert_same_entries(what, &out.dns(), &want.0);
    }
}

/// Index of the tenant's people by normalised DN.
fn by_dn(all: &[Person]) -> HashMap<String, Person> {
    all.iter().map(|p| (norm_dn(&p.dn), p.clone())).collect()
}

/// Spellings of an E.164 number a phone may send: E.164 itself, spaced international,
/// the `00` international prefix, and for North American numbers the national forms the
/// issue lists (`4255550100`, `+1 (425) 555-0100`, `001 425 555 0100`). `cc_len` is the
/// length of the country code.
fn spellings(e164_number: &str, cc_len: usize) -> Vec<String> {
    let digits = e164_number.trim_start_matches('+');
    let (cc, national) = digits.split_at(cc_len);
    let mut out = vec![
        e164_number.to_string(),
        format!("+{cc} {national}"),
        format!("00{digits}"),
        format!("00 {cc} {national}"),
    ];
    if cc == "1" && national.len() == 10 {
        let (area, rest) = national.split_at(3);
        let (exchange, line) = rest.split_at(3);
        out.push(national.to_string());
        out.push(format!("({area}) {exchange}-{line}"));
        out.push(format!("+1 ({area}) {exchange}-{line}"));
        out.push(format!("1-{area}-{exchange}-{line}"));
        out.push(format!("001 {area} {exchange} {line}"));
    } else {
        out.push(format!("+{cc} (0){national}"));
    }
    out
}

/// A number of `country_code` stored on some user in the tenant: (E.164, the person).
fn number_of_country(all: &[Person], country_code: &str) -> (String, Person) {
    for p in all.iter().filter(|p| p.is_user) {
        for attr in ["mobile", "telephoneNumber"] {
            for v in p.values(attr) {
                if let Some(e) = e164(v)
                    && e.starts_with(country_code)
                    && e.len() > 8
                {
                    return (e, p.clone());
                }
            }
        }
    }
    panic!("the sample tenant has no user with a {country_code} number");
}

fn phone_any(p: &Person, attrs: &[&str], number: &str) -> bool {
    attrs.iter().any(|a| eq(p, a, number))
}

// ---------------------------------------------------------------------------------------
// Yealink (CLIENTS.md §1): name filter in prefix and contains modes, caller ID.

const YEALINK_ATTRS: &[&str] = &["cn", "telephoneNumber", "mobile", "ipPhone"];

#[tokio::test(flavor = "multi_thread")]
async fn yealink_prefix_mode_name_search() {
    let h = start().await;
    let url = h.url();
    for typed in ["jo", "Meg", "a"] {
        let filter = format!("(|(cn={typed}*)(sn={typed}*))");
        let want = limited(
            matching(&sample(), |p| {
                prefix(p, "cn", typed) || prefix(p, "sn", typed)
            }),
            "displayName",
            50,
        );
        assert!(!want.0.is_empty(), "the sample tenant matches {filter}");
        let mut args = vec!["-x", "-H", &url, "-z", "50", "-b", BASE, &filter];
        args.extend_from_slice(YEALINK_ATTRS);
        let out = ldapsearch(&args).await;
        check_limited(&format!("Yealink {filter}"), &out, &want);
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn yealink_contains_mode_name_search_strict() {
    let h = start_with(Tenant::sample(), |cfg| cfg.search.strict_substrings = true).await;
    let url = h.url();
    for typed in ["jo", "ow", "an"] {
        let filter = format!("(|(cn=*{typed}*)(sn=*{typed}*))");
        let want = limited(
            matching(&sample(), |p| {
                contains(p, "cn", typed) || contains(p, "sn", typed)
            }),
            "displayName",
            50,
        );
        let out = ldapsearch(&[
            "-x",
            "-H",
            &url,
            "-z",
            "50",
            "-b",
            BASE,
            &filter,
            "cn",
            "telephoneNumber",
        ])
        .await;
        check_limited(&format!("Yealink strict {filter}"), &out, &want);
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn yealink_contains_mode_name_search_default() {
    // With strict_substrings = false (the default) a contains search may be answered by
    // Graph's word-prefix $search (CONTRACT §6): at least every word-prefix match, and
    // nothing that does not match the LDAP filter.
    let h = start().await;
    let url = h.url();
    for typed in ["jo", "bow"] {
        let filter = format!("(|(cn=*{typed}*)(sn=*{typed}*))");
        let upper = matching(&sample(), |p| {
            contains(p, "cn", typed) || contains(p, "sn", typed)
        });
        let lower = matching(&upper, |p| {
            word_prefix(p, "cn", typed) || word_prefix(p, "sn", typed)
        });
        assert!(upper.len() < 500);
        let out = ldapsearch(&["-x", "-H", &url, "-b", BASE, &filter, "cn"]).await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_between(
            &format!("Yealink default {filter}"),
            &out.dns(),
            &lower,
            &upper,
        );
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn yealink_caller_id_in_several_spellings() {
    let h = start().await;
    let url = h.url();
    let all = sample();
    // Numbers stored in the tenant in several formats: US, a German mobile, a German
    // landline also stored as `+49 (0)30 ...`, a UK number with `(0)`, a French one.
    let numbers = [
        (MEGAN_PHONE, 1),
        ("+4915112345678", 2),
        ("+493012345678", 2),
        ("+441614960000", 2),
        ("+33123456789", 2),
    ];
    // Warm the token up so that the cost below counts directory requests only.
    let _ = ldapsearch(&["-x", "-H", &url, "-b", USERS_OU, "(cn=zz-warm-up)"]).await;
    let mut failures = Vec::new();
    for (number, cc_len) in numbers {
        let want = matching(&all, |p| {
            phone_any(p, &["telephoneNumber", "mobile"], number)
        });
        assert!(!want.is_empty(), "someone has {number}");
        for spelled in spellings(number, cc_len) {
            let spelled = filter_value(&spelled);
            let filter =
                format!("(|(telephoneNumber={spelled})(mobile={spelled})(ipPhone={spelled}))");
            h.emu.reset_stats();
            let mut args = vec!["-x", "-H", &url, "-z", "50", "-b", BASE, &filter];
            args.extend_from_slice(YEALINK_ATTRS);
            let out = ldapsearch(&args).await;
            if out.code != 0 {
                failures.push(format!("{filter}: exit {} {}", out.code, out.stderr.trim()));
                continue;
            }
            if let Err(e) = same_entries(&format!("Yealink caller ID {filter}"), &out.dns(), &want)
            {
                failures.push(e);
            }
            let cost = tools::users_requests(&h.emu);
            if cost > 2 {
                failures.push(format!("{filter} cost {cost} requests to /users"));
            }
            if h.emu.rejections() != 0 {
                failures.push(format!(
                    "{filter}: a request Graph rejects: {:?}",
                    h.emu.request_log()
                ));
            }
        }
    }
    assert_no_failures("Yealink caller ID", &failures);
    h.stop().await;
}

// ---------------------------------------------------------------------------------------
// Poly VVX (CLIENTS.md §2): >=/<= range paging with a small size limit, sort + VLV.

#[tokio::test(flavor = "multi_thread")]
async fn poly_vvx_range_filter_pages_in_attribute_order() {
    let h = start().await;
    let url = h.url();
    let all = sample();
    let page = 8;
    let mut lower_bound = "Meyer".to_string();
    let mut seen_pages = 0;
    // Page down three times the way the phone does: the next page starts at the last name shown.
    for _ in 0..3 {
        let filter = format!("(&(objectClass=*)(sn>={lower_bound})(sn<=zz))");
        let want = limited(
            matching(&all, |p| ge(p, "sn", &lower_bound) && le(p, "sn", "zz")),
            "sn",
            page,
        );
        let out = ldapsearch(&[
            "-x",
            "-H",
            &url,
            "-z",
            &page.to_string(),
            "-b",
            BASE,
            &filter,
            "sn",
            "givenName",
            "telephoneNumber",
        ])
        .await;
        check_limited(&format!("Poly {filter}"), &out, &want);
        seen_pages += 1;
        if want.1 != 4 {
            break;
        }
        lower_bound = want
            .0
            .last()
            .and_then(|p| p.first("sn"))
            .unwrap()
            .to_string();
    }
    assert!(
        seen_pages >= 2,
        "the sample tenant should give Poly more than one page"
    );

    // The captured VVX form: range on the sort key plus the typed prefix.
    let filter = "(&(objectClass=*)(givenName>=Me)(givenName<=zz)(givenName=Me*))";
    let want = limited(
        matching(&all, |p| {
            ge(p, "givenName", "Me") && le(p, "givenName", "zz") && prefix(p, "givenName", "Me")
        }),
        "givenName",
        5,
    );
    let out = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-z",
        "5",
        "-b",
        BASE,
        filter,
        "givenName",
        "sn",
    ])
    .await;
    check_limited("Poly captured filter", &out, &want);
    h.stop().await;
}

/// The sort keys of returned DNs for `attr` (None when the entry lacks it).
fn keys_of(dns: &[String], index: &HashMap<String, Person>, attr: &str) -> Vec<Option<String>> {
    dns.iter()
        .map(|d| {
            let p = index
                .get(&norm_dn(d))
                .unwrap_or_else(|| panic!("{d} is not an entry of the tenant"));
            sort_key(p, attr)
        })
        .collect()
}

fn sorted_keys(people: &[Person], attr: &str, reverse: bool) -> Vec<Option<String>> {
    let mut keys: Vec<Option<String>> = people.iter().map(|p| sort_key(p, attr)).collect();
    // RFC 2891 §2.2: an entry without the attribute has the largest value; reverseOrder
    // reverses the whole order.
    keys.sort_by(|a, b| match (a, b) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    if reverse {
        keys.reverse();
    }
    keys
}

#[tokio::test(flavor = "multi_thread")]
async fn poly_vvx_sort_and_vlv_browse() {
    let h = start().await;
    let url = h.url();
    let all = sample();
    let index = by_dn(&all);
    let filter = "(&(objectClass=*)(sn=*))";
    let matches = matching(&all, |p| present(p, "sn"));
    let keys = sorted_keys(&matches, "sn", false);
    assert!(keys.len() > 60);

    let count = format!("count={}", keys.len());
    let windows = [
        // First screen: offset 1, nine after.
        ("vlv=0/9/1/0", 0..10, "vlvResultpos=1 "),
        // Scrolling: offset 50 with two before and two after is entries 48..=52.
        ("vlv=2/2/50/0", 47..52, "vlvResultpos=50 "),
    ];
    for (vlv, range, pos) in windows {
        let w = tools::ldapsearch_vlv_first_window(&[
            "-x", "-H", &url, "-E", "sss=sn", "-E", vlv, "-b", BASE, filter, "sn",
        ])
        .await;
        assert_eq!(
            w.code, 1,
            "-E {vlv}: the first window must succeed: {}",
            w.stderr
        );
        let result = w.vlv_result.unwrap_or_default();
        assert!(
            result.contains(pos) && result.contains(&count) && result.contains("(0) Success"),
            "-E {vlv}: VLV response {result:?}, expected {pos}{count}"
        );
        assert_eq!(
            keys_of(&w.dns, &index, "sn"),
            keys[range].to_vec(),
            "Poly -E sss=sn -E {vlv}"
        );
    }

    // Jump to a typed name: the first entry whose sn >= "Mi", then four more.
    let w = tools::ldapsearch_vlv_first_window(&[
        "-x",
        "-H",
        &url,
        "-E",
        "sss=sn",
        "-E",
        "vlv=0/4:Mi",
        "-b",
        BASE,
        filter,
        "sn",
    ])
    .await;
    assert_eq!(w.code, 1, "-E vlv=0/4:Mi: {}", w.stderr);
    let start = keys
        .iter()
        .position(|k| k.as_deref().is_some_and(|k| k >= "mi"))
        .unwrap();
    let end = (start + 5).min(keys.len());
    let result = w.vlv_result.unwrap_or_default();
    assert!(
        result.contains(&format!("vlvResultpos={} ", start + 1)) && result.contains("(0) Success"),
        "VLV 0/4:Mi response {result:?}, expected target position {}",
        start + 1
    );
    assert_eq!(
        keys_of(&w.dns, &index, "sn"),
        keys[start..end].to_vec(),
        "Poly -E vlv=0/4:Mi"
    );
    h.stop().await;
}

// ---------------------------------------------------------------------------------------
// Cisco MPP (CLIENTS.md §3): user@domain bind over StartTLS, $VALUE contains filters.

#[tokio::test(flavor = "multi_thread")]
async fn cisco_mpp_upn_bind_over_starttls_and_contains() {
    let pki = TestPki::generate();
    let h = start_tls(&pki, |cfg| {
        cfg.ldap.limits.require_tls_for_bind = true;
        cfg.search.strict_substrings = true;
    })
    .await;
    let url = h.url();
    let all = sample();

    // Over plain LDAP a password bind is confidentialityRequired (13).
    let plain = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-D",
        ACCOUNT_NAME,
        "-w",
        ACCOUNT_PASSWORD,
        "-b",
        BASE,
        "(sn=Bowen)",
    ])
    .await;
    assert_eq!(plain.code, 13, "{}", plain.stderr);

    // LDAP_StartTLS_Enable with an ldap:// URL; the server certificate verifies.
    let env = pki.verifying_env();
    for typed in ["bow", "meg"] {
        let filter = format!("(cn=*{typed}*)");
        let want = limited(
            matching(&all, |p| contains(p, "cn", typed)),
            "displayName",
            20,
        );
        let out = tools::ldapsearch_env(
            &[
                "-x",
                "-ZZ",
                "-H",
                &url,
                "-D",
                ACCOUNT_NAME,
                "-w",
                ACCOUNT_PASSWORD,
                "-z",
                "20",
                "-b",
                BASE,
                &filter,
                "givenName",
                "sn",
                "telephoneNumber",
            ],
            &env,
        )
        .await;
        assert_eq!(out.code, want.1, "Cisco {filter}: {}", out.stderr);
        let dns: Vec<String> = common::parse_ldif(&out.stdout)
            .into_iter()
            .map(|(d, _)| d)
            .collect();
        if want.1 == 4 {
            assert_same_order(&format!("Cisco {filter}"), &dns, &want.0);
        } else {
            assert_same_entries(&format!("Cisco {filter}"), &dns, &want.0);
        }
    }

    // The same phone as an ldap3 client: StartTLS with TLS 1.2 only, bind, last-name filter.
    let settings = LdapConnSettings::new()
        .set_starttls(true)
        .set_config(pki.client_config_tls12());
    let mut ldap = tools::ldap3_connect(&url, settings).await;
    ldap.simple_bind(ACCOUNT_NAME, ACCOUNT_PASSWORD)
        .await
        .expect("bind")
        .success()
        .expect("UPN-style bind over StartTLS");
    let (dns, _, rc) = tools::ldap3_search(
        &mut ldap,
        BASE,
        Scope::Subtree,
        "(sn=Bow*)",
        &["sn", "telephoneNumber"],
    )
    .await;
    assert_eq!(rc, 0);
    assert_same_entries(
        "Cisco sn:(sn=$VALUE*)",
        &dns,
        &matching(&all, |p| prefix(p, "sn", "Bow")),
    );
    let _ = ldap.unbind().await;
    h.stop().await;
}

// ---------------------------------------------------------------------------------------
// Snom (CLIENTS.md §4): literal-% templates over LDAPS, during-call number lookups.

#[tokio::test(flavor = "multi_thread")]
async fn snom_literal_percent_equality_templates() {
    let pki = TestPki::generate();
    let h = start_tls(&pki, |_| {}).await;
    let url = ldaps_url(&h);
    let all = sample();
    let cases: Vec<(&str, Vec<Person>)> = vec![
        (
            "(|(cn=Megan Bowen)(o=x))",
            matching(&all, |p| eq(p, "cn", "Megan Bowen") || eq(p, "o", "x")),
        ),
        (
            "(|(cn=megan bowen)(o=megan bowen))",
            matching(&all, |p| {
                eq(p, "cn", "megan bowen") || eq(p, "o", "megan bowen")
            }),
        ),
        (
            "(&(telephoneNumber=*)(sn=Bowen))",
            matching(&all, |p| {
                present(p, "telephoneNumber") && eq(p, "sn", "Bowen")
            }),
        ),
        (
            "(|(sn=Bow*)(cn=Bow*))",
            matching(&all, |p| prefix(p, "sn", "Bow") || prefix(p, "cn", "Bow")),
        ),
        (
            "(|(gn=Meg*)(cn=Meg*))",
            matching(&all, |p| {
                prefix(p, "givenName", "Meg") || prefix(p, "cn", "Meg")
            }),
        ),
        (
            "(|(cn=Me*)(o=Me*))",
            matching(&all, |p| prefix(p, "cn", "Me") || prefix(p, "o", "Me")),
        ),
    ];
    for (filter, want) in cases {
        assert!(
            !want.is_empty(),
            "{filter} matches someone in the sample tenant"
        );
        let want = limited(want, "displayName", 100);
        let out = tools::ldapsearch_env(
            &[
                "-x",
                "-H",
                &url,
                "-z",
                "100",
                "-b",
                BASE,
                filter,
                "cn",
                "sn",
                "telephoneNumber",
                "mobile",
                "homePhone",
            ],
            &pki.verifying_env(),
        )
        .await;
        assert_eq!(out.code, want.1, "Snom {filter}: {}", out.stderr);
        let dns: Vec<String> = common::parse_ldif(&out.stdout)
            .into_iter()
            .map(|(d, _)| d)
            .collect();
        assert_same_entries(&format!("Snom {filter}"), &dns, &want.0);
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn snom_during_call_number_lookups() {
    let pki = TestPki::generate();
    let h = start_tls(&pki, |_| {}).await;
    let url = ldaps_url(&h);
    let all = sample();
    let megan_number = matching(&all, |p| {
        phone_any(p, &["telephoneNumber", "mobile", "homePhone"], MEGAN_PHONE)
    });
    let typed_prefix = "+1425555";
    let cases: Vec<(String, Vec<Person>)> = vec![
        (
            format!(
                "(|(telephoneNumber={MEGAN_PHONE})(mobile={MEGAN_PHONE})(homePhone={MEGAN_PHONE}))"
            ),
            megan_number.clone(),
        ),
        (
            format!("(&(telephoneNumber={MEGAN_PHONE})(sn=*))"),
            matching(&all, |p| {
                eq(p, "telephoneNumber", MEGAN_PHONE) && present(p, "sn")
            }),
        ),
        (
            format!(
                "(|(telephoneNumber={typed_prefix}*)(mobile={typed_prefix}*)(homePhone={typed_prefix}*))"
            ),
            matching(&all, |p| {
                prefix(p, "telephoneNumber", typed_prefix)
                    || prefix(p, "mobile", typed_prefix)
                    || prefix(p, "homePhone", typed_prefix)
            }),
        ),
    ];
    // A contact's number (Graph cannot filter contact phones) and a suffix search.
    let (contact_number, _) = contacts(&Tenant::sample())
        .iter()
        .find_map(|c| {
            c.values("telephoneNumber")
                .iter()
                .find_map(|v| e164(v).map(|e| (e, c.clone())))
        })
        .expect("a contact with an international business number");
    let mut cases = cases;
    cases.push((
        format!("(|(telephoneNumber={contact_number})(mobile={contact_number})(homePhone={contact_number}))"),
        matching(&all, |p| {
            phone_any(p, &["telephoneNumber", "mobile", "homePhone"], &contact_number)
        }),
    ));
    cases.push((
        "(|(telephoneNumber=*5550100)(mobile=*5550100))".to_string(),
        matching(&all, |p| {
            substr(p, "telephoneNumber", None, &[], Some("5550100"))
                || substr(p, "mobile", None, &[], Some("5550100"))
        }),
    ));
    for (filter, want) in cases {
        assert!(!want.is_empty(), "{filter} matches someone");
        let want = limited(want, "displayName", 100);
        let out = tools::ldapsearch_env(
            &[
                "-x",
                "-H",
                &url,
                "-z",
                "100",
                "-b",
                BASE,
                &filter,
                "cn",
                "telephoneNumber",
                "mobile",
            ],
            &pki.verifying_env(),
        )
        .await;
        assert_eq!(
            out.code, want.1,
            "Snom during call {filter}: {}",
            out.stderr
        );
        let dns: Vec<String> = common::parse_ldif(&out.stdout)
            .into_iter()
            .map(|(d, _)| d)
            .collect();
        if want.1 == 4 {
            assert_same_order(&format!("Snom {filter}"), &dns, &want.0);
        } else {
            assert_same_entries(&format!("Snom {filter}"), &dns, &want.0);
        }
    }
    h.stop().await;
}

// ---------------------------------------------------------------------------------------
// Grandstream (CLIENTS.md §5): LDAPv2 bind, capitalised attribute names.

#[tokio::test(flavor = "multi_thread")]
async fn grandstream_ldapv2_bind_and_capitalised_attribute_names() {
    let hash = hash_password(ACCOUNT_PASSWORD).expect("hash");
    let h = start_with(Tenant::sample(), move |cfg| {
        with_account(cfg, hash);
        cfg.ldap.limits.require_tls_for_bind = false;
    })
    .await;
    let url = h.url();
    let all = sample();
    let cases: Vec<(String, Vec<Person>)> = vec![
        (
            "(|(cn=Meg*)(sn=Meg*))".into(),
            matching(&all, |p| prefix(p, "cn", "Meg") || prefix(p, "sn", "Meg")),
        ),
        (
            format!("(|(telephoneNumber={MEGAN_PHONE})(Mobile={MEGAN_PHONE}))"),
            matching(&all, |p| {
                phone_any(p, &["telephoneNumber", "mobile"], MEGAN_PHONE)
            }),
        ),
        (
            "(|(CN=bow*)(SN=bow*))".into(),
            matching(&all, |p| prefix(p, "cn", "bow") || prefix(p, "sn", "bow")),
        ),
        (
            "(Mail=megan*)".into(),
            matching(&all, |p| prefix(p, "mail", "megan")),
        ),
    ];
    for bind in [vec![], vec!["-D", ACCOUNT_NAME, "-w", ACCOUNT_PASSWORD]] {
        for (filter, want) in &cases {
            assert!(!want.is_empty(), "{filter} matches someone");
            let want = limited(want.clone(), "displayName", 50);
            let mut args = vec!["-x", "-P", "2", "-H", url.as_str()];
            args.extend(bind.iter().copied());
            args.extend([
                "-z",
                "50",
                "-b",
                BASE,
                filter.as_str(),
                "CN",
                "TelephoneNumber",
                "Mobile",
                "DisplayName",
            ]);
            let out = ldapsearch(&args).await;
            check_limited(
                &format!("Grandstream v2 {filter} bind {bind:?}"),
                &out,
                &want,
            );
            for (dn, attrs) in out.entries() {
                let p = by_dn(&all).remove(&norm_dn(&dn)).expect("known entry");
                assert_eq!(
                    ldif_values(&attrs, "cn"),
                    p.values("cn").to_vec(),
                    "CN of {dn}"
                );
            }
        }
    }
    h.stop().await;
}

// ---------------------------------------------------------------------------------------
// Gigaset / Unify (CLIENTS.md §7) and Mitel / Aastra (§8).

#[tokio::test(flavor = "multi_thread")]
async fn gigaset_rereads_entries_by_dn_and_looks_up_a_german_caller() {
    let h = start().await;
    let url = h.url();
    let all = sample();
    let index = by_dn(&all);

    // Name search ("begins with"), then a base-scope re-read of each hit.
    let filter = "(|(cn=Bow*)(sn=Bow*))";
    let want = matching(&all, |p| prefix(p, "cn", "Bow") || prefix(p, "sn", "Bow"));
    let out = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-z",
        "50",
        "-b",
        BASE,
        filter,
        "cn",
        "sn",
        "givenName",
        "telephoneNumber",
        "mobile",
        "homePhone",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_same_entries("Gigaset name search", &out.dns(), &want);
    for (dn, attrs) in out.entries() {
        let back = ldapsearch(&[
            "-x",
            "-H",
            &url,
            "-s",
            "base",
            "-b",
            &dn,
            "(objectClass=*)",
            "cn",
            "sn",
            "givenName",
            "telephoneNumber",
            "mobile",
            "homePhone",
        ])
        .await;
        assert_eq!(back.code, 0, "re-read {dn}: {}", back.stderr);
        let entries = back.entries();
        assert_eq!(entries.len(), 1, "re-read of {dn}");
        let mut a = attrs.clone();
        let mut b = entries[0].1.clone();
        a.sort();
        b.sort();
        assert_eq!(a, b, "the re-read entry {dn} differs from the search hit");
        let p = index.get(&norm_dn(&dn)).expect("known entry");
        let mut phones = ldif_values(&b, "telephoneNumber");
        let mut want_phones = p.values("telephoneNumber").to_vec();
        phones.sort();
        want_phones.sort();
        assert_eq!(phones, want_phones, "telephoneNumber of {dn}");
    }

    // Incoming CLIP: the E.164 number of a German user, Unify's number filter.
    let (de, person) = number_of_country(&all, "+49");
    let _ = ldapsearch(&["-x", "-H", &url, "-b", USERS_OU, "(cn=zz-warm-up)"]).await;
    h.emu.reset_stats();
    let filter = format!("(|(telephoneNumber={de})(mobile={de})(homePhone={de}))");
    let want = matching(&all, |p| {
        phone_any(p, &["telephoneNumber", "mobile", "homePhone"], &de)
    });
    assert!(want.iter().any(|p| p.dn == person.dn));
    let out = ldapsearch(&["-x", "-H", &url, "-z", "50", "-b", BASE, &filter, "cn"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_same_entries(&format!("Gigaset CLIP {filter}"), &out.dns(), &want);
    let cost = tools::users_requests(&h.emu);
    assert!(cost <= 2, "Gigaset CLIP cost {cost} requests to /users");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mitel_alphabet_buckets_reread_and_lowercase_caller_id() {
    let h = start().await;
    let url = h.url();
    let all = sample();

    // 6800i: "%" becomes a*, b*, ... for alphabet-bucket browsing.
    for letter in ["a", "b", "m", "s", "z"] {
        let filter = format!("(&(sn={letter}*)(telephoneNumber=*))");
        let want = matching(&all, |p| {
            prefix(p, "sn", letter) && present(p, "telephoneNumber")
        });
        let out = ldapsearch(&[
            "-x",
            "-H",
            &url,
            "-b",
            BASE,
            &filter,
            "cn",
            "sn",
            "telephoneNumber",
        ])
        .await;
        assert_eq!(out.code, 0, "{filter}: {}", out.stderr);
        assert_same_entries(&format!("Mitel bucket {filter}"), &out.dns(), &want);
    }
    // The guide's own example uses `number`, which no schema defines: Undefined, so no entry
    // (as OpenLDAP answers), and no error.
    let out = ldapsearch(&["-x", "-H", &url, "-b", BASE, "(&(sn=b*)(number=*))", "cn"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.dns().is_empty(),
        "an unknown attribute must not match: {}",
        out.stdout
    );

    // Detailed view: re-read by DN with scope base, and with scope one/sub under it.
    let megan = by_cn(&all, "Megan Bowen").clone();
    let out = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-s",
        "base",
        "-b",
        &megan.dn,
        "(objectClass=*)",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_same_entries(
        "Mitel detailed view",
        &out.dns(),
        std::slice::from_ref(&megan),
    );
    let attrs = &out.entries()[0].1;
    assert_eq!(ldif_values(attrs, "mail"), megan.values("mail").to_vec());
    assert_eq!(ldif_values(attrs, "sn"), megan.values("sn").to_vec());

    // OpenCom caller lookup: lowercase names, E.164 equality, with a German number.
    // +49 30 12345678 is stored as `+49 30 12345678` on one user and as
    // `+49 (0)30 123456-78` on another: both are the caller.
    let de = "+493012345678".to_string();
    let filter = format!("(|(mobile={de})(homephone={de})(telephonenumber={de}))");
    let want = matching(&all, |p| {
        phone_any(p, &["mobile", "homePhone", "telephoneNumber"], &de)
    });
    let out = ldapsearch(&["-x", "-H", &url, "-b", BASE, &filter, "cn"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Collected, so the checks below still run when this one fails.
    let de_result = same_entries(&format!("Mitel OpenCom {filter}"), &out.dns(), &want);
    let filter = format!(
        "(|(mobile={MEGAN_PHONE})(homephone={MEGAN_PHONE})(telephonenumber={MEGAN_PHONE}))"
    );
    let want = matching(&all, |p| {
        phone_any(p, &["mobile", "homePhone", "telephoneNumber"], MEGAN_PHONE)
    });
    let out = ldapsearch(&["-x", "-H", &url, "-b", BASE, &filter, "cn"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_same_entries(&format!("Mitel OpenCom {filter}"), &out.dns(), &want);
    // OpenCom name lookup.
    let out = ldapsearch(&["-x", "-H", &url, "-b", BASE, "(|(sn=Bow*))", "cn"]).await;
    assert_eq!(out.code, 0);
    assert_same_entries(
        "Mitel OpenCom (|(sn=Bow*))",
        &out.dns(),
        &matching(&all, |p| prefix(p, "sn", "Bow")),
    );
    if let Err(e) = de_result {
        panic!("{e}");
    }
    h.stop().await;
}

// ---------------------------------------------------------------------------------------
// Thunderbird (CLIENTS.md §11): autocomplete with the whole attribute map.

const THUNDERBIRD_ATTRS: &[&str] = &[
    "cn",
    "commonname",
    "givenName",
    "sn",
    "surname",
    "mail",
    "telephoneNumber",
    "homePhone",
    "mobile",
    "cellphone",
    "carphone",
    "pager",
    "pagerphone",
    "facsimiletelephonenumber",
    "fax",
    "o",
    "company",
    "ou",
    "department",
    "title",
    "street",
    "l",
    "st",
    "postalCode",
    "c",
    "mozillaNickname",
    "mozillaSecondEmail",
    "mozillaWorkUrl",
    "mozillaHomeStreet",
    "xmozillanickname",
    "nsAIMid",
];

/// Attribute names Thunderbird asks for that no schema the gateway knows defines.
const THUNDERBIRD_UNKNOWN: &[&str] = &[
    "cellphone",
    "carphone",
    "pagerphone",
    "mozillaNickname",
    "mozillaSecondEmail",
    "mozillaWorkUrl",
    "mozillaHomeStreet",
    "xmozillanickname",
    "nsAIMid",
];

#[tokio::test(flavor = "multi_thread")]
async fn thunderbird_autocomplete_with_its_long_attribute_list() {
    let h = start().await;
    let url = h.url();
    let all = sample();
    let index = by_dn(&all);
    for typed in ["jo", "meg", "a"] {
        let filter = format!("(|(cn={typed}*)(mail={typed}*)(sn={typed}*))");
        let want = limited(
            matching(&all, |p| {
                prefix(p, "cn", typed) || prefix(p, "mail", typed) || prefix(p, "sn", typed)
            }),
            "displayName",
            100,
        );
        let mut args = vec![
            "-x",
            "-H",
            url.as_str(),
            "-z",
            "100",
            "-b",
            BASE,
            filter.as_str(),
        ];
        args.extend_from_slice(THUNDERBIRD_ATTRS);
        let out = ldapsearch(&args).await;
        check_limited(&format!("Thunderbird {filter}"), &out, &want);
        for (dn, attrs) in out.entries() {
            for (name, _) in &attrs {
                assert!(
                    !THUNDERBIRD_UNKNOWN
                        .iter()
                        .any(|u| u.eq_ignore_ascii_case(name)),
                    "{dn}: unknown attribute {name} returned"
                );
            }
            let p = index.get(&norm_dn(&dn)).expect("known entry");
            let mut mail = ldif_values(&attrs, "mail");
            mail.dedup();
            assert_eq!(mail, p.values("mail").to_vec(), "mail of {dn}");
            assert!(!ldif_values(&attrs, "cn").is_empty() || p.values("cn").is_empty());
        }
    }
    // An empty query: the directory filter alone, cut at maxHits; 4 is a normal end for it.
    let want = limited(
        matching(&all, |p| eq(p, "objectClass", "inetOrgPerson")),
        "displayName",
        100,
    );
    assert_eq!(want.1, 4, "the sample tenant has more than 100 people");
    let out = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-z",
        "100",
        "-b",
        BASE,
        "(objectclass=inetorgperson)",
        "cn",
        "mail",
    ])
    .await;
    check_limited("Thunderbird empty search", &out, &want);
    h.stop().await;
}

// ---------------------------------------------------------------------------------------
// macOS Contacts (CLIENTS.md §13): empty base, subtree, time limit 30, lowercase names.

const MACOS_ATTRS: &[&str] = &[
    "givenName",
    "sn",
    "cn",
    "mail",
    "telephoneNumber",
    "facsimileTelephoneNumber",
    "o",
    "title",
    "ou",
    "buildingName",
    "street",
    "l",
    "st",
    "postalCode",
    "c",
    "jpegPhoto",
    "mobile",
    "co",
    "pager",
    "destinationIndicator",
    "labeledURI",
    "IMHandle",
];

#[tokio::test(flavor = "multi_thread")]
async fn macos_contacts_empty_base_subtree_with_time_limit() {
    let h = start().await;
    let url = h.url();
    let all = sample();
    for typed in ["megan", "Bowen", "megan bowen"] {
        let filter = format!("(|(givenname={typed})(sn={typed})(cn={typed})(mail={typed}))");
        let want = matching(&all, |p| {
            eq(p, "givenName", typed)
                || eq(p, "sn", typed)
                || eq(p, "cn", typed)
                || eq(p, "mail", typed)
        });
        assert!(!want.is_empty(), "{filter} matches someone");
        let mut args = vec![
            "-x",
            "-H",
            url.as_str(),
            "-s",
            "sub",
            "-l",
            "30",
            "-b",
            "",
            filter.as_str(),
        ];
        args.extend_from_slice(MACOS_ATTRS);
        let out = ldapsearch(&args).await;
        assert_eq!(out.code, 0, "macOS {filter}: {}", out.stderr);
        assert_same_entries(&format!("macOS {filter}"), &out.dns(), &want);
        for (dn, attrs) in out.entries() {
            for (name, _) in &attrs {
                assert!(
                    !["IMHandle", "jpegPhoto"]
                        .iter()
                        .any(|u| u.eq_ignore_ascii_case(name)),
                    "{dn}: attribute {name} has no Graph source"
                );
            }
        }
    }
    // Base "" with scope one lists the naming context.
    let out = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-s",
        "one",
        "-b",
        "",
        "(objectClass=*)",
        "1.1",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.dns().iter().map(|d| norm_dn(d)).collect::<Vec<_>>(),
        vec![norm_dn(BASE)]
    );
    h.stop().await;
}

// ---------------------------------------------------------------------------------------
// python ldap3 (CLIENTS.md §10): rootDSE and schema read after bind, paged search.

/// Every attribute type the default mapping serves (CONTRACT §4, §5).
const SERVED_ATTRIBUTES: &[&str] = &[
    "objectClass",
    "uid",
    "userPrincipalName",
    "cn",
    "displayName",
    "givenName",
    "sn",
    "mail",
    "telephoneNumber",
    "mobile",
    "facsimileTelephoneNumber",
    "title",
    "department",
    "company",
    "o",
    "physicalDeliveryOfficeName",
    "street",
    "l",
    "st",
    "postalCode",
    "co",
    "employeeNumber",
    "preferredLanguage",
    "sAMAccountName",
    "homePhone",
    "entryUUID",
    "entryDN",
    "hasSubordinates",
    "structuralObjectClass",
    "subschemaSubentry",
    "ou",
    "dc",
];

const SERVED_CLASSES: &[&str] = &[
    "top",
    "person",
    "organizationalPerson",
    "inetOrgPerson",
    "user",
    "contact",
    "organizationalUnit",
    "domain",
];

/// The NAMEs of a schema definition such as `( 2.5.4.3 NAME ( 'cn' 'commonName' ) ... )`.
fn schema_names(definition: &str) -> Vec<String> {
    let Some(start) = definition.find("NAME") else {
        return Vec::new();
    };
    let rest = &definition[start + 4..];
    let rest = rest.trim_start();
    let part = if let Some(inner) = rest.strip_prefix('(') {
        inner.split(')').next().unwrap_or("")
    } else {
        rest.split_whitespace().next().unwrap_or("")
    };
    part.split('\'')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn attr_values(e: &SearchEntry, name: &str) -> Vec<String> {
    e.attrs
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn python_ldap3_reads_root_dse_and_schema_after_bind_then_pages() {
    let hash = hash_password(ACCOUNT_PASSWORD).expect("hash");
    let h = start_with(Tenant::sample(), move |cfg| {
        with_account(cfg, hash);
        cfg.ldap.limits.require_tls_for_bind = false;
    })
    .await;
    let all = sample();
    let mut ldap = tools::ldap3_plain(&h.url()).await;
    ldap.simple_bind(ACCOUNT_DN, ACCOUNT_PASSWORD)
        .await
        .expect("bind")
        .success()
        .expect("bind ok");

    // Right after the bind: rootDSE with deref=always, ['subschemaSubentry', '+'].
    ldap.with_search_options(ldap3::SearchOptions::new().deref(ldap3::DerefAliases::Always));
    let (_, dse, rc) = tools::ldap3_search(
        &mut ldap,
        "",
        Scope::Base,
        "(objectClass=*)",
        &["subschemaSubentry", "+"],
    )
    .await;
    assert_eq!(rc, 0);
    assert_eq!(dse.len(), 1);
    let subschema = attr_values(&dse[0], "subschemaSubentry");
    assert_eq!(
        subschema.len(),
        1,
        "rootDSE names one subschemaSubentry: {:?}",
        dse[0].attrs
    );
    assert_eq!(
        attr_values(&dse[0], "namingContexts"),
        vec![BASE.to_string()]
    );

    // Then the schema entry itself.
    ldap.with_search_options(ldap3::SearchOptions::new().deref(ldap3::DerefAliases::Always));
    let (_, schema, rc) = tools::ldap3_search(
        &mut ldap,
        &subschema[0],
        Scope::Base,
        "(objectClass=subschema)",
        &[
            "objectClasses",
            "attributeTypes",
            "ldapSyntaxes",
            "matchingRules",
            "matchingRuleUse",
            "dITContentRules",
            "dITStructureRules",
            "nameForms",
            "createTimestamp",
            "modifyTimestamp",
            "*",
        ],
    )
    .await;
    assert_eq!(rc, 0);
    assert_eq!(schema.len(), 1, "the subschema entry is readable");
    let types: Vec<String> = attr_values(&schema[0], "attributeTypes")
        .iter()
        .flat_map(|d| schema_names(d))
        .collect();
    for a in SERVED_ATTRIBUTES {
        assert!(
            types.contains(&a.to_lowercase()),
            "attributeTypes lacks {a}"
        );
    }
    for alias in [
        "surname",
        "commonname",
        "gn",
        "mobiletelephonenumber",
        "hometelephonenumber",
    ] {
        assert!(
            types.contains(&alias.to_string()),
            "attributeTypes lacks the alias {alias}"
        );
    }
    let classes: Vec<String> = attr_values(&schema[0], "objectClasses")
        .iter()
        .flat_map(|d| schema_names(d))
        .collect();
    for c in SERVED_CLASSES {
        assert!(
            classes.contains(&c.to_lowercase()),
            "objectClasses lacks {c}"
        );
    }

    // paged_search with page size 5: every match once, in the order of CONTRACT §8.
    let want = in_contract_order(matching(&all, |p| prefix(p, "sn", "m")), "displayName");
    assert!(want.len() > 10, "several pages");
    let adapters: Vec<Box<dyn Adapter<_, _>>> =
        vec![Box::new(EntriesOnly::new()), Box::new(PagedResults::new(5))];
    let mut stream = ldap
        .streaming_search_with(adapters, BASE, Scope::Subtree, "(sn=m*)", vec!["cn", "sn"])
        .await
        .expect("paged search starts");
    let mut dns = Vec::new();
    while let Some(e) = stream.next().await.expect("next page") {
        dns.push(SearchEntry::construct(e).dn);
    }
    let res = stream.finish().await;
    assert_eq!(res.rc, 0, "paged search: {}", res.text);
    assert_same_order("ldap3 paged (sn=m*)", &dns, &want);
    let _ = ldap.unbind().await;
    h.stop().await;
}

// ---------------------------------------------------------------------------------------
// ldapsearch itself (CLIENTS.md §9): -ZZ, ldaps://, -E pr=, -E sss=, -E vlv=, -z, -l.

#[tokio::test(flavor = "multi_thread")]
async fn ldapsearch_starttls_and_ldaps() {
    let pki = TestPki::generate();
    let h = start_tls(&pki, |cfg| cfg.ldap.limits.require_tls_for_bind = true).await;
    let all = sample();
    let want = matching(&all, |p| eq(p, "sn", "Bowen"));
    let env = pki.verifying_env();

    // StartTLS is advertised once [tls] is set.
    let dse = ldapsearch(&[
        "-x",
        "-H",
        &h.url(),
        "-s",
        "base",
        "-b",
        "",
        "supportedExtension",
    ])
    .await;
    assert!(
        ldif_values(&dse.entries()[0].1, "supportedExtension")
            .contains(&"1.3.6.1.4.1.1466.20037".to_string())
    );

    let zz = tools::ldapsearch_env(
        &[
            "-x",
            "-ZZ",
            "-H",
            &h.url(),
            "-D",
            ACCOUNT_DN,
            "-w",
            ACCOUNT_PASSWORD,
            "-b",
            BASE,
            "(sn=Bowen)",
            "cn",
        ],
        &env,
    )
    .await;
    assert_eq!(zz.code, 0, "-ZZ: {}", zz.stderr);
    let dns: Vec<String> = common::parse_ldif(&zz.stdout)
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    assert_same_entries("-ZZ (sn=Bowen)", &dns, &want);

    let ldaps = tools::ldapsearch_env(
        &[
            "-x",
            "-H",
            &ldaps_url(&h),
            "-D",
            ACCOUNT_NAME,
            "-w",
            ACCOUNT_PASSWORD,
            "-b",
            BASE,
            "(sn=Bowen)",
            "cn",
        ],
        &env,
    )
    .await;
    assert_eq!(ldaps.code, 0, "ldaps://: {}", ldaps.stderr);
    let dns: Vec<String> = common::parse_ldif(&ldaps.stdout)
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    assert_same_entries("ldaps:// (sn=Bowen)", &dns, &want);

    // ldap3 over LDAPS with TLS 1.3 and 1.2.
    for config in [pki.client_config(), pki.client_config_tls12()] {
        let mut ldap =
            tools::ldap3_connect(&ldaps_url(&h), LdapConnSettings::new().set_config(config)).await;
        ldap.simple_bind(ACCOUNT_NAME, ACCOUNT_PASSWORD)
            .await
            .expect("bind")
            .success()
            .expect("bind ok");
        let (dns, _, rc) =
            tools::ldap3_search(&mut ldap, BASE, Scope::Subtree, "(sn=Bowen)", &["cn"]).await;
        assert_eq!(rc, 0);
        assert_same_entries("ldap3 over LDAPS", &dns, &want);
        let _ = ldap.unbind().await;
    }
    h.stop().await;

    // Without [tls], -ZZ fails instead of silently staying in plain text.
    let plain = start().await;
    let out = ldapsearch(&["-x", "-ZZ", "-H", &plain.url(), "-b", BASE, "(sn=Bowen)"]).await;
    assert_ne!(out.code, 0, "-ZZ without TLS must fail");
    assert!(out.dns().is_empty());
    plain.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ldapsearch_paged_results() {
    let h = start().await;
    let url = h.url();
    let want = in_contract_order(matching(&sample(), |p| prefix(p, "cn", "m")), "displayName");
    assert!(want.len() > 10);
    for control in ["pr=5/noprompt", "!pr=5/noprompt", "pr=1000/noprompt"] {
        let out = ldapsearch(&["-x", "-H", &url, "-E", control, "-b", BASE, "(cn=m*)", "cn"]).await;
        assert_eq!(out.code, 0, "-E {control}: {}", out.stderr);
        assert_same_order(&format!("-E {control} (cn=m*)"), &out.dns(), &want);
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ldapsearch_server_side_sort() {
    let h = start().await;
    let url = h.url();
    let all = sample();
    let index = by_dn(&all);
    let matches = matching(&all, |p| prefix(p, "sn", "b") || prefix(p, "cn", "b"));
    for (control, attr, reverse) in [
        ("sss=cn", "cn", false),
        ("sss=-cn", "cn", true),
        ("sss=sn", "sn", false),
    ] {
        let out = ldapsearch(&[
            "-x",
            "-H",
            &url,
            "-E",
            control,
            "-b",
            BASE,
            "(|(sn=b*)(cn=b*))",
            "cn",
            "sn",
        ])
        .await;
        assert_eq!(out.code, 0, "-E {control}: {}", out.stderr);
        assert_same_entries(&format!("-E {control}"), &out.dns(), &matches);
        assert_eq!(
            keys_of(&out.dns(), &index, attr),
            sorted_keys(&matches, attr, reverse),
            "-E {control} order"
        );
    }
    // Critical sort on a supported key works; sort with a size limit keeps the first keys.
    let out = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-z",
        "4",
        "-E",
        "!sss=sn",
        "-b",
        BASE,
        "(|(sn=b*)(cn=b*))",
        "sn",
    ])
    .await;
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert_eq!(
        keys_of(&out.dns(), &index, "sn"),
        sorted_keys(&matches, "sn", false)[..4].to_vec()
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ldapsearch_sort_with_virtual_list_view() {
    let h = start().await;
    let url = h.url();
    let all = sample();
    let index = by_dn(&all);
    let matches = matching(&all, |p| present(p, "cn"));
    let keys = sorted_keys(&matches, "cn", false);
    assert!(keys.len() > 30);
    for (vlv, range) in [
        ("vlv=0/9/1/0", 0..10),
        ("vlv=3/3/20/0", 16..23),
        ("vlv=2/0/1/0", 0..1),
    ] {
        let w = tools::ldapsearch_vlv_first_window(&[
            "-x", "-H", &url, "-E", "sss=cn", "-E", vlv, "-b", BASE, "(cn=*)", "cn",
        ])
        .await;
        assert_eq!(
            w.code, 1,
            "-E {vlv}: the first window must succeed: {}",
            w.stderr
        );
        let result = w.vlv_result.unwrap_or_default();
        assert!(
            result.contains(&format!("count={}", keys.len())) && result.contains("(0) Success"),
            "-E {vlv}: VLV response {result:?}"
        );
        assert_eq!(
            keys_of(&w.dns, &index, "cn"),
            keys[range].to_vec(),
            "-E sss=cn -E {vlv}"
        );
    }
    // VLV without a sort control is refused (draft-ietf-ldapext-ldapv3-vlv-09 §6.2:
    // sortControlMissing, or a VLV error as slapd answers), sent raw through ldap3 since
    // ldapsearch will not send it: before 0, after 9, byOffset 1 / count 0.
    let mut ldap = tools::ldap3_plain(&url).await;
    let vlv_value = vec![
        0x30, 0x0e, 0x02, 0x01, 0x00, 0x02, 0x01, 0x09, 0xa0, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01,
        0x00,
    ];
    ldap.with_controls(ldap3::controls::RawControl {
        ctype: "2.16.840.1.113730.3.4.9".to_string(),
        crit: true,
        val: Some(vlv_value),
    });
    let (dns, _, rc) =
        tools::ldap3_search(&mut ldap, BASE, Scope::Subtree, "(cn=*)", &["cn"]).await;
    assert!(rc == 60 || rc == 76, "VLV without sort answered {rc}");
    assert!(dns.is_empty(), "VLV without sort returned entries");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ldapsearch_size_and_time_limits() {
    let h = start().await;
    let url = h.url();
    let all = sample();
    let want = limited(matching(&all, |p| prefix(p, "sn", "s")), "displayName", 4);
    assert_eq!(want.1, 4);
    let out = ldapsearch(&[
        "-x", "-H", &url, "-z", "4", "-l", "5", "-b", BASE, "(sn=s*)", "cn",
    ])
    .await;
    check_limited("-z 4 -l 5 (sn=s*)", &out, &want);
    let want = limited(matching(&all, |p| prefix(p, "sn", "s")), "displayName", 500);
    let out = ldapsearch(&["-x", "-H", &url, "-l", "5", "-b", BASE, "(sn=s*)", "cn"]).await;
    check_limited("-l 5 (sn=s*)", &out, &want);
    // A >= filter orders the kept entries by its attribute (CONTRACT §8).
    let want = limited(matching(&all, |p| ge(p, "sn", "S")), "sn", 6);
    let out = ldapsearch(&["-x", "-H", &url, "-z", "6", "-b", BASE, "(sn>=S)", "sn"]).await;
    check_limited("-z 6 (sn>=S)", &out, &want);
    h.stop().await;
}

// ---------------------------------------------------------------------------------------
// TLS certificate re-read (issue 4 item 3): new connections get the new certificate, open
// ones keep working.

#[tokio::test(flavor = "multi_thread")]
async fn tls_certificate_reload_keeps_open_connections() {
    let old = TestPki::generate();
    let h = start_tls(&old, |_| {}).await;
    let url = ldaps_url(&h);
    let want = matching(&sample(), |p| eq(p, "sn", "Bowen"));

    let mut open = tools::ldap3_connect(
        &url,
        LdapConnSettings::new().set_config(old.client_config()),
    )
    .await;
    let (dns, _, rc) =
        tools::ldap3_search(&mut open, BASE, Scope::Subtree, "(sn=Bowen)", &["cn"]).await;
    assert_eq!(rc, 0);
    assert_same_entries("before the reload", &dns, &want);

    // Replace the certificate files in place, as a renewal would, and re-read them.
    let new = TestPki::generate();
    std::fs::copy(&new.cert_file, &old.cert_file).expect("replace cert.pem");
    std::fs::copy(&new.key_file, &old.key_file).expect("replace key.pem");
    ldap_graph_gateway::app::reload_tls(&h.cfg, &h.gw);

    // The open connection carries on.
    let (dns, _, rc) =
        tools::ldap3_search(&mut open, BASE, Scope::Subtree, "(sn=Bowen)", &["cn"]).await;
    assert_eq!(rc, 0, "the open LDAPS connection broke on reload");
    assert_same_entries("open connection after the reload", &dns, &want);

    // New connections see the new certificate: the new CA verifies it, the old one does not.
    let args = ["-x", "-H", url.as_str(), "-b", BASE, "(sn=Bowen)", "cn"];
    let with_new = tools::ldapsearch_env(&args, &new.verifying_env()).await;
    assert_eq!(with_new.code, 0, "new CA: {}", with_new.stderr);
    let dns: Vec<String> = common::parse_ldif(&with_new.stdout)
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    assert_same_entries("new connection after the reload", &dns, &want);
    let with_old = tools::ldapsearch_env(&args, &old.verifying_env()).await;
    assert_ne!(
        with_old.code, 0,
        "the old CA still verifies the served certificate"
    );
    let _ = open.unbind().await;
    h.stop().await;
}
