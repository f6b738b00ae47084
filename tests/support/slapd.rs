//! A throwaway OpenLDAP `slapd` for the differential test: a temporary directory with an
//! old-style `slapd.conf`, an mdb database filled by `slapadd`, and the server as a child
//! process on a free loopback port, killed on drop. It knows nothing of the gateway.

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's slapd package keeps the stock schema files.
const SCHEMA_DIR: &str = "/etc/ldap/schema";

/// Debian installs the server tools in /usr/sbin, which is not on every user's PATH.
fn sbin(tool: &str) -> PathBuf {
    let in_sbin = Path::new("/usr/sbin").join(tool);
    if in_sbin.exists() {
        in_sbin
    } else {
        PathBuf::from(tool)
    }
}

/// The stock schema files the contract's attribute types come from (RFC 4519, 4524, 2798).
const STOCK_SCHEMAS: [&str; 3] = ["core", "cosine", "inetorgperson"];

/// A running slapd holding one suffix.
pub struct Slapd {
    /// Kept alive for the server's lifetime; removed on drop.
    _dir: tempfile::TempDir,
    child: Child,
    port: u16,
}

/// What the server is made of.
pub struct SlapdSetup<'a> {
    /// The database suffix, e.g. `dc=example,dc=com`.
    pub suffix: &'a str,
    /// Schema text appended after core, cosine and inetorgperson (slapd `.schema` syntax).
    pub extra_schemas: Vec<(&'a str, String)>,
    /// The entries, as LDIF (RFC 2849), loaded with `slapadd` before the server starts.
    pub ldif: &'a str,
}

impl Slapd {
    /// Writes the configuration and schema, loads the LDIF and starts slapd; returns once
    /// it answers a root DSE search. Retries on another port if the chosen one was taken.
    pub fn start(setup: &SlapdSetup<'_>) -> Result<Slapd, String> {
        Slapd::start_tuned(setup, DEFAULT_DATABASE_LINES)
    }

    /// [`Slapd::start`] with `database_lines` (slapd.conf(5) lines of the mdb database, e.g.
    /// `maxsize` and `index` directives) instead of the default 64 MiB map.
    pub fn start_tuned(setup: &SlapdSetup<'_>, database_lines: &str) -> Result<Slapd, String> {
        let dir = tempfile::Builder::new()
            .prefix("differential-slapd-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let conf = write_config(dir.path(), setup, database_lines)?;
        slapadd(&conf, dir.path(), setup.ldif)?;
        let mut last_error = String::new();
        for _attempt in 0..3 {
            let port = free_port()?;
            match launch(&conf, dir.path(), port) {
                Ok(child) => {
                    return Ok(Slapd {
                        _dir: dir,
                        child,
                        port,
                    });
                }
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    /// `ldap://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// The server's process id (benches/idle_connections.rs reads its memory and
    /// benches/vs_slapd.rs its CPU time from /proc; the tests do not need it).
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A copy of a stock schema file in which every attribute type with caseIgnoreMatch
/// equality, or a subtype of `name` without its own rules, also gets
/// `ORDERING caseIgnoreOrderingMatch` — the contract orders every text attribute that way
/// (CONTRACT §6), while OpenLDAP's files define no ordering for sn, givenName, l, o, ...
/// Types built into slapd (name, cn, uid, description) and IA5 types (mail, dc) cannot be
/// changed here; the differential test covers them with shadow attributes instead.
/// Returns the new text and the names of the types changed.
pub fn with_case_ignore_ordering(schema_text: &str) -> (String, Vec<String>) {
    let mut changed = Vec::new();
    let mut out = String::with_capacity(schema_text.len() + 1024);
    for statement in split_statements(schema_text) {
        let is_attribute = statement
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("attributetype");
        let is_text = statement.contains("EQUALITY caseIgnoreMatch")
            || (statement.contains("SUP name") && !statement.contains("EQUALITY"));
        if is_attribute && is_text && !statement.contains("ORDERING") {
            let trimmed = statement.trim_end();
            if let Some(head) = trimmed.strip_suffix(')') {
                out.push_str(head.trim_end());
                out.push_str("\n\tORDERING caseIgnoreOrderingMatch )\n");
                if let Some(name) = first_name(&statement) {
                    changed.push(name);
                }
                continue;
            }
        }
        out.push_str(&statement);
    }
    (out, changed)
}

/// Splits a `.schema` file into statements: a statement starts at a line that does not
/// begin with white space and takes the indented lines after it; comments and blank
/// lines are statements of their own.
fn split_statements(text: &str) -> Vec<String> {
    let mut statements: Vec<String> = Vec::new();
    let mut open = false;
    for line in text.lines() {
        let continuation = line.starts_with([' ', '\t']) && !line.trim().is_empty();
        if continuation && open {
            if let Some(last) = statements.last_mut() {
                last.push_str(line);
                last.push('\n');
            }
            continue;
        }
        let is_comment_or_blank = line.trim().is_empty() || line.starts_with('#');
        open = !is_comment_or_blank;
        statements.push(format!("{line}\n"));
    }
    statements
}

/// The first NAME of an attribute type statement.
fn first_name(statement: &str) -> Option<String> {
    let after = &statement[statement.find("NAME")? + 4..];
    let start = after.find('\'')? + 1;
    let len = after[start..].find('\'')?;
    Some(after[start..start + len].to_string())
}

/// The mdb database's lines when the caller names none: a 64 MiB map, no index.
const DEFAULT_DATABASE_LINES: &str = "maxsize 67108864\n";

fn write_config(
    dir: &Path,
    setup: &SlapdSetup<'_>,
    database_lines: &str,
) -> Result<PathBuf, String> {
    let db = dir.join("db");
    fs::create_dir_all(&db).map_err(|e| format!("create {}: {e}", db.display()))?;
    let mut includes = String::new();
    for name in STOCK_SCHEMAS {
        let stock_path = Path::new(SCHEMA_DIR).join(format!("{name}.schema"));
        let stock = fs::read_to_string(&stock_path)
            .map_err(|e| format!("read {} (apt-get install slapd): {e}", stock_path.display()))?;
        let (text, _changed) = with_case_ignore_ordering(&stock);
        let path = dir.join(format!("{name}.schema"));
        write(&path, &text)?;
        includes.push_str(&format!("include {}\n", path.display()));
    }
    for (name, text) in &setup.extra_schemas {
        let path = dir.join(format!("{name}.schema"));
        write(&path, text)?;
        includes.push_str(&format!("include {}\n", path.display()));
    }
    let conf = format!(
        "# Generated by the differential test.\n\
         {includes}\n\
         pidfile {dir}/slapd.pid\n\
         argsfile {dir}/slapd.args\n\
         modulepath /usr/lib/ldap\n\
         moduleload back_mdb\n\
         sizelimit unlimited\n\
         timelimit unlimited\n\
         access to * by * read\n\n\
         database mdb\n\
         suffix \"{suffix}\"\n\
         directory {db}\n\
         {database_lines}",
        dir = dir.display(),
        suffix = setup.suffix,
        db = db.display(),
    );
    let path = dir.join("slapd.conf");
    write(&path, &conf)?;
    Ok(path)
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    let mut f = fs::File::create(path).map_err(|e| format!("create {}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("write {}: {e}", path.display()))
}

/// `slapadd -s` (no schema check: the gateway invents no values, so a user without a
/// surname has no `sn` although inetOrgPerson requires one, CONTRACT §5).
fn slapadd(conf: &Path, dir: &Path, ldif: &str) -> Result<(), String> {
    let ldif_path = dir.join("data.ldif");
    write(&ldif_path, ldif)?;
    let out = Command::new(sbin("slapadd"))
        .arg("-f")
        .arg(conf)
        .arg("-l")
        .arg(&ldif_path)
        .args(["-s", "-q"])
        .output()
        .map_err(|e| format!("slapadd (apt-get install slapd): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "slapadd failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("free port: {e}"))
}

/// Starts `slapd -d 0` (foreground) and waits until a root DSE search answers.
fn launch(conf: &Path, dir: &Path, port: u16) -> Result<Child, String> {
    let log_path = dir.join(format!("slapd-{port}.log"));
    let log = fs::File::create(&log_path).map_err(|e| format!("slapd log: {e}"))?;
    let url = format!("ldap://127.0.0.1:{port}/");
    let mut child = Command::new(sbin("slapd"))
        .arg("-f")
        .arg(conf)
        .args(["-h", &url, "-d", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("slapd (apt-get install slapd): {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let log = fs::read_to_string(&log_path).unwrap_or_default();
            return Err(format!("slapd exited ({status}) on port {port}: {log}"));
        }
        let probe = Command::new("ldapsearch")
            .args(["-x", "-LLL", "-H", &url, "-s", "base", "-b", ""])
            .args(["-o", "nettimeout=1", "1.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if probe.is_ok_and(|s| s.success()) {
            return Ok(child);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let log = fs::read_to_string(&log_path).unwrap_or_default();
            return Err(format!(
                "slapd did not answer on port {port} in 15 s: {log}"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Attribute types whose slapd definition has no ordering rule and cannot be given one
/// by editing a schema file: built into slapd (name, cn, uid, description) or IA5 String
/// syntax, which caseIgnoreOrderingMatch does not accept (mail, dc). The contract orders
/// them with caseIgnoreOrderingMatch (CONTRACT §6), so the oracle carries a shadow copy
/// of their values in an attribute that has that rule, and `>=`/`<=` items on them are
/// sent to slapd against the shadow. Each: names (aliases, OID), shadow name.
const SHADOWED: &[(&[&str], &str)] = &[
    (&["name", "2.5.4.41"], "xOrdName"),
    (&["cn", "commonName", "2.5.4.3"], "xOrdCn"),
    (&["uid", "userid", "0.9.2342.19200300.100.1.1"], "xOrdUid"),
    (&["description", "2.5.4.13"], "xOrdDescription"),
    (
        &["mail", "rfc822Mailbox", "0.9.2342.19200300.100.1.3"],
        "xOrdMail",
    ),
    (
        &["dc", "domainComponent", "0.9.2342.19200300.100.1.25"],
        "xOrdDc",
    ),
];

/// Prefix of every shadow attribute name; they are stripped from slapd's answers.
pub const SHADOW_PREFIX: &str = "xord";

/// The shadow attribute for a `>=`/`<=` item on `attr`, if it has one.
pub fn ordering_shadow(attr: &str) -> Option<String> {
    SHADOWED
        .iter()
        .find(|(names, _)| names.iter().any(|n| n.eq_ignore_ascii_case(attr)))
        .map(|(_, shadow)| shadow.to_string())
}

/// The schema text defining the shadow attributes (Directory String, caseIgnore rules).
pub fn shadow_schema() -> String {
    let mut out =
        String::from("# Shadow attributes of the differential test (see ordering_shadow).\n");
    for (i, (_, shadow)) in SHADOWED.iter().enumerate() {
        out.push_str(&format!(
            "attributetype ( 2.25.271828182845904523536028747135266249.{} NAME '{shadow}'\n\
             \tEQUALITY caseIgnoreMatch ORDERING caseIgnoreOrderingMatch\n\
             \tSUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )\n\n",
            i + 1
        ));
    }
    out
}

/// Names (lower case) of the attribute types that are subtypes of `name` in slapd with
/// the stock schema files and `extra_schemas`: cn (built in) and every `SUP name` type,
/// transitively.
pub fn name_subtypes(extra_schemas: &[&str]) -> Vec<String> {
    let mut subtypes = vec!["cn".to_string(), "commonname".to_string()];
    let mut statements = Vec::new();
    for file in STOCK_SCHEMAS {
        let path = Path::new(SCHEMA_DIR).join(format!("{file}.schema"));
        if let Ok(text) = fs::read_to_string(path) {
            statements.extend(split_statements(&text));
        }
    }
    for text in extra_schemas {
        statements.extend(split_statements(text));
    }
    let mut supers = vec!["name".to_string()];
    while let Some(sup) = supers.pop() {
        for st in &statements {
            if st.starts_with('#')
                || !st.contains(&format!("SUP {sup} ")) && !st.contains(&format!("SUP {sup}\n"))
            {
                continue;
            }
            for n in all_names(st) {
                if !subtypes.contains(&n) {
                    subtypes.push(n.clone());
                    supers.push(n);
                }
            }
        }
    }
    subtypes
}

/// Every NAME of a statement, lower case.
fn all_names(statement: &str) -> Vec<String> {
    let Some(at) = statement.find("NAME") else {
        return Vec::new();
    };
    let rest = statement[at + 4..].trim_start();
    let list = if let Some(inner) = rest.strip_prefix('(') {
        inner.split(')').next().unwrap_or("")
    } else {
        rest.split_whitespace().next().unwrap_or("")
    };
    list.split('\'')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Adds the shadow attributes to an entry's attributes: each shadow gets the values of
/// its source type; `xOrdName` those of every subtype of `name` (RFC 4512 §2.5.1: a
/// filter on a supertype matches values of its subtypes).
pub fn add_shadows(attrs: &mut Vec<(String, Vec<String>)>, name_subtypes: &[String]) {
    let mut additions = Vec::new();
    for (names, shadow) in SHADOWED {
        let mut values: Vec<String> = Vec::new();
        for (a, vs) in attrs.iter() {
            let a = a.to_ascii_lowercase();
            let feeds = if *shadow == "xOrdName" {
                name_subtypes.contains(&a) || a == "name"
            } else {
                names.iter().any(|n| n.eq_ignore_ascii_case(&a))
            };
            if feeds {
                for v in vs {
                    if !values.contains(v) {
                        values.push(v.clone());
                    }
                }
            }
        }
        if !values.is_empty() {
            additions.push((shadow.to_string(), values));
        }
    }
    attrs.extend(additions);
}

/// An entry to load: DN and (attribute name, values).
pub type LdifEntry = (String, Vec<(String, Vec<String>)>);

/// Entries as LDIF (RFC 2849): values that are not SAFE-STRINGs (leading space, colon or
/// `<`, trailing space, non-ASCII, control characters) are base64-encoded.
pub fn to_ldif(entries: &[LdifEntry]) -> String {
    let mut out = String::new();
    for (dn, attrs) in entries {
        out.push_str(&ldif_line("dn", dn));
        for (a, vs) in attrs {
            for v in vs {
                out.push_str(&ldif_line(a, v));
            }
        }
        out.push('\n');
    }
    out
}

fn ldif_line(attr: &str, value: &str) -> String {
    let bytes = value.as_bytes();
    let unsafe_start = matches!(bytes.first(), Some(b' ' | b':' | b'<'));
    let unsafe_end = bytes.last() == Some(&b' ');
    let unsafe_char = bytes
        .iter()
        .any(|&b| b == 0 || b == b'\n' || b == b'\r' || b >= 0x80);
    if unsafe_start || unsafe_end || unsafe_char {
        format!("{attr}:: {}\n", base64(bytes))
    } else {
        format!("{attr}: {value}\n")
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.len();
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= n {
                out.push(ALPHABET[((v >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
