//! End-to-end tests of issue 2 item 9: the gateway in front of the Graph emulator, queried
//! with the real OpenLDAP tools and with the ldap3 client crate. Every expectation is
//! computed from the sample tenant's Graph JSON (tests/support/tenant.rs), not from the
//! gateway's own output.

mod common;
#[path = "support/tenant.rs"]
mod tenant;
#[path = "support/tools.rs"]
mod tools;

use std::time::{Duration, Instant};

use common::{Harness, ldapsearch, start, start_with};
use graph_emulator::{Fault, Tenant};
use ldap_graph_gateway::ldap::accounts::hash_password;
use ldap_graph_gateway::ldap::accounts::{AccountSecret, BindAccount};
use tenant::*;

const MEGAN_DN: &str = "uid=megan.bowen@example.com,ou=users,dc=example,dc=com";
const MEGAN_PHONE: &str = "+14255550100";
const ACCOUNT_DN: &str = "cn=phones,dc=example,dc=com";
const ACCOUNT_NAME: &str = "phones@example.com";
const ACCOUNT_PASSWORD: &str = "correct horse battery staple";

/// A gateway with one bind account (argon2id hash) and the given tweaks.
async fn start_with_account(
    tweak: impl FnOnce(&mut ldap_graph_gateway::config::Config),
) -> Harness {
    let hash = hash_password(ACCOUNT_PASSWORD).expect("hash");
    start_with(Tenant::sample(), move |cfg| {
        cfg.ldap.accounts = vec![BindAccount {
            dn: ACCOUNT_DN.to_string(),
            names: vec![ACCOUNT_NAME.to_string(), "phones".to_string()],
            secret: AccountSecret::Hash(hash),
        }];
        cfg.ldap.require_tls_for_bind = false;
        tweak(cfg);
    })
    .await
}

fn sample() -> Vec<Person> {
    people(&Tenant::sample())
}

// ---------------------------------------------------------------------------------------
// Root DSE

#[tokio::test(flavor = "multi_thread")]
async fn root_dse_lists_naming_context_controls_and_extensions() {
    let h = start().await;
    let out = ldapsearch(&["-x", "-H", &h.url(), "-s", "base", "-b", "", "+"]).await;
    assert_eq!(out.code, 0, "rootDSE read failed: {}", out.stderr);
    let entries = out.entries();
    assert_eq!(
        entries.len(),
        1,
        "exactly one root DSE entry: {}",
        out.stdout
    );
    let (dn, attrs) = &entries[0];
    assert_eq!(dn, "", "the root DSE has the empty DN");
    assert_eq!(ldif_values(attrs, "namingContexts"), vec![BASE.to_string()]);
    assert!(ldif_values(attrs, "supportedLDAPVersion").contains(&"3".to_string()));
    let controls = ldif_values(attrs, "supportedControl");
    for oid in [
        "1.2.840.113556.1.4.319",
        "1.2.840.113556.1.4.473",
        "2.16.840.1.113730.3.4.9",
    ] {
        assert!(
            controls.contains(&oid.to_string()),
            "supportedControl lacks {oid}: {controls:?}"
        );
    }
    let ext = ldif_values(attrs, "supportedExtension");
    assert!(
        ext.contains(&"1.3.6.1.4.1.4203.1.11.3".to_string()),
        "WhoAmI missing: {ext:?}"
    );
    assert!(
        !ext.contains(&"1.3.6.1.4.1.1466.20037".to_string()),
        "StartTLS advertised without [tls]: {ext:?}"
    );
    assert_eq!(ldif_values(attrs, "subschemaSubentry").len(), 1);
    assert_eq!(ldif_values(attrs, "vendorName").len(), 1);
    assert_eq!(ldif_values(attrs, "vendorVersion").len(), 1);
    // Operational attributes only for `+`; a plain read returns no namingContexts.
    let plain = ldapsearch(&["-x", "-H", &h.url(), "-s", "base", "-b", ""]).await;
    assert_eq!(plain.code, 0);
    assert!(ldif_values(&plain.entries()[0].1, "namingContexts").is_empty());
    h.stop().await;
}

// ---------------------------------------------------------------------------------------
// Name prefix search

#[tokio::test(flavor = "multi_thread")]
async fn name_prefix_search_returns_exactly_the_matching_people() {
    let t = Tenant::sample();
    let h = start().await;
    let url = h.url();

    let users_a = matching(&users(&t), |p| prefix(p, "cn", "a"));
    assert!(
        users_a.len() >= 2,
        "the sample tenant should have several users named A…"
    );
    let out = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-b",
        USERS_OU,
        "(cn=a*)",
        "cn",
        "telephoneNumber",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_same_entries("(cn=a*) under ou=users", &out.dns(), &users_a);
    // The attributes are the mapped Graph values, and only those requested.
    for (dn, attrs) in out.entries() {
        let p = users_a
            .iter()
            .find(|p| norm_dn(&p.dn) == norm_dn(&dn))
            .expect("returned entry is expected");
        assert_eq!(
            ldif_values(&attrs, "cn"),
            p.values("cn").to_vec(),
            "cn of {dn}"
        );
        let mut got_phones = ldif_values(&attrs, "telephoneNumber");
        let mut want_phones = p.values("telephoneNumber").to_vec();
        got_phones.sort();
        want_phones.sort();
        assert_eq!(got_phones, want_phones, "telephoneNumber of {dn}");
        for (name, _) in &attrs {
            assert!(
                name.eq_ignore_ascii_case("cn") || name.eq_ignore_ascii_case("telephoneNumber"),
                "unrequested attribute {name} on {dn}"
            );
        }
    }

    // The command: the whole base, users and contacts.
    let all_a = matching(&sample(), |p| prefix(p, "cn", "a"));
    let out = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-b",
        BASE,
        "(cn=a*)",
        "cn",
        "telephoneNumber",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_same_entries("(cn=a*) under the base", &out.dns(), &all_a);

    // Disabled accounts never show up.
    let disabled = disabled_users(&t);
    assert!(
        !disabled.is_empty(),
        "the sample tenant has disabled accounts"
    );
    let dns = dn_set(out.dns().iter().map(|s| s.as_str()));
    for d in &disabled {
        assert!(!dns.contains(&norm_dn(&d.dn)), "disabled {} returned", d.dn);
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn name_prefix_search_with_the_ldap3_crate() {
    let h = start().await;
    let want = matching(&sample(), |p| prefix(p, "sn", "b"));
    let mut ldap = tools::ldap3_plain(&h.url()).await;
    ldap.simple_bind("", "")
        .await
        .expect("anonymous bind")
        .success()
        .expect("bind ok");
    let (dns, entries, rc) = tools::ldap3_search(
        &mut ldap,
        BASE,
        ldap3::Scope::Subtree,
        "(sn=b*)",
        &["sn", "mail"],
    )
    .await;
    assert_eq!(rc, 0);
    assert_same_entries("(sn=b*) via ldap3", &dns, &want);
    for e in &entries {
        let sn = e
            .attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("sn"))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        assert!(
            sn.iter().any(|v| prep(v).starts_with('b')),
            "{} has sn {sn:?}",
            e.dn
        );
    }
    let _ = ldap.unbind().await;
    h.stop().await;
}

// ---------------------------------------------------------------------------------------
// Caller ID

#[tokio::test(flavor = "multi_thread")]
async fn caller_id_search_finds_megan_with_at_most_two_graph_requests() {
    let h = start().await;
    let url = h.url();
    let want_users = matching(&users(&Tenant::sample()), |p| {
        eq(p, "telephoneNumber", MEGAN_PHONE)
    });
    assert!(want_users.iter().any(|p| p.cn() == "Megan Bowen"));

    // Warm up the token so only directory requests are counted.
    let warm = ldapsearch(&["-x", "-H", &url, "-b", USERS_OU, "(cn=Zz-warm-up)", "cn"]).await;
    assert_eq!(warm.code, 0, "{}", warm.stderr);

    h.emu.reset_stats();
    let out = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-b",
        USERS_OU,
        &format!("(telephoneNumber={MEGAN_PHONE})"),
        "cn",
        "telephoneNumber",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_same_entries("caller ID under ou=users", &out.dns(), &want_users);
    let megan = out
        .entries()
        .into_iter()
        .find(|(dn, _)| norm_dn(dn) == norm_dn(MEGAN_DN))
        .expect("Megan returned");
    assert_eq!(ldif_values(&megan.1, "cn"), vec!["Megan Bowen".to_string()]);
    let cost = h.emu.requests();
    assert!(
        cost <= 2,
        "caller ID under ou=users cost {cost} Graph requests"
    );
    assert_eq!(
        h.emu.rejections(),
        0,
        "the gateway sent a request Graph rejects"
    );

    // Over the whole base the contacts join in; /users still costs at most two.
    let want_all = matching(&sample(), |p| eq(p, "telephoneNumber", MEGAN_PHONE));
    h.emu.reset_stats();
    let out = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-b",
        BASE,
        "(telephoneNumber=+1 425 555 0100)",
        "cn",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_same_entries("caller ID under the base", &out.dns(), &want_all);
    let users_cost = tools::users_requests(&h.emu);
    assert!(
        users_cost <= 2,
        "caller ID cost {users_cost} requests to /users"
    );
    assert_eq!(h.emu.rejections(), 0);
    h.stop().await;
}

// ---------------------------------------------------------------------------------------
// Base-scope re-read

#[tokio::test(flavor = "multi_thread")]
async fn every_returned_dn_reads_back_with_a_base_search() {
    let t = Tenant::sample();
    let h = start().await;
    let url = h.url();
    let out = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-b",
        BASE,
        "(|(cn=Megan*)(sn=Bowen))",
        "cn",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let want = matching(&people(&t), |p| {
        prefix(p, "cn", "Megan") || eq(p, "sn", "Bowen")
    });
    assert_same_entries("(|(cn=Megan*)(sn=Bowen))", &out.dns(), &want);

    // A guest (UPN with #EXT#) and a contact join the re-read list.
    let guest = users(&t)
        .into_iter()
        .find(|p| p.first("uid").is_some_and(|u| u.contains("#EXT#")))
        .expect("the sample tenant has a guest user");
    let guest_upn = guest.first("uid").unwrap().to_string();
    let g = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-b",
        USERS_OU,
        &format!("(uid={})", filter_value(&guest_upn)),
        "1.1",
    ])
    .await;
    assert_eq!(g.code, 0, "{}", g.stderr);
    assert_eq!(
        g.dns().len(),
        1,
        "guest {guest_upn} found by uid: {}",
        g.stdout
    );
    let contact = contacts(&t)
        .into_iter()
        .next()
        .expect("the sample tenant has contacts");
    let c = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-b",
        CONTACTS_OU,
        &format!("(cn={})", filter_value(contact.cn())),
        "1.1",
    ])
    .await;
    assert_eq!(c.code, 0, "{}", c.stderr);
    assert!(!c.dns().is_empty(), "contact {} found", contact.cn());

    let mut to_read = out.dns();
    to_read.extend(g.dns());
    to_read.extend(c.dns());
    for dn in to_read {
        h.emu.reset_stats();
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
            "uid",
        ])
        .await;
        assert_eq!(back.code, 0, "re-read of {dn}: {}", back.stderr);
        let entries = back.entries();
        assert_eq!(entries.len(), 1, "re-read of {dn} returns one entry");
        assert_eq!(norm_dn(&entries[0].0), norm_dn(&dn));
        let expected = people(&t)
            .into_iter()
            .find(|p| norm_dn(&p.dn) == norm_dn(&dn))
            .unwrap_or_else(|| panic!("{dn} is not an entry of the tenant"));
        assert_eq!(
            ldif_values(&entries[0].1, "cn"),
            expected.values("cn").to_vec()
        );
        let cost = h.emu.requests();
        assert!(cost <= 1, "a base read of {dn} cost {cost} Graph requests");
    }

    // A disabled account and a made-up DN are noSuchObject (32); so is a base outside.
    let disabled = disabled_users(&t)
        .into_iter()
        .next()
        .expect("a disabled user");
    for dn in [
        disabled.dn.clone(),
        format!("uid=nobody-{}@example.com,{USERS_OU}", std::process::id()),
        "dc=other,dc=org".to_string(),
    ] {
        let r = ldapsearch(&["-x", "-H", &url, "-s", "base", "-b", &dn, "(objectClass=*)"]).await;
        assert_eq!(
            r.code, 32,
            "{dn} should be noSuchObject: {} {}",
            r.stdout, r.stderr
        );
        assert!(r.dns().is_empty());
    }
    h.stop().await;
}

// ---------------------------------------------------------------------------------------
// Size and time limits

#[tokio::test(flavor = "multi_thread")]
async fn client_size_limit_gives_the_first_entries_and_result_4() {
    let h = start().await;
    let url = h.url();
    let all = in_contract_order(matching(&sample(), |p| present(p, "sn")), "displayName");
    assert!(all.len() > 3);
    let out = ldapsearch(&["-x", "-H", &url, "-z", "3", "-b", BASE, "(sn=*)", "cn"]).await;
    assert_eq!(out.code, 4, "sizeLimitExceeded expected: {}", out.stderr);
    assert_eq!(out.dns().len(), 3, "exactly three entries: {}", out.stdout);
    assert_same_order(
        "-z 3 keeps the first three by displayName",
        &out.dns(),
        &all[..3],
    );

    // The same through the ldap3 crate.
    let mut ldap = tools::ldap3_plain(&url).await;
    ldap.with_search_options(ldap3::SearchOptions::new().sizelimit(3));
    let (dns, _, rc) =
        tools::ldap3_search(&mut ldap, BASE, ldap3::Scope::Subtree, "(sn=*)", &["cn"]).await;
    assert_eq!(rc, 4);
    assert_same_order("ldap3 sizelimit 3", &dns, &all[..3]);

    // A limit the answer does not reach is no error.
    let few = matching(&sample(), |p| prefix(p, "cn", "Megan"));
    let out = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-z",
        "500",
        "-b",
        BASE,
        "(cn=Megan*)",
        "cn",
    ])
    .await;
    assert_eq!(out.code, 0);
    assert_same_entries("-z 500 (cn=Megan*)", &out.dns(), &few);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn server_size_limit_caps_every_search() {
    let h = start_with(Tenant::sample(), |cfg| cfg.ldap.size_limit = 5).await;
    let url = h.url();
    let all = in_contract_order(matching(&sample(), |p| present(p, "sn")), "displayName");
    for z in ["0", "100"] {
        let out = ldapsearch(&["-x", "-H", &url, "-z", z, "-b", BASE, "(sn=*)", "cn"]).await;
        assert_eq!(
            out.code, 4,
            "-z {z}: server cap must give 4: {}",
            out.stderr
        );
        assert_same_order(&format!("-z {z} with size_limit 5"), &out.dns(), &all[..5]);
    }
    let out = ldapsearch(&["-x", "-H", &url, "-z", "2", "-b", BASE, "(sn=*)", "cn"]).await;
    assert_eq!(out.code, 4);
    assert_same_order("-z 2 under a cap of 5", &out.dns(), &all[..2]);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_beyond_the_time_limit_is_busy_51() {
    let h = start_with(Tenant::sample(), |cfg| {
        cfg.ldap.time_limit_secs = 2;
        cfg.search.cache_ttl_secs = 0;
    })
    .await;
    let url = h.url();
    h.emu.set_fault(Fault::Throttle {
        retry_after_secs: 30,
    });
    let started = Instant::now();
    let out = ldapsearch(&["-x", "-H", &url, "-b", BASE, "(cn=Megan*)", "cn"]).await;
    let took = started.elapsed();
    assert_eq!(out.code, 51, "busy expected: {} {}", out.stdout, out.stderr);
    assert!(
        out.dns().is_empty(),
        "no entries were found while throttled"
    );
    assert!(
        out.stderr.to_lowercase().contains("additional info"),
        "a diagnostic message: {}",
        out.stderr
    );
    assert!(
        took < Duration::from_secs(8),
        "answered within the 2 s limit (took {took:?})"
    );

    h.emu.set_fault(Fault::None);
    let out = ldapsearch(&["-x", "-H", &url, "-b", BASE, "(cn=Megan*)", "cn"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_same_entries(
        "after throttling",
        &out.dns(),
        &matching(&sample(), |p| prefix(p, "cn", "Megan")),
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn client_time_limit_lowers_the_server_limit() {
    let h = start_with(Tenant::sample(), |cfg| {
        cfg.ldap.time_limit_secs = 20;
        cfg.search.cache_ttl_secs = 0;
    })
    .await;
    let url = h.url();
    // Without trouble, -l 1 is plenty.
    let out = ldapsearch(&["-x", "-H", &url, "-l", "1", "-b", BASE, "(sn=Bowen)", "cn"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_same_entries(
        "-l 1 (sn=Bowen)",
        &out.dns(),
        &matching(&sample(), |p| eq(p, "sn", "Bowen")),
    );

    h.emu.set_fault(Fault::Throttle {
        retry_after_secs: 30,
    });
    let started = Instant::now();
    let out = ldapsearch(&["-x", "-H", &url, "-l", "2", "-b", BASE, "(sn=Smith)", "cn"]).await;
    let took = started.elapsed();
    assert!(
        out.code == 51 || out.code == 3,
        "busy (51) or timeLimitExceeded (3) expected, got {}: {}",
        out.code,
        out.stderr
    );
    assert!(
        took < Duration::from_secs(10),
        "the client's 2 s limit was ignored (took {took:?})"
    );
    h.emu.set_fault(Fault::None);
    h.stop().await;
}

// ---------------------------------------------------------------------------------------
// Binds

#[tokio::test(flavor = "multi_thread")]
async fn bad_password_is_invalid_credentials_49() {
    let h = start_with_account(|_| {}).await;
    let url = h.url();
    let want = matching(&sample(), |p| eq(p, "sn", "Bowen"));
    for who in [ACCOUNT_DN, ACCOUNT_NAME] {
        let bad = ldapsearch(&[
            "-x",
            "-H",
            &url,
            "-D",
            who,
            "-w",
            "wrong password",
            "-b",
            BASE,
            "(sn=Bowen)",
        ])
        .await;
        assert_eq!(
            bad.code, 49,
            "bind as {who} with a wrong password: {}",
            bad.stderr
        );
        assert!(bad.dns().is_empty());
        let good = ldapsearch(&[
            "-x",
            "-H",
            &url,
            "-D",
            who,
            "-w",
            ACCOUNT_PASSWORD,
            "-b",
            BASE,
            "(sn=Bowen)",
            "cn",
        ])
        .await;
        assert_eq!(good.code, 0, "bind as {who}: {}", good.stderr);
        assert_same_entries("bound search", &good.dns(), &want);
    }
    let unknown = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-D",
        "cn=nobody,dc=example,dc=com",
        "-w",
        ACCOUNT_PASSWORD,
        "-b",
        BASE,
        "(sn=Bowen)",
    ])
    .await;
    assert_eq!(unknown.code, 49, "unknown bind DN: {}", unknown.stderr);

    let mut ldap = tools::ldap3_plain(&url).await;
    let res = ldap
        .simple_bind(ACCOUNT_DN, "nope")
        .await
        .expect("bind answered");
    assert_eq!(res.rc, 49);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn whoami_reports_the_bound_identity() {
    let h = start_with_account(|_| {}).await;
    let url = h.url();
    let anon = tools::run("ldapwhoami", &["-x", "-H", &url], &[], None).await;
    assert_eq!(anon.code, 0, "{}", anon.stderr);
    assert_eq!(anon.stdout.trim(), "anonymous");
    let bound = tools::run(
        "ldapwhoami",
        &["-x", "-H", &url, "-D", ACCOUNT_NAME, "-w", ACCOUNT_PASSWORD],
        &[],
        None,
    )
    .await;
    assert_eq!(bound.code, 0, "{}", bound.stderr);
    assert_eq!(
        norm_dn(bound.stdout.trim()),
        norm_dn(&format!("dn:{ACCOUNT_DN}"))
    );

    let mut ldap = tools::ldap3_plain(&url).await;
    ldap.simple_bind("phones", ACCOUNT_PASSWORD)
        .await
        .expect("bind")
        .success()
        .expect("bind ok");
    let (exop, res) = ldap
        .extended(ldap3::exop::WhoAmI)
        .await
        .expect("whoami")
        .success()
        .expect("whoami ok");
    assert_eq!(res.rc, 0);
    let resp: ldap3::exop::WhoAmIResp = exop.parse();
    assert_eq!(norm_dn(&resp.authzid), norm_dn(&format!("dn:{ACCOUNT_DN}")));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn anonymous_off_refuses_search_with_50_and_root_dse_stays_readable() {
    let h = start_with_account(|cfg| cfg.ldap.allow_anonymous = false).await;
    let url = h.url();
    let anon = ldapsearch(&["-x", "-H", &url, "-b", BASE, "(sn=Bowen)", "cn"]).await;
    assert_eq!(
        anon.code, 50,
        "anonymous search refused: {} {}",
        anon.stdout, anon.stderr
    );
    assert!(anon.dns().is_empty());

    let dse = ldapsearch(&["-x", "-H", &url, "-s", "base", "-b", "", "+"]).await;
    assert_eq!(dse.code, 0, "{}", dse.stderr);
    assert_eq!(
        ldif_values(&dse.entries()[0].1, "namingContexts"),
        vec![BASE.to_string()]
    );

    let bound = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-D",
        ACCOUNT_DN,
        "-w",
        ACCOUNT_PASSWORD,
        "-b",
        BASE,
        "(sn=Bowen)",
        "cn",
    ])
    .await;
    assert_eq!(bound.code, 0, "{}", bound.stderr);
    assert_same_entries(
        "bound search",
        &bound.dns(),
        &matching(&sample(), |p| eq(p, "sn", "Bowen")),
    );

    // A search sent before any bind is answered 50, not dropped.
    let mut ldap = tools::ldap3_plain(&url).await;
    let (dns, _, rc) = tools::ldap3_search(
        &mut ldap,
        BASE,
        ldap3::Scope::Subtree,
        "(sn=Bowen)",
        &["cn"],
    )
    .await;
    assert_eq!(rc, 50);
    assert!(dns.is_empty());
    h.stop().await;
}

// ---------------------------------------------------------------------------------------
// Writes

#[tokio::test(flavor = "multi_thread")]
async fn every_write_is_unwilling_to_perform_53() {
    let h = start_with_account(|_| {}).await;
    let url = h.url();
    let auth = [
        "-x",
        "-H",
        url.as_str(),
        "-D",
        ACCOUNT_DN,
        "-w",
        ACCOUNT_PASSWORD,
    ];
    let add = format!(
        "dn: uid=new.person@example.com,{USERS_OU}\nobjectClass: inetOrgPerson\ncn: New Person\nsn: Person\n"
    );
    let out = tools::run("ldapadd", &auth, &[], Some(&add)).await;
    assert_eq!(out.code, 53, "add: {} {}", out.stdout, out.stderr);
    let modify = format!("dn: {MEGAN_DN}\nchangetype: modify\nreplace: title\ntitle: CEO\n");
    let out = tools::run("ldapmodify", &auth, &[], Some(&modify)).await;
    assert_eq!(out.code, 53, "modify: {}", out.stderr);
    let mut del_args = auth.to_vec();
    del_args.push(MEGAN_DN);
    let out = tools::run("ldapdelete", &del_args, &[], None).await;
    assert_eq!(out.code, 53, "delete: {}", out.stderr);
    let mut rdn_args = auth.to_vec();
    rdn_args.extend([MEGAN_DN, "uid=megan.b@example.com"]);
    let out = tools::run("ldapmodrdn", &rdn_args, &[], None).await;
    assert_eq!(out.code, 53, "modrdn: {}", out.stderr);
    let mut pw_args = auth.to_vec();
    pw_args.extend(["-s", "new-secret", MEGAN_DN]);
    let out = tools::run("ldappasswd", &pw_args, &[], None).await;
    // ldappasswd exits 1 on any refusal and prints the result code.
    assert!(
        out.code != 0 && out.stdout.contains("(53)"),
        "password modify: {} {} {}",
        out.code,
        out.stdout,
        out.stderr
    );

    // Anonymous writers get the same answer, also through the ldap3 crate.
    let mut ldap = tools::ldap3_plain(&url).await;
    let attrs = vec![
        ("objectClass", ["inetOrgPerson"].into_iter().collect()),
        ("cn", ["New Person"].into_iter().collect()),
        ("sn", ["Person"].into_iter().collect()),
    ];
    let res = ldap
        .add(&format!("uid=x@example.com,{USERS_OU}"), attrs)
        .await
        .expect("add answered");
    assert_eq!(res.rc, 53);
    let res = ldap.delete(MEGAN_DN).await.expect("delete answered");
    assert_eq!(res.rc, 53);

    // Megan is unchanged.
    let out = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-s",
        "base",
        "-b",
        MEGAN_DN,
        "(objectClass=*)",
        "cn",
    ])
    .await;
    assert_eq!(out.code, 0);
    assert_eq!(
        ldif_values(&out.entries()[0].1, "cn"),
        vec!["Megan Bowen".to_string()]
    );
    h.stop().await;
}

// ---------------------------------------------------------------------------------------
// Graph failures

#[tokio::test(flavor = "multi_thread")]
async fn graph_down_gives_52_with_a_message_and_the_next_search_succeeds() {
    let h = start_with(Tenant::sample(), |cfg| cfg.search.cache_ttl_secs = 0).await;
    let url = h.url();
    h.emu.set_fault(Fault::Unavailable);
    let out = ldapsearch(&["-x", "-H", &url, "-b", BASE, "(sn=Bowen)", "cn"]).await;
    assert_eq!(
        out.code, 52,
        "unavailable expected: {} {}",
        out.stdout, out.stderr
    );
    assert!(out.dns().is_empty(), "no entries while Graph is down");
    assert!(
        out.stderr.to_lowercase().contains("additional info"),
        "a diagnostic message: {}",
        out.stderr
    );

    h.emu.set_fault(Fault::None);
    let out = ldapsearch(&["-x", "-H", &url, "-b", BASE, "(sn=Bowen)", "cn"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_same_entries(
        "after Graph is back",
        &out.dns(),
        &matching(&sample(), |p| eq(p, "sn", "Bowen")),
    );

    // The root DSE never needs Graph.
    h.emu.set_fault(Fault::Unavailable);
    let dse = ldapsearch(&["-x", "-H", &url, "-s", "base", "-b", "", "+"]).await;
    assert_eq!(dse.code, 0);
    h.emu.set_fault(Fault::None);
    h.stop().await;
}

// ---------------------------------------------------------------------------------------
// Controls

#[tokio::test(flavor = "multi_thread")]
async fn unknown_critical_control_is_12_and_a_non_critical_one_is_ignored() {
    let h = start().await;
    let url = h.url();
    let critical = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-e",
        "!1.2.3.4",
        "-b",
        BASE,
        "(sn=Bowen)",
        "cn",
    ])
    .await;
    assert_eq!(critical.code, 12, "{} {}", critical.stdout, critical.stderr);
    assert!(critical.dns().is_empty());
    let plain = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-e",
        "1.2.3.4",
        "-b",
        BASE,
        "(sn=Bowen)",
        "cn",
    ])
    .await;
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    assert_same_entries(
        "non-critical unknown control",
        &plain.dns(),
        &matching(&sample(), |p| eq(p, "sn", "Bowen")),
    );

    // Through the ldap3 crate as well.
    let mut ldap = tools::ldap3_plain(&url).await;
    ldap.with_controls(ldap3::controls::RawControl {
        ctype: "1.2.3.4".to_string(),
        crit: true,
        val: None,
    });
    let (_, _, rc) = tools::ldap3_search(
        &mut ldap,
        BASE,
        ldap3::Scope::Subtree,
        "(sn=Bowen)",
        &["cn"],
    )
    .await;
    assert_eq!(rc, 12);
    h.stop().await;
}

// ---------------------------------------------------------------------------------------
// Robustness

#[tokio::test(flavor = "multi_thread")]
async fn malformed_ber_gets_an_answer_and_the_server_keeps_serving() {
    let h = start().await;
    let addr = h.addr();
    let wait = Duration::from_secs(10);

    // 1. A framed message whose search request is garbage inside.
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let garbage_search = tools::ldap_message(1, &tools::tlv(0x63, &[0xff, 0x00, 0x13, 0x37]));
    tools::send(&mut s, &garbage_search).await;
    let mut buf = Vec::new();
    let first = tools::read_response(&mut s, &mut buf, wait)
        .await
        .expect("an LDAP answer (result or notice), not a silent close");
    if first.msgid == 0 {
        assert_eq!(
            first.op_tag, 0x78,
            "a notice of disconnection is an extended response"
        );
        assert!(first.result_code.is_some_and(|c| c != 0));
    } else {
        assert_eq!(first.msgid, 1, "answered on the request's message id");
        assert!(
            first.result_code.is_some_and(|c| c != 0),
            "an error result: {first:?}"
        );
        // The session survives: an anonymous bind on the same connection works.
        tools::send(&mut s, &tools::anonymous_bind(2)).await;
        let bind = tools::read_response(&mut s, &mut buf, wait)
            .await
            .expect("bind answered");
        assert_eq!(
            (bind.msgid, bind.op_tag, bind.result_code),
            (2, 0x61, Some(0))
        );
    }

    // 2. A declared length far beyond the message cap: a notice, then the close.
    let mut s2 = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tools::send(
        &mut s2,
        &[0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x02, 0x01, 0x01],
    )
    .await;
    tools::send(&mut s2, &[0u8; 1024]).await;
    let mut buf2 = Vec::new();
    let notice = tools::read_response(&mut s2, &mut buf2, wait)
        .await
        .expect("a notice of disconnection before the close");
    assert_eq!((notice.msgid, notice.op_tag), (0, 0x78));
    assert!(notice.result_code.is_some_and(|c| c != 0));

    // 3. Bytes that are not BER at all.
    let mut s3 = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tools::send(&mut s3, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let mut buf3 = Vec::new();
    let _ = tools::read_response(&mut s3, &mut buf3, Duration::from_secs(3)).await;

    // Other connections carry on.
    let out = ldapsearch(&["-x", "-H", &h.url(), "-b", BASE, "(sn=Bowen)", "cn"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_same_entries(
        "after malformed input",
        &out.dns(),
        &matching(&sample(), |p| eq(p, "sn", "Bowen")),
    );
    drop((s, s2, s3));
    h.stop().await;
}

fn nested_and(depth: usize, leaf: &str) -> String {
    let mut f = leaf.to_string();
    for _ in 0..depth {
        f = format!("(&{f})");
    }
    f
}

#[tokio::test(flavor = "multi_thread")]
async fn filter_deeper_than_the_limit_is_an_error_not_a_crash() {
    let h = start().await;
    let url = h.url();
    let bowen = matching(&sample(), |p| eq(p, "sn", "Bowen"));
    // Within the documented limit (32) the filter works.
    let ok = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-b",
        BASE,
        &nested_and(10, "(sn=Bowen)"),
        "cn",
    ])
    .await;
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_same_entries("depth 10", &ok.dns(), &bowen);
    for depth in [40, 300] {
        let deep = ldapsearch(&[
            "-x",
            "-H",
            &url,
            "-b",
            BASE,
            &nested_and(depth, "(sn=Bowen)"),
            "cn",
        ])
        .await;
        assert_ne!(
            deep.code, 0,
            "depth {depth} must be refused: {}",
            deep.stdout
        );
        assert!(deep.dns().is_empty(), "depth {depth} returned entries");
        let after = ldapsearch(&["-x", "-H", &url, "-b", BASE, "(sn=Bowen)", "cn"]).await;
        assert_eq!(
            after.code, 0,
            "gateway alive after depth {depth}: {}",
            after.stderr
        );
        assert_same_entries("after a deep filter", &after.dns(), &bowen);
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hanging_graph_ends_in_time_limit_exceeded_3() {
    let h = start_with(Tenant::sample(), |cfg| {
        cfg.ldap.time_limit_secs = 2;
        cfg.search.cache_ttl_secs = 0;
    })
    .await;
    let url = h.url();
    // Fetch the token first so the hang hits a directory request.
    let warm = ldapsearch(&["-x", "-H", &url, "-b", BASE, "(sn=Zz-warm-up)", "cn"]).await;
    assert_eq!(warm.code, 0, "{}", warm.stderr);
    h.emu.set_fault(Fault::Hang);
    let started = Instant::now();
    let out = ldapsearch(&["-x", "-H", &url, "-b", BASE, "(sn=Bowen)", "cn"]).await;
    let took = started.elapsed();
    assert_eq!(
        out.code, 3,
        "timeLimitExceeded expected: {} {}",
        out.stdout, out.stderr
    );
    assert!(out.dns().is_empty());
    assert!(
        took < Duration::from_secs(6),
        "answered near the 2 s limit (took {took:?})"
    );
    h.emu.set_fault(Fault::None);
    let out = ldapsearch(&["-x", "-H", &url, "-b", BASE, "(sn=Bowen)", "cn"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_same_entries(
        "after the hang",
        &out.dns(),
        &matching(&sample(), |p| eq(p, "sn", "Bowen")),
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn graph_answering_garbage_is_an_error_with_a_message_not_an_empty_success() {
    let h = start_with(Tenant::sample(), |cfg| cfg.search.cache_ttl_secs = 0).await;
    let url = h.url();
    let warm = ldapsearch(&["-x", "-H", &url, "-b", BASE, "(sn=Zz-warm-up)", "cn"]).await;
    assert_eq!(warm.code, 0, "{}", warm.stderr);
    h.emu.set_fault(Fault::Garbage);
    let out = ldapsearch(&["-x", "-H", &url, "-b", BASE, "(sn=Bowen)", "cn"]).await;
    assert!(
        out.code != 0 && out.code != 255,
        "an LDAP error result expected, got {}: {}",
        out.code,
        out.stderr
    );
    assert!(out.dns().is_empty());
    assert!(
        out.stderr.to_lowercase().contains("additional info"),
        "{}",
        out.stderr
    );
    h.emu.set_fault(Fault::None);
    h.stop().await;
}

// ---------------------------------------------------------------------------------------
// Coalescing: identical searches in flight share one Graph request

#[tokio::test(flavor = "multi_thread")]
async fn identical_concurrent_searches_share_one_graph_request() {
    // Cache off: only requests in flight at the same time are shared.
    let h = start_with(Tenant::sample(), |cfg| cfg.search.cache_ttl_secs = 0).await;
    let url = h.url();
    let users = "ou=users,dc=example,dc=com";
    // Warm the token so that only directory requests are counted.
    let _ = ldapsearch(&["-x", "-H", &url, "-b", users, "(cn=zz-warm-up)"]).await;
    h.emu.set_fault(Fault::Slow { millis: 400 });
    h.emu.reset_stats();
    let filter = format!("(telephoneNumber={MEGAN_PHONE})");
    let searches: Vec<_> = (0..8)
        .map(|_| {
            let (url, filter) = (url.clone(), filter.clone());
            tokio::spawn(async move {
                ldapsearch(&["-x", "-H", &url, "-b", users, &filter, "cn"]).await
            })
        })
        .collect();
    for s in searches {
        let out = s.await.expect("search task");
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(out.dns(), vec![MEGAN_DN.to_string()]);
    }
    let cost = tools::users_requests(&h.emu);
    // The caller-ID plan is at most two requests; eight searches each sending their own
    // would cost 8 to 16.
    assert!(
        (1..=2).contains(&cost),
        "8 identical searches in flight cost {cost} Graph requests"
    );
    h.emu.set_fault(Fault::None);
    h.stop().await;
}
