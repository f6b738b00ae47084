//! Replays of the Active Directory presets of real applications (issue 9 item 3) against a
//! gateway with `[compat] active_directory = true`, over real sockets. The expected users
//! are computed here from the sample tenant's Graph JSON (accountEnabled, the account
//! name rule of docs/configuration.md), never from the gateway.

mod common;
#[path = "support/tools.rs"]
mod tools;

use std::collections::BTreeSet;

use common::{BASE, Harness, ldapsearch, start_with};
use graph_emulator::Tenant;
use serde_json::Value;

/// GLPI, `src/AuthLDAP.php`, `preconfig('AD')`: `condition` (the user list) and
/// `login_field = 'samaccountname'`, `sync_field = 'objectguid'`
/// (github.com/glpi-project/glpi, src/AuthLDAP.php, function preconfig).
const GLPI_CONDITION: &str =
    "(&(objectClass=user)(objectCategory=person)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))";

/// Nextcloud user_ldap, `apps/user_ldap/lib/Wizard.php`, composeLdapFilter
/// LFILTER_LOGIN: `(&<user filter>(|(samaccountname=%uid)(|(mailPrimaryAddress=%uid)(mail=%uid))))`
/// when the server has samaccountname and no uid attribute, with "login with email" on
/// (github.com/nextcloud/server). The user filter is the AD list filter people give it.
fn nextcloud_login(login: &str) -> String {
    format!(
        "(&(&(|(objectclass=user))(!(userAccountControl:1.2.840.113556.1.4.803:=2)))(|(samaccountname={login})(|(mailPrimaryAddress={login})(mail={login}))))"
    )
}

/// Grafana, `conf/ldap.toml`: "User search filter, for example "(cn=%s)" or
/// "(sAMAccountName=%s)"" (github.com/grafana/grafana, conf/ldap.toml, search_filter).
fn grafana_login(login: &str) -> String {
    format!("(sAMAccountName={login})")
}

/// Jenkins LDAP plugin, README.md (JCasC example):
/// `userSearch: "(&(objectCategory=User)(sAMAccountName={0}))"` (github.com/jenkinsci/ldap-plugin).
fn jenkins_login(login: &str) -> String {
    format!("(&(objectCategory=User)(sAMAccountName={login}))")
}

/// Gitea, docs "Authentication" → LDAP (via BindDN) → User Filter, "Example for Microsoft
/// Active Directory (AD)": `(&(objectCategory=Person)(memberOf=CN=user-group,OU=example,
/// DC=example,DC=org)(sAMAccountName=%s)(!(UserAccountControl:1.2.840.113556.1.4.803:=2)))`
/// (github.com/go-gitea/gitea, docs/content/usage/authentication.en-us.md). Replayed
/// without the memberOf clause: groups are another part of issue 9.
fn gitea_login(login: &str) -> String {
    format!(
        "(&(objectCategory=Person)(sAMAccountName={login})(!(UserAccountControl:1.2.840.113556.1.4.803:=2)))"
    )
}

/// One sample user as the expectations need it.
#[derive(Debug, Clone)]
struct SampleUser {
    dn: String,
    enabled: bool,
    /// docs/configuration.md `[compat]`: onPremisesSamAccountName, else the UPN's local part.
    account: String,
    mail: Option<String>,
    id: String,
}

fn sample_users() -> Vec<SampleUser> {
    let text = |u: &Value, k: &str| {
        u.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    Tenant::sample()
        .users
        .iter()
        .filter_map(|u| {
            let upn = text(u, "userPrincipalName")?;
            let local = upn.split('@').next().unwrap_or_default().to_string();
            Some(SampleUser {
                dn: format!("uid={upn},ou=users,{BASE}"),
                enabled: u.get("accountEnabled") == Some(&Value::Bool(true)),
                account: text(u, "onPremisesSamAccountName").unwrap_or(local),
                mail: text(u, "mail"),
                id: text(u, "id")?,
            })
        })
        .collect()
}

/// A gateway in the AD profile that sees every user: the demo's `user_filter`
/// (`accountEnabled eq true`) is cleared so that the presets must exclude the disabled.
async fn ad_gateway() -> Harness {
    start_with(Tenant::sample(), |cfg| {
        cfg.compat.active_directory = true;
        cfg.graph.user_filter = String::new();
    })
    .await
}

async fn dns(h: &Harness, filter: &str) -> BTreeSet<String> {
    let out = ldapsearch(&["-x", "-H", &h.url(), "-b", BASE, filter, "1.1"]).await;
    assert_eq!(out.code, 0, "{filter}: {}", out.stderr);
    out.dns().into_iter().collect()
}

fn lower(set: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    set.into_iter().map(|d| d.to_lowercase()).collect()
}

/// Users whose account name is unique in the sample (a login must find one person),
/// enabled and disabled, synced (onPremisesSamAccountName) and cloud-only.
fn logins(users: &[SampleUser]) -> Vec<SampleUser> {
    let unique = |u: &SampleUser| {
        users
            .iter()
            .filter(|o| o.account.eq_ignore_ascii_case(&u.account))
            .count()
            == 1
            && u.account
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c))
    };
    let mut picked: Vec<SampleUser> = Vec::new();
    for want_enabled in [true, false] {
        picked.extend(
            users
                .iter()
                .filter(|u| u.enabled == want_enabled && unique(u))
                .take(3)
                .cloned(),
        );
    }
    assert!(
        picked.iter().any(|u| !u.enabled),
        "the sample has disabled users"
    );
    picked
}

#[tokio::test(flavor = "multi_thread")]
async fn glpi_condition_lists_exactly_the_enabled_users() {
    let h = ad_gateway().await;
    let users = sample_users();
    let want = lower(users.iter().filter(|u| u.enabled).map(|u| u.dn.clone()));
    assert!(want.len() < users.len(), "some sample users are disabled");
    assert_eq!(lower(dns(&h, GLPI_CONDITION).await), want);
    // The disabled ones, with the rule itself (GLPI's complement).
    let disabled = lower(users.iter().filter(|u| !u.enabled).map(|u| u.dn.clone()));
    assert_eq!(
        lower(
            dns(
                &h,
                "(&(objectClass=user)(userAccountControl:1.2.840.113556.1.4.803:=2))"
            )
            .await
        ),
        disabled
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn login_presets_find_the_user_by_account_name_only_when_enabled() {
    let h = ad_gateway().await;
    let users = sample_users();
    for u in logins(&users) {
        let glpi = format!("(&{GLPI_CONDITION}(samaccountname={}))", u.account);
        let only = |enabled_only: bool| -> BTreeSet<String> {
            if enabled_only && !u.enabled {
                BTreeSet::new()
            } else {
                lower([u.dn.clone()])
            }
        };
        assert_eq!(
            lower(dns(&h, &glpi).await),
            only(true),
            "GLPI {}",
            u.account
        );
        assert_eq!(
            lower(dns(&h, &nextcloud_login(&u.account)).await),
            only(true),
            "Nextcloud {}",
            u.account
        );
        assert_eq!(
            lower(dns(&h, &grafana_login(&u.account)).await),
            only(false),
            "Grafana {}",
            u.account
        );
        assert_eq!(
            lower(dns(&h, &jenkins_login(&u.account)).await),
            only(false),
            "Jenkins {}",
            u.account
        );
        assert_eq!(
            lower(dns(&h, &gitea_login(&u.account)).await),
            only(true),
            "Gitea {}",
            u.account
        );
        // Nextcloud also lets people log in with their mail address.
        if let Some(mail) = &u.mail
            && users
                .iter()
                .filter(|o| o.mail.as_deref() == Some(mail))
                .count()
                == 1
        {
            assert_eq!(
                lower(dns(&h, &nextcloud_login(mail)).await),
                only(true),
                "Nextcloud mail {mail}"
            );
        }
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn glpi_reads_the_attributes_it_maps() {
    let h = ad_gateway().await;
    let users = sample_users();
    let u = logins(&users)
        .into_iter()
        .find(|u| u.enabled)
        .expect("an enabled user");
    let mut ldap = tools::ldap3_plain(&h.url()).await;
    let filter = format!("(&{GLPI_CONDITION}(samaccountname={}))", u.account);
    let (found, entries, rc) = tools::ldap3_search(
        &mut ldap,
        BASE,
        ldap3::Scope::Subtree,
        &filter,
        &[
            "samaccountname",
            "objectguid",
            "mail",
            "userAccountControl",
            "objectCategory",
            "distinguishedName",
        ],
    )
    .await;
    assert_eq!(rc, 0);
    assert_eq!(lower(found), lower([u.dn.clone()]));
    let e = &entries[0];
    let text = |name: &str| {
        e.attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(text("sAMAccountName"), std::slice::from_ref(&u.account));
    assert_eq!(text("userAccountControl"), ["512"]);
    assert_eq!(
        text("objectCategory"),
        [format!("CN=Person,CN=Schema,CN=Configuration,{BASE}")]
    );
    assert_eq!(lower(text("distinguishedName")), lower([u.dn.clone()]));
    // objectGUID: the id's 16 bytes, first three fields little-endian (MS-DTYP 2.3.4.2),
    // computed here from the id's text.
    let hex: String = u.id.chars().filter(|c| *c != '-').collect();
    let mut want: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    want[0..4].reverse();
    want[4..6].reverse();
    want[6..8].reverse();
    let guid: Vec<Vec<u8>> = e
        .bin_attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("objectGUID"))
        .map(|(_, v)| v.clone())
        .or_else(|| {
            e.attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("objectGUID"))
                .map(|(_, v)| v.iter().map(|s| s.as_bytes().to_vec()).collect())
        })
        .unwrap_or_default();
    assert_eq!(guid, [want.clone()]);
    // GLPI's sync_field: the user found again by objectGUID, written as `\xx` escapes
    // (most GUIDs are not valid UTF-8 as bytes).
    let escaped: String = want.iter().map(|b| format!("\\{b:02x}")).collect();
    assert_eq!(
        lower(dns(&h, &format!("(objectGUID={escaped})")).await),
        lower([u.dn.clone()])
    );
    // Compare on the binary value (RFC 4511 §4.10): TRUE for the bytes, FALSE for others.
    let cmp = ldap
        .compare(&u.dn, "objectGUID", want.clone())
        .await
        .expect("compare");
    assert_eq!(cmp.0.rc, 6, "compareTrue");
    let mut other = want.clone();
    other[15] ^= 0xff;
    let cmp = ldap
        .compare(&u.dn, "objectGUID", other)
        .await
        .expect("compare");
    assert_eq!(cmp.0.rc, 5, "compareFalse");
    drop(ldap);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn anr_finds_people_by_any_name_prefix() {
    let h = ad_gateway().await;
    let users = sample_users();
    let u = logins(&users)
        .into_iter()
        .find(|u| u.enabled)
        .expect("an enabled user");
    let prefix: String = u
        .account
        .chars()
        .take(u.account.chars().count().min(6))
        .collect();
    let found = lower(dns(&h, &format!("(&(objectClass=user)(anr={prefix}))")).await);
    assert!(found.contains(&u.dn.to_lowercase()), "{prefix}: {found:?}");
    // Every user found has some ANR attribute starting with the prefix (checked by
    // re-reading them with the explicit OR MS-ADTS rewrites it to).
    let explicit = format!(
        "(&(objectClass=user)(|(cn={prefix}*)(givenName={prefix}*)(sn={prefix}*)(displayName={prefix}*)(mail={prefix}*)(sAMAccountName={prefix}*)))"
    );
    assert_eq!(found, lower(dns(&h, &explicit).await));
    h.stop().await;
}
