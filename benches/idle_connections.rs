//! Memory per held connection: the built gateway (`serve`, its own process, on the in-tree
//! Graph emulator) and OpenLDAP slapd on the same machine each hold N client connections,
//! idle and then after an anonymous bind and one search; the growth of their resident set
//! (VmRSS) per connection is printed with the ratio. Run: `cargo bench --bench idle_connections`
//! (10,000 connections; `-- --connections 2000` for another count; `GATEWAY_BIN=<path>` to
//! measure another build of the binary). Knows the gateway only from outside: its binary,
//! its configuration file and its LDAP port.

#[path = "../tests/common/mod.rs"]
mod common;
#[allow(dead_code)]
#[path = "../tests/support/slapd.rs"]
mod slapd;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::raw::{self, RawLdap};
use graph_emulator::Tenant;
use ldap3_proto::LdapResultCode;
use tokio::net::TcpStream;

/// The binary cargo built with this benchmark (its profile: release under `cargo bench`).
const BIN: &str = env!("CARGO_BIN_EXE_ldap-graph-gateway");
const BASE: &str = "dc=example,dc=com";
/// An entry both servers hold: the sample tenant's user, and the one slapd is loaded with.
const MAIL: &str = "megan.bowen@example.com";

/// A child process killed when the benchmark ends, however it ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Resident set size of a process in KiB (`VmRSS` of /proc/<pid>/status).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

/// Sockets a process holds open: its accepted connections plus its listeners.
fn sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    std::fs::read_link(e.path())
                        .is_ok_and(|t| t.to_string_lossy().starts_with("socket:"))
                })
                .count()
        })
        .unwrap_or(0)
}

/// Raises this process's open-file limit (inherited by the servers it starts) to the hard
/// limit, and fails clearly when that is too low for `needed` descriptors.
fn raise_nofile(needed: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        lim.rlim_cur = lim.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
    }
    assert!(
        lim.rlim_cur >= needed,
        "RLIMIT_NOFILE hard limit {} is below the {needed} descriptors needed (raise it, or pass --connections)",
        lim.rlim_cur
    );
}

/// Waits until the server process `pid` holds `want` sockets (it has accepted every
/// connection), then a little longer for its allocations to settle.
async fn accepted(pid: u32, want: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while sockets(pid) < want {
        assert!(
            Instant::now() < deadline,
            "server holds {} sockets, expected {want}",
            sockets(pid)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
}

/// What one server cost.
struct Cost {
    before_kib: u64,
    idle_kib: u64,
    used_kib: u64,
    n: usize,
}

impl Cost {
    fn idle_per_conn(&self) -> f64 {
        (self.idle_kib as f64 - self.before_kib as f64) * 1024.0 / self.n as f64
    }

    fn used_per_conn(&self) -> f64 {
        (self.used_kib as f64 - self.before_kib as f64) * 1024.0 / self.n as f64
    }

    fn print(&self, name: &str) {
        println!(
            "{name:<8} RSS before {:>8} KiB, {} idle {:>8} KiB ({:>7.0} B/conn), after bind+search {:>8} KiB ({:>7.0} B/conn)",
            self.before_kib,
            self.n,
            self.idle_kib,
            self.idle_per_conn(),
            self.used_kib,
            self.used_per_conn()
        );
    }
}

/// Opens `n` connections to `addr` and measures `pid` before, with them idle, and after
/// each did an anonymous bind and one search by mail (expecting one entry).
async fn measure(pid: u32, addr: SocketAddr, n: usize) -> Cost {
    // Warm the server up with the same work once, so that lazily built shared state (caches,
    // the token, the phone index) is in the "before" figure, not in the per-connection one.
    let mut warm = RawLdap::connect(addr).await;
    bind_and_search(&mut warm).await;
    drop(warm);
    let base_sockets = {
        tokio::time::sleep(Duration::from_millis(300)).await;
        sockets(pid)
    };
    let before_kib = rss_kib(pid);
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        conns.push(
            TcpStream::connect(addr)
                .await
                .unwrap_or_else(|e| panic!("connect to {addr}: {e}")),
        );
    }
    accepted(pid, base_sockets + n).await;
    let idle_kib = rss_kib(pid);
    // Bind and search on every connection, a few dozen at a time.
    let mut clients: Vec<RawLdap> = conns.into_iter().map(RawLdap::from_stream).collect();
    let chunk = n.div_ceil(32).max(1);
    let mut tasks = Vec::new();
    while !clients.is_empty() {
        let mut part = clients.split_off(clients.len().saturating_sub(chunk));
        tasks.push(tokio::spawn(async move {
            for c in &mut part {
                bind_and_search(c).await;
            }
            part
        }));
    }
    for t in tasks {
        clients.extend(t.await.expect("client task"));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let used_kib = rss_kib(pid);
    drop(clients);
    Cost {
        before_kib,
        idle_kib,
        used_kib,
        n,
    }
}

async fn bind_and_search(c: &mut RawLdap) {
    let res = c.bind(1, "", "").await;
    assert_eq!(res.code, LdapResultCode::Success, "anonymous bind: {res:?}");
    c.send(2, raw::search_eq(BASE, "mail", MAIL, &["cn", "mail"]))
        .await;
    let msgs = c.search_until_done(2).await;
    assert_eq!(raw::entry_dns(&msgs, 2).len(), 1, "one entry for {MAIL}");
    let done = raw::search_done(&msgs, 2).expect("SearchResultDone");
    assert_eq!(done.code, LdapResultCode::Success, "{done:?}");
}

fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

/// The gateway binary serving the emulator at `graph_url`, with connection caps above `n`,
/// metrics on `metrics` and the default logging (info).
fn start_gateway(
    dir: &Path,
    (listen, metrics): (SocketAddr, SocketAddr),
    graph_url: &str,
    n: usize,
) -> Reaped {
    let t = Tenant::sample();
    let cap = n + 100;
    let text = format!(
        r#"
[ldap]
listen = ["{listen}"]
base_dn = "{BASE}"
allow_anonymous = true
max_connections = {cap}
max_connections_per_client = {cap}

[graph]
tenant_id = "{tenant}"
client_id = "{client}"
client_secret = "{secret}"
login_url = "{graph_url}"
graph_url = "{graph_url}"

[metrics]
listen = ["{metrics}"]
"#,
        tenant = t.tenant_id,
        client = t.client_id,
        secret = t.client_secret,
    );
    let cfg = dir.join("gateway.toml");
    std::fs::write(&cfg, text).expect("write config");
    let log = std::fs::File::create(dir.join("gateway.log")).expect("log");
    Reaped(
        Command::new(std::env::var_os("GATEWAY_BIN").unwrap_or_else(|| BIN.into()))
            .args(["serve", "-c"])
            .arg(&cfg)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("serve runs"),
    )
}

/// Waits until the gateway's phone index is loaded (its `phone_index_objects` gauge is
/// set), so that its memory is in the "before" figure and not spread over the connections.
async fn wait_index_loaded(metrics: SocketAddr) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut text = String::new();
        if let Ok(mut s) = TcpStream::connect(metrics).await {
            let req =
                format!("GET /metrics HTTP/1.1\r\nHost: {metrics}\r\nConnection: close\r\n\r\n");
            if s.write_all(req.as_bytes()).await.is_ok() {
                let _ = s.read_to_string(&mut text).await;
            }
        }
        let loaded = text.lines().any(|l| {
            l.strip_prefix("ldap_graph_gateway_phone_index_objects ")
                .and_then(|v| v.trim().parse::<f64>().ok())
                .is_some_and(|v| v > 0.0)
        });
        if loaded {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the phone index did not load: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_listening(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(addr).await.is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {addr}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const SLAPD_LDIF: &str = "dn: dc=example,dc=com
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: cn=Megan Bowen,dc=example,dc=com
objectClass: inetOrgPerson
cn: Megan Bowen
sn: Bowen
mail: megan.bowen@example.com
";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without
    // it, and then a couple of hundred connections show the benchmark still works.
    let args: Vec<String> = std::env::args().collect();
    let n: usize = match args.iter().position(|a| a == "--connections") {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .expect("--connections N"),
        None if args.iter().any(|a| a == "--bench") => 10_000,
        None => 200,
    };
    raise_nofile(n as u64 + 200);

    let dir = tempfile::tempdir().expect("temp dir");
    let t = Tenant::sample();
    let emu = graph_emulator::start(t, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("the Graph emulator starts");
    let (listen, metrics) = (free_port(), free_port());
    let gateway = start_gateway(dir.path(), (listen, metrics), &emu.base_url(), n);
    wait_listening(listen).await;
    wait_index_loaded(metrics).await;
    let gw = measure(gateway.0.id(), listen, n).await;
    drop(gateway);
    emu.shutdown().await;
    gw.print("gateway");

    let slapd = slapd::Slapd::start(&slapd::SlapdSetup {
        suffix: BASE,
        extra_schemas: Vec::new(),
        ldif: SLAPD_LDIF,
    });
    match slapd {
        Ok(s) => {
            let addr: SocketAddr = s
                .url()
                .trim_start_matches("ldap://")
                .parse()
                .expect("slapd address");
            let sl = measure(s.pid(), addr, n).await;
            sl.print("slapd");
            println!(
                "gateway / slapd per connection: idle {:.2}, after bind+search {:.2}",
                gw.idle_per_conn() / sl.idle_per_conn(),
                gw.used_per_conn() / sl.used_per_conn()
            );
        }
        // The gateway's figure stands on its own; slapd is the reference when installed.
        Err(e) => println!("slapd not measured: {e}"),
    }
    // The bound of docs/operations.md, for a measurement large enough to mean something
    // (a few hundred connections on a debug build, as `cargo test` runs it, do not).
    if args.iter().any(|a| a == "--bench") && n >= 5_000 {
        assert!(
            gw.idle_per_conn() <= 10_240.0,
            "an idle connection costs {:.0} B, over the 10 KiB bound",
            gw.idle_per_conn()
        );
    }
}
