//! Caller ID on a messy tenant the test generates (CONTRACT §7): every stored number of
//! every user and contact, dialled in E.164, national and international spellings through
//! the real `ldapsearch`, must name its owner at no more than two Graph requests; suffix
//! searches read only the matching objects; a number changed in the emulator is found
//! after a refresh; with the index off or still loading the spelling pushdown answers.

mod common;
#[path = "support/tenant.rs"]
mod tenant;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{Harness, ldapsearch, start_with};
use graph_emulator::{
    EmulatorHandle, Fault, SAMPLE_CLIENT_ID, SAMPLE_CLIENT_SECRET, SAMPLE_TENANT_ID, Tenant,
};
use ldap_graph_gateway::app;
use ldap_graph_gateway::config::Config;
use ldap_graph_gateway::directory::Collection;
use ldap_graph_gateway::directory::filter::parse_filter;
use serde_json::{Value, json};
use tenant::*;

/// Stored spellings across nine countries, as people type them (issue 7): mixed
/// separators, groupings unlike the national format, trunk prefixes, extensions, letters,
/// stray spaces and numbers that do not parse.
const SPELLINGS: &[&str] = &[
    "(425) 555.0100",
    "+1-425-555-0101 x123",
    "425 555 0102",
    "425-555-0103",
    "+1 (425) 555-0104",
    "1.425.555.0105",
    "  +1 425 555 0106 ",
    "(212) 555.1679",
    "+48 22 585 7650",
    "+43 22 685 4471",
    "+46 1 503 4546",
    "0049 (0)89 1234567",
    "+49 (0)30 1234-5678",
    "+49 151 23456789",
    "+44 20 7946 0958",
    "+44 (0)20 7946 0959",
    "+33 1 42 68 53 00",
    "0033 1 42 68 53 01",
    "+31 20 123 4567",
    "+41 44 668 18 00",
    "+39 02 1234 5678",
    "+48 601 234 567",
    "+46 70 123 45 67",
    "+43 664 1234567",
    "1-800-FLOWERS",
    "ext. 4711",
    "12-34",
    "+1 425 555 0107;ext=9",
    "011 49 89 7654321",
    "+1  425  555  0108",
];

fn guid(kind: u32, n: usize) -> String {
    format!("{kind:08x}-0000-4000-8000-{n:012x}")
}

fn messy_user(n: usize, business: &[&str], mobile: Option<&str>) -> Value {
    json!({
        "id": guid(0xca11e4, n),
        "userPrincipalName": format!("caller{n}@example.com"),
        "displayName": format!("Caller {n:02}"),
        "givenName": "Caller",
        "surname": format!("{n:02}"),
        "mail": format!("caller{n}@example.com"),
        "accountEnabled": true,
        "businessPhones": business,
        "mobilePhone": mobile,
    })
}

fn messy_contact(n: usize, phones: &[(&str, &str)]) -> Value {
    let phones: Vec<Value> = phones
        .iter()
        .map(|(t, number)| json!({"type": t, "number": number}))
        .collect();
    json!({
        "id": guid(0xc0a7ac7, n),
        "displayName": format!("Contact {n:02}"),
        "givenName": "Contact",
        "surname": format!("{n:02}"),
        "mail": format!("contact{n}@partner.example"),
        "phones": phones,
    })
}

/// Users get one or two spellings as business phones and some a mobile; contacts get
/// the rest, so every spelling belongs to exactly one person.
fn messy_tenant() -> Tenant {
    let mut users = Vec::new();
    let mut contacts = Vec::new();
    for (n, pair) in SPELLINGS.chunks(2).enumerate() {
        if n % 3 == 2 {
            let phones: Vec<(&str, &str)> = pair
                .iter()
                .zip(["business", "mobile"])
                .map(|(p, t)| (t, *p))
                .collect();
            contacts.push(messy_contact(n, &phones));
        } else if n % 2 == 0 {
            users.push(messy_user(n, pair, None));
        } else {
            users.push(messy_user(n, &pair[..1], pair.get(1).copied()));
        }
    }
    // A few people without phones, and a disabled one whose number must not name anyone.
    users.push(messy_user(90, &[], None));
    let mut disabled = messy_user(91, &["+1 425 555 0199"], None);
    disabled["accountEnabled"] = json!(false);
    users.push(disabled);
    contacts.push(messy_contact(92, &[]));
    Tenant {
        tenant_id: SAMPLE_TENANT_ID.to_string(),
        client_id: SAMPLE_CLIENT_ID.to_string(),
        client_secret: SAMPLE_CLIENT_SECRET.to_string(),
        users,
        contacts,
    }
}

/// The spellings a caller's number arrives in: E.164 always; the national and the
/// international format where the number is valid (national only for the default
/// region, as a desk phone there shows it); for a number that does not parse, the stored
/// text and its regroupings (telephoneNumberMatch ignores spaces and hyphens).
fn dialled_forms(stored: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(e) = e164(stored) {
        out.push(e.clone());
        out.push(format!("00{}", &e[1..]));
        if let Ok(n) = phonenumber::parse(None, &e)
            && n.is_valid()
        {
            out.push(
                n.format()
                    .mode(phonenumber::Mode::International)
                    .to_string(),
            );
            if n.code().value() == 1 {
                out.push(n.format().mode(phonenumber::Mode::National).to_string());
            }
        }
    } else {
        let t = stored.trim().to_string();
        out.push(t.replace([' ', '-'], ""));
        out.push(t.replace('-', " "));
        out.push(t);
    }
    out.sort();
    out.dedup();
    out
}

fn caller_id_filter(number: &str) -> String {
    let v = number
        .replace('(', "\\28")
        .replace(')', "\\29")
        .replace('*', "\\2a");
    format!("(|(telephoneNumber={v})(mobile={v})(homePhone={v}))")
}

/// Data requests since the last reset, apart from the index's own delta rounds.
fn search_requests(emu: &EmulatorHandle) -> Vec<String> {
    emu.request_log()
        .into_iter()
        .filter(|l| !l.contains("/delta"))
        .collect()
}

fn phone_owners(t: &Tenant, dialled: &str) -> BTreeSet<String> {
    people(t)
        .into_iter()
        .filter(|p| {
            ["telephoneNumber", "mobile", "homePhone"]
                .iter()
                .any(|a| eq(p, a, dialled))
        })
        .map(|p| norm_dn(&p.dn))
        .collect()
}

fn norm_dn(dn: &str) -> String {
    dn.to_ascii_lowercase().replace(", ", ",")
}

async fn caller_id(h: &Harness, number: &str) -> BTreeSet<String> {
    let out = ldapsearch(&[
        "-x",
        "-H",
        &h.url(),
        "-b",
        BASE,
        &caller_id_filter(number),
        "cn",
    ])
    .await;
    assert_eq!(out.code, 0, "caller ID {number}: {}", out.stderr);
    out.dns().iter().map(|d| norm_dn(d)).collect()
}

async fn start_messy(tweak: impl FnOnce(&mut Config)) -> Harness {
    start_with(messy_tenant(), |cfg| {
        cfg.search.cache_ttl_secs = 0;
        cfg.phone.index_refresh_secs = 3600;
        tweak(cfg);
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn every_stored_number_names_its_owner_in_every_spelling_at_two_requests() {
    let t = messy_tenant();
    let h = start_messy(|_| {}).await;
    assert!(
        h.gw.directory.phone_index_status().starts_with("ready"),
        "{}",
        h.gw.directory.phone_index_status()
    );
    let mut lookups = 0;
    let mut worst = 0;
    for person in people(&t) {
        for attr in ["telephoneNumber", "mobile"] {
            for stored in person.values(attr).to_vec() {
                for dialled in dialled_forms(&stored) {
                    let want = phone_owners(&t, &dialled);
                    assert!(
                        want.contains(&norm_dn(&person.dn)),
                        "model: {dialled:?} should name {} ({stored:?})",
                        person.dn
                    );
                    h.emu.reset_stats();
                    let got = caller_id(&h, &dialled).await;
                    assert_eq!(
                        got, want,
                        "caller ID {dialled:?} (stored {stored:?} on {})",
                        person.dn
                    );
                    let requests = search_requests(&h.emu);
                    assert!(
                        requests.len() <= 2,
                        "caller ID {dialled:?} cost {} Graph requests: {requests:#?}",
                        requests.len()
                    );
                    assert!(
                        requests.iter().all(|r| r.contains("$filter=")),
                        "a caller-ID request without $filter (a scan): {requests:#?}"
                    );
                    assert_eq!(h.emu.rejections(), 0, "Graph would reject {requests:#?}");
                    worst = worst.max(requests.len());
                    lookups += 1;
                }
            }
        }
    }
    assert!(lookups > 80, "only {lookups} lookups");
    // The disabled account's number names nobody, and costs no more.
    h.emu.reset_stats();
    assert!(caller_id(&h, "+14255550199").await.is_empty());
    assert!(search_requests(&h.emu).len() <= 2);
    println!("{lookups} caller-ID lookups, at most {worst} Graph requests each");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn suffix_and_contains_searches_read_only_the_matching_objects() {
    let t = messy_tenant();
    let h = start_messy(|_| {}).await;
    for (filter, tail) in [
        ("(telephoneNumber=*0100)", "0100"),
        ("(|(telephoneNumber=*555*)(mobile=*555*))", "555"),
        ("(mobile=*4567)", "4567"),
    ] {
        h.emu.reset_stats();
        let out = ldapsearch(&["-x", "-H", &h.url(), "-b", BASE, filter, "cn"]).await;
        assert_eq!(out.code, 0, "{filter}: {}", out.stderr);
        let want: BTreeSet<String> = people(&t)
            .into_iter()
            .filter(|p| {
                ["telephoneNumber", "mobile"]
                    .iter()
                    .filter(|a| filter.contains(*a))
                    .any(|a| {
                        p.values(a).iter().any(|v| {
                            let d = phone_digits(v);
                            if filter.contains(&format!("*{tail}*")) {
                                d.contains(tail)
                            } else {
                                d.ends_with(tail)
                            }
                        })
                    })
            })
            .map(|p| norm_dn(&p.dn))
            .collect();
        let got: BTreeSet<String> = out.dns().iter().map(|d| norm_dn(d)).collect();
        assert_eq!(got, want, "{filter}");
        let requests = search_requests(&h.emu);
        assert!(requests.len() <= 2, "{filter}: {requests:#?}");
        // Every request names its objects by id: the objects read are the candidates.
        let ids: usize = requests
            .iter()
            .map(|r| {
                assert!(
                    r.contains("$filter=") && r.contains("id "),
                    "{filter}: a scan: {r}"
                );
                r.matches("-4000-8000-").count()
            })
            .sum();
        assert!(
            ids <= want.len() + 1,
            "{filter}: {ids} ids asked for {} matching objects",
            want.len()
        );
    }
    h.stop().await;
}

/// With the caches on (the default), a cached caller-ID answer does not outlive the phone
/// index it was planned on: a number that named nobody names its new owner after the next
/// refresh, not only after `cache_ttl_secs`.
#[tokio::test(flavor = "multi_thread")]
async fn a_cached_caller_id_answer_is_retired_when_the_index_changes() {
    let t = messy_tenant();
    let h = start_messy(|cfg| {
        cfg.search.cache_ttl_secs = 300;
        cfg.phone.index_refresh_secs = 1;
    })
    .await;
    let owner = norm_dn(&map_user(&t.users[0]).dn);
    let known = "+14255550100";
    let new = "+33612345678";
    assert_eq!(caller_id(&h, known).await, BTreeSet::from([owner.clone()]));
    // Both answers are now cached: the owner of the one, nobody for the other.
    assert!(caller_id(&h, new).await.is_empty());
    h.emu.reset_stats();
    assert_eq!(caller_id(&h, known).await, BTreeSet::from([owner]));
    assert!(caller_id(&h, new).await.is_empty());
    assert!(
        h.emu.request_log().iter().all(|l| l.contains("/delta")),
        "identical searches within cache_ttl_secs ask Graph nothing: {:#?}",
        h.emu.request_log()
    );

    let newcomer = messy_contact(77, &[("mobile", "+33 6 12 34 56 78")]);
    assert!(h.emu.upsert_contact(newcomer.clone()));
    let started = Instant::now();
    let mut found = BTreeSet::new();
    while started.elapsed() < Duration::from_secs(8) {
        found = caller_id(&h, new).await;
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        found,
        BTreeSet::from([norm_dn(&map_contact(&newcomer).dn)]),
        "the cached empty answer outlived the index"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "found only after {:?}, not within the refresh",
        started.elapsed()
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_number_changed_in_entra_is_found_after_a_refresh() {
    let t = messy_tenant();
    let h = start_messy(|cfg| cfg.phone.index_refresh_secs = 1).await;
    let mut user = t.users[0].clone();
    let dn = norm_dn(&map_user(&user).dn);
    assert_eq!(
        caller_id(&h, "+14255550100").await,
        BTreeSet::from([dn.clone()])
    );

    user["businessPhones"] = json!(["+49 (0)40 555-1234"]);
    assert!(h.emu.upsert_user(user));
    let newcomer = messy_contact(77, &[("mobile", "+33 6 12 34 56 78")]);
    assert!(h.emu.upsert_contact(newcomer.clone()));
    let gone = t.users[1].clone();
    let gone_number = gone["businessPhones"][0].as_str().unwrap().to_string();
    assert!(h.emu.delete_user(gone["id"].as_str().unwrap()));

    // Within index_refresh_secs (plus a round trip) the change is visible.
    let started = Instant::now();
    let mut found = BTreeSet::new();
    while started.elapsed() < Duration::from_secs(8) {
        found = caller_id(&h, "+49405551234").await;
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        found,
        BTreeSet::from([dn.clone()]),
        "changed number not found"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "found only after {:?}",
        started.elapsed()
    );
    assert!(
        caller_id(&h, "+14255550100").await.is_empty(),
        "old number still names"
    );
    assert_eq!(
        caller_id(&h, "+33612345678").await,
        BTreeSet::from([norm_dn(&map_contact(&newcomer).dn)])
    );
    assert!(caller_id(&h, &gone_number).await.is_empty());

    // A refused delta token: the index reads everything again and still answers.
    h.emu.expire_delta_tokens();
    let mut back = t.users[2].clone();
    back["mobilePhone"] = json!("+46 8 123 456 78");
    let back_dn = norm_dn(&map_user(&back).dn);
    assert!(h.emu.upsert_user(back));
    let started = Instant::now();
    let mut found = BTreeSet::new();
    while started.elapsed() < Duration::from_secs(10) {
        found = caller_id(&h, "+46812345678").await;
        if !found.is_empty() && h.gw.directory.phone_index_status().starts_with("ready") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(found, BTreeSet::from([back_dn]));
    assert!(
        h.emu
            .request_log()
            .iter()
            .any(|l| l.contains("/delta?$select")),
        "no full round after the refused token"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_index_off_the_spelling_pushdown_answers() {
    let t = messy_tenant();
    let h = start_messy(|cfg| cfg.phone.index = false).await;
    assert!(h.gw.directory.phone_index_status().starts_with("off"));
    let owner = norm_dn(&map_user(&t.users[1]).dn);
    h.emu.reset_stats();
    assert!(caller_id(&h, "+14255550103").await.contains(&owner));
    assert!(
        h.emu.request_log().iter().all(|l| !l.contains("/delta")),
        "the index is off but delta was read"
    );
    let f = parse_filter(&caller_id_filter("+14255550103")).unwrap();
    let plan = h.gw.directory.plan(&f, Collection::Users, None);
    assert!(
        plan.phone_index.iter().any(|n| n.contains("index = false")),
        "{:?}",
        plan.phone_index
    );
    assert!(
        plan.queries[0]
            .filter
            .as_deref()
            .unwrap()
            .contains("startsWith")
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn while_the_index_loads_the_spelling_pushdown_answers() {
    let t = messy_tenant();
    let (tenant_id, client_id, secret) = (
        t.tenant_id.clone(),
        t.client_id.clone(),
        t.client_secret.clone(),
    );
    let emu = graph_emulator::start(t.clone(), SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    // The first delta request hangs: the index stays loading.
    emu.set_fault(Fault::Hang);
    let listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut cfg = Config::demo(listen, &emu.base_url(), &tenant_id, &client_id, &secret).unwrap();
    cfg.search.cache_ttl_secs = 0;
    let (gw, server) = app::start(&cfg).await.unwrap();
    let started = Instant::now();
    while !emu.request_log().iter().any(|l| l.contains("/delta")) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no delta request"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    emu.set_fault(Fault::None);
    assert_eq!(gw.directory.phone_index_status(), "loading");
    let h = Harness {
        emu,
        gw,
        server,
        cfg,
    };
    let owner = norm_dn(&map_user(&t.users[1]).dn);
    assert!(caller_id(&h, "+14255550103").await.contains(&owner));
    let f = parse_filter(&caller_id_filter("+14255550103")).unwrap();
    let plan = h.gw.directory.plan(&f, Collection::Users, None);
    assert!(
        plan.phone_index.iter().any(|n| n.contains("still loading")),
        "{:?}",
        plan.phone_index
    );
    h.stop().await;
}
