//! Groups over real sockets (CONTRACT §9): `ou=groups` entries, `memberOf` and the in-chain
//! rule against memberships flattened here on the harness side from the emulator's groups,
//! what each group filter costs in Graph requests, and a 10,000-member group paged and cut.

mod common;

use std::collections::{BTreeSet, HashMap, VecDeque};

use common::{BASE, Harness, ldapsearch, start_with};
use graph_emulator::groups::{Group, sample_group_id};
use graph_emulator::{Groups, Tenant};
use serde_json::{Value, json};

/// The sample tenant with its sample groups, served with `[groups] enabled`.
async fn sample_with_groups() -> (Harness, Tenant, Groups) {
    let tenant = Tenant::sample();
    let groups = Groups::sample(&tenant.users, &tenant.contacts);
    let h = start_with(tenant.clone(), |cfg| cfg.groups.enabled = true).await;
    h.emu.set_groups(groups.clone());
    (h, tenant, groups)
}

/// The harness's own flattening: user DNs of a group's members, direct or through any
/// chain of nested groups, counting only the users the gateway serves (enabled ones).
struct Flattened<'a> {
    users: HashMap<String, &'a Value>,
    groups: &'a Groups,
}

impl<'a> Flattened<'a> {
    fn new(tenant: &'a Tenant, groups: &'a Groups) -> Self {
        let users = tenant
            .users
            .iter()
            .filter(|u| u["accountEnabled"] == true)
            .map(|u| (u["id"].as_str().unwrap().to_string(), u))
            .collect();
        Flattened { users, groups }
    }

    fn group(&self, id: &str) -> &Group {
        self.groups.find(id).expect("a sample group")
    }

    fn user_dns(&self, id: &str, nested: bool) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut seen = BTreeSet::from([id.to_string()]);
        let mut queue = VecDeque::from([id.to_string()]);
        while let Some(g) = queue.pop_front() {
            for m in &self.group(&g).members {
                if let Some(u) = self.users.get(m) {
                    out.insert(format!(
                        "uid={},ou=users,{BASE}",
                        u["userPrincipalName"].as_str().unwrap()
                    ));
                } else if nested && self.groups.find(m).is_some() && seen.insert(m.clone()) {
                    queue.push_back(m.clone());
                }
            }
        }
        out
    }
}

const USERS: &str = "ou=users,dc=example,dc=com";

fn group_dn(id: &str) -> String {
    format!("uid={id},ou=groups,{BASE}")
}

fn set(dns: Vec<String>) -> BTreeSet<String> {
    dns.into_iter().map(|d| d.to_lowercase()).collect()
}

fn lower(dns: &BTreeSet<String>) -> BTreeSet<String> {
    dns.iter().map(|d| d.to_lowercase()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn groups_are_group_of_names_with_their_user_members() {
    let (h, tenant, groups) = sample_with_groups().await;
    let flat = Flattened::new(&tenant, &groups);
    let url = h.url();
    let out = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-b",
        &format!("ou=groups,{BASE}"),
        "-s",
        "one",
        "(objectClass=*)",
        "*",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let entries = out.entries();
    assert_eq!(entries.len(), groups.len());
    for (dn, attrs) in &entries {
        let values = |name: &str| -> Vec<String> {
            attrs
                .iter()
                .filter(|(a, _)| a.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
                .collect()
        };
        let id = values("uid").pop().expect("uid");
        assert_eq!(dn, &group_dn(&id));
        assert_eq!(values("objectClass"), ["top", "groupOfNames", "group"]);
        let group = flat.group(&id);
        assert_eq!(
            values("cn"),
            [group.object["displayName"].as_str().unwrap()]
        );
        assert_eq!(
            set(values("member")),
            lower(&flat.user_dns(&id, false)),
            "member of {dn}"
        );
    }
    // The Microsoft 365 group carries its mail; the empty group no member at all.
    let phoenix = group_dn(&sample_group_id(5));
    let read = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-b",
        &phoenix,
        "-s",
        "base",
        "(objectClass=group)",
        "mail",
        "member",
    ])
    .await;
    assert_eq!(read.code, 0, "{}", read.stderr);
    assert!(
        read.stdout.contains("mail: phoenix@contoso.example"),
        "{}",
        read.stdout
    );
    let empty = group_dn(&sample_group_id(6));
    let read = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-b",
        &empty,
        "-s",
        "base",
        "(objectClass=*)",
        "member",
    ])
    .await;
    assert_eq!(read.dns(), [empty]);
    assert!(!read.stdout.contains("member:"));
    // A cn=<displayName> DN reads the group of that name; unknown groups are noSuchObject.
    let alias = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-b",
        &format!("cn=Platform Team,ou=groups,{BASE}"),
        "-s",
        "base",
        "(objectClass=*)",
        "cn",
    ])
    .await;
    assert_eq!(alias.dns(), [group_dn(&sample_group_id(3))]);
    for missing in [
        format!("cn=No Such Group,ou=groups,{BASE}"),
        group_dn("00000000-0000-4000-8000-00000000dead"),
    ] {
        let out = ldapsearch(&[
            "-x",
            "-H",
            &url,
            "-b",
            &missing,
            "-s",
            "base",
            "(objectClass=*)",
        ])
        .await;
        assert_eq!(out.code, 32, "{missing}: {}", out.stderr);
    }
    // (member=<user DN>) finds the groups a user is a direct member of.
    let someone = flat
        .user_dns(&sample_group_id(3), false)
        .into_iter()
        .next()
        .unwrap();
    let out = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-b",
        BASE,
        &format!("(member={someone})"),
        "cn",
    ])
    .await;
    assert_eq!(out.dns(), [group_dn(&sample_group_id(3))]);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn member_of_and_in_chain_match_the_flattened_memberships() {
    let (h, tenant, groups) = sample_with_groups().await;
    let flat = Flattened::new(&tenant, &groups);
    let url = h.url();
    for n in 1..=6 {
        let id = sample_group_id(n);
        let name = flat.group(&id).object["displayName"]
            .as_str()
            .unwrap()
            .to_string();
        for nested in [false, true] {
            let expected = lower(&flat.user_dns(&id, nested));
            // Only the sample's empty group has no user member.
            assert_eq!(expected.is_empty(), n == 6, "{name}");
            for dn in [group_dn(&id), format!("cn={name},ou=groups,{BASE}")] {
                let item = if nested {
                    format!("(memberOf:1.2.840.113556.1.4.1941:={dn})")
                } else {
                    format!("(memberOf={dn})")
                };
                let search = |base: &'static str, filter: String| {
                    let url = url.clone();
                    async move {
                        let out = ldapsearch(&["-x", "-H", &url, "-b", base, &filter, "1.1"]).await;
                        assert_eq!(out.code, 0, "{filter}: {}", out.stderr);
                        set(out.dns())
                    }
                };
                assert_eq!(search(BASE, item.clone()).await, expected, "{item}");
                // The user part is pushed into the member list; the answer stays exact.
                let narrowed: BTreeSet<String> = expected
                    .iter()
                    .filter(|dn| dn.starts_with("uid=m"))
                    .cloned()
                    .collect();
                let filter = format!("(&(objectClass=person){item}(uid=m*))");
                assert_eq!(search(BASE, filter.clone()).await, narrowed, "{filter}");
                // Under NOT the membership is checked locally on every user.
                let filter = format!("(&(objectClass=inetOrgPerson)(!{item})(uid=b*))");
                let all_b: BTreeSet<String> = flat
                    .users
                    .values()
                    .map(|u| {
                        format!(
                            "uid={},ou=users,{BASE}",
                            u["userPrincipalName"].as_str().unwrap()
                        )
                        .to_lowercase()
                    })
                    .filter(|dn| dn.starts_with("uid=b"))
                    .collect();
                let outside: BTreeSet<String> = all_b.difference(&expected).cloned().collect();
                assert_eq!(search(USERS, filter.clone()).await, outside, "{filter}");
            }
        }
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_membership_filter_costs_the_member_list_only() {
    let (h, _tenant, _groups) = sample_with_groups().await;
    let url = h.url();
    let engineering = sample_group_id(2);
    let cases = [
        (
            format!(
                "(&(objectClass=person)(memberOf={}))",
                group_dn(&engineering)
            ),
            vec!["/members/microsoft.graph.user"],
        ),
        (
            format!(
                "(memberOf:1.2.840.113556.1.4.1941:={})",
                group_dn(&engineering)
            ),
            vec!["/transitiveMembers/microsoft.graph.user"],
        ),
        (
            format!("(&(sn=a*)(memberOf:1.2.840.113556.1.4.1941:=cn=All Staff,ou=groups,{BASE}))"),
            vec!["/v1.0/groups?", "/transitiveMembers/microsoft.graph.user"],
        ),
        (
            format!("(memberOf={})", group_dn(&sample_group_id(6))),
            vec!["/members/microsoft.graph.user"],
        ),
        (
            format!(
                "(&(objectClass=person)(|(memberOf={})(memberOf:1.2.840.113556.1.4.1941:={})))",
                group_dn(&sample_group_id(4)),
                group_dn(&sample_group_id(3))
            ),
            vec![
                "/members/microsoft.graph.user",
                "/transitiveMembers/microsoft.graph.user",
            ],
        ),
    ];
    // (member=<user DN>) reads that user's groups, then their member lists: no /groups list.
    let user = {
        let out = ldapsearch(&[
            "-x",
            "-H",
            &url,
            "-b",
            &group_dn(&sample_group_id(3)),
            "-s",
            "base",
            "(objectClass=*)",
            "member",
        ])
        .await;
        out.entries()[0]
            .1
            .iter()
            .find(|(a, _)| a == "member")
            .unwrap()
            .1
            .clone()
    };
    h.emu.reset_stats();
    let out = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-b",
        &format!("ou=groups,{BASE}"),
        &format!("(&(objectClass=group)(member={user}))"),
        "1.1",
    ])
    .await;
    assert_eq!(out.dns(), [group_dn(&sample_group_id(3))]);
    let log = h.emu.request_log();
    assert!(
        log[0].contains("/memberOf/microsoft.graph.group"),
        "{log:#?}"
    );
    assert_eq!(
        log.len(),
        2,
        "the user's one group and its member list: {log:#?}"
    );
    for (filter, expected) in cases {
        h.emu.reset_stats();
        let out = ldapsearch(&[
            "-x",
            "-H",
            &url,
            "-b",
            &format!("ou=users,{BASE}"),
            &filter,
            "1.1",
        ])
        .await;
        assert_eq!(out.code, 0, "{filter}: {}", out.stderr);
        let log = h.emu.request_log();
        assert_eq!(log.len(), expected.len(), "{filter}: {log:#?}");
        // Member lists of one search are read at once, so in any order.
        let mut unmatched: Vec<&String> = log.iter().collect();
        for want in &expected {
            let at = unmatched.iter().position(|line| line.contains(want));
            assert!(
                at.is_some(),
                "{filter}: no request contains {want}: {log:#?}"
            );
            unmatched.remove(at.unwrap());
        }
        for line in &log {
            assert!(
                !line.contains("/v1.0/users"),
                "{filter}: no /users scan: {line}"
            );
        }
    }
    h.stop().await;
}

/// `count` enabled users and a security group holding them all, plus 50 users outside it.
fn big_tenant(count: usize) -> (Tenant, Groups) {
    let mut tenant = Tenant::sample();
    tenant.users = (0..count + 50)
        .map(|n| {
            json!({
                "id": format!("00000000-0000-4000-8000-{n:012}"),
                "userPrincipalName": format!("member{n:05}@example.com"),
                "displayName": format!("Member {n:05}"),
                "givenName": "Member",
                "surname": format!("{n:05}"),
                "accountEnabled": true,
            })
        })
        .collect();
    tenant.contacts.clear();
    let members = tenant.users[..count]
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect();
    let mut groups = Groups::default();
    groups.push(Groups::with_members(
        "6e0a9c1d-0000-4000-8000-00000000b16b",
        "Everyone Big",
        members,
    ));
    (tenant, groups)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ten_thousand_member_group_pages_and_is_cut_by_the_size_limit() {
    let (tenant, groups) = big_tenant(10_000);
    let h = start_with(tenant, |cfg| {
        cfg.groups.enabled = true;
        cfg.ldap.limits.size_limit = 20_000;
    })
    .await;
    h.emu.set_groups(groups);
    let url = h.url();
    let filter = "(memberOf=cn=Everyone Big,ou=groups,dc=example,dc=com)";
    h.emu.reset_stats();
    let out = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-b",
        BASE,
        "-E",
        "pr=1000/noprompt",
        filter,
        "1.1",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let dns = out.dns();
    assert_eq!(dns.len(), 10_000);
    assert_eq!(set(dns).len(), 10_000, "no entry twice across pages");
    // One lookup of the name, then 11 pages of 999 members: nothing proportional to /users.
    let log = h.emu.request_log();
    eprintln!(
        "10,000-member group, paged by 1000: {} Graph requests",
        log.len()
    );
    assert!(log.iter().all(|l| !l.contains("/v1.0/users")), "{log:#?}");
    let member_pages = log.iter().filter(|l| l.contains("/members/")).count();
    assert_eq!(member_pages, 10_000usize.div_ceil(999), "{log:#?}");
    // Plus the name lookup; no contacts, no other group (neither can be a member).
    assert_eq!(log.len(), member_pages + 1, "{log:#?}");
    // A client size limit cuts the answer with sizeLimitExceeded.
    let out = ldapsearch(&["-x", "-H", &url, "-b", BASE, "-z", "7", filter, "1.1"]).await;
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert_eq!(out.dns().len(), 7);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_groups_there_is_no_ou_groups_and_no_membership() {
    let tenant = Tenant::sample();
    let groups = Groups::sample(&tenant.users, &tenant.contacts);
    let h = start_with(tenant, |_| {}).await;
    h.emu.set_groups(groups);
    let url = h.url();
    let out = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-b",
        &format!("ou=groups,{BASE}"),
        "-s",
        "base",
        "(objectClass=*)",
    ])
    .await;
    assert_eq!(out.code, 32, "{}", out.stderr);
    h.emu.reset_stats();
    let out = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-b",
        BASE,
        &format!("(&(sn=a*)(memberOf={}))", group_dn(&sample_group_id(1))),
        "1.1",
    ])
    .await;
    assert_eq!((out.code, out.dns().len()), (0, 0), "{}", out.stderr);
    assert!(h.emu.request_log().iter().all(|l| !l.contains("/groups")));
    h.stop().await;
}

/// Runs the real `ldapcompare` and returns its exit code (6 TRUE, 5 FALSE, 32 noSuchObject).
async fn ldapcompare(url: &str, dn: &str, assertion: &str) -> i32 {
    let args = ["-x", "-H", url, dn, assertion].map(str::to_string);
    tokio::task::spawn_blocking(move || {
        std::process::Command::new("ldapcompare")
            .args(&args)
            .output()
            .expect("ldapcompare is installed (ldap-utils)")
            .status
            .code()
            .unwrap_or(-1)
    })
    .await
    .expect("ldapcompare task")
}

#[tokio::test(flavor = "multi_thread")]
async fn visible_groups_hide_every_non_member_on_every_path() {
    let tenant = Tenant::sample();
    let groups = Groups::sample(&tenant.users, &tenant.contacts);
    let h = start_with(tenant.clone(), |cfg| {
        cfg.groups.enabled = true;
        cfg.graph.visible_groups = vec!["Engineering".into()];
    })
    .await;
    h.emu.set_groups(groups.clone());
    let flat = Flattened::new(&tenant, &groups);
    let url = h.url();
    let engineering = sample_group_id(2);
    let visible = lower(&flat.user_dns(&engineering, true));
    assert!(!visible.is_empty());
    let hidden: BTreeSet<String> = flat
        .users
        .values()
        .map(|u| {
            format!(
                "uid={},ou=users,{BASE}",
                u["userPrincipalName"].as_str().unwrap()
            )
        })
        .filter(|dn| !visible.contains(&dn.to_lowercase()))
        .collect();
    assert!(hidden.len() > 3);
    let search = |base: String, scope: &'static str, filter: String| {
        let url = url.clone();
        async move {
            let out = ldapsearch(&[
                "-x", "-H", &url, "-b", &base, "-s", scope, &filter, "member",
            ])
            .await;
            (out.code, out.entries())
        }
    };
    // Subtree search: exactly the transitive members, no contact, only the visible groups.
    let (code, entries) = search(BASE.into(), "sub", "(objectClass=*)".into()).await;
    assert_eq!(code, 0);
    let dns: Vec<String> = entries.iter().map(|(dn, _)| dn.clone()).collect();
    let people: BTreeSet<String> = set(dns.clone())
        .into_iter()
        .filter(|dn| dn.contains(",ou=users,") || dn.contains(",ou=contacts,"))
        .collect();
    assert_eq!(people, visible);
    let group_dns: BTreeSet<String> = set(dns)
        .into_iter()
        .filter(|dn| dn.contains(",ou=groups,"))
        .collect();
    assert_eq!(
        group_dns,
        set(vec![group_dn(&engineering), group_dn(&sample_group_id(3))])
    );
    // member values of the visible groups name visible users only.
    for (_, attrs) in &entries {
        for (_, member) in attrs.iter().filter(|(a, _)| a == "member") {
            assert!(visible.contains(&member.to_lowercase()), "{member}");
        }
    }
    // Base-scope re-reads and compares of a hidden user: noSuchObject; of a visible one: found.
    let shown = visible.iter().next().unwrap().clone();
    for dn in hidden.iter().take(3) {
        let (code, _) = search(dn.clone(), "base", "(objectClass=*)".into()).await;
        assert_eq!(code, 32, "{dn}");
        assert_eq!(
            ldapcompare(&url, dn, "objectClass:person").await,
            32,
            "{dn}"
        );
    }
    let (code, found) = search(shown.clone(), "base", "(objectClass=*)".into()).await;
    assert_eq!((code, found.len()), (0, 1));
    assert_eq!(ldapcompare(&url, &shown, "objectClass:person").await, 6);
    // memberOf of a group holding hidden users answers the visible ones only.
    let (code, entries) = search(
        BASE.into(),
        "sub",
        format!(
            "(memberOf:1.2.840.113556.1.4.1941:={})",
            group_dn(&sample_group_id(1))
        ),
    )
    .await;
    assert_eq!(code, 0);
    let all_staff = lower(&flat.user_dns(&sample_group_id(1), true));
    let expected: BTreeSet<String> = all_staff.intersection(&visible).cloned().collect();
    assert_eq!(
        set(entries.into_iter().map(|(dn, _)| dn).collect()),
        expected
    );
    // A hidden group cannot be read either.
    let (code, _) = search(
        group_dn(&sample_group_id(4)),
        "base",
        "(objectClass=*)".into(),
    )
    .await;
    assert_eq!(code, 32);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn member_of_is_served_only_when_asked_for() {
    let (h, tenant, groups) = sample_with_groups().await;
    let flat = Flattened::new(&tenant, &groups);
    let url = h.url();
    let platform = sample_group_id(3);
    let user = flat.user_dns(&platform, false).into_iter().next().unwrap();
    // The harness's view: the groups holding this user directly.
    let expected: BTreeSet<String> = (1..=6)
        .map(sample_group_id)
        .filter(|g| lower(&flat.user_dns(g, false)).contains(&user.to_lowercase()))
        .map(|g| group_dn(&g).to_lowercase())
        .collect();
    assert_eq!(expected, set(vec![group_dn(&platform)]));
    let member_of = |attrs: &'static [&'static str]| {
        let (url, user) = (url.clone(), user.clone());
        async move {
            let mut args = vec![
                "-x",
                "-H",
                url.as_str(),
                "-b",
                user.as_str(),
                "-s",
                "base",
                "(objectClass=*)",
            ];
            args.extend_from_slice(attrs);
            let out = ldapsearch(&args).await;
            assert_eq!(out.code, 0, "{}", out.stderr);
            let values: BTreeSet<String> = out.entries()[0]
                .1
                .iter()
                .filter(|(a, _)| a == "memberOf")
                .map(|(_, v)| v.to_lowercase())
                .collect();
            values
        }
    };
    h.emu.reset_stats();
    assert!(member_of(&["*"]).await.is_empty(), "not for *");
    assert!(member_of(&["cn"]).await.is_empty());
    assert!(
        h.emu.request_log().iter().all(|l| !l.contains("/memberOf")),
        "no membership read unless asked"
    );
    assert_eq!(member_of(&["memberOf"]).await, expected);
    assert_eq!(member_of(&["+"]).await, expected);
    assert_eq!(
        ldapcompare(&url, &user, &format!("memberOf:{}", group_dn(&platform))).await,
        6
    );
    assert_eq!(
        ldapcompare(
            &url,
            &user,
            &format!("memberOf:{}", group_dn(&sample_group_id(6)))
        )
        .await,
        5
    );
    h.stop().await;
}

/// The enabled users' DNs (lowercase) whose uid starts with `prefix` ("" for all).
fn users_starting(flat: &Flattened<'_>, prefix: &str) -> BTreeSet<String> {
    flat.users
        .values()
        .map(|u| {
            format!(
                "uid={},ou=users,{BASE}",
                u["userPrincipalName"].as_str().unwrap()
            )
            .to_lowercase()
        })
        .filter(|dn| dn.starts_with(&format!("uid={prefix}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn member_of_presence_is_true_for_every_user_in_a_group() {
    let (h, tenant, groups) = sample_with_groups().await;
    let flat = Flattened::new(&tenant, &groups);
    let url = h.url();
    // The harness's view: users that are a direct member of some group.
    let in_a_group: BTreeSet<String> = (1..=6)
        .flat_map(|n| lower(&flat.user_dns(&sample_group_id(n), false)))
        .collect();
    let everyone = users_starting(&flat, "");
    assert!(!in_a_group.is_empty() && in_a_group.len() < everyone.len());
    let search = |filter: String, attrs: &'static [&'static str]| {
        let url = url.clone();
        async move {
            let mut args = vec!["-x", "-H", url.as_str(), "-b", USERS, filter.as_str()];
            args.extend_from_slice(attrs);
            let out = ldapsearch(&args).await;
            assert_eq!(out.code, 0, "{filter}: {}", out.stderr);
            out
        }
    };
    let dns = |out: common::LdapSearchOutput| set(out.dns());
    assert_eq!(
        dns(search("(memberOf=*)".into(), &["1.1"]).await),
        in_a_group
    );
    let outside: BTreeSet<String> = everyone.difference(&in_a_group).cloned().collect();
    assert_eq!(
        dns(search("(&(objectClass=person)(!(memberOf=*)))".into(), &["1.1"]).await),
        outside
    );
    // Substrings and the other rules see the same values (slapd: distinguishedNameMatch).
    let platform = group_dn(&sample_group_id(3));
    assert_eq!(
        dns(search(format!("(memberOf:2.5.13.1:={platform})"), &["1.1"]).await),
        lower(&flat.user_dns(&sample_group_id(3), false))
    );
    // Cost: one memberOf read per candidate the rest of the filter leaves undecided.
    let m_users = users_starting(&flat, "m");
    h.emu.reset_stats();
    let out = search("(&(uid=m*)(memberOf=*))".into(), &["1.1"]).await;
    assert_eq!(
        dns(out),
        m_users.intersection(&in_a_group).cloned().collect()
    );
    let log = h.emu.request_log();
    let reads = log.iter().filter(|l| l.contains("/memberOf/")).count();
    assert_eq!(reads, m_users.len(), "{log:#?}");
    assert_eq!(log.len(), reads + 1, "one /users query: {log:#?}");
    // An entry the rest of the filter already decides costs nothing.
    h.emu.reset_stats();
    let out = search("(&(uid=m*)(|(uid=ma*)(memberOf=*)))".into(), &["1.1"]).await;
    let either: BTreeSet<String> = m_users
        .iter()
        .filter(|dn| dn.starts_with("uid=ma") || in_a_group.contains(*dn))
        .cloned()
        .collect();
    assert_eq!(dns(out), either);
    let reads = h
        .emu
        .request_log()
        .iter()
        .filter(|l| l.contains("/memberOf/"))
        .count();
    let undecided = m_users.iter().filter(|d| !d.starts_with("uid=ma")).count();
    assert_eq!(reads, undecided);
    // Asked for too, memberOf is read once per entry and served.
    h.emu.reset_stats();
    let out = search("(&(uid=m*)(memberOf=*))".into(), &["memberOf"]).await;
    let entries = out.entries();
    assert!(!entries.is_empty());
    for (dn, attrs) in &entries {
        assert!(attrs.iter().any(|(a, _)| a == "memberOf"), "{dn}");
    }
    let reads = h
        .emu
        .request_log()
        .iter()
        .filter(|l| l.contains("/memberOf/"))
        .count();
    assert_eq!(reads, m_users.len(), "no second read for the answer");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_membership_or_with_other_alternatives_reads_their_union() {
    // Bounded: the same requests on the sample tenant and on one with 3,000 more users.
    for big in [false, true] {
        let tenant = if big {
            let mut t = Tenant::sample();
            let extra = big_tenant(3_000).0.users;
            t.users.extend(extra);
            t
        } else {
            Tenant::sample()
        };
        let groups = Groups::sample(&tenant.users, &tenant.contacts);
        let h = start_with(tenant.clone(), |cfg| {
            cfg.groups.enabled = true;
            // Every search's requests are counted, none answered from the cache.
            cfg.search.cache_ttl_secs = 0;
        })
        .await;
        h.emu.set_groups(groups.clone());
        let flat = Flattened::new(&tenant, &groups);
        let url = h.url();
        let engineering = sample_group_id(2);
        let b_users = users_starting(&flat, "b");
        for (item, nested) in [
            (format!("(memberOf={})", group_dn(&engineering)), false),
            (
                format!("(memberOf:1.2.840.113556.1.4.1941:=cn=All Staff,ou=groups,{BASE})"),
                true,
            ),
        ] {
            let group = if nested {
                sample_group_id(1)
            } else {
                engineering.clone()
            };
            let members = lower(&flat.user_dns(&group, nested));
            let filter = format!("(|{item}(uid=b*))");
            h.emu.reset_stats();
            let out = ldapsearch(&["-x", "-H", &url, "-b", USERS, &filter, "1.1"]).await;
            assert_eq!(out.code, 0, "{filter}: {}", out.stderr);
            assert_eq!(
                set(out.dns()),
                members.union(&b_users).cloned().collect(),
                "{filter}"
            );
            let log = h.emu.request_log();
            let relation = if nested {
                "/transitiveMembers/"
            } else {
                "/members/"
            };
            assert!(
                log.iter().any(|l| l.contains(relation)),
                "{filter}: {log:#?}"
            );
            let users: Vec<&String> = log.iter().filter(|l| l.contains("/v1.0/users?")).collect();
            assert_eq!(users.len(), 1, "{filter}: {log:#?}");
            assert!(users[0].contains("startsWith"), "narrowed: {}", users[0]);
            // The name lookup (All Staff), the member list and /users: nothing per user.
            assert!(log.len() <= 3, "{filter}: {log:#?}");
            // Under an AND the rest of the filter goes into both reads.
            let filter = format!("(&(objectClass=person)(|{item}(uid=b*))(sn=*))");
            let out = ldapsearch(&["-x", "-H", &url, "-b", USERS, &filter, "1.1"]).await;
            let with_surname: BTreeSet<String> = flat
                .users
                .values()
                .filter(|u| u["surname"].as_str().is_some_and(|s| !s.trim().is_empty()))
                .map(|u| {
                    format!(
                        "uid={},ou=users,{BASE}",
                        u["userPrincipalName"].as_str().unwrap()
                    )
                    .to_lowercase()
                })
                .collect();
            let expected: BTreeSet<String> = members
                .union(&b_users)
                .filter(|dn| with_surname.contains(*dn))
                .cloned()
                .collect();
            assert_eq!(set(out.dns()), expected, "{filter}");
        }
        if big {
            h.stop().await;
            continue;
        }
        // NOT of a membership stays a bounded scan of /users: every non-member matches.
        h.emu.reset_stats();
        let filter = format!(
            "(&(objectClass=person)(|(!(memberOf={}))(uid=b*)))",
            group_dn(&engineering)
        );
        let out = ldapsearch(&["-x", "-H", &url, "-b", USERS, &filter, "1.1"]).await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        let members = lower(&flat.user_dns(&engineering, false));
        let expected: BTreeSet<String> = users_starting(&flat, "")
            .into_iter()
            .filter(|dn| !members.contains(dn) || dn.starts_with("uid=b"))
            .collect();
        let got = set(out.dns());
        assert!(
            got == expected,
            "{filter}: only gateway {:?}, only expected {:?}",
            got.difference(&expected).collect::<Vec<_>>(),
            expected.difference(&got).collect::<Vec<_>>()
        );
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn explain_names_the_member_lists_a_search_reads() {
    let (h, _tenant, _groups) = sample_with_groups().await;
    let engineering = sample_group_id(2);
    let cfg = h.cfg.clone();
    let explain = |filter: String| {
        ldap_graph_gateway::app::explain(&cfg, Some(USERS), "sub", &filter).unwrap()
    };
    let text = explain(format!("(&(sn=a*)(memberOf={}))", group_dn(&engineering)));
    assert!(
        text.contains(&format!(
            "/v1.0/groups/{engineering}/members/microsoft.graph.user?$filter="
        )),
        "{text}"
    );
    assert!(text.contains("startsWith(surname,'a')"), "{text}");
    let text = explain(format!(
        "(memberOf:1.2.840.113556.1.4.1941:=cn=All Staff,ou=groups,{BASE})"
    ));
    assert!(text.contains("displayName eq 'All Staff'"), "{text}");
    assert!(
        text.contains("/transitiveMembers/microsoft.graph.user"),
        "{text}"
    );
    let text = explain(format!("(|(memberOf={})(uid=b*))", group_dn(&engineering)));
    assert!(text.contains("a union"), "{text}");
    assert!(text.contains("startsWith(userPrincipalName,'b')"), "{text}");
    let text = explain("(memberOf=*)".into());
    assert!(text.contains("/memberOf/microsoft.graph.group"), "{text}");
    // From the whole tree: whether the groups are read too.
    let whole = |filter: &str| ldap_graph_gateway::app::explain(&cfg, None, "sub", filter).unwrap();
    let text = whole("(&(objectClass=person)(uid=b*))");
    assert!(text.contains("exclude every group"), "{text}");
    let text = whole("(cn=Platform*)");
    assert!(text.contains("GET /v1.0/groups?"), "{text}");
    h.stop().await;
}

/// A Graph stand-in for `check --online`: tokens for anyone, one user, and 403 on
/// `/groups` as Graph answers an app without GroupMember.Read.All.
async fn graph_refusing_groups() -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&request).to_string();
                let (status, body) = if head.contains("/oauth2/v2.0/token") {
                    (
                        "200 OK",
                        json!({"token_type": "Bearer", "expires_in": 3599, "access_token": "t"}),
                    )
                } else if head.starts_with("GET /v1.0/groups") {
                    (
                        "403 Forbidden",
                        json!({"error": {"code": "Authorization_RequestDenied",
                            "message": "Insufficient privileges to complete the operation."}}),
                    )
                } else {
                    ("200 OK", json!({"value": [{"id": "u1"}]}))
                };
                let body = body.to_string();
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread")]
async fn check_online_probes_the_group_permission() {
    let (h, _tenant, _groups) = sample_with_groups().await;
    // Against the emulator the probe passes.
    let report = ldap_graph_gateway::app::check_online(&h.cfg).await.unwrap();
    assert!(report.contains("/v1.0/groups?$top=1"), "{report}");
    // Without groups there is no probe.
    let mut off = h.cfg.clone();
    off.groups.enabled = false;
    let report = ldap_graph_gateway::app::check_online(&off).await.unwrap();
    assert!(!report.contains("/groups"), "{report}");
    // An app without the permission hears which one to grant.
    let refusing = graph_refusing_groups().await;
    let mut cfg = h.cfg.clone();
    cfg.graph.client.login_url = format!("http://{refusing}");
    cfg.graph.client.graph_url = format!("http://{refusing}");
    let err = ldap_graph_gateway::app::check_online(&cfg)
        .await
        .unwrap_err();
    assert!(err.contains("403"), "{err}");
    assert!(err.contains("GroupMember.Read.All"), "{err}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn member_of_presence_counts_only_the_groups_served() {
    let tenant = Tenant::sample();
    let groups = Groups::sample(&tenant.users, &tenant.contacts);
    let flat = Flattened::new(&tenant, &groups);
    let direct_members = |ids: &[u32]| -> BTreeSet<String> {
        ids.iter()
            .flat_map(|n| lower(&flat.user_dns(&sample_group_id(*n), false)))
            .collect()
    };
    // group_filter: the Microsoft 365 group (5) is not served, so its members alone have none.
    let h = start_with(tenant.clone(), |cfg| {
        cfg.groups.enabled = true;
        cfg.groups.group_filter = "securityEnabled eq true".into();
    })
    .await;
    h.emu.set_groups(groups.clone());
    let out = ldapsearch(&["-x", "-H", &h.url(), "-b", USERS, "(memberOf=*)", "1.1"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let security = direct_members(&[1, 2, 3, 4, 6]);
    assert!(!direct_members(&[5]).is_subset(&security));
    assert_eq!(set(out.dns()), security);
    h.stop().await;
    // visible_groups: only visible users, holding only visible groups.
    let h = start_with(tenant.clone(), |cfg| {
        cfg.groups.enabled = true;
        cfg.graph.visible_groups = vec!["Engineering".into()];
    })
    .await;
    h.emu.set_groups(groups.clone());
    let out = ldapsearch(&[
        "-x",
        "-H",
        &h.url(),
        "-b",
        USERS,
        "(memberOf=*)",
        "memberOf",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let visible_groups = set(vec![
        group_dn(&sample_group_id(2)),
        group_dn(&sample_group_id(3)),
    ]);
    assert_eq!(set(out.dns()), direct_members(&[2, 3]));
    for (dn, attrs) in out.entries() {
        for (_, g) in attrs.iter().filter(|(a, _)| a == "memberOf") {
            assert!(visible_groups.contains(&g.to_lowercase()), "{dn}: {g}");
        }
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_whole_tree_search_no_group_can_match_reads_no_group() {
    let (h, tenant, groups) = sample_with_groups().await;
    let flat = Flattened::new(&tenant, &groups);
    let url = h.url();
    let engineering = sample_group_id(2);
    let members = lower(&flat.user_dns(&engineering, false));
    for (filter, expected) in [
        (
            "(&(objectClass=person)(uid=b*))".to_string(),
            users_starting(&flat, "b"),
        ),
        (
            format!(
                "(&(objectClass=inetOrgPerson)(|(memberOf={})(uid=b*)))",
                group_dn(&engineering)
            ),
            members
                .union(&users_starting(&flat, "b"))
                .cloned()
                .collect(),
        ),
    ] {
        h.emu.reset_stats();
        let out = ldapsearch(&["-x", "-H", &url, "-b", BASE, &filter, "1.1"]).await;
        assert_eq!(out.code, 0, "{filter}: {}", out.stderr);
        assert_eq!(set(out.dns()), expected, "{filter}");
        let log = h.emu.request_log();
        assert!(
            log.iter().all(|l| !l.contains("/v1.0/groups?")),
            "{filter}: no group list: {log:#?}"
        );
    }
    // A filter a group may match still reads them.
    h.emu.reset_stats();
    let out = ldapsearch(&["-x", "-H", &url, "-b", BASE, "(cn=Platform*)", "1.1"]).await;
    assert_eq!(out.dns(), [group_dn(&sample_group_id(3))]);
    assert!(
        h.emu
            .request_log()
            .iter()
            .any(|l| l.contains("/v1.0/groups?"))
    );
    h.stop().await;
}
