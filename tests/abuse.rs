//! Bind and connection abuse and the PROXY protocol, over real sockets: failed binds from
//! one address are slowed, then refused with 49, while another address searches at full
//! speed; the per-client connection cap; a trusted balancer's PROXY header makes the real
//! client the one those limits count. Clients come from distinct loopback addresses
//! (127.0.0.2, 127.0.0.3 are bound as source addresses) or from PROXY headers.

mod common;
#[path = "support/tenant.rs"]
mod tenant;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use common::raw::{self, RawLdap, Received};
use common::{Harness, start_with};
use graph_emulator::Tenant;
use ldap_graph_gateway::config::Config;
use ldap_graph_gateway::ldap::accounts::{AccountSecret, BindAccount, hash_password};
use ldap_graph_gateway::ldap::proxy_protocol::V2_SIGNATURE;
use ldap_graph_gateway::ldap::throttle::{FIRST_DELAY, LOCKOUT_FAILURES};
use ldap3_proto::LdapResultCode;
use ldap3_proto::proto::LdapOp;
use tenant::*;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

const ACCOUNT_DN: &str = "cn=phones,dc=example,dc=com";
const ACCOUNT_PASSWORD: &str = "correct horse battery staple";

async fn start_with_account(tweak: impl FnOnce(&mut Config)) -> Harness {
    let hash = hash_password(ACCOUNT_PASSWORD).expect("hash");
    start_with(Tenant::sample(), move |cfg| {
        cfg.ldap.accounts = vec![BindAccount {
            dn: ACCOUNT_DN.to_string(),
            names: vec!["phones@example.com".to_string()],
            secret: AccountSecret::Hash(hash),
        }];
        cfg.ldap.limits.require_tls_for_bind = false;
        cfg.ldap.limits.allow_anonymous = true;
        cfg.search.cache_ttl_secs = 0;
        tweak(cfg);
    })
    .await
}

/// A TCP connection to `to` from the loopback address `from`.
async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    let from: IpAddr = from.parse().expect("address");
    socket
        .bind(SocketAddr::new(from, 0))
        .unwrap_or_else(|e| panic!("bind the source address {from}: {e}"));
    socket.connect(to).await.expect("connect to the gateway")
}

fn is_notice(msg: &Received, code: LdapResultCode) -> Option<String> {
    match msg {
        Received::Msg(m) if m.msgid == 0 => match &m.op {
            LdapOp::ExtendedResponse(r)
                if r.name.as_deref() == Some(raw::NOTICE_OF_DISCONNECTION)
                    && r.res.code == code =>
            {
                Some(r.res.message.clone())
            }
            _ => None,
        },
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_passwords_are_slowed_then_refused_while_another_address_searches_unaffected() {
    let h = start_with_account(|_| {}).await;
    let addr = h.addr();
    let want = matching(&users(&Tenant::sample()), |p| eq(p, "sn", "Bowen"));

    // A client on 127.0.0.1 searches throughout and records each search's latency.
    let stop = tokio_util::sync::CancellationToken::new();
    let searcher = {
        let stop = stop.clone();
        let want = want.clone();
        tokio::spawn(async move {
            let mut c = RawLdap::from_stream(connect_from("127.0.0.1", addr).await);
            let mut latencies = Vec::new();
            let mut id = 1;
            while !stop.is_cancelled() {
                let started = Instant::now();
                c.send(id, raw::search_eq(USERS_OU, "sn", "Bowen", &["cn"]))
                    .await;
                let msgs = c.search_until_done(id).await;
                latencies.push(started.elapsed());
                let done = raw::search_done(&msgs, id).expect("done");
                assert_eq!(done.code, LdapResultCode::Success, "{}", done.message);
                assert_same_entries(
                    "search during the attack",
                    &raw::entry_dns(&msgs, id),
                    &want,
                );
                id += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            latencies
        })
    };

    // Four connections from 127.0.0.2 guess passwords as fast as the server answers.
    let mut attackers = Vec::new();
    for n in 0..4 {
        attackers.push(tokio::spawn(async move {
            let mut c = RawLdap::from_stream(connect_from("127.0.0.2", addr).await);
            let mut answers = Vec::new();
            for i in 0..(LOCKOUT_FAILURES as i32 + 2) {
                let started = Instant::now();
                let res = c.bind(i + 1, ACCOUNT_DN, &format!("guess-{n}-{i}")).await;
                answers.push((started.elapsed(), res.code, res.message));
                if answers
                    .last()
                    .is_some_and(|a| a.2.contains("too many failed binds"))
                {
                    break;
                }
            }
            answers
        }));
    }
    let mut all = Vec::new();
    for a in attackers {
        all.extend(
            tokio::time::timeout(Duration::from_secs(60), a)
                .await
                .expect("bounded")
                .expect("attacker"),
        );
    }
    for (_, code, _) in &all {
        assert_eq!(*code, LdapResultCode::InvalidCredentials);
    }
    assert!(
        all.iter().any(|(t, _, _)| *t >= FIRST_DELAY * 2),
        "no failed bind was slowed: {all:?}"
    );
    let locked: Vec<_> = all
        .iter()
        .filter(|(_, _, m)| m.contains("too many failed binds from 127.0.0.2"))
        .collect();
    assert_eq!(locked.len(), 4, "every attacker ends locked out: {all:?}");
    assert!(
        locked
            .iter()
            .all(|(t, _, _)| *t < Duration::from_millis(200)),
        "a locked-out bind is answered at once, without verification: {locked:?}"
    );

    // Locked out: even the right password from 127.0.0.2 is refused, with the reason...
    let mut c = RawLdap::from_stream(connect_from("127.0.0.2", addr).await);
    let res = c.bind(1, ACCOUNT_DN, ACCOUNT_PASSWORD).await;
    assert_eq!(res.code, LdapResultCode::InvalidCredentials);
    assert!(res.message.contains("refused for"), "{}", res.message);
    // ...while another address binds at once.
    let mut other = RawLdap::from_stream(connect_from("127.0.0.3", addr).await);
    let started = Instant::now();
    let res = other.bind(1, ACCOUNT_DN, ACCOUNT_PASSWORD).await;
    assert_eq!(res.code, LdapResultCode::Success, "{}", res.message);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    stop.cancel();
    let latencies = searcher.await.expect("searcher");
    assert!(
        latencies.len() >= 20,
        "the searcher ran throughout ({})",
        latencies.len()
    );
    let worst = latencies.iter().max().copied().unwrap_or_default();
    assert!(
        worst < Duration::from_millis(750),
        "a search from another address waited {worst:?} during the attack (all: {latencies:?})"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_per_client_cap_turns_the_extra_connection_away_busy_and_not_other_clients() {
    let h = start_with_account(|cfg| cfg.ldap.limits.max_connections_per_client = 2).await;
    let addr = h.addr();
    let mut first = RawLdap::from_stream(connect_from("127.0.0.2", addr).await);
    assert_eq!(first.bind(1, "", "").await.code, LdapResultCode::Success);
    let mut second = RawLdap::from_stream(connect_from("127.0.0.2", addr).await);
    assert_eq!(second.bind(1, "", "").await.code, LdapResultCode::Success);
    let mut third = RawLdap::from_stream(connect_from("127.0.0.2", addr).await);
    let notice = third.recv(Duration::from_secs(5)).await;
    let message = is_notice(&notice, LdapResultCode::Busy)
        .unwrap_or_else(|| panic!("the third connection of one address gets busy: {notice:?}"));
    assert!(message.contains("from your address"), "{message}");
    assert!(matches!(
        third.recv(Duration::from_secs(2)).await,
        Received::Closed
    ));
    // Another address is not counted with it.
    let mut elsewhere = RawLdap::from_stream(connect_from("127.0.0.3", addr).await);
    assert_eq!(
        elsewhere.bind(1, "", "").await.code,
        LdapResultCode::Success
    );
    // Once one leaves, the address may connect again.
    first.send(2, LdapOp::UnbindRequest).await;
    assert!(matches!(
        first.recv(Duration::from_secs(2)).await,
        Received::Closed
    ));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = RawLdap::from_stream(connect_from("127.0.0.2", addr).await);
    assert_eq!(again.bind(1, "", "").await.code, LdapResultCode::Success);
    drop((second, elsewhere, again));
    h.stop().await;
}

/// A PROXY v2 header for a TCP4 client `src` (proxy-protocol.txt §2.2).
fn v2_header(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let (SocketAddr::V4(s), SocketAddr::V4(d)) = (src, dst) else {
        panic!("TCP4 only");
    };
    let mut b = V2_SIGNATURE.to_vec();
    b.extend_from_slice(&[0x21, 0x11, 0x00, 0x0c]);
    b.extend_from_slice(&s.ip().octets());
    b.extend_from_slice(&d.ip().octets());
    b.extend_from_slice(&s.port().to_be_bytes());
    b.extend_from_slice(&d.port().to_be_bytes());
    b
}

async fn via_balancer(addr: SocketAddr, header: &[u8]) -> RawLdap {
    let mut s = connect_from("127.0.0.1", addr).await;
    s.write_all(header).await.expect("write the header");
    RawLdap::from_stream(s)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trusted_balancers_proxy_header_names_the_client_that_limits_count() {
    let h = start_with_account(|cfg| {
        cfg.ldap.limits.proxy_protocol = vec!["127.0.0.1".parse().unwrap()];
        cfg.ldap.limits.max_connections_per_client = 1;
    })
    .await;
    let addr = h.addr();
    let client_a: SocketAddr = "192.0.2.10:40001".parse().unwrap();
    let client_b: SocketAddr = "192.0.2.11:40002".parse().unwrap();
    let mut a = via_balancer(addr, &v2_header(client_a, addr)).await;
    assert_eq!(a.bind(1, "", "").await.code, LdapResultCode::Success);
    // Client A again (another source port): over its cap of one.
    let mut a2 = via_balancer(addr, &v2_header("192.0.2.10:40003".parse().unwrap(), addr)).await;
    let notice = a2.recv(Duration::from_secs(5)).await;
    assert!(
        is_notice(&notice, LdapResultCode::Busy).is_some(),
        "{notice:?}"
    );
    // Client B through the same balancer, with a v1 header: its own count.
    let line = format!(
        "PROXY TCP4 {} {} {} {}\r\n",
        client_b.ip(),
        addr.ip(),
        client_b.port(),
        addr.port()
    );
    let mut b = via_balancer(addr, line.as_bytes()).await;
    b.send(2, raw::search_eq(USERS_OU, "sn", "Bowen", &["cn"]))
        .await;
    let msgs = b.search_until_done(2).await;
    assert_same_entries(
        "search through the balancer",
        &raw::entry_dns(&msgs, 2),
        &matching(&users(&Tenant::sample()), |p| eq(p, "sn", "Bowen")),
    );
    // The balancer's own LOCAL connection (a health check) is served as the balancer.
    let mut local = V2_SIGNATURE.to_vec();
    local.extend_from_slice(&[0x20, 0x00, 0x00, 0x00]);
    let mut check = via_balancer(addr, &local).await;
    assert_eq!(check.bind(1, "", "").await.code, LdapResultCode::Success);
    // A trusted peer that sends LDAP without a header is refused: closed, no answer.
    let mut bare = via_balancer(addr, &[]).await;
    bare.send(1, raw::bind_op("", "")).await;
    assert!(matches!(
        bare.recv(Duration::from_secs(8)).await,
        Received::Closed
    ));
    // Bind throttling counts the proxied client: A is locked out, B is not.
    for i in 0..LOCKOUT_FAILURES as i32 {
        let _ = a.bind(10 + i, ACCOUNT_DN, "wrong").await;
    }
    let locked = a.bind(99, ACCOUNT_DN, ACCOUNT_PASSWORD).await;
    assert!(
        locked.message.contains("from 192.0.2.10"),
        "{}",
        locked.message
    );
    let ok = b.bind(3, ACCOUNT_DN, ACCOUNT_PASSWORD).await;
    assert_eq!(ok.code, LdapResultCode::Success, "{}", ok.message);
    drop((a, a2, b, check));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_proxy_header_from_an_untrusted_address_is_a_protocol_error() {
    let h = start_with_account(|cfg| {
        cfg.ldap.limits.proxy_protocol = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let addr = h.addr();
    let mut s = connect_from("127.0.0.2", addr).await;
    s.write_all(&v2_header("192.0.2.10:40001".parse().unwrap(), addr))
        .await
        .expect("write");
    let mut c = RawLdap::from_stream(s);
    let notice = c.recv(Duration::from_secs(5)).await;
    assert!(
        is_notice(&notice, LdapResultCode::ProtocolError).is_some(),
        "a spoofed header is not trusted: {notice:?}"
    );
    assert!(matches!(
        c.recv(Duration::from_secs(2)).await,
        Received::Closed
    ));
    h.stop().await;
}
