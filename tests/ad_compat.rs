//! The AD profile and custom mappings against OpenLDAP slapd (issue 9 items 3-5): the
//! sample tenant mapped by the test's own reading of CONTRACT §5 and §9
//! (tests/support/tenant.rs plus the AD attributes computed here, never the gateway's
//! mapping), loaded into slapd with the AD-style schema (tests/support/ad-style.schema),
//! and the same searches sent to both with the real `ldapsearch`.
//!
//! slapd knows neither AD's bitwise matching rules nor objectCategory's short names nor
//! ANR, so each search is a pair: the filter the gateway gets, and the plain filter it
//! means, written by hand over the values the profile can hold (userAccountControl is 512
//! or 514, objectCategory is CN=Person,...): `(uac:1.2.840.113556.1.4.803:=2)` is
//! `(userAccountControl=514)`, a rule no value satisfies is `(|)` (RFC 4526's absolute
//! false), `(objectCategory=person)` is its DN form, `(anr=x)` the OR that MS-ADTS
//! 3.1.1.3.1.3.4 rewrites it to.

mod common;
#[allow(dead_code)]
#[path = "support/slapd.rs"]
mod slapd;
#[path = "support/tenant.rs"]
mod tenant;
#[path = "support/tools.rs"]
mod tools;

use std::collections::{BTreeMap, BTreeSet};

use common::{BASE, Harness, ldapsearch, start_with};
use graph_emulator::Tenant;
use ldap_graph_gateway::directory::mapping::Override;
use serde_json::Value;
use slapd::{Slapd, SlapdSetup};

const AD_STYLE_SCHEMA: &str = include_str!("support/ad-style.schema");
const CATEGORY: &str = "CN=Person,CN=Schema,CN=Configuration,dc=example,dc=com";
const EXTENSION: &str = graph_emulator::tenant::SAMPLE_EXTENSION;

/// The site's own names the mapping below serves, for slapd (Directory String, caseIgnore:
/// what the gateway declares by default, docs/configuration.md).
const SITE_SCHEMA: &str = "attributetype ( 2.25.1.1 NAME 'extensionAttribute1'
	EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )

attributetype ( 2.25.1.2 NAME 'siteCode'
	EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )

objectclass ( 2.25.1.3 NAME 'siteExtras' SUP top AUXILIARY
	MAY ( extensionAttribute1 $ siteCode ) )
";

/// The sample's Graph users by lowercased UPN.
fn graph_users() -> BTreeMap<String, Value> {
    Tenant::sample()
        .users
        .into_iter()
        .filter_map(|u| {
            let upn = u.get("userPrincipalName")?.as_str()?.to_lowercase();
            Some((upn, u))
        })
        .collect()
}

fn text(u: &Value, path: &[&str]) -> Option<String> {
    let mut v = u;
    for p in path {
        v = v.get(p)?;
    }
    v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

/// Every user (enabled or not: the gateway below has no `user_filter`) and contact, with
/// the AD profile's attributes and the two custom mappings, as slapd holds them.
fn oracle_entries(t: &Tenant) -> Vec<slapd::LdifEntry> {
    let graph = graph_users();
    let mut out: Vec<slapd::LdifEntry> = tenant::containers();
    let people = tenant::users(t)
        .into_iter()
        .chain(tenant::disabled_users(t))
        .chain(tenant::contacts(t));
    for p in people {
        let mut attrs: Vec<(String, Vec<String>)> = p
            .attributes()
            .into_iter()
            .filter(|(a, _)| !a.eq_ignore_ascii_case("sAMAccountName"))
            .collect();
        let set = |attrs: &mut Vec<(String, Vec<String>)>, name: &str, v: String| {
            attrs.push((name.to_string(), vec![v]));
        };
        set(&mut attrs, "objectCategory", CATEGORY.to_string());
        set(&mut attrs, "distinguishedName", p.dn.clone());
        if p.is_user {
            let upn = p.dn["uid=".len()..p.dn.find(",ou=").unwrap_or(p.dn.len())].to_lowercase();
            let u = &graph[&upn];
            let enabled = u.get("accountEnabled") == Some(&Value::Bool(true));
            set(
                &mut attrs,
                "userAccountControl",
                if enabled { "512" } else { "514" }.to_string(),
            );
            // docs/configuration.md: onPremisesSamAccountName, else the UPN's local part.
            let account = text(u, &["onPremisesSamAccountName"]).unwrap_or_else(|| {
                text(u, &["userPrincipalName"])
                    .and_then(|v| v.split('@').next().map(str::to_string))
                    .unwrap_or_default()
            });
            set(&mut attrs, "sAMAccountName", account);
            let mut extras = false;
            if let Some(v) = text(u, &["onPremisesExtensionAttributes", "extensionAttribute1"]) {
                set(&mut attrs, "extensionAttribute1", v);
                extras = true;
            }
            if let Some(v) = text(u, &[EXTENSION]) {
                set(&mut attrs, "siteCode", v);
                extras = true;
            }
            if extras {
                for (a, vs) in attrs.iter_mut() {
                    if a.eq_ignore_ascii_case("objectClass") {
                        vs.push("siteExtras".to_string());
                    }
                }
            }
        }
        out.push((p.dn, attrs));
    }
    out
}

fn oracle(t: &Tenant) -> Slapd {
    let ldif = slapd::to_ldif(&oracle_entries(t));
    Slapd::start(&SlapdSetup {
        suffix: BASE,
        extra_schemas: vec![
            ("ad-style", AD_STYLE_SCHEMA.to_string()),
            ("site", SITE_SCHEMA.to_string()),
        ],
        ldif: &ldif,
    })
    .unwrap_or_else(|e| panic!("slapd: {e}"))
}

async fn gateway() -> Harness {
    start_with(Tenant::sample(), |cfg| {
        cfg.compat.active_directory = true;
        cfg.graph.user_filter = String::new();
        cfg.search.cache_ttl_secs = 0;
        cfg.mapping.users = vec![
            Override::parse(
                "extensionAttribute1",
                "onPremisesExtensionAttributes/extensionAttribute1",
            )
            .expect("nested property"),
            Override::parse("siteCode", EXTENSION).expect("directory extension"),
        ];
    })
    .await
}

async fn dns(url: &str, filter: &str) -> (i32, BTreeSet<String>) {
    let out = ldapsearch(&["-x", "-H", url, "-b", BASE, "-z", "0", filter, "1.1"]).await;
    let dns = out.dns().into_iter().map(|d| d.to_lowercase()).collect();
    (out.code, dns)
}

/// (the filter the gateway gets, the plain filter slapd gets for it).
fn pairs() -> Vec<(String, String)> {
    let same = |f: &str| (f.to_string(), f.to_string());
    let not_disabled = "(!(userAccountControl=514))";
    vec![
        (
            "(&(objectCategory=person)(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))".into(),
            format!("(&(objectCategory={CATEGORY})(objectClass=user){not_disabled})"),
        ),
        (
            "(userAccountControl:1.2.840.113556.1.4.803:=2)".into(),
            "(userAccountControl=514)".into(),
        ),
        (
            "(userAccountControl:1.2.840.113556.1.4.804:=514)".into(),
            "(|(userAccountControl=512)(userAccountControl=514))".into(),
        ),
        (
            "(userAccountControl:1.2.840.113556.1.4.803:=16)".into(),
            "(|)".into(),
        ),
        (
            "(!(userAccountControl:1.2.840.113556.1.4.803:=16))".into(),
            "(!(|))".into(),
        ),
        (
            "(&(objectCategory=User)(sAMAccountName=a*))".into(),
            format!("(&(objectCategory={CATEGORY})(sAMAccountName=a*))"),
        ),
        (
            "(|(userAccountControl:1.2.840.113556.1.4.803:=2)(mail=m*))".into(),
            "(|(userAccountControl=514)(mail=m*))".into(),
        ),
        (
            "(anr=meg)".into(),
            "(|(cn=meg*)(givenName=meg*)(sn=meg*)(displayName=meg*)(mail=meg*)(sAMAccountName=meg*))".into(),
        ),
        (
            "(anr=Megan B)".into(),
            "(|(cn=Megan B*)(givenName=Megan B*)(sn=Megan B*)(displayName=Megan B*)(mail=Megan B*)(sAMAccountName=Megan B*)(&(givenName=Megan*)(sn=B*))(&(givenName=B*)(sn=Megan*)))".into(),
        ),
        same("(userAccountControl=514)"),
        same("(userAccountControl>=513)"),
        same("(&(objectClass=contact)(!(sAMAccountName=*)))"),
        same("(sAMAccountName=m*)"),
        same("(objectCategory=CN=Person,CN=Schema,CN=Configuration,DC=Example,DC=Com)"),
        same("(distinguishedName=uid=Megan.Bowen@example.com,ou=users,dc=example,dc=com)"),
        same("(extensionAttribute1=CC-Sales)"),
        same("(extensionAttribute1=cc-*)"),
        same("(&(objectClass=user)(!(siteCode=*)))"),
        same("(|(siteCode=*)(userAccountControl=514))"),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ad_profile_answers_as_slapd_holding_the_same_entries() {
    let t = Tenant::sample();
    let slapd = oracle(&t);
    let h = gateway().await;
    let mut failures = Vec::new();
    for (gw_filter, slapd_filter) in pairs() {
        let (gw_code, gw) = dns(&h.url(), &gw_filter).await;
        let (sl_code, sl) = dns(&slapd.url(), &slapd_filter).await;
        assert_eq!(sl_code, 0, "slapd {slapd_filter}");
        if gw_code != 0 || gw != sl {
            failures.push(format!(
                "{gw_filter} (slapd {slapd_filter}): rc {gw_code}, only gateway {:?}, only slapd {:?}",
                gw.difference(&sl).take(5).collect::<Vec<_>>(),
                sl.difference(&gw).take(5).collect::<Vec<_>>()
            ));
        }
        // No search is vacuous: each one the corpus asks finds something or is meant not to.
        if !slapd_filter.contains("(|)") {
            assert!(
                !sl.is_empty(),
                "{slapd_filter} matches nothing in the sample"
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn served_names_are_published_in_the_subschema() {
    let h = gateway().await;
    let mut ldap = tools::ldap3_plain(&h.url()).await;
    let (_, entries, rc) = tools::ldap3_search(
        &mut ldap,
        "cn=Subschema",
        ldap3::Scope::Base,
        "(objectClass=subschema)",
        &["attributeTypes", "matchingRules"],
    )
    .await;
    assert_eq!(rc, 0);
    let types = entries[0]
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("attributeTypes"))
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let published = |name: &str| {
        types
            .iter()
            .find(|d| d.contains(&format!("NAME '{name}'")))
            .cloned()
    };
    // What python ldap3's check_names looks for: every name the gateway serves.
    for name in [
        "extensionAttribute1",
        "siteCode",
        "objectCategory",
        "userAccountControl",
        "objectGUID",
        "objectSid",
        "sAMAccountName",
        "aNR",
    ] {
        assert!(
            published(name).is_some(),
            "{name} missing from cn=Subschema"
        );
    }
    let ext = published("extensionAttribute1").unwrap_or_default();
    assert!(
        ext.contains("EQUALITY caseIgnoreMatch")
            && ext.contains("SUBSTR caseIgnoreSubstringsMatch")
            && ext.contains("SYNTAX 1.3.6.1.4.1.1466.115.121.1.15"),
        "{ext}"
    );
    assert!(published("ipPhone").is_none(), "ipPhone is not served");
    drop(ldap);
    h.stop().await;

    // Without the profile or the mappings, none of them is published.
    let plain = start_with(Tenant::sample(), |_| {}).await;
    let mut ldap = tools::ldap3_plain(&plain.url()).await;
    let (_, entries, _) = tools::ldap3_search(
        &mut ldap,
        "cn=Subschema",
        ldap3::Scope::Base,
        "(objectClass=*)",
        &["attributeTypes"],
    )
    .await;
    let all = format!("{:?}", entries[0].attrs);
    for name in ["'userAccountControl'", "'objectCategory'", "'siteCode'"] {
        assert!(!all.contains(name), "{name} published without the profile");
    }
    drop(ldap);
    plain.stop().await;
}

/// python ldap3 with `check_names=True` (CLIENTS.md §10) reads `cn=Subschema` after the
/// bind and refuses any name missing from it: the AD preset with a declared name and the
/// AD attributes must pass its check, and an unknown name must still be refused. Runs the
/// real library when `python3 -c 'import ldap3'` works (pip install ldap3).
const PYTHON_LDAP3: &str = r#"
import sys, ldap3
from ldap3.core.exceptions import LDAPAttributeError
server = ldap3.Server(sys.argv[1], get_info=ldap3.ALL)
conn = ldap3.Connection(server, auto_bind=True, check_names=True, raise_exceptions=True)
conn.search("dc=example,dc=com",
    "(&(objectClass=user)(objectCategory=person)(!(userAccountControl:1.2.840.113556.1.4.803:=2))(extensionAttribute1=CC-*))",
    attributes=["extensionAttribute1", "siteCode", "sAMAccountName", "objectGUID", "userAccountControl"])
print("found", len(conn.entries))
print("guid", len(conn.entries[0].objectGUID.raw_values[0]))
try:
    conn.search("dc=example,dc=com", "(noSuchAttribute=x)", attributes=["cn"])
    print("unknown accepted")
except LDAPAttributeError:
    print("unknown refused")
"#;

#[tokio::test(flavor = "multi_thread")]
async fn python_ldap3_check_names_accepts_every_served_name() {
    let has_ldap3 = std::process::Command::new("python3")
        .args(["-c", "import ldap3"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_ldap3 {
        eprintln!("skipped: python3 with ldap3 is not installed (pip install ldap3)");
        return;
    }
    let h = gateway().await;
    let url = h.url();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args(["-c", PYTHON_LDAP3, &url])
            .output()
            .expect("python3 runs")
    })
    .await
    .expect("python task");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The enabled non-guest users carry CC-<department> (the emulator's sample).
    let want = Tenant::sample()
        .users
        .iter()
        .filter(|u| u.get("accountEnabled") == Some(&Value::Bool(true)))
        .filter(|u| text(u, &["onPremisesExtensionAttributes", "extensionAttribute1"]).is_some())
        .count();
    assert!(want > 0);
    assert!(stdout.contains(&format!("found {want}\n")), "{stdout}");
    assert!(stdout.contains("guid 16\n"), "{stdout}");
    assert!(stdout.contains("unknown refused"), "{stdout}");
    h.stop().await;
}
