//! Two gateway processes (the built binary, `serve`) on one Graph
//! emulator behind a real HAProxy in TCP mode with `send-proxy-v2` and health checks
//! against each gateway's `/healthz` (its `[metrics]` listener). Several clients search continuously through HAProxy; one gateway is
//! killed (SIGKILL) mid-run. Only searches in flight on the killed instance may fail, and
//! every later search succeeds. Loopback only, bounded in time; skipped, saying so, when
//! HAProxy is not installed (scripts/test installs it).

mod common;
#[path = "support/tenant.rs"]
mod tenant;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::raw::{self, RawLdap, Received};
use graph_emulator::Tenant;
use ldap3_proto::LdapResultCode;
use ldap3_proto::proto::LdapOp;
use tenant::*;
use tokio::net::TcpStream;

const BIN: &str = env!("CARGO_BIN_EXE_ldap-graph-gateway");
const CLIENTS: usize = 6;

fn haproxy() -> Option<PathBuf> {
    let installed = Path::new("/usr/sbin/haproxy");
    if installed.exists() {
        return Some(installed.to_path_buf());
    }
    let found = Command::new("sh")
        .args(["-c", "command -v haproxy"])
        .output()
        .ok()?;
    let path = String::from_utf8_lossy(&found.stdout).trim().to_string();
    (!path.is_empty()).then(|| PathBuf::from(path))
}

fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

/// A child process killed when the test ends, however it ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_gateway(
    dir: &Path,
    name: &str,
    (listen, health): (SocketAddr, SocketAddr),
    graph_url: &str,
) -> Reaped {
    let t = Tenant::sample();
    let text = format!(
        r#"
[ldap]
listen = ["{listen}"]
base_dn = "dc=example,dc=com"
allow_anonymous = true
# HAProxy connects from loopback and names each client in a PROXY v2 header.
proxy_protocol = ["127.0.0.1"]

[graph]
tenant_id = "{tenant}"
client_id = "{client}"
client_secret = "{secret}"
login_url = "{graph_url}"
graph_url = "{graph_url}"

[metrics]
listen = ["{health}"]
"#,
        tenant = t.tenant_id,
        client = t.client_id,
        secret = t.client_secret,
    );
    let cfg = dir.join(format!("{name}.toml"));
    std::fs::write(&cfg, text).expect("write config");
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).expect("log");
    Reaped(
        Command::new(BIN)
            .args(["serve", "-c"])
            .arg(&cfg)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("serve runs"),
    )
}

/// HAProxy in front of two gateways, `(ldap, metrics)` addresses each; the health check
/// is HTTP `GET /healthz` on the metrics port (so it carries no PROXY header).
fn haproxy_cfg(
    front: SocketAddr,
    (g1, h1): (SocketAddr, SocketAddr),
    (g2, h2): (SocketAddr, SocketAddr),
) -> String {
    format!(
        r#"global
    maxconn 256

defaults
    mode tcp
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout check 2s
    # A connection refused by a dead gateway is retried on the other one.
    retries 3
    option redispatch 1

frontend ldap
    bind {front}
    default_backend gateways

backend gateways
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server send-proxy-v2 check inter 300ms fall 2 rise 1
    server g1 {g1} check port {p1}
    server g2 {g2} check port {p2}
"#,
        p1 = h1.port(),
        p2 = h2.port(),
    )
}

/// One search's outcome on one client connection.
#[derive(Debug, Clone)]
struct Outcome {
    /// Serial number of the client connection it ran on.
    conn: usize,
    /// When that connection was opened.
    opened: Instant,
    started: Instant,
    failure: Option<String>,
}

/// One search through the balancer: Ok with its entries' DNs, or why it failed.
async fn one_search(c: &mut RawLdap, id: i32) -> Result<Vec<String>, String> {
    c.send(id, raw::search_eq(USERS_OU, "sn", "Bowen", &["cn"]))
        .await;
    let mut msgs = Vec::new();
    loop {
        match c.recv(Duration::from_secs(10)).await {
            Received::Msg(m) => {
                let done = m.msgid == id && matches!(m.op, LdapOp::SearchResultDone(_));
                msgs.push(*m);
                if done {
                    break;
                }
            }
            other => return Err(format!("{other:?} after {} messages", msgs.len())),
        }
    }
    match raw::search_done(&msgs, id) {
        Some(r) if r.code == LdapResultCode::Success => Ok(raw::entry_dns(&msgs, id)),
        other => Err(format!("search ended {other:?}")),
    }
}

async fn client(
    front: SocketAddr,
    serials: Arc<Mutex<usize>>,
    log: Arc<Mutex<Vec<Outcome>>>,
    stop: tokio_util::sync::CancellationToken,
    want: Vec<Person>,
) {
    let mut id = 0;
    while !stop.is_cancelled() {
        let conn = {
            let mut s = serials.lock().unwrap();
            *s += 1;
            *s
        };
        let opened = Instant::now();
        let mut c = match TcpStream::connect(front).await {
            Ok(s) => RawLdap::from_stream(s),
            Err(e) => {
                log.lock().unwrap().push(Outcome {
                    conn,
                    opened,
                    started: opened,
                    failure: Some(format!("connect: {e}")),
                });
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        while !stop.is_cancelled() {
            id += 1;
            let started = Instant::now();
            let failure = match one_search(&mut c, id).await {
                Ok(dns) => same_entries("search through haproxy", &dns, &want).err(),
                Err(e) => Some(e),
            };
            let failed = failure.is_some();
            log.lock().unwrap().push(Outcome {
                conn,
                opened,
                started,
                failure,
            });
            if failed {
                break;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_gateways_behind_haproxy_survive_one_being_killed_mid_run() {
    let Some(haproxy) = haproxy() else {
        eprintln!(
            "SKIPPED two_gateways_behind_haproxy: haproxy is not installed (scripts/test installs it)"
        );
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    let emu = graph_emulator::start(Tenant::sample(), SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("emulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let (g1, g2, front) = (
        (free_port(), free_port()),
        (free_port(), free_port()),
        free_port(),
    );
    let mut first = start_gateway(dir.path(), "g1", g1, &emu.base_url());
    let _second = start_gateway(dir.path(), "g2", g2, &emu.base_url());
    let cfg = dir.path().join("haproxy.cfg");
    std::fs::write(&cfg, haproxy_cfg(front, g1, g2)).expect("write haproxy.cfg");
    let checked = Command::new(&haproxy)
        .arg("-c")
        .arg("-f")
        .arg(&cfg)
        .output()
        .expect("haproxy -c");
    assert!(
        checked.status.success(),
        "haproxy refuses the configuration: {}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let _balancer = Reaped(
        Command::new(&haproxy)
            .arg("-db")
            .arg("-f")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("haproxy.log")).expect("log"))
            .spawn()
            .expect("haproxy runs"),
    );
    let logs = || {
        ["g1.log", "g2.log", "haproxy.log"]
            .iter()
            .map(|f| {
                format!(
                    "--- {f}\n{}",
                    std::fs::read_to_string(dir.path().join(f)).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
            + &format!("\n(dir {})", dir.path().display())
    };
    // Both gateways answer directly (through a PROXY header) and through HAProxy.
    let want = matching(&users(&Tenant::sample()), |p| eq(p, "sn", "Bowen"));
    for addr in [g1.0, g2.0] {
        let mut up = false;
        while !up && Instant::now() < deadline {
            up = TcpStream::connect(addr).await.is_ok();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(up, "gateway {addr} did not start:\n{}", logs());
    }
    // Through HAProxy once its health checks pass.
    let mut probed = Err(String::new());
    while probed.is_err() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut probe =
            RawLdap::from_stream(TcpStream::connect(front).await.expect("haproxy listens"));
        probed = one_search(&mut probe, 1).await;
    }
    let dns = probed.unwrap_or_else(|e| panic!("no search through haproxy: {e}\n{}", logs()));
    assert_same_entries("through haproxy", &dns, &want);

    let serials = Arc::new(Mutex::new(0));
    let log = Arc::new(Mutex::new(Vec::new()));
    let stop = tokio_util::sync::CancellationToken::new();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        tasks.push(tokio::spawn(client(
            front,
            serials.clone(),
            log.clone(),
            stop.clone(),
            want.clone(),
        )));
    }
    // Mid-run: every client has searched a few times, then g1 dies without warning.
    loop {
        let ok = log
            .lock()
            .unwrap()
            .iter()
            .filter(|o| o.failure.is_none())
            .count();
        if ok >= CLIENTS * 10 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let killed_at = Instant::now();
    first.0.kill().expect("kill g1");
    let _ = first.0.wait();
    // SIGKILL is not instant: until the process is reaped its listener still takes
    // connections (HAProxy sends new ones there until its health check fails), and
    // those die with it. The window in which g1 is dying ends here.
    let dead_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.cancel();
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(20), t)
            .await
            .expect("clients end")
            .expect("client");
    }
    let outcomes = log.lock().unwrap().clone();
    let before = outcomes.iter().filter(|o| o.started < killed_at).count();
    eprintln!("g1 took {:?} to die after SIGKILL", dead_at - killed_at);
    let failures: Vec<&Outcome> = outcomes.iter().filter(|o| o.failure.is_some()).collect();
    // The close of a killed gateway's connection reaches the client through HAProxy within
    // moments; a search sent in that instant on such a connection was in flight on it.
    let relay = Duration::from_millis(300);
    for f in &failures {
        assert!(
            f.opened < dead_at && f.started < dead_at + relay,
            "a search failed that was not in flight on the killed gateway: {f:?}\nall failures: {failures:?}\n{}",
            logs()
        );
    }
    let failed_conns: std::collections::BTreeSet<usize> = failures.iter().map(|f| f.conn).collect();
    assert_eq!(
        failed_conns.len(),
        failures.len(),
        "a connection failed twice: {failures:?}"
    );
    // Round robin put half the connections open at the kill on g1; besides those, only
    // connections opened while g1 was dying may have reached it.
    let opened_while_dying: std::collections::BTreeSet<usize> = outcomes
        .iter()
        .filter(|o| o.opened >= killed_at && o.opened < dead_at + relay)
        .map(|o| o.conn)
        .collect();
    assert!(
        failed_conns.len() <= CLIENTS / 2 + opened_while_dying.len(),
        "more connections failed than g1 held: {failures:?}"
    );
    assert!(
        !failures.is_empty(),
        "killing g1 mid-run interrupted no search (was it serving?)"
    );
    let later: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.started >= dead_at + relay)
        .collect();
    assert!(
        later.len() >= CLIENTS * 5,
        "too few searches after the kill ({}): did the clients stall?\n{}",
        later.len(),
        logs()
    );
    assert!(later.iter().all(|o| o.failure.is_none()));
    eprintln!(
        "haproxy: {before} searches before the kill, {} after it, {} failed (in flight on g1)",
        later.len(),
        failures.len()
    );
    emu.shutdown().await;
}
