//! Groups against OpenLDAP (CONTRACT §9): slapd holds the sample tenant's users and contacts
//! (the independent mapping of tests/support/tenant.rs), its groups as `groupOfNames` entries
//! and every user's memberships flattened here: `memberOf` (direct groups) and, for the
//! in-chain rule slapd does not implement, `inChainMemberOf` (every group reached through
//! nesting), to which the in-chain items are rewritten. Both servers get the same searches.

mod common;
// The ordering shadows of slapd.rs serve tests/differential.rs, not these searches.
#[allow(dead_code)]
#[path = "support/slapd.rs"]
mod slapd;
#[path = "support/tenant.rs"]
mod tenant;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use graph_emulator::groups::sample_group_id;
use graph_emulator::{Groups, Tenant};
use slapd::{Slapd, SlapdSetup};
use tenant::BASE;

const AD_STYLE_SCHEMA: &str = include_str!("support/ad-style.schema");
const IN_CHAIN: &str = ":1.2.840.113556.1.4.1941:=";

/// memberOf as OpenLDAP's memberof overlay defines it, the harness's in-chain stand-in, and
/// AD's `group` class name (CONTRACT §9).
const GROUPS_SCHEMA: &str = "\
attributetype ( 1.2.840.113556.1.2.102 NAME 'memberOf' EQUALITY distinguishedNameMatch \
SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )
attributetype ( 2.25.31415926535897932384626433832795028841.1 NAME 'inChainMemberOf' \
EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )
objectclass ( 2.25.31415926535897932384626433832795028841.2 NAME 'group' SUP top AUXILIARY \
MAY ( mail $ uid ) )
";

fn group_dn(id: &str) -> String {
    format!("uid={id},ou=groups,{BASE}")
}

/// The groups each enabled user reaches: directly, and through any chain of nesting.
fn flattened(
    t: &Tenant,
    groups: &Groups,
) -> BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> {
    let ids: Vec<String> = (1..=6).map(sample_group_id).collect();
    let parents = |member: &str| -> Vec<String> {
        ids.iter()
            .filter(|g| groups.find(g).unwrap().members.iter().any(|m| m == member))
            .cloned()
            .collect()
    };
    let mut out = BTreeMap::new();
    for u in t.users.iter().filter(|u| u["accountEnabled"] == true) {
        let id = u["id"].as_str().unwrap();
        let direct: BTreeSet<String> = parents(id).into_iter().collect();
        let mut nested = BTreeSet::new();
        let mut queue: VecDeque<String> = direct.iter().cloned().collect();
        while let Some(g) = queue.pop_front() {
            if nested.insert(g.clone()) {
                queue.extend(parents(&g));
            }
        }
        let upn = u["userPrincipalName"].as_str().unwrap().to_lowercase();
        out.insert(upn, (direct, nested));
    }
    out
}

/// slapd holding the tenant, its groups and the flattened memberships.
fn oracle(t: &Tenant, groups: &Groups) -> Slapd {
    let memberships = flattened(t, groups);
    let mut entries: Vec<slapd::LdifEntry> = tenant::containers();
    entries.push((
        format!("ou=groups,{BASE}"),
        vec![
            (
                "objectClass".into(),
                vec!["top".into(), "organizationalUnit".into()],
            ),
            ("ou".into(), vec!["groups".into()]),
        ],
    ));
    let users = tenant::users(t);
    let upn_of = |p: &tenant::Person| p.first("uid").unwrap_or_default().to_lowercase();
    for p in &users {
        let mut attrs = p.attributes();
        if let Some((direct, nested)) = memberships.get(&upn_of(p)) {
            let dns = |s: &BTreeSet<String>| s.iter().map(|g| group_dn(g)).collect::<Vec<_>>();
            if !direct.is_empty() {
                attrs.push(("memberOf".into(), dns(direct)));
                attrs.push(("inChainMemberOf".into(), dns(nested)));
            }
        }
        entries.push((p.dn.clone(), attrs));
    }
    entries.extend(
        tenant::contacts(t)
            .into_iter()
            .map(|p| (p.dn.clone(), p.attributes())),
    );
    let user_dn = |id: &str| -> Option<String> {
        let u = t
            .users
            .iter()
            .find(|u| u["id"] == id && u["accountEnabled"] == true)?;
        Some(format!(
            "uid={},ou=users,{BASE}",
            u["userPrincipalName"].as_str()?
        ))
    };
    for n in 1..=6 {
        let id = sample_group_id(n);
        let g = groups.find(&id).unwrap();
        let text = |k: &str| g.object[k].as_str().map(|s| vec![s.to_string()]);
        let mut attrs = vec![
            (
                "objectClass".to_string(),
                vec!["top".into(), "groupOfNames".into(), "group".into()],
            ),
            ("uid".to_string(), vec![id.clone()]),
        ];
        for (ldap, graph) in [
            ("cn", "displayName"),
            ("description", "description"),
            ("mail", "mail"),
        ] {
            if let Some(v) = text(graph) {
                attrs.push((ldap.to_string(), v));
            }
        }
        let members: Vec<String> = g.members.iter().filter_map(|m| user_dn(m)).collect();
        if !members.is_empty() {
            attrs.push(("member".to_string(), members));
        }
        entries.push((group_dn(&id), attrs));
    }
    let ldif = slapd::to_ldif(&entries);
    Slapd::start(&SlapdSetup {
        suffix: BASE,
        extra_schemas: vec![
            ("ad-style", AD_STYLE_SCHEMA.to_string()),
            ("groups", GROUPS_SCHEMA.to_string()),
        ],
        ldif: &ldif,
    })
    .unwrap_or_else(|e| panic!("slapd: {e}"))
}

/// The searches: each membership form alone, under AND with user conditions, OR (with
/// other alternatives: a union), NOT, two groups at once, memberOf presence and other rules,
/// and `member` on the groups.
fn filters(users: &[tenant::Person]) -> Vec<String> {
    let mut out = Vec::new();
    for n in 1..=6 {
        let g = group_dn(&sample_group_id(n));
        let other = group_dn(&sample_group_id(n % 6 + 1));
        for item in [
            format!("(memberOf={g})"),
            format!("(memberOf{IN_CHAIN}{g})"),
        ] {
            out.push(item.clone());
            out.push(format!("(&(objectClass=person){item}(cn=a*))"));
            out.push(format!("(&{item}(|(givenName=j*)(sn=s*)))"));
            out.push(format!("(|{item}(sn=Smith))"));
            out.push(format!("(&{item}(!(memberOf{IN_CHAIN}{other})))"));
            out.push(format!("(&(objectClass=inetOrgPerson)(!{item}))"));
            out.push(format!("(&{item}(memberOf={other}))"));
            out.push(format!("(|{item}(memberOf={other}))"));
            out.push(format!("(&(cn=*a*)(|{item}(memberOf{IN_CHAIN}{other})))"));
            out.push(format!(
                "(&(|{item}(memberOf={other}))(!(memberOf={other})))"
            ));
            // A union of member lists and /users (CONTRACT §9).
            out.push(format!("(|{item}(cn=a*))"));
            out.push(format!("(&(objectClass=person)(|(givenName=j*){item}))"));
            out.push(format!("(&(sn=*)(|{item}(mail=b*)(cn=*son)))"));
        }
        // memberOf items no member list answers see the real values.
        out.push(format!("(memberOf:2.5.13.1:={g})"));
        out.push(format!("(&(memberOf=*)(!(memberOf={g})))"));
    }
    for presence in [
        "(memberOf=*)",
        "(!(memberOf=*))",
        "(&(objectClass=person)(!(memberOf=*)))",
        "(&(memberOf=*)(cn=a*))",
        "(|(memberOf=*)(sn=Smith))",
        "(|(!(memberOf=*))(cn=b*))",
        "(memberOf=uid=*)",
        "(!(memberOf=uid=*))",
    ] {
        out.push(presence.to_string());
    }
    for p in users.iter().step_by(40) {
        out.push(format!("(member={})", p.dn));
        out.push(format!("(&(objectClass=groupOfNames)(!(member={})))", p.dn));
    }
    out.push("(objectClass=group)".into());
    out.push("(&(objectClass=groupOfNames)(cn=p*))".into());
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn memberships_answer_as_slapd_holding_them_flattened() {
    let t = Tenant::sample();
    let groups = Groups::sample(&t.users, &t.contacts);
    let slapd = oracle(&t, &groups);
    let h = common::start_with(t.clone(), |cfg| {
        cfg.groups.enabled = true;
        cfg.search.cache_ttl_secs = 0;
        // Exact contains-substrings: the word-prefix `$search` of the default mode is the
        // documented exception of CONTRACT §6, not what these searches compare.
        cfg.search.strict_substrings = true;
    })
    .await;
    h.emu.set_groups(groups);
    let (gw_url, oracle_url) = (h.url(), slapd.url());
    let mut failures = Vec::new();
    let all = filters(&tenant::users(&t));
    for f in &all {
        let slapd_filter = f.replace(&format!("memberOf{IN_CHAIN}"), "inChainMemberOf=");
        let got = common::ldapsearch(&["-x", "-H", &gw_url, "-b", BASE, "-z", "0", f, "1.1"]).await;
        let want = common::ldapsearch(&[
            "-x",
            "-H",
            &oracle_url,
            "-b",
            BASE,
            "-z",
            "0",
            &slapd_filter,
            "1.1",
        ])
        .await;
        assert_eq!(want.code, 0, "slapd {slapd_filter}: {}", want.stderr);
        let (g, w) = (
            tenant::dn_set(got.dns().iter().map(String::as_str)),
            tenant::dn_set(want.dns().iter().map(String::as_str)),
        );
        if got.code != 0 || g != w {
            failures.push(format!(
                "{f}: gateway {} ({} entries), slapd {} entries; only gateway {:?}, only slapd {:?}",
                got.code,
                g.len(),
                w.len(),
                g.difference(&w).take(3).collect::<Vec<_>>(),
                w.difference(&g).take(3).collect::<Vec<_>>()
            ));
        }
    }
    eprintln!("{} group searches compared with slapd", all.len());
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
    h.stop().await;
}
