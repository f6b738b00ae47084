//! The benchmark's server processes: the emulator and the gateway each run in a child
//! process (this same binary re-executed with `--role`), so their CPU is measured apart
//! from each other and from the load generator. A child prints `listening on <url>` when it
//! serves and exits when its stdin closes (the parent exiting or dropping it).

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use graph_emulator::{SAMPLE_CLIENT_ID, SAMPLE_CLIENT_SECRET, SAMPLE_TENANT_ID, Tenant};
use ldap_graph_gateway::config::Config;

/// A child process serving on `url`, killed on drop.
pub struct Server {
    child: Child,
    pub url: String,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The `host:port` of the URL.
    pub fn addr(&self) -> SocketAddr {
        let rest = self.url.split("://").nth(1).expect("a URL");
        rest.trim_end_matches('/').parse().expect("host:port")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How the gateway child answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cache {
    On,
    Off,
}

/// Starts this binary again with `args`, and waits for its `listening on` line.
fn spawn(args: &[String]) -> Server {
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let mut child = Command::new(exe)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the benchmark re-executes itself");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the child's first line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("child {args:?} said {line:?}"))
        .to_string();
    Server { child, url }
}

/// The emulator serving the tenant file `tenant` on a loopback port.
pub fn emulator(tenant: &std::path::Path) -> Server {
    spawn(&[
        "--role".into(),
        "emulator".into(),
        tenant.display().to_string(),
    ])
}

/// A gateway on the emulator at `graph_url`; `max_scan` must cover the whole tenant (the
/// export reads every user).
pub fn gateway(graph_url: &str, cache: Cache, max_scan: u32) -> Server {
    let cache = match cache {
        Cache::On => "on",
        Cache::Off => "off",
    };
    spawn(&[
        "--role".into(),
        "gateway".into(),
        graph_url.into(),
        cache.into(),
        max_scan.to_string(),
    ])
}

/// The configuration the gateway child runs: the demo's (anonymous search, default
/// mapping) with the cache on or off and limits that let the benchmark's load through.
pub fn gateway_config(graph_url: &str, cache_on: bool, max_scan: u32) -> Config {
    let listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut cfg = Config::demo(
        listen,
        graph_url,
        SAMPLE_TENANT_ID,
        SAMPLE_CLIENT_ID,
        SAMPLE_CLIENT_SECRET,
    )
    .expect("the demo configuration");
    if !cache_on {
        // As benches/search.rs: no cache and no coalescing, every search asks Graph.
        cfg.search.cache_ttl_secs = 0;
        cfg.search.coalesce = false;
    }
    cfg.search.max_scan = max_scan;
    cfg.ldap.limits.size_limit = max_scan;
    // The export reads a 100,000-user tenant in one search.
    cfg.ldap.limits.time_limit_secs = 900;
    cfg.ldap.limits.max_connections = 4096;
    cfg.ldap.limits.max_connections_per_client = 4096;
    cfg
}

/// Runs the child role named by `args` (after `--role`) if there is one; returns false
/// when this process is the benchmark itself.
pub fn run_role(args: &[String]) -> bool {
    let Some(at) = args.iter().position(|a| a == "--role") else {
        return false;
    };
    let rest = &args[at + 1..];
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    rt.block_on(async {
        match rest.first().map(String::as_str) {
            Some("emulator") => {
                let text = std::fs::read_to_string(&rest[1]).expect("the tenant file");
                let tenant = Tenant::from_json(&text).expect("a tenant file");
                let emu = graph_emulator::start(tenant, SocketAddr::from(([127, 0, 0, 1], 0)))
                    .await
                    .expect("the emulator starts");
                println!("listening on {}", emu.base_url());
                wait_for_stdin_eof().await;
                emu.shutdown().await;
            }
            Some("gateway") => {
                let cfg = gateway_config(&rest[1], rest[2] == "on", rest[3].parse().expect("n"));
                let (gw, server) = ldap_graph_gateway::app::start(&cfg)
                    .await
                    .expect("the gateway starts");
                gw.directory
                    .phone_index_ready(Duration::from_secs(300))
                    .await;
                println!("listening on ldap://{}", server.ldap_addrs[0]);
                wait_for_stdin_eof().await;
                server.shutdown(Duration::from_secs(2)).await;
            }
            other => panic!("unknown role {other:?}"),
        }
    });
    true
}

async fn wait_for_stdin_eof() {
    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await;
}
