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
        cfg.ldap.limits.require_tls_for_bind = false;
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
    let h = start_with(Tenant::sample(), |cfg| cfg.ldap.limits.size_limit = 5).await;
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
        cfg.ldap.limits.time_limit_secs = 2;
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
        cfg.ldap.limits.time_limit_secs = 20;
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

    // Graph answers in 4 s: within the server's 20 s, past the client's 2 s. Only a
    // gateway that honours -l 2 ends the search at about 2 s with timeLimitExceeded (3);
    // one that ignores it waits for Graph and answers 0 with entries after 4 s.
    h.emu.set_fault(Fault::Slow { millis: 4_000 });
    let started = Instant::now();
    let out = ldapsearch(&["-x", "-H", &url, "-l", "2", "-b", BASE, "(sn=Smith)", "cn"]).await;
    let took = started.elapsed();
    assert_eq!(
        out.code, 3,
        "timeLimitExceeded (3) expected from the client's -l 2, got {}: {} {}",
        out.code, out.stdout, out.stderr
    );
    assert!(
        out.dns().is_empty(),
        "Graph had not answered: {}",
        out.stdout
    );
    assert!(
        out.stderr.contains("in time"),
        "a diagnostic naming the time limit: {}",
        out.stderr
    );
    assert!(
        took >= Duration::from_millis(1_500) && took < Duration::from_millis(3_800),
        "the client's 2 s limit was not the one applied (took {took:?})"
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
    let h = start_with_account(|cfg| cfg.ldap.limits.allow_anonymous = false).await;
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
        cfg.ldap.limits.time_limit_secs = 2;
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

/// Issue 10: coalescing under load. Fifty connections send the same name search at once
/// while Graph is slow; the whole burst costs exactly the Graph requests of one search
/// (measured first on another name of the same shape), not one per search.
#[tokio::test(flavor = "multi_thread")]
async fn fifty_identical_concurrent_searches_cost_one_search_of_graph_requests() {
    use ldap3::{LdapConnAsync, Scope};
    let h = start().await;
    let url = h.url();
    let users = "ou=users,dc=example,dc=com";
    let search = |filter: &'static str| {
        let url = url.clone();
        async move {
            let (conn, mut ldap) = LdapConnAsync::new(&url).await.expect("connect");
            ldap3::drive!(conn);
            let (entries, _) = ldap
                .search(users, Scope::Subtree, filter, vec!["cn"])
                .await
                .expect("search")
                .success()
                .expect("success");
            entries.len()
        }
    };
    // One search alone (this also fetches the token): what a single search costs.
    h.emu.reset_stats();
    assert!(search("(|(cn=meg*)(sn=meg*))").await >= 1);
    let alone = tools::users_requests(&h.emu);
    assert!(alone >= 1);
    h.emu.set_fault(Fault::Slow { millis: 300 });
    h.emu.reset_stats();
    let burst: Vec<_> = (0..50)
        .map(|_| tokio::spawn(search("(|(cn=ale*)(sn=ale*))")))
        .collect();
    let mut counts = Vec::new();
    for s in burst {
        counts.push(s.await.expect("search task"));
    }
    assert!(counts[0] >= 1, "the burst's name matches someone");
    assert!(counts.iter().all(|n| *n == counts[0]), "{counts:?}");
    assert_eq!(
        tools::users_requests(&h.emu),
        alone,
        "50 identical searches in flight cost a single search's Graph requests"
    );
    h.emu.set_fault(Fault::None);
    h.stop().await;
}

// ---------------------------------------------------------------------------------------
// Paged and VLV searches under faults (issue 11 item 1): the same result code and
// diagnostic as the unpaged search, never an empty or partial success.

/// The diagnostic ldapsearch prints ("additional info: ..."), or "" when there is none.
fn additional_info(stderr: &str) -> String {
    stderr
        .lines()
        .find(|l| l.to_lowercase().trim_start().starts_with("additional info"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, info)| info.trim().to_string())
        .unwrap_or_default()
}

/// A gateway whose Graph answers in pages of 100 objects (the sample's users take four),
/// with the answer cache off so every search reaches the emulator.
async fn start_multi_page(tweak: impl FnOnce(&mut ldap_graph_gateway::config::Config)) -> Harness {
    start_with(Tenant::sample(), |cfg| {
        cfg.graph.page_size = 100;
        cfg.search.cache_ttl_secs = 0;
        tweak(cfg);
    })
    .await
}

const PERSON: &str = "(objectClass=person)";

#[tokio::test(flavor = "multi_thread")]
async fn a_time_limit_part_way_through_a_paged_or_vlv_search_is_3_as_unpaged() {
    let h = start_multi_page(|cfg| cfg.ldap.limits.time_limit_secs = 20).await;
    let url = h.url();
    let users = users(&Tenant::sample());
    assert!(users.len() > 300, "the users take several Graph pages");
    // Graph answers each page in 1.2 s: the second page ends past the client's 2 s.
    h.emu.set_fault(Fault::Slow { millis: 1200 });
    let base = ["-x", "-H", &url, "-l", "2", "-b", USERS_OU];
    let unpaged = ldapsearch(&[&base[..], &[PERSON, "cn"]].concat()).await;
    let paged = ldapsearch(&[&base[..], &["-E", "pr=100/noprompt", PERSON, "cn"]].concat()).await;
    let vlv = ldapsearch(
        &[
            &base[..],
            &["-E", "sss=cn", "-E", "vlv=0/9/1/0", PERSON, "cn"],
        ]
        .concat(),
    )
    .await;
    for (what, out) in [("unpaged", &unpaged), ("paged", &paged), ("vlv", &vlv)] {
        assert_eq!(
            out.code, 3,
            "{what}: timeLimitExceeded expected, got {}: {}",
            out.code, out.stderr
        );
        // CONTRACT §6: timeLimitExceeded comes after the entries already found. Unpaged,
        // those are the first Graph page's (100) users; paged, at most one LDAP page of
        // them; a VLV window is only known once every candidate is read, so it has none.
        let dns = out.dns();
        let most = if what == "vlv" { 0 } else { 100 };
        assert!(
            dns.len() <= most,
            "{what}: at most {most} entries before the time limit, got {}: {}",
            dns.len(),
            out.stdout
        );
        let known = dn_set(users.iter().map(|p| p.dn.as_str()));
        let extra: Vec<_> = dn_set(dns.iter().map(|d| d.as_str()))
            .difference(&known)
            .cloned()
            .collect();
        assert!(
            extra.is_empty(),
            "{what}: not users of the tenant: {extra:?}"
        );
        let info = additional_info(&out.stderr).to_lowercase();
        assert!(
            info.contains("time"),
            "{what}: the diagnostic names the time limit: {}",
            out.stderr
        );
    }
    // Without the fault the same paged search pages through every user.
    h.emu.set_fault(Fault::None);
    let whole = ldapsearch(&[&base[..], &["-E", "pr=100/noprompt", PERSON, "cn"]].concat()).await;
    assert_eq!(whole.code, 0, "{}", whole.stderr);
    assert_same_entries("paged without the fault", &whole.dns(), &users);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_size_limit_in_a_paged_or_vlv_search_is_4_as_unpaged() {
    let h = start().await;
    let url = h.url();
    let all = in_contract_order(matching(&sample(), |p| present(p, "sn")), "displayName");
    let base = ["-x", "-H", &url, "-z", "3", "-b", BASE];
    let unpaged = ldapsearch(&[&base[..], &["(sn=*)", "cn"]].concat()).await;
    assert_eq!(unpaged.code, 4, "{}", unpaged.stderr);
    // Pages of two: the size limit falls on the second page.
    let paged = ldapsearch(&[&base[..], &["-E", "pr=2/noprompt", "(sn=*)", "cn"]].concat()).await;
    assert_eq!(
        paged.code, 4,
        "paged: sizeLimitExceeded expected: {}",
        paged.stderr
    );
    assert_same_order("paged -z 3", &paged.dns(), &all[..3]);
    assert_eq!(
        additional_info(&paged.stderr),
        additional_info(&unpaged.stderr),
        "paged and unpaged give the same diagnostic"
    );
    assert!(!additional_info(&paged.stderr).is_empty());
    // A VLV window of ten under a size limit of three.
    let by_cn = in_contract_order(matching(&sample(), |p| present(p, "sn")), "cn");
    let vlv = ldapsearch(
        &[
            &base[..],
            &["-E", "sss=cn", "-E", "vlv=0/9/1/0", "(sn=*)", "cn"],
        ]
        .concat(),
    )
    .await;
    assert_eq!(
        vlv.code, 4,
        "vlv: sizeLimitExceeded expected: {}",
        vlv.stderr
    );
    assert_same_order("vlv 0/9/1/0 -z 3", &vlv.dns(), &by_cn[..3]);
    assert_eq!(
        additional_info(&vlv.stderr),
        additional_info(&unpaged.stderr)
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn graph_failures_in_a_paged_or_vlv_search_are_51_and_52_as_unpaged() {
    let h = start_multi_page(|cfg| cfg.ldap.limits.time_limit_secs = 2).await;
    let url = h.url();
    let base = ["-x", "-H", &url, "-b", USERS_OU];
    for (fault, code) in [
        (Fault::Unavailable, 52),
        (
            Fault::Throttle {
                retry_after_secs: 30,
            },
            51,
        ),
    ] {
        h.emu.set_fault(fault);
        let unpaged = ldapsearch(&[&base[..], &[PERSON, "cn"]].concat()).await;
        let paged =
            ldapsearch(&[&base[..], &["-E", "pr=50/noprompt", PERSON, "cn"]].concat()).await;
        let vlv = ldapsearch(
            &[
                &base[..],
                &["-E", "sss=cn", "-E", "vlv=0/4/1/0", PERSON, "cn"],
            ]
            .concat(),
        )
        .await;
        assert_eq!(unpaged.code, code, "unpaged: {}", unpaged.stderr);
        for (what, out) in [("paged", &paged), ("vlv", &vlv)] {
            assert_eq!(out.code, code, "{what}: {} expected: {}", code, out.stderr);
            assert!(out.dns().is_empty(), "{what}: {}", out.stdout);
            assert_eq!(
                additional_info(&out.stderr),
                additional_info(&unpaged.stderr),
                "{what}: the unpaged diagnostic"
            );
        }
    }
    h.emu.set_fault(Fault::None);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scan_limit_in_a_paged_or_vlv_search_is_11_as_unpaged() {
    // Pages of 100 and a bound of 150: the second page of users crosses it.
    let h = start_multi_page(|cfg| cfg.search.max_scan = 150).await;
    let url = h.url();
    let base = ["-x", "-H", &url, "-b", USERS_OU];
    let unpaged = ldapsearch(&[&base[..], &[PERSON, "cn"]].concat()).await;
    assert_eq!(
        unpaged.code, 11,
        "adminLimitExceeded expected: {}",
        unpaged.stderr
    );
    assert!(
        additional_info(&unpaged.stderr).contains("150"),
        "{}",
        unpaged.stderr
    );
    let paged = ldapsearch(&[&base[..], &["-E", "pr=20/noprompt", PERSON, "cn"]].concat()).await;
    let vlv = ldapsearch(
        &[
            &base[..],
            &["-E", "sss=cn", "-E", "vlv=2/2/5/0", PERSON, "cn"],
        ]
        .concat(),
    )
    .await;
    for (what, out) in [("paged", &paged), ("vlv", &vlv)] {
        assert_eq!(out.code, 11, "{what}: {}", out.stderr);
        assert!(out.dns().is_empty(), "{what}: {}", out.stdout);
        assert_eq!(
            additional_info(&out.stderr),
            additional_info(&unpaged.stderr),
            "{what}"
        );
    }
    // A narrow filter stays under the bound, paged as well.
    let bowen = matching(&sample(), |p| eq(p, "sn", "Bowen"));
    let ok = ldapsearch(&[&base[..], &["-E", "pr=20/noprompt", "(sn=Bowen)", "cn"]].concat()).await;
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_same_entries("paged (sn=Bowen)", &ok.dns(), &bowen);
    h.stop().await;
}

// ---------------------------------------------------------------------------------------
// Compare off the connection task

#[tokio::test(flavor = "multi_thread")]
async fn a_compare_that_times_out_is_3_not_no_such_object() {
    let h = start_with(Tenant::sample(), |cfg| {
        cfg.ldap.limits.time_limit_secs = 2;
        cfg.search.cache_ttl_secs = 0;
    })
    .await;
    let url = h.url();
    let compare = |value: &'static str| {
        let url = url.clone();
        async move {
            tools::run(
                "ldapcompare",
                &["-x", "-H", &url, "-o", "nettimeout=20", MEGAN_DN, value],
                &[],
                None,
            )
            .await
        }
    };
    let yes = compare("sn:Bowen").await;
    assert_eq!(yes.code, 6, "compareTrue: {}", yes.stderr);
    let no = compare("sn:Vance").await;
    assert_eq!(no.code, 5, "compareFalse: {}", no.stderr);

    h.emu.set_fault(Fault::Hang);
    let started = Instant::now();
    let slow = compare("sn:Bowen").await;
    assert_eq!(
        slow.code, 3,
        "timeLimitExceeded, not noSuchObject: {}",
        slow.stderr
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "answered near the 2 s limit"
    );
    h.emu.set_fault(Fault::Unavailable);
    let down = compare("sn:Bowen").await;
    assert_eq!(down.code, 52, "unavailable: {}", down.stderr);
    h.emu.set_fault(Fault::None);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_compare_does_not_hold_up_its_connection() {
    let h = start_with(Tenant::sample(), |cfg| cfg.search.cache_ttl_secs = 0).await;
    let url = h.url();
    let mut ldap = tools::ldap3_plain(&url).await;
    // Warm the token, then make every Graph request take 2 s.
    let warm = ldap
        .compare(MEGAN_DN, "sn", "Bowen")
        .await
        .expect("compare");
    assert_eq!(warm.0.rc, 6);
    h.emu.set_fault(Fault::Slow { millis: 2000 });
    // Another user than the warm-up's, so that the compare must ask Graph.
    let person = users(&Tenant::sample())
        .into_iter()
        .find(|p| !p.values("sn").is_empty() && norm_dn(&p.dn) != norm_dn(MEGAN_DN))
        .expect("a user with a surname");
    let (dn, sn) = (person.dn.clone(), person.values("sn")[0].clone());
    let mut other = ldap.clone();
    let started = Instant::now();
    let slow = tokio::spawn(async move { other.compare(&dn, "sn", &sn).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The same connection answers WhoAmI and a root DSE read while the compare waits.
    let asked = Instant::now();
    let who = ldap.extended(ldap3::exop::WhoAmI).await.expect("whoami");
    assert_eq!(who.1.rc, 0, "WhoAmI answered");
    let (dse, res) = ldap
        .search(
            "",
            ldap3::Scope::Base,
            "(objectClass=*)",
            vec!["namingContexts"],
        )
        .await
        .expect("root DSE")
        .non_error()
        .map(|r| (r.0, r.1))
        .expect("root DSE ok");
    assert_eq!(res.rc, 0);
    assert_eq!(dse.len(), 1);
    let waited = asked.elapsed();
    assert!(
        waited < Duration::from_millis(1000),
        "WhoAmI and the root DSE waited {waited:?} behind a compare"
    );
    let slow = slow.await.expect("compare task").expect("compare");
    assert_eq!(slow.0.rc, 6, "the compare still answers compareTrue");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the compare did wait for Graph ({:?}, {} requests)",
        started.elapsed(),
        h.emu.requests()
    );
    h.emu.set_fault(Fault::None);
    let _ = ldap.unbind().await;
    h.stop().await;
}

// ---------------------------------------------------------------------------------------
// Every reply reaches its client

/// The sample tenant with every user repeated `copies` times (new ids and names), so that
/// one search streams thousands of entries over several Graph pages.
fn large_tenant(copies: usize) -> Tenant {
    let mut t = Tenant::sample();
    let originals = t.users.clone();
    for k in 1..copies {
        for u in &originals {
            let mut u = u.clone();
            let id = u["id"].as_str().unwrap_or_default().to_string();
            let upn = u["userPrincipalName"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            u["id"] = serde_json::json!(format!("{id}-{k}"));
            u["userPrincipalName"] = serde_json::json!(format!("copy{k}.{upn}"));
            t.users.push(u);
        }
    }
    t
}

type RawClient = tokio_util::codec::Framed<tokio::net::TcpStream, ldap3_proto::LdapCodec>;

/// A client that reads slowly: a small receive buffer, so that a large search fills the
/// socket and the connection's channel while it does not read.
async fn slow_reader(h: &Harness) -> RawClient {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let stream = socket.connect(h.addr()).await.expect("connect");
    tokio_util::codec::Framed::new(stream, ldap3_proto::LdapCodec::default())
}

/// A subtree search under ou=users for every attribute.
fn users_search(msgid: i32, filter: ldap3_proto::proto::LdapFilter) -> ldap3_proto::proto::LdapMsg {
    use ldap3_proto::proto::{
        LdapDerefAliases, LdapMsg, LdapOp, LdapSearchRequest, LdapSearchScope,
    };
    LdapMsg::new(
        msgid,
        LdapOp::SearchRequest(LdapSearchRequest {
            base: USERS_OU.to_string(),
            scope: LdapSearchScope::Subtree,
            aliases: LdapDerefAliases::Never,
            sizelimit: 0,
            timelimit: 0,
            typesonly: false,
            filter,
            attrs: vec![],
        }),
    )
}

fn every_person() -> ldap3_proto::proto::LdapFilter {
    ldap3_proto::proto::LdapFilter::Equality("objectClass".into(), "person".into())
}

/// A gateway over eight copies of the sample's users, and how many users that is.
async fn start_large() -> (Harness, usize) {
    start_large_with(8).await
}

/// Copies of the sample's users whose answer the sockets cannot hold: more than twice the
/// kernel's largest TCP send buffer (`tcp_wmem`, which loopback autotuning may reach at
/// once). Each copy is about 250 KB of entries with every attribute (measured: 8 copies,
/// 2,648 entries, 2.0 MB). An answer the buffers swallow whole is written before any
/// abandon can arrive.
fn copies_beyond_socket_buffers() -> usize {
    let max_send_buffer = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|t| t.split_whitespace().nth(2)?.parse::<usize>().ok())
        .unwrap_or(4 << 20);
    (2 * max_send_buffer).div_ceil(250_000).max(8)
}

/// A gateway over `copies` copies of the sample's users, and how many users that is.
async fn start_large_with(copies: usize) -> (Harness, usize) {
    let tenant = large_tenant(copies);
    let expected = users(&tenant).len();
    assert!(expected > 2000);
    let h = start_with(tenant, |cfg| {
        cfg.ldap.limits.size_limit = 100_000;
        cfg.search.max_scan = 100_000;
    })
    .await;
    (h, expected)
}

/// The next reply, within `deadline`.
async fn next_reply(
    client: &mut RawClient,
    deadline: tokio::time::Instant,
) -> ldap3_proto::proto::LdapMsg {
    use futures_util::StreamExt;
    tokio::time::timeout_at(deadline, client.next())
        .await
        .expect("a reply before the deadline")
        .expect("the connection stays open")
        .expect("a well-formed reply")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refusal_while_a_large_search_streams_still_reaches_the_client() {
    use futures_util::SinkExt;
    use ldap3_proto::proto::{LdapFilter, LdapOp};

    let (h, expected) = start_large().await;
    let mut client = slow_reader(&h).await;
    client
        .send(users_search(1, every_person()))
        .await
        .expect("send the large search");
    // Let the search fill the socket and the connection's channel.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut deep = LdapFilter::Equality("sn".into(), "Bowen".into());
    for _ in 0..40 {
        deep = LdapFilter::And(vec![deep]);
    }
    client
        .send(users_search(2, deep))
        .await
        .expect("send the refused search");

    let mut entries = 0usize;
    let (mut done_large, mut done_refused) = (None, None);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while done_large.is_none() || done_refused.is_none() {
        let msg = next_reply(&mut client, deadline).await;
        match (msg.msgid, msg.op) {
            (1, LdapOp::SearchResultEntry(_)) => entries += 1,
            (1, LdapOp::SearchResultDone(res)) => done_large = Some(res),
            (2, LdapOp::SearchResultDone(res)) => done_refused = Some(res),
            (id, op) => panic!("unexpected reply on message {id}: {op:?}"),
        }
    }
    let refused = done_refused.expect("refusal");
    assert_eq!(
        refused.code,
        ldap3_proto::LdapResultCode::UnwillingToPerform
    );
    assert!(
        refused.message.contains("max_filter_depth"),
        "{}",
        refused.message
    );
    let large = done_large.expect("large search done");
    assert_eq!(
        large.code,
        ldap3_proto::LdapResultCode::Success,
        "{}",
        large.message
    );
    assert_eq!(entries, expected, "every user streamed");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_abandon_while_a_large_search_streams_stops_it() {
    use futures_util::{SinkExt, StreamExt};
    use ldap3_proto::proto::{LdapExtendedRequest, LdapMsg, LdapOp};

    let (h, expected) = start_large_with(copies_beyond_socket_buffers()).await;
    let mut client = slow_reader(&h).await;
    client
        .send(users_search(1, every_person()))
        .await
        .expect("send the large search");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut entries = 0usize;
    while entries < 10 {
        match next_reply(&mut client, deadline).await.op {
            LdapOp::SearchResultEntry(_) => entries += 1,
            other => panic!("an entry expected, got {other:?}"),
        }
    }
    client
        .send(LdapMsg::new(2, LdapOp::AbandonRequest(1)))
        .await
        .expect("send abandon");
    // Read slowly until the connection falls quiet: what was queued before the abandon
    // arrives, then nothing, and never a SearchResultDone (RFC 4511 §4.11).
    loop {
        let msg = match tokio::time::timeout(Duration::from_secs(1), client.next()).await {
            Err(_) => break,
            Ok(msg) => msg
                .expect("the connection stays open")
                .expect("a well-formed reply"),
        };
        tokio::time::sleep(Duration::from_millis(2)).await;
        match (msg.msgid, msg.op) {
            (1, LdapOp::SearchResultEntry(_)) => entries += 1,
            (1, LdapOp::SearchResultDone(res)) => {
                panic!("the abandoned search ran to its end ({entries} entries): {res:?}")
            }
            (id, op) => panic!("unexpected reply on message {id}: {op:?}"),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the search never stopped"
        );
    }
    // The connection still serves.
    let whoami = LdapExtendedRequest {
        name: "1.3.6.1.4.1.4203.1.11.3".to_string(),
        value: None,
    };
    client
        .send(LdapMsg::new(3, LdapOp::ExtendedRequest(whoami)))
        .await
        .expect("send WhoAmI");
    let msg = next_reply(&mut client, deadline).await;
    assert_eq!(msg.msgid, 3);
    assert!(
        matches!(&msg.op, LdapOp::ExtendedResponse(r) if r.res.code == ldap3_proto::LdapResultCode::Success),
        "{:?}",
        msg.op
    );
    assert!(
        entries < expected,
        "the abandoned search stopped ({entries} of {expected} entries sent)"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn beyond_32_operations_on_one_connection_a_search_or_compare_is_busy_51() {
    use futures_util::SinkExt;
    use ldap3_proto::LdapResultCode;
    use ldap3_proto::proto::{LdapCompareRequest, LdapFilter, LdapMsg, LdapOp};

    let h = start_with(Tenant::sample(), |cfg| cfg.search.cache_ttl_secs = 0).await;
    // Warm the token, then hold every Graph request for 1.5 s.
    let warm = ldapsearch(&["-x", "-H", &h.url(), "-b", USERS_OU, "(sn=Zz-warm-up)"]).await;
    assert_eq!(warm.code, 0, "{}", warm.stderr);
    h.emu.set_fault(Fault::Slow { millis: 1500 });
    let mut client = slow_reader(&h).await;
    let bowen = || LdapFilter::Equality("sn".into(), "Bowen".into());
    for msgid in 1..=32 {
        client
            .send(users_search(msgid, bowen()))
            .await
            .expect("send search");
    }
    let compare = LdapCompareRequest {
        dn: MEGAN_DN.to_string(),
        atype: "sn".into(),
        val: b"Bowen".to_vec(),
    };
    client
        .send(LdapMsg::new(33, LdapOp::CompareRequest(compare)))
        .await
        .expect("send compare");
    client
        .send(users_search(34, bowen()))
        .await
        .expect("send search");

    let want = matching(&sample(), |p| eq(p, "sn", "Bowen")).len();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut busy = Vec::new();
    let mut finished = 0;
    let mut entries = 0;
    while finished < 32 {
        let msg = next_reply(&mut client, deadline).await;
        match (msg.msgid, msg.op) {
            (33, LdapOp::CompareResult(res)) | (34, LdapOp::SearchResultDone(res)) => {
                assert_eq!(res.code, LdapResultCode::Busy, "{}", res.message);
                assert_eq!(
                    finished, 0,
                    "the refusal comes at once, not after the searches"
                );
                busy.push(msg.msgid);
            }
            (1..=32, LdapOp::SearchResultEntry(_)) => entries += 1,
            (1..=32, LdapOp::SearchResultDone(res)) => {
                assert_eq!(res.code, LdapResultCode::Success, "{}", res.message);
                finished += 1;
            }
            (id, op) => panic!("unexpected reply on message {id}: {op:?}"),
        }
    }
    busy.sort();
    assert_eq!(
        busy,
        vec![33, 34],
        "the 33rd and 34th operations are refused"
    );
    assert_eq!(entries, 32 * want, "each admitted search found every Bowen");
    h.emu.set_fault(Fault::None);
    h.stop().await;
}
