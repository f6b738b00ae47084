//! Test harness shared by the integration tests: a sample-tenant Graph emulator and a
//! gateway in front of it on loopback ports, and a runner for the real `ldapsearch`.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use graph_emulator::{EmulatorHandle, Tenant};
use ldap_graph_gateway::app;
use ldap_graph_gateway::config::Config;
use ldap_graph_gateway::ldap::gateway::Gateway;
use ldap_graph_gateway::ldap::server::RunningServer;

pub const BASE: &str = "dc=example,dc=com";

/// A running emulator and gateway.
pub struct Harness {
    pub emu: EmulatorHandle,
    pub gw: Arc<Gateway>,
    pub server: RunningServer,
    pub cfg: Config,
}

impl Harness {
    /// The plain LDAP URL, e.g. `ldap://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("ldap://{}", self.server.ldap_addrs[0])
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.ldap_addrs[0]
    }

    pub async fn stop(self) {
        self.server.shutdown(Duration::from_secs(5)).await;
        self.emu.shutdown().await;
    }
}

/// An emulator serving `tenant` on a loopback port, and the demo configuration against
/// it (LDAP on a free loopback port), before any gateway starts.
pub async fn emulated(tenant: Tenant) -> (EmulatorHandle, Config) {
    let (tenant_id, client_id, secret) = (
        tenant.tenant_id.clone(),
        tenant.client_id.clone(),
        tenant.client_secret.clone(),
    );
    let emu = graph_emulator::start(tenant, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("the Graph emulator starts");
    let listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let cfg = Config::demo(listen, &emu.base_url(), &tenant_id, &client_id, &secret)
        .expect("the demo configuration");
    (emu, cfg)
}

/// [`emulated`] with the configuration changed by `tweak`, and a gateway started on it
/// with its phone index loaded (the tests and the benchmark run this pair).
pub async fn start_with(tenant: Tenant, tweak: impl FnOnce(&mut Config)) -> Harness {
    let (emu, mut cfg) = emulated(tenant).await;
    tweak(&mut cfg);
    let (gw, server) = app::start(&cfg).await.expect("the gateway starts");
    // Tests start from a loaded phone index (a real gateway answers from the spelling
    // pushdown until it is), so the Graph requests they count are their searches'.
    gw.directory
        .phone_index_ready(Duration::from_secs(30))
        .await;
    Harness {
        emu,
        gw,
        server,
        cfg,
    }
}

/// The demo: sample tenant, anonymous search, default settings.
pub async fn start() -> Harness {
    start_with(Tenant::sample(), |_| {}).await
}

/// Output of one `ldapsearch` run.
pub struct LdapSearchOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl LdapSearchOutput {
    /// The DNs of the returned entries, in order.
    pub fn dns(&self) -> Vec<String> {
        parse_ldif(&self.stdout)
            .into_iter()
            .map(|(dn, _)| dn)
            .collect()
    }

    /// The entries as (dn, [(attr, value)]).
    pub fn entries(&self) -> Vec<(String, Vec<(String, String)>)> {
        parse_ldif(&self.stdout)
    }
}

/// Runs the real `ldapsearch` (ldap-utils) with `-LLL -o ldif-wrap=no` and the given
/// arguments, off the async runtime.
pub async fn ldapsearch(args: &[&str]) -> LdapSearchOutput {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = Command::new("ldapsearch")
            .args(["-LLL", "-o", "ldif-wrap=no", "-o", "nettimeout=20"])
            .args(&args)
            .env("LDAPTLS_REQCERT", "never")
            .output()
            .expect("ldapsearch is installed (apt-get install ldap-utils)");
        LdapSearchOutput {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .expect("ldapsearch task")
}

/// Parses `ldapsearch -LLL` output (base64 `::` values decoded, wrapped lines joined).
pub fn parse_ldif(text: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    for l in text.lines() {
        if let Some(cont) = l.strip_prefix(' ')
            && let Some(last) = lines.last_mut()
        {
            last.push_str(cont);
            continue;
        }
        lines.push(l.to_string());
    }
    let mut cur: Option<(String, Vec<(String, String)>)> = None;
    for l in lines {
        if l.is_empty() || l.starts_with('#') {
            if let Some(e) = cur.take() {
                out.push(e);
            }
            continue;
        }
        let (name, value) = if let Some((n, v)) = l.split_once(":: ") {
            (n.to_string(), decode_b64(v))
        } else if let Some((n, v)) = l.split_once(": ") {
            (n.to_string(), v.to_string())
        } else if let Some(n) = l.strip_suffix(':') {
            (n.to_string(), String::new())
        } else {
            continue;
        };
        if name.eq_ignore_ascii_case("dn") {
            if let Some(e) = cur.take() {
                out.push(e);
            }
            cur = Some((value, Vec::new()));
        } else if let Some((_, attrs)) = cur.as_mut() {
            attrs.push((name, value));
        }
    }
    if let Some(e) = cur.take() {
        out.push(e);
    }
    out
}

fn decode_b64(s: &str) -> String {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut bytes = Vec::new();
    for c in s.bytes() {
        let Some(v) = ALPHA.iter().position(|a| *a == c) else {
            continue;
        };
        bits = (bits << 6) | v as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            bytes.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

pub mod raw;
