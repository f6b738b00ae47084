//! `/metrics` and `/healthz` over real sockets: searches run through the gateway with the
//! real `ldapsearch`, Graph faults come from the emulator, and every scrape is read with
//! a Prometheus text parser (`prometheus-parse`), not with string matching.

mod common;
#[path = "support/tls.rs"]
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::{BASE, ldapsearch};
use graph_emulator::{EmulatorHandle, Fault, Tenant};
use ldap_graph_gateway::app::{self, Observed};
use ldap_graph_gateway::config::Config;
use ldap_graph_gateway::ldap::gateway::Gateway;
use ldap_graph_gateway::ldap::server::RunningServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Observable {
    emu: EmulatorHandle,
    gw: Arc<Gateway>,
    server: RunningServer,
    observed: Observed,
}

impl Observable {
    fn url(&self) -> String {
        format!("ldap://{}", self.server.ldap_addrs[0])
    }

    fn http(&self) -> SocketAddr {
        self.observed.addrs[0]
    }
}

/// The demo configuration with `[metrics] listen` on a free loopback port; `before` runs
/// on the emulator before the gateway starts.
async fn start(before: impl FnOnce(&EmulatorHandle)) -> Observable {
    let (emu, mut cfg) = common::emulated(Tenant::sample()).await;
    before(&emu);
    cfg.metrics.listen = vec![SocketAddr::from(([127, 0, 0, 1], 0))];
    let (gw, server, observed) = app::start_observed(&cfg).await.unwrap();
    assert_eq!(observed.addrs.len(), 1);
    Observable {
        emu,
        gw,
        server,
        observed,
    }
}

/// One HTTP/1.1 GET over a plain socket: (status, body).
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

struct Scrape {
    parsed: prometheus_parse::Scrape,
    text: String,
}

impl Scrape {
    async fn of(o: &Observable) -> Scrape {
        let (status, text) = get(o.http(), "/metrics").await;
        assert_eq!(status, 200, "{text}");
        let parsed =
            prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
        Scrape { parsed, text }
    }

    /// The sum of the samples of `name` whose labels include every pair of `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.parsed
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => panic!("{name} is not a plain sample"),
            })
            .sum()
    }

    fn has(&self, name: &str) -> bool {
        self.parsed.samples.iter().any(|s| s.metric == name)
    }
}

const P: &str = "ldap_graph_gateway_";

#[tokio::test]
async fn healthz_is_503_with_the_reason_until_a_token_is_obtained_then_200() {
    let o = start(|emu| emu.refuse_token_requests(true)).await;
    // The first token request is refused (an expired client secret): not healthy, and
    // the reason says why.
    let mut body = String::new();
    for _ in 0..50 {
        let (status, b) = get(o.http(), "/healthz").await;
        assert_eq!(status, 503, "{b}");
        body = b;
        if o.emu.token_requests() > 0 && body.contains("AADSTS") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(body.contains("no Graph access token"), "{body}");
    assert!(body.contains("AADSTS7000222"), "{body}");
    let failed = Scrape::of(&o).await;
    assert!(
        failed.value(
            &format!("{P}graph_token_requests_total"),
            &[("result", "error")]
        ) >= 1.0
    );

    o.emu.refuse_token_requests(false);
    let mut healthy = None;
    for _ in 0..100 {
        let (status, b) = get(o.http(), "/healthz").await;
        if status == 200 {
            healthy = Some(b);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(healthy.as_deref(), Some("ok\n"));
    let ok = Scrape::of(&o).await;
    assert!(
        ok.value(
            &format!("{P}graph_token_requests_total"),
            &[("result", "ok")]
        ) >= 1.0
    );
    assert!(ok.value(&format!("{P}graph_token_lifetime_seconds"), &[]) > 3000.0);
    o.server.shutdown(Duration::from_secs(5)).await;
    o.emu.shutdown().await;
}

#[tokio::test]
async fn a_scrape_shows_searches_graph_requests_throttling_and_cache_hits() {
    let o = start(|_| {}).await;
    assert!(
        o.gw.directory
            .phone_index_ready(Duration::from_secs(30))
            .await
    );
    let url = o.url();
    let before = Scrape::of(&o).await;
    assert_eq!(
        before.value(
            &format!("{P}ldap_operations_total"),
            &[("operation", "search")]
        ),
        0.0
    );

    // The same search twice: the second answer comes whole from the result cache. The
    // same filter wrapped in an AND is another search with the same Graph requests: its
    // Graph answers come from the answer cache.
    for filter in ["(cn=a*)", "(cn=a*)", "(&(cn=a*))"] {
        let out = ldapsearch(&["-x", "-H", &url, "-b", BASE, filter, "cn"]).await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(!out.dns().is_empty());
    }
    // A base outside the tree: noSuchObject (32), counted under its own code.
    let missing = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-b",
        "ou=Nowhere ,dc=example,dc=com",
        "(cn=*)",
    ])
    .await;
    assert_eq!(missing.code, 32, "{}", missing.stderr);
    // A bind with a wrong password: invalidCredentials (49).
    let bind = ldapsearch(&[
        "-x",
        "-H",
        &url,
        "-D",
        "cn=nobody,dc=example,dc=com",
        "-w",
        "wrong",
        "-b",
        BASE,
        "(cn=a*)",
    ])
    .await;
    assert_eq!(bind.code, 49, "{}", bind.stderr);

    // Graph throttles the next (uncached) search once: 429 with Retry-After 1, then served.
    o.emu.set_fault(Fault::Throttle {
        retry_after_secs: 1,
    });
    let throttled = {
        let url = url.clone();
        tokio::spawn(
            async move { ldapsearch(&["-x", "-H", &url, "-b", BASE, "(sn=B*)", "sn"]).await },
        )
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    o.emu.set_fault(Fault::None);
    let throttled = throttled.await.unwrap();
    assert_eq!(throttled.code, 0, "{}", throttled.stderr);

    let s = Scrape::of(&o).await;
    let ops = format!("{P}ldap_operations_total");
    assert_eq!(
        s.value(&ops, &[("operation", "search"), ("code", "0")]),
        4.0,
        "{}",
        s.text
    );
    assert_eq!(
        s.value(&ops, &[("operation", "search"), ("code", "32")]),
        1.0,
        "{}",
        s.text
    );
    assert_eq!(
        s.value(&ops, &[("operation", "bind"), ("code", "49")]),
        1.0,
        "{}",
        s.text
    );
    assert!(
        s.value(
            &format!("{P}ldap_operation_duration_seconds_count"),
            &[("operation", "search")]
        ) >= 4.0,
        "{}",
        s.text
    );
    let graph = format!("{P}graph_requests_total");
    assert!(
        s.value(&graph, &[("resource", "users"), ("status", "200")]) >= 2.0,
        "{}",
        s.text
    );
    assert!(
        s.value(&graph, &[("resource", "contacts"), ("status", "200")]) >= 1.0,
        "{}",
        s.text
    );
    assert!(s.value(&graph, &[("status", "429")]) >= 1.0, "{}", s.text);
    assert!(
        s.value(&format!("{P}graph_throttled_total"), &[]) >= 1.0,
        "{}",
        s.text
    );
    assert!(
        s.value(&format!("{P}graph_retry_waits_total"), &[]) >= 1.0,
        "{}",
        s.text
    );
    assert!(
        s.value(&format!("{P}graph_retry_wait_seconds_total"), &[]) >= 1.0,
        "{}",
        s.text
    );
    assert!(
        s.value(
            &format!("{P}graph_resource_units_total"),
            &[("resource", "users")]
        ) >= 2.0,
        "{}",
        s.text
    );
    // The phone index's delta round ran against users/delta and contacts/delta.
    assert!(
        s.value(&graph, &[("resource", "users/delta")]) >= 1.0,
        "{}",
        s.text
    );
    assert!(
        s.value(&format!("{P}search_cache_hits_total"), &[]) >= 1.0,
        "{}",
        s.text
    );
    assert_eq!(
        s.value(&format!("{P}search_result_cache_hits_total"), &[]),
        1.0,
        "{}",
        s.text
    );
    assert!(
        s.value(&format!("{P}search_graph_fetches_total"), &[]) >= 2.0,
        "{}",
        s.text
    );
    assert!(
        s.value(&format!("{P}phone_index_numbers"), &[]) > 0.0,
        "{}",
        s.text
    );
    assert!(s.has(&format!("{P}phone_index_age_seconds")), "{}", s.text);
    assert!(s.value(&format!("{P}ldap_connections_accepted_total"), &[]) >= 5.0);
    // Every ldapsearch has closed its connection.
    let mut open = f64::NAN;
    for _ in 0..50 {
        open = Scrape::of(&o)
            .await
            .value(&format!("{P}ldap_connections_open"), &[]);
        if open == 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(open, 0.0);
    assert_eq!(get(o.http(), "/healthz").await, (200, "ok\n".to_string()));
    o.server.shutdown(Duration::from_secs(5)).await;
    o.emu.shutdown().await;
}

#[tokio::test]
async fn connections_over_the_cap_are_counted_as_refused() {
    let tenant = Tenant::sample();
    let (tenant_id, client_id, secret) = (
        tenant.tenant_id.clone(),
        tenant.client_id.clone(),
        tenant.client_secret.clone(),
    );
    let emu = graph_emulator::start(tenant, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut cfg = Config::demo(listen, &emu.base_url(), &tenant_id, &client_id, &secret).unwrap();
    cfg.metrics.listen = vec![listen];
    cfg.ldap.limits.max_connections = 1;
    let (_gw, server, observed) = app::start_observed(&cfg).await.unwrap();
    let o_http = observed.addrs[0];
    let _held = tokio::net::TcpStream::connect(server.ldap_addrs[0])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut second = tokio::net::TcpStream::connect(server.ldap_addrs[0])
        .await
        .unwrap();
    let mut notice = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), second.read_to_end(&mut notice)).await;
    let (_, text) = get(o_http, "/metrics").await;
    let parsed = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let value = |name: &str| {
        parsed
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .map(|s| match s.value {
                prometheus_parse::Value::Untyped(v)
                | prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v) => v,
                _ => 0.0,
            })
            .sum::<f64>()
    };
    assert_eq!(
        value(&format!("{P}ldap_connections_refused_total")),
        1.0,
        "{text}"
    );
    assert_eq!(value(&format!("{P}ldap_connections_open")), 1.0, "{text}");
    server.shutdown(Duration::from_secs(1)).await;
    emu.shutdown().await;
}

#[tokio::test]
async fn a_certificate_credential_exports_its_expiry_in_days() {
    use ldap_graph_gateway::graph::Credential;
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
    // A throw-away certificate valid for 30 days, made for this run only.
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
        ])
        .args(["-subj", "/CN=ldap-graph-gateway-metrics-test", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("the openssl command is installed");
    assert!(made.status.success(), "{made:?}");
    let tenant = Tenant::sample();
    let (tenant_id, client_id) = (tenant.tenant_id.clone(), tenant.client_id.clone());
    let emu = graph_emulator::start(tenant, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut cfg = Config::demo(listen, &emu.base_url(), &tenant_id, &client_id, "unused").unwrap();
    cfg.graph.client.credential = Credential::Certificate {
        cert_file: cert,
        key_file: key,
    };
    cfg.metrics.listen = vec![listen];
    let (_gw, server, observed) = app::start_observed(&cfg).await.unwrap();
    // The emulator cannot verify assertion signatures and refuses them (AADSTS700027),
    // so the expiry is known (read before the request) while no token is.
    let mut last = (0, String::new());
    for _ in 0..50 {
        last = get(observed.addrs[0], "/healthz").await;
        if last.1.contains("700027") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last.0, 503, "{}", last.1);
    assert!(last.1.contains("700027"), "{}", last.1);
    let (_, text) = get(observed.addrs[0], "/metrics").await;
    let parsed = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let days = parsed
        .samples
        .iter()
        .find(|s| {
            s.metric == format!("{P}graph_credential_expiry_days")
                && s.labels.get("credential") == Some("certificate")
        })
        .map(|s| match s.value {
            prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        });
    let days = days.unwrap_or_else(|| panic!("no credential expiry in\n{text}"));
    assert!(days > 29.9 && days <= 30.0, "{days}");
    server.shutdown(Duration::from_secs(1)).await;
    emu.shutdown().await;
}

/// Writes `bytes` on a new connection and reads until the gateway closes it (or 3 s).
async fn send_garbage(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut reply)).await;
    reply
}

/// A client's garbage is its fault, not the server's: each fault is counted under its
/// kind (a closed set), while the gateway answers it as before (protocolError on the
/// message id, or a Notice of Disconnection).
#[tokio::test]
async fn client_faults_are_counted_by_kind() {
    let o = start(|_| {}).await;
    let addr = o.server.ldap_addrs[0];
    let faults = format!("{P}ldap_client_faults_total");
    let before = Scrape::of(&o).await;
    assert_eq!(before.value(&faults, &[]), 0.0, "{}", before.text);

    // Two bind requests without name and credentials on one connection: complete BER,
    // not LDAP. Each is answered protocolError on its id and the connection carries on.
    let bad_bind = |id: u8| [0x30, 0x08, 0x02, 0x01, id, 0x60, 0x03, 0x02, 0x01, 0x03];
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(&[bad_bind(3), bad_bind(4)].concat())
        .await
        .unwrap();
    let mut client = common::raw::RawLdap::from_stream(s);
    for id in [3, 4] {
        match client.recv(Duration::from_secs(5)).await {
            common::raw::Received::Msg(m) => match m.op {
                ldap3_proto::proto::LdapOp::BindResponse(r) => {
                    assert_eq!(m.msgid, id);
                    assert_eq!(r.res.code, ldap3_proto::LdapResultCode::ProtocolError);
                }
                other => panic!("not a bind response: {other:?}"),
            },
            other => panic!("no answer to the bad bind {id}: {other:?}"),
        }
    }
    // A response sent by the client: answered with a notice (protocolError).
    let done = ldap3_proto::proto::LdapResult {
        code: ldap3_proto::LdapResultCode::Success,
        matcheddn: String::new(),
        message: String::new(),
        referral: Vec::new(),
    };
    client
        .send(5, ldap3_proto::proto::LdapOp::SearchResultDone(done))
        .await;
    assert!(matches!(
        client.recv(Duration::from_secs(5)).await,
        common::raw::Received::Msg(_)
    ));
    // Not a SEQUENCE: unframeable, the connection ends with a notice.
    let notice = send_garbage(addr, &[0x42, 0x00, 0x01]).await;
    assert!(!notice.is_empty(), "a Notice of Disconnection");
    // A PDU declaring 2 GiB: over max_message_bytes, refused before it is buffered.
    let notice = send_garbage(addr, &[0x30, 0x84, 0x7f, 0xff, 0xff, 0xff]).await;
    assert!(!notice.is_empty(), "a Notice of Disconnection");

    let after = Scrape::of(&o).await;
    for (kind, n) in [
        ("undecodable_request", 2.0),
        ("unexpected_operation", 1.0),
        ("malformed_ber", 1.0),
        ("oversized_pdu", 1.0),
    ] {
        assert_eq!(
            after.value(&faults, &[("kind", kind)]),
            n,
            "{kind}: {}",
            after.text
        );
    }
    assert_eq!(after.value(&faults, &[]), 5.0, "{}", after.text);
    // Nothing the server itself did wrong: every search still works.
    let out = ldapsearch(&["-x", "-H", &o.url(), "-b", BASE, "(cn=a*)", "cn"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    drop(client);
    o.server.shutdown(Duration::from_secs(1)).await;
    o.emu.shutdown().await;
}

/// A trusted balancer that sends no valid PROXY header, and a client that speaks plain
/// LDAP to the LDAPS port, are client faults of their own kinds.
#[tokio::test]
async fn a_bad_proxy_header_and_a_failed_tls_handshake_are_client_faults() {
    let pki = tls::TestPki::generate();
    let (emu, mut cfg) = common::emulated(Tenant::sample()).await;
    cfg.metrics.listen = vec![SocketAddr::from(([127, 0, 0, 1], 0))];
    cfg.tls = Some(pki.tls_config());
    cfg.ldap.ldaps_listen = vec![tls::loopback_any()];
    let (gw, server, observed) = app::start_observed(&cfg).await.unwrap();
    let o = Observable {
        emu,
        gw,
        server,
        observed,
    };
    let faults = format!("{P}ldap_client_faults_total");
    // Plain LDAP (an anonymous bind) where a TLS ClientHello is expected.
    let bind = [
        0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00,
    ];
    let _ = send_garbage(o.server.ldaps_addrs[0], &bind).await;
    let after = Scrape::of(&o).await;
    assert_eq!(
        after.value(&faults, &[("kind", "tls_handshake")]),
        1.0,
        "{}",
        after.text
    );
    assert_eq!(after.value(&faults, &[]), 1.0, "{}", after.text);
    o.server.shutdown(Duration::from_secs(1)).await;
    o.emu.shutdown().await;

    // A gateway behind a balancer: the balancer's connections must start with a PROXY header.
    let (emu, mut cfg) = common::emulated(Tenant::sample()).await;
    cfg.metrics.listen = vec![SocketAddr::from(([127, 0, 0, 1], 0))];
    cfg.ldap.limits.proxy_protocol = vec!["127.0.0.1".parse().unwrap()];
    let (gw, server, observed) = app::start_observed(&cfg).await.unwrap();
    let o = Observable {
        emu,
        gw,
        server,
        observed,
    };
    let _ = send_garbage(o.server.ldap_addrs[0], b"GET / HTTP/1.0\r\n\r\n").await;
    let after = Scrape::of(&o).await;
    assert_eq!(
        after.value(&faults, &[("kind", "bad_proxy_header")]),
        1.0,
        "{}",
        after.text
    );
    o.server.shutdown(Duration::from_secs(1)).await;
    o.emu.shutdown().await;
}
