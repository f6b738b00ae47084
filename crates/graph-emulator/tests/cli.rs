//! The `graph-emulator` command end to end: `generate` writes a tenant file, `serve` prints the
//! credentials and `listening on http://ADDR`, answers Graph requests from the file and stops on
//! SIGTERM. Drives the built binary; knows nothing of the library's insides.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

/// Kills the server if the test fails before stopping it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const BIN: &str = env!("CARGO_BIN_EXE_graph-emulator");

fn request(addr: &str, head: &str, body: &str) -> (u16, serde_json::Value) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{head}\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let status = reply[9..12].parse().unwrap();
    let (_, json) = reply.split_once("\r\n\r\n").unwrap();
    (status, serde_json::from_str(json).unwrap())
}

#[test]
fn generates_serves_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("graph-emulator-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tenant.json");
    let generated = Command::new(BIN)
        .args(["generate", "--users", "1500", "--contacts", "4", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(generated.status.success(), "{generated:?}");
    let bad = Command::new(BIN)
        .args(["generate", "--users", "x"])
        .output();
    assert!(!bad.unwrap().status.success());

    let mut child = Running(
        Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--tenant"])
            .arg(&file)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    let base = loop {
        let line = lines.next().expect("serve ended early").unwrap();
        if let Some(url) = line.strip_prefix("listening on ") {
            break url.to_string();
        }
        printed.push(line);
    };
    let value = |key: &str| {
        printed
            .iter()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {key} in {printed:?}"))
            .to_string()
    };
    let (tenant, client, secret) = (
        value("tenant_id"),
        value("client_id"),
        value("client_secret"),
    );
    let addr = base.strip_prefix("http://").unwrap().to_string();

    let scope = format!("{base}/.default")
        .replace(':', "%3A")
        .replace('/', "%2F");
    let form = format!(
        "grant_type=client_credentials&client_id={client}&client_secret={secret}&scope={scope}"
    );
    let (status, token) = request(
        &addr,
        &format!(
            "POST /{tenant}/oauth2/v2.0/token HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded"
        ),
        &form,
    );
    assert_eq!(status, 200, "{token}");
    let token = token["access_token"].as_str().unwrap();
    let get = |target: &str| {
        request(
            &addr,
            &format!("GET {target} HTTP/1.1\r\nAuthorization: Bearer {token}"),
            "",
        )
    };
    let (status, page) = get("/v1.0/users?$filter=startsWith(displayName,%27USER0012%27)");
    assert_eq!(status, 200, "{page}");
    let names: Vec<&str> = page["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["displayName"].as_str().unwrap())
        .collect();
    let want: Vec<String> = (120..130).map(|i| format!("user{i:05}")).collect();
    assert_eq!(names, want);
    let (status, page) = get("/v1.0/contacts");
    assert_eq!(status, 200);
    assert_eq!(page["value"].as_array().unwrap().len(), 4);
    // Strict like the in-process emulator: mobilePhone needs the advanced parameters.
    let (status, _) = get("/v1.0/users?$filter=mobilePhone%20eq%20%27x%27");
    assert_eq!(status, 400);

    let killed = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let exit = child.0.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
