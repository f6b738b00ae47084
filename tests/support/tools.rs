//! Runners for the OpenLDAP command-line tools the replays need beyond the harness's
//! `ldapsearch` (ldapmodify, ldapwhoami, ldapsearch with a TLS environment), and a raw
//! BER client for malformed-input tests. Nothing here knows the gateway's internals.
#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Exit code and output of one tool run.
pub struct ToolOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs an OpenLDAP tool with `args`, extra environment and optional stdin, off the
/// async runtime. `LDAPTLS_REQCERT=never` unless `env` says otherwise.
pub async fn run(
    tool: &str,
    args: &[&str],
    env: &[(String, String)],
    stdin: Option<&str>,
) -> ToolOutput {
    let tool = tool.to_string();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let env = env.to_vec();
    let stdin = stdin.map(str::to_string);
    tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(&tool);
        cmd.args(&args)
            .env("LDAPTLS_REQCERT", "never")
            .env_remove("LDAPTLS_CACERT")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("{tool} is installed (apt-get install ldap-utils): {e}"));
        if let Some(text) = stdin {
            let mut pipe = child.stdin.take().expect("stdin pipe");
            pipe.write_all(text.as_bytes()).expect("write stdin");
        }
        let out = child.wait_with_output().expect("tool runs");
        ToolOutput {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .expect("tool task")
}

/// `ldapsearch -LLL -o ldif-wrap=no` with an explicit TLS environment.
pub async fn ldapsearch_env(args: &[&str], env: &[(String, String)]) -> ToolOutput {
    let mut all = vec!["-LLL", "-o", "ldif-wrap=no", "-o", "nettimeout=20"];
    all.extend_from_slice(args);
    run("ldapsearch", &all, env, None).await
}

// ---------------------------------------------------------------------------------------
// Minimal BER for raw-socket tests (RFC 4511 §4.1.1 LDAPMessage framing).

/// Encodes a BER length.
pub fn ber_len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        vec![n as u8]
    } else {
        let bytes = (n as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let mut out = vec![0x80 | (4 - skip) as u8];
        out.extend_from_slice(&bytes[skip..]);
        out
    }
}

/// One TLV.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(ber_len(content.len()));
    out.extend_from_slice(content);
    out
}

/// An LDAPMessage with `msgid` around an already encoded protocolOp.
pub fn ldap_message(msgid: u8, op: &[u8]) -> Vec<u8> {
    let mut inner = tlv(0x02, &[msgid]);
    inner.extend_from_slice(op);
    tlv(0x30, &inner)
}

/// An anonymous LDAPv3 simple bind request.
pub fn anonymous_bind(msgid: u8) -> Vec<u8> {
    let mut op = tlv(0x02, &[3]);
    op.extend(tlv(0x04, b""));
    op.extend(tlv(0x80, b""));
    ldap_message(msgid, &tlv(0x60, &op))
}

/// A decoded response: message id, protocolOp tag and, for results, the resultCode.
#[derive(Debug, Clone, PartialEq)]
pub struct RawResponse {
    pub msgid: i64,
    pub op_tag: u8,
    pub result_code: Option<i64>,
}

fn read_len(buf: &[u8], pos: &mut usize) -> Option<usize> {
    let first = *buf.get(*pos)?;
    *pos += 1;
    if first < 0x80 {
        return Some(first as usize);
    }
    let n = (first & 0x7f) as usize;
    let mut len = 0usize;
    for _ in 0..n {
        len = (len << 8) | *buf.get(*pos)? as usize;
        *pos += 1;
    }
    Some(len)
}

fn read_int(buf: &[u8], pos: &mut usize) -> Option<i64> {
    if *buf.get(*pos)? != 0x02 && *buf.get(*pos)? != 0x0a {
        return None;
    }
    *pos += 1;
    let len = read_len(buf, pos)?;
    let bytes = buf.get(*pos..*pos + len)?;
    *pos += len;
    let mut v: i64 = if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        -1
    } else {
        0
    };
    for b in bytes {
        v = (v << 8) | *b as i64;
    }
    Some(v)
}

/// Parses one complete LDAPMessage from the front of `buf`: (response, bytes used).
pub fn parse_response(buf: &[u8]) -> Option<(RawResponse, usize)> {
    let mut pos = 0;
    if *buf.first()? != 0x30 {
        return None;
    }
    pos += 1;
    let len = read_len(buf, &mut pos)?;
    let end = pos + len;
    if buf.len() < end {
        return None;
    }
    let msgid = read_int(buf, &mut pos)?;
    let op_tag = *buf.get(pos)?;
    pos += 1;
    let _op_len = read_len(buf, &mut pos)?;
    // Results (bind, search done, modify, ..., extended) start with the resultCode.
    let result_code = if matches!(
        op_tag,
        0x61 | 0x65 | 0x67 | 0x69 | 0x6b | 0x6d | 0x6f | 0x78
    ) {
        read_int(buf, &mut pos)
    } else {
        None
    };
    Some((
        RawResponse {
            msgid,
            op_tag,
            result_code,
        },
        end,
    ))
}

/// Reads responses until one complete message arrives, the peer closes, or `wait` passes.
/// Returns `None` on close or timeout.
pub async fn read_response(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    wait: Duration,
) -> Option<RawResponse> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if let Some((resp, used)) = parse_response(buf) {
            buf.drain(..used);
            return Some(resp);
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout_at(deadline, stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Sends bytes on a raw connection.
pub async fn send(stream: &mut TcpStream, bytes: &[u8]) {
    stream.write_all(bytes).await.expect("write to the gateway");
}

// ---------------------------------------------------------------------------------------
// The ldap3 client crate.

/// Opens an ldap3 connection and drives it on the runtime.
pub async fn ldap3_connect(url: &str, settings: ldap3::LdapConnSettings) -> ldap3::Ldap {
    let (conn, ldap) = ldap3::LdapConnAsync::with_settings(settings, url)
        .await
        .unwrap_or_else(|e| panic!("ldap3 connects to {url}: {e}"));
    tokio::spawn(async move {
        let _ = conn.drive().await;
    });
    ldap
}

/// A plain ldap3 connection with a 20 s operation timeout.
pub async fn ldap3_plain(url: &str) -> ldap3::Ldap {
    let mut ldap = ldap3_connect(
        url,
        ldap3::LdapConnSettings::new().set_conn_timeout(Duration::from_secs(10)),
    )
    .await;
    ldap.with_timeout(Duration::from_secs(20));
    ldap
}

/// Runs an ldap3 search and returns (DNs in order, entries, result code).
pub async fn ldap3_search(
    ldap: &mut ldap3::Ldap,
    base: &str,
    scope: ldap3::Scope,
    filter: &str,
    attrs: &[&str],
) -> (Vec<String>, Vec<ldap3::SearchEntry>, u32) {
    let ldap3::SearchResult(raw, res) = ldap
        .search(base, scope, filter, attrs.to_vec())
        .await
        .unwrap_or_else(|e| panic!("ldap3 search {filter}: {e}"));
    let entries: Vec<ldap3::SearchEntry> =
        raw.into_iter().map(ldap3::SearchEntry::construct).collect();
    (
        entries.iter().map(|e| e.dn.clone()).collect(),
        entries,
        res.rc,
    )
}

/// Requests the emulator saw to `/users` (and `/users/{id}`) since its last stats reset.
pub fn users_requests(emu: &graph_emulator::EmulatorHandle) -> usize {
    emu.request_log()
        .iter()
        .filter(|line| line.contains("/v1.0/users"))
        .count()
}

/// The first window of an `ldapsearch -E vlv=...` run. ldapsearch prompts for the next
/// window after each one and, at end of input, keeps paging until the server reports an
/// error; answering the prompt with something it cannot parse (`q`) makes it stop (exit 1)
/// after the first window, as a user would.
pub struct VlvWindow {
    /// ldapsearch's exit code: 1 after a successful first window, else the result code.
    pub code: i32,
    pub dns: Vec<String>,
    /// The `# vlvResultpos=P count=C context= (R) ...` line, if the server sent the control.
    pub vlv_result: Option<String>,
    pub stderr: String,
}

pub async fn ldapsearch_vlv_first_window(args: &[&str]) -> VlvWindow {
    let mut all = vec!["-LLL", "-o", "ldif-wrap=no", "-o", "nettimeout=20"];
    all.extend_from_slice(args);
    let out = run("ldapsearch", &all, &[], Some("q\n")).await;
    let first = out.stdout.split("Press [").next().unwrap_or("").to_string();
    let dns = crate::common::parse_ldif(&first)
        .into_iter()
        .map(|(dn, _)| dn)
        .collect();
    let vlv_result = first
        .lines()
        .find(|l| l.starts_with("# vlvResult"))
        .map(str::to_string);
    VlvWindow {
        code: out.code,
        dns,
        vlv_result,
        stderr: out.stderr,
    }
}
