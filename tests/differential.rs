//! The differential test (issue 3): the sample tenant, exported as LDIF through the
//! gateway's own mapping, is loaded into a real OpenLDAP slapd, and the same searches go
//! to slapd and to the gateway with the real `ldapsearch`; answers must be identical.
//!
//! Strict mode (`[phone] match = "rfc4517"`, strict substrings) must agree on every
//! search. Default mode may differ only in the documented exceptions (docs/exactness.md),
//! each shown by its own test below. The Graph cost per corpus category is printed
//! (`cargo test --test differential -- --nocapture`).

mod common;
#[path = "support/filtergen.rs"]
mod filtergen;
#[path = "support/slapd.rs"]
mod slapd;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use common::{BASE, Harness, LdapSearchOutput, ldapsearch, parse_ldif, start_with};
use filtergen::{Filter, Generator, Pools, Query, SampleEntry, Scope};
use graph_emulator::Tenant;
use ldap_graph_gateway::config::Config;
use ldap_graph_gateway::directory::Collection;
use ldap_graph_gateway::directory::mapping::Mapping;
use ldap_graph_gateway::directory::schema::openldap_schema;
use ldap_graph_gateway::directory::tree::Tree;
use slapd::{Slapd, SlapdSetup};

/// Fixed seed of the generated corpus: the same filters on every run.
const SEED: u64 = 0x1DA9_2026_0003;
/// Generated filters (issue 3 asks for at least 1,000).
const GENERATED: usize = 1_100;
/// Failing searches listed in an assertion message.
const SHOWN: usize = 20;

// ---------------------------------------------------------------------------------
// The entries: the tenant through the gateway's own mapping.

/// The sample tenant's directory as the gateway maps it (CONTRACT §4, §5): the base
/// and ou entries, every enabled user (the default `user_filter` is
/// `accountEnabled eq true`) and every organizational contact, operational attributes
/// dropped (slapd makes its own).
fn exported_entries(tenant: &Tenant) -> Vec<SampleEntry> {
    let tree = Tree::new(BASE).expect("base DN");
    let mapping = Mapping::default_mapping();
    let mut entries = vec![
        sample_entry(&tree.base_entry()),
        sample_entry(&tree.ou_entry(Collection::Users)),
        sample_entry(&tree.ou_entry(Collection::Contacts)),
    ];
    for user in &tenant.users {
        if user.get("accountEnabled") != Some(&serde_json::Value::Bool(true)) {
            continue;
        }
        if let Some(e) = mapping.to_entry(Collection::Users, user, &tree) {
            entries.push(sample_entry(&e));
        }
    }
    for contact in &tenant.contacts {
        if let Some(e) = mapping.to_entry(Collection::Contacts, contact, &tree) {
            entries.push(sample_entry(&e));
        }
    }
    entries
}

fn sample_entry(e: &ldap_graph_gateway::directory::entry::Entry) -> SampleEntry {
    SampleEntry {
        dn: e.dn.clone(),
        attrs: e
            .attrs
            .iter()
            .filter(|(at, _)| !at.operational)
            .map(|(at, values)| (at.name.to_string(), values.clone()))
            .collect(),
    }
}

/// slapd loaded with the entries (and the shadow ordering attributes, see slapd.rs).
fn oracle(entries: &[SampleEntry]) -> Slapd {
    let gateway_schema = openldap_schema();
    let subtypes = slapd::name_subtypes(&[&gateway_schema]);
    let with_shadows: Vec<slapd::LdifEntry> = entries
        .iter()
        .map(|e| {
            let mut attrs = e.attrs.clone();
            slapd::add_shadows(&mut attrs, &subtypes);
            (e.dn.clone(), attrs)
        })
        .collect();
    let ldif = slapd::to_ldif(&with_shadows);
    Slapd::start(&SlapdSetup {
        suffix: BASE,
        extra_schemas: vec![
            ("ldap-graph-gateway", gateway_schema),
            ("differential", slapd::shadow_schema()),
        ],
        ldif: &ldif,
    })
    .unwrap_or_else(|e| panic!("slapd: {e}"))
}

/// The two gateway configurations compared with slapd. The answer cache is off so that
/// every search shows its real Graph cost.
fn strict(cfg: &mut Config) {
    cfg.phone.match_mode = ldap_graph_gateway::directory::phone::PhoneMatch::Rfc4517;
    cfg.search.strict_substrings = true;
    cfg.search.cache_ttl_secs = 0;
}

fn default_mode(cfg: &mut Config) {
    cfg.search.cache_ttl_secs = 0;
}

// ---------------------------------------------------------------------------------
// Running searches and comparing answers.

/// One answer: the LDAP result code (ldapsearch's exit status) and the entries,
/// DNs normalised, attribute names lower case, values sorted.
#[derive(Debug, Clone)]
struct Answer {
    code: i32,
    entries: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// ldapsearch's diagnostic output (not compared).
    stderr: String,
}

impl Answer {
    fn from_output(out: &LdapSearchOutput) -> Answer {
        Answer::from_ldif(out.code, &out.stdout, &out.stderr)
    }

    fn from_ldif(code: i32, stdout: &str, stderr: &str) -> Answer {
        let mut entries = BTreeMap::new();
        for (dn, attrs) in parse_ldif(stdout) {
            let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (name, value) in attrs {
                let name = name.to_ascii_lowercase();
                if name.starts_with(slapd::SHADOW_PREFIX) {
                    continue;
                }
                by_name.entry(name).or_default().push(value);
            }
            by_name.values_mut().for_each(|v| v.sort());
            entries.insert(normalize_dn(&dn), by_name);
        }
        Answer {
            code,
            entries,
            stderr: stderr.trim().replace('\n', " "),
        }
    }

    fn dns(&self) -> BTreeSet<&str> {
        self.entries.keys().map(String::as_str).collect()
    }

    /// A short description for failure messages.
    fn summary(&self) -> String {
        let dns: Vec<&str> = self.entries.keys().map(|d| short_dn(d)).collect();
        let diagnostic = if self.code == 0 {
            String::new()
        } else {
            format!(" ({})", self.stderr)
        };
        format!(
            "rc={}{diagnostic} {} entries {:?}",
            self.code,
            dns.len(),
            dns
        )
    }
}

/// distinguishedNameMatch for the DNs both sides write the same way up to case and
/// the spaces after separators.
fn normalize_dn(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| rdn.trim().to_lowercase())
        .collect::<Vec<_>>()
        .join(",")
}

fn short_dn(dn: &str) -> &str {
    dn.strip_suffix(&format!(",{}", BASE.to_lowercase()))
        .unwrap_or(dn)
}

/// The search slapd is asked for a gateway search: `>=`/`<=` on the shadowed types go to
/// their shadows, and base `""` (which the gateway serves as the whole tree, CONTRACT §8)
/// becomes the suffix — scope one from `""` is the base entry alone, scope sub the tree.
fn oracle_search(q: &Query) -> (String, Scope, String) {
    let filter = q.filter.render_with(&slapd::ordering_shadow);
    match (q.base.is_empty(), q.scope) {
        (true, Scope::One) => (BASE.to_string(), Scope::Base, filter),
        (true, _) => (BASE.to_string(), Scope::Sub, filter),
        (false, s) => (q.base.clone(), s, filter),
    }
}

fn ldapsearch_args(url: &str, base: &str, scope: Scope, filter: &str) -> Vec<String> {
    ["-x", "-H", url, "-b", base, "-s", scope.arg(), filter, "*"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// Every query against slapd, on a few threads (slapd is not what is measured).
fn ask_oracle(slapd_url: &str, corpus: &[Query]) -> Vec<Answer> {
    let workers = 4;
    let mut answers: Vec<Option<Answer>> = vec![None; corpus.len()];
    std::thread::scope(|s| {
        let chunks: Vec<(usize, &[Query])> = corpus
            .chunks(corpus.len().div_ceil(workers).max(1))
            .enumerate()
            .map(|(i, c)| (i * corpus.len().div_ceil(workers).max(1), c))
            .collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|(start, chunk)| {
                s.spawn(move || {
                    let mut out = Vec::new();
                    for (i, q) in chunk.iter().enumerate() {
                        let (base, scope, filter) = oracle_search(q);
                        let o = Command::new("ldapsearch")
                            .args(["-LLL", "-o", "ldif-wrap=no", "-o", "nettimeout=20"])
                            .args(ldapsearch_args(slapd_url, &base, scope, &filter))
                            .output()
                            .expect("ldapsearch");
                        let code = o.status.code().unwrap_or(-1);
                        out.push((
                            start + i,
                            Answer::from_ldif(
                                code,
                                &String::from_utf8_lossy(&o.stdout),
                                &String::from_utf8_lossy(&o.stderr),
                            ),
                        ));
                    }
                    out
                })
            })
            .collect();
        for h in handles {
            for (i, a) in h.join().expect("oracle worker") {
                answers[i] = Some(a);
            }
        }
    });
    answers
        .into_iter()
        .map(|a| a.expect("every query answered"))
        .collect()
}

/// A pass-through HTTP proxy in front of the Graph emulator that counts the directory
/// objects Graph returned (the `value` array of every collection page, or one object)
/// and the requests to `/users`.
pub struct CountingProxy {
    pub url: String,
    counts: Arc<ProxyCounts>,
}

#[derive(Default)]
struct ProxyCounts {
    fetched: AtomicU64,
    users_requests: AtomicU64,
}

impl CountingProxy {
    pub fn fetched(&self) -> u64 {
        self.counts.fetched.load(Ordering::SeqCst)
    }

    pub fn users_requests(&self) -> u64 {
        self.counts.users_requests.load(Ordering::SeqCst)
    }

    /// Starts the proxy for `upstream` (e.g. `http://127.0.0.1:4000`) on a loopback port.
    /// Must be called inside a Tokio runtime.
    pub fn start(upstream: &str) -> CountingProxy {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let counts = Arc::new(ProxyCounts::default());
        let upstream = upstream.trim_end_matches('/').to_string();
        let client = reqwest::Client::builder().build().expect("http client");
        let counter = counts.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("proxy port");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("proxy addr"));
        let own_url = url.clone();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let (client, upstream, own_url, counter) = (
                client.clone(),
                upstream.clone(),
                own_url.clone(),
                counter.clone(),
            );
            async move { forward(&client, &upstream, &own_url, &counter, req).await }
        });
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        CountingProxy { url, counts }
    }
}

/// `:` and `/` percent-encoded, as in a form-encoded URL.
fn percent_encoded(url: &str) -> String {
    url.replace(':', "%3A").replace('/', "%2F")
}

async fn forward(
    client: &reqwest::Client,
    upstream: &str,
    own_url: &str,
    counter: &ProxyCounts,
    req: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = req.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let body = axum::body::to_bytes(body, 1 << 24)
        .await
        .unwrap_or_default();
    // the token request names the Graph resource (`scope={graph_url}/.default`), which
    // the emulator checks against its own URL
    let body = match std::str::from_utf8(&body) {
        Ok(text) => axum::body::Bytes::from(
            text.replace(own_url, upstream)
                .replace(&percent_encoded(own_url), &percent_encoded(upstream)),
        ),
        Err(_) => body,
    };
    let mut headers = parts.headers.clone();
    headers.remove(axum::http::header::HOST);
    if path.starts_with("/v1.0/users") {
        counter.users_requests.fetch_add(1, Ordering::SeqCst);
    }
    let sent = client
        .request(parts.method.clone(), format!("{upstream}{path}"))
        .headers(headers)
        .body(body)
        .send()
        .await;
    let Ok(resp) = sent else {
        return axum::response::Response::builder()
            .status(502)
            .body(axum::body::Body::empty())
            .expect("response");
    };
    let status = resp.status();
    let mut headers = resp.headers().clone();
    let bytes = resp.bytes().await.unwrap_or_default();
    if status.is_success()
        && let Ok(json) = serde_json::from_slice::<serde_json::Value>(&bytes)
    {
        let n = match json.get("value") {
            Some(serde_json::Value::Array(items)) => items.len() as u64,
            _ if json.get("id").is_some() => 1,
            _ => 0,
        };
        counter.fetched.fetch_add(n, Ordering::SeqCst);
    }
    // @odata.nextLink points at the emulator: keep the next pages coming through here
    let bytes = String::from_utf8_lossy(&bytes).replace(upstream, own_url);
    headers.remove(axum::http::header::TRANSFER_ENCODING);
    headers.remove(axum::http::header::CONTENT_LENGTH);
    let mut out = axum::response::Response::builder().status(status);
    if let Some(h) = out.headers_mut() {
        *h = headers;
    }
    out.body(axum::body::Body::from(bytes)).expect("response")
}

/// Graph cost of one category.
#[derive(Default, Clone)]
struct Cost {
    searches: u64,
    requests: u64,
    max_requests: u64,
    max_users_requests: u64,
    fetched: u64,
    max_fetched: u64,
}

/// A gateway whose Graph traffic goes through a `CountingProxy`.
struct Measured {
    harness: Harness,
    proxy: CountingProxy,
}

impl Measured {
    async fn start(mode: fn(&mut Config)) -> Measured {
        let mut proxy = None;
        let harness = start_with(Tenant::sample(), |cfg| {
            mode(cfg);
            // The phone index loads before the searches start; no refresh (a delta
            // request) may fall inside a counted search.
            cfg.phone.index_refresh_secs = 24 * 3600;
            let p = CountingProxy::start(&cfg.graph.client.graph_url);
            cfg.graph.client.graph_url = p.url.clone();
            cfg.graph.client.login_url = p.url.clone();
            proxy = Some(p);
        })
        .await;
        Measured {
            harness,
            proxy: proxy.expect("proxy started"),
        }
    }

    /// (Graph requests the emulator received, of them to `/users`, directory objects
    /// it returned).
    fn counters(&self) -> (u64, u64, u64) {
        (
            self.harness.emu.requests(),
            self.proxy.users_requests(),
            self.proxy.fetched(),
        )
    }
}

struct Run {
    answers: Vec<Answer>,
    /// Per search: (Graph requests, of them to `/users`).
    requests: Vec<(u64, u64)>,
    costs: BTreeMap<String, Cost>,
    rejections: u64,
}

/// Every query against the gateway, one at a time so each search's Graph cost is its own.
async fn ask_gateway(m: &Measured, corpus: &[Query]) -> Run {
    let url = m.harness.url();
    let mut answers = Vec::with_capacity(corpus.len());
    let mut requests = Vec::with_capacity(corpus.len());
    let mut costs: BTreeMap<String, Cost> = BTreeMap::new();
    for q in corpus {
        let filter = q.filter.render();
        let args = ldapsearch_args(&url, &q.base, q.scope, &filter);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (r0, u0, f0) = m.counters();
        let out = ldapsearch(&args).await;
        let (r1, u1, f1) = m.counters();
        answers.push(Answer::from_output(&out));
        let (r, u, f) = (r1 - r0, u1 - u0, f1 - f0);
        requests.push((r, u));
        let c = costs.entry(q.category.clone()).or_default();
        c.searches += 1;
        c.requests += r;
        c.max_requests = c.max_requests.max(r);
        c.max_users_requests = c.max_users_requests.max(u);
        c.fetched += f;
        c.max_fetched = c.max_fetched.max(f);
    }
    Run {
        answers,
        requests,
        costs,
        rejections: m.harness.emu.rejections(),
    }
}

/// A search on which the gateway and slapd disagree.
struct Disagreement {
    index: usize,
    kind: &'static str,
    detail: String,
}

fn compare(corpus: &[Query], oracle: &[Answer], gateway: &[Answer]) -> Vec<Disagreement> {
    let mut out = Vec::new();
    for (i, q) in corpus.iter().enumerate() {
        let (want, got) = (&oracle[i], &gateway[i]);
        if want.code == got.code && want.entries == got.entries {
            continue;
        }
        let kind = if want.code != got.code {
            "result code"
        } else if want.dns() != got.dns() {
            if got.dns().is_superset(&want.dns()) {
                "gateway returns extra entries"
            } else if got.dns().is_subset(&want.dns()) {
                "gateway misses entries"
            } else {
                "different entries"
            }
        } else {
            "attribute values"
        };
        let mut detail = format!(
            "[{}] -b '{}' -s {} '{}'",
            q.category,
            q.base,
            q.scope.arg(),
            q.filter.render()
        );
        if kind == "result code" {
            detail.push_str(&format!(
                "\n      slapd:   {}\n      gateway: {}",
                want.summary(),
                got.summary()
            ));
        } else if kind != "attribute values" {
            // the entries only one side returns, with the values the filter looks at
            let (w, g) = (want.dns(), got.dns());
            let named: Vec<String> = q
                .filter
                .attributes()
                .iter()
                .map(|a| {
                    ldap_graph_gateway::directory::schema::attribute(a)
                        .map_or_else(|| a.to_ascii_lowercase(), |at| at.name.to_ascii_lowercase())
                })
                .collect();
            for (side, only, answer) in [
                ("slapd", w.difference(&g).collect::<Vec<_>>(), want),
                ("gateway", g.difference(&w).collect::<Vec<_>>(), got),
            ] {
                if only.is_empty() {
                    continue;
                }
                detail.push_str(&format!(
                    "\n      only {side} ({} of {}):",
                    only.len(),
                    answer.entries.len()
                ));
                for dn in only.iter().take(3) {
                    let shown: Vec<String> = answer.entries[**dn]
                        .iter()
                        .filter(|(a, _)| named.contains(a))
                        .map(|(a, v)| format!("{a}={v:?}"))
                        .collect();
                    detail.push_str(&format!(" {} {}", short_dn(dn), shown.join(" ")));
                }
            }
        }
        if kind == "attribute values" {
            for (dn, attrs) in &want.entries {
                if got.entries.get(dn) != Some(attrs) {
                    detail.push_str(&format!(
                        "\n      {}: slapd {:?}\n      {}: gateway {:?}",
                        short_dn(dn),
                        attrs,
                        short_dn(dn),
                        got.entries.get(dn)
                    ));
                    break;
                }
            }
        }
        out.push(Disagreement {
            index: i,
            kind,
            detail,
        });
    }
    out
}

/// Attribute names (lower case, with aliases and OIDs) of the phone types that `e164`
/// mode matches across formats (CONTRACT §7).
const PHONE_NAMES: &[&str] = &[
    "telephonenumber",
    "2.5.4.20",
    "mobile",
    "mobiletelephonenumber",
    "homephone",
    "hometelephonenumber",
    "ipphone",
    "othertelephone",
    "othermobile",
    "otherhomephone",
    "otheripphone",
    "pager",
];

fn is_phone_item(f: &Filter) -> bool {
    f.attributes()
        .first()
        .is_some_and(|a| PHONE_NAMES.contains(&a.to_ascii_lowercase().as_str()))
}

/// A contains or ends-with substring (an `any` or a final piece) on a non-phone type:
/// what non-strict substrings may answer with Graph's word-prefix `$search` (CONTRACT §6).
fn is_contains_item(f: &Filter) -> bool {
    match f {
        Filter::Substrings { any, last, .. } => {
            !is_phone_item(f) && (!any.is_empty() || last.is_some())
        }
        _ => false,
    }
}

/// Where items satisfying `pred` occur: (under an even number of NOTs, under an odd one).
fn polarity(f: &Filter, pred: &dyn Fn(&Filter) -> bool, negated: bool) -> (bool, bool) {
    match f {
        Filter::And(items) | Filter::Or(items) => items
            .iter()
            .map(|i| polarity(i, pred, negated))
            .fold((false, false), |a, b| (a.0 || b.0, a.1 || b.1)),
        Filter::Not(inner) => polarity(inner, pred, !negated),
        item if pred(item) => (!negated, negated),
        _ => (false, false),
    }
}

/// Why a default-mode disagreement is one of the documented exceptions, if it is: the
/// filter has an item the exception changes, and the answer moved in the direction the
/// exception moves it. `e164` matching only adds matches to a phone item (equality on
/// E.164 forms falls back to telephoneNumberMatch), so a positive phone item may bring
/// extra entries and a negated one fewer; a word-prefix `$search` only finds fewer
/// entries for a contains item, so a positive one may miss entries and a negated one add.
fn default_exception(q: &Query, kind: &str) -> Option<&'static str> {
    let allowed = |(positive, negative): (bool, bool), adds: &str, removes: &str| {
        (positive && kind == adds)
            || (negative && kind == removes)
            || (positive && negative && kind == "different entries")
    };
    const EXTRA: &str = "gateway returns extra entries";
    const MISSES: &str = "gateway misses entries";
    if allowed(polarity(&q.filter, &is_phone_item, false), EXTRA, MISSES) {
        Some("phone numbers matched across formats (e164)")
    } else if allowed(polarity(&q.filter, &is_contains_item, false), MISSES, EXTRA) {
        Some("contains-substring by word-prefix $search")
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------
// The corpus.

/// A prefix of `s` of `n` characters, lower case, as a phone user types it.
fn typed_prefix(s: &str, n: usize) -> String {
    s.chars().take(n).collect::<String>().to_lowercase()
}

/// The phone and client patterns of CLIENTS.md filled with realistic typed values from
/// the tenant, and a base-scope re-read of every object (Gigaset, Mitel).
fn client_corpus(entries: &[SampleEntry]) -> Vec<Query> {
    let objects: Vec<&SampleEntry> = entries.iter().filter(|e| e.is_object()).collect();
    let users: Vec<&SampleEntry> = objects
        .iter()
        .copied()
        .filter(|e| e.dn.to_ascii_lowercase().contains(",ou=users,"))
        .collect();
    let contacts: Vec<&SampleEntry> = objects
        .iter()
        .copied()
        .filter(|e| e.dn.to_ascii_lowercase().contains(",ou=contacts,"))
        .collect();
    let pick = |list: &[&SampleEntry], n: usize| -> Vec<SampleEntry> {
        let step = (list.len() / n.max(1)).max(1);
        list.iter()
            .step_by(step)
            .take(n)
            .map(|e| (*e).clone())
            .collect()
    };
    let people: Vec<SampleEntry> = pick(&users, 5)
        .into_iter()
        .chain(pick(&contacts, 2))
        .collect();

    let mut out = Vec::new();
    let mut add = |category: &str, base: &str, scope: Scope, pattern: &str, typed: &str| {
        let filter = filtergen::fill(pattern, typed)
            .unwrap_or_else(|e| panic!("pattern {pattern} with {typed:?}: {e}"));
        out.push(Query {
            category: category.to_string(),
            base: base.to_string(),
            scope,
            filter,
        });
    };
    let users_ou = format!("ou=users,{BASE}");
    let contacts_ou = format!("ou=contacts,{BASE}");

    // Name prefixes as typed on a keypad: 1-3 letters of surname, given name, cn.
    let mut typed_names = BTreeSet::new();
    for p in &people {
        for attr in ["sn", "givenName", "cn"] {
            if let Some(v) = p.values(attr).first() {
                for n in [1, 2, 3] {
                    typed_names.insert(typed_prefix(v, n));
                }
            }
        }
    }
    typed_names.insert("zz".into());
    for (i, typed) in typed_names.iter().enumerate() {
        let pattern = filtergen::NAME_PREFIX_PATTERNS[i % filtergen::NAME_PREFIX_PATTERNS.len()];
        add("client name-prefix", BASE, Scope::Sub, pattern, typed);
    }
    for pattern in filtergen::NAME_PREFIX_PATTERNS {
        let typed = typed_names
            .iter()
            .nth(1)
            .cloned()
            .unwrap_or_else(|| "a".into());
        add("client name-prefix", BASE, Scope::Sub, pattern, &typed);
        add("client name-prefix", &users_ou, Scope::One, pattern, &typed);
    }

    // Whole names, typed in full (equality templates, macOS Contacts from base "").
    for p in people.iter().take(4) {
        for pattern in filtergen::NAME_EQUALITY_PATTERNS {
            let v = p
                .values("sn")
                .first()
                .or(p.values("cn").first())
                .cloned()
                .unwrap_or_default();
            add(
                "client name-equality",
                BASE,
                Scope::Sub,
                pattern,
                &v.to_lowercase(),
            );
        }
        if let Some(cn) = p.values("cn").first() {
            add(
                "client name-equality",
                "",
                Scope::Sub,
                "(|(givenname=%)(sn=%)(cn=%)(mail=%))",
                &cn.to_lowercase(),
            );
        }
    }

    // Contains searches (Yealink search_type 1, Cisco, Thunderbird quick search).
    for p in people.iter().take(4) {
        if let Some(cn) = p.values("cn").first() {
            let chars: Vec<char> = cn.chars().collect();
            let mid: String = chars.iter().skip(1).take(3).collect();
            for pattern in filtergen::NAME_CONTAINS_PATTERNS {
                add(
                    "client name-contains",
                    BASE,
                    Scope::Sub,
                    pattern,
                    &mid.to_lowercase(),
                );
            }
        }
    }

    // Caller ID: each stored number of a few users and contacts in several spellings,
    // plus a number nobody has.
    let mut numbers = Vec::new();
    for p in people.iter() {
        for attr in ["telephoneNumber", "mobile", "homePhone"] {
            if let Some(v) = p.values(attr).first() {
                numbers.push(v.clone());
            }
        }
    }
    let mut spelled = BTreeSet::new();
    for n in numbers.iter().take(6) {
        for s in filtergen::phone_spellings(n).into_iter().take(6) {
            spelled.insert(s);
        }
    }
    spelled.insert("+4930666".into());
    for (i, number) in spelled.iter().enumerate() {
        let pattern = filtergen::CALLER_ID_PATTERNS[i % filtergen::CALLER_ID_PATTERNS.len()];
        add("client caller-id", BASE, Scope::Sub, pattern, number);
    }
    if let Some(n) = numbers.first() {
        for pattern in filtergen::CALLER_ID_PATTERNS {
            add("client caller-id", BASE, Scope::Sub, pattern, n);
            add("client caller-id", &users_ou, Scope::Sub, pattern, n);
            add("client caller-id", &contacts_ou, Scope::One, pattern, n);
        }
    }
    for n in numbers.iter().take(4) {
        let digits: String = n.chars().filter(char::is_ascii_digit).collect();
        let tail = &digits[digits.len().saturating_sub(4)..];
        for pattern in filtergen::PHONE_SUFFIX_PATTERNS {
            add("client phone-suffix", BASE, Scope::Sub, pattern, tail);
        }
    }

    // Poly browsing: the captured VVX filter, and sn/givenName ranges.
    let mut browse = |filter: &str, base: &str| {
        out.push(Query {
            category: "client browse (>=, <=)".into(),
            base: base.to_string(),
            scope: Scope::Sub,
            filter: filtergen::parse(filter).expect("browse pattern"),
        });
    };
    browse(
        "(&(objectClass=*)(givenName>=Ryan)(givenName<=zz)(givenName=Ryan*)(extension=110))",
        BASE,
    );
    browse(
        "(&(objectClass=*)(givenName>=Ryan)(givenName<=zz)(givenName=Ryan*))",
        BASE,
    );
    for p in people.iter().take(3) {
        if let Some(sn) = p.values("sn").first() {
            let range = filtergen::fill("(&(sn>=%)(sn<=zz))", sn)
                .expect("range")
                .render();
            browse(&range, BASE);
            browse(&format!("(&(objectClass=person){range})"), &users_ou);
        }
    }
    browse("(&(cn>=M)(cn<=zz))", BASE);
    browse("(&(displayName>=a)(displayName<=m))", BASE);

    // Empty input, directory filters.
    for f in [
        "(cn=*)",
        "(objectclass=inetorgperson)",
        "(objectClass=*)",
        "(objectClass=person)",
    ] {
        out.push(Query {
            category: "client directory listing".into(),
            base: BASE.into(),
            scope: Scope::Sub,
            filter: filtergen::parse(f).expect("listing"),
        });
    }

    // Re-reading every returned DN (Gigaset, Mitel 6800i).
    for e in &objects {
        out.push(Query {
            category: "client re-read by DN".into(),
            base: e.dn.clone(),
            scope: Scope::Base,
            filter: Filter::Present("objectClass".into()),
        });
    }
    out
}

/// The generated corpus: `GENERATED` filters with a fixed seed, each with a base and scope.
fn generated_corpus(entries: &[SampleEntry]) -> Vec<Query> {
    let pools = Pools::new(entries);
    let mut generator = Generator::new(SEED, &pools);
    (0..GENERATED)
        .map(|_| {
            let filter = generator.filter(3);
            let (base, scope) = generator.base_and_scope(BASE);
            Query {
                category: format!("generated {}", filter.kind()),
                base,
                scope,
                filter,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------
// The tests.

fn print_costs(title: &str, costs: &BTreeMap<String, Cost>) {
    println!("\nGraph cost per search, {title} (answer cache off):");
    println!(
        "{:<30} {:>8} {:>10} {:>7} {:>11} {:>12} {:>11}",
        "category",
        "searches",
        "req/search",
        "max req",
        "max /users",
        "fetched/srch",
        "max fetched"
    );
    for (category, c) in costs {
        let n = c.searches.max(1) as f64;
        println!(
            "{:<30} {:>8} {:>10.2} {:>7} {:>11} {:>12.1} {:>11}",
            category,
            c.searches,
            c.requests as f64 / n,
            c.max_requests,
            c.max_users_requests,
            c.fetched as f64 / n,
            c.max_fetched
        );
    }
}

fn list<'a>(disagreements: impl IntoIterator<Item = &'a Disagreement>) -> String {
    disagreements
        .into_iter()
        .take(SHOWN)
        .map(|d| format!("  - {}: {}", d.kind, d.detail))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The Graph requests a search of this category may cost, if bounded: a name-prefix
/// search at most two in all (one per collection); a caller-ID search at most two to
/// `/users` (CONTRACT §7), plus what the bounded contact scan costs, which the contract
/// leaves to the design (Graph cannot filter contacts' phones).
fn request_bound(category: &str, requests: (u64, u64)) -> Option<String> {
    let (all, users) = requests;
    match category {
        "client name-prefix" if all > 2 => Some(format!("{all} requests")),
        "client caller-id" if users > 2 => Some(format!("{users} requests to /users")),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_answers_like_slapd() {
    let started = Instant::now();
    let tenant = Tenant::sample();
    let entries = exported_entries(&tenant);
    let slapd = oracle(&entries);

    let mut corpus = client_corpus(&entries);
    let clients = corpus.len();
    corpus.extend(generated_corpus(&entries));
    assert!(corpus.len() - clients >= 1_000);

    let url = slapd.url();
    let oracle_corpus = corpus.clone();
    let expected = tokio::task::spawn_blocking(move || ask_oracle(&url, &oracle_corpus))
        .await
        .expect("oracle");
    let oracle_matches = expected.iter().filter(|a| !a.entries.is_empty()).count();

    let m = Measured::start(strict).await;
    let strict_run = ask_gateway(&m, &corpus).await;
    m.harness.stop().await;
    let m = Measured::start(default_mode).await;
    let default_run = ask_gateway(&m, &corpus).await;
    m.harness.stop().await;

    let strict_diff = compare(&corpus, &expected, &strict_run.answers);
    let default_diff = compare(&corpus, &expected, &default_run.answers);
    let strict_failed: BTreeSet<usize> = strict_diff.iter().map(|d| d.index).collect();

    // Default-mode disagreements by kind; the documented exceptions apart.
    let mut by_category: BTreeMap<String, usize> = BTreeMap::new();
    let mut examples: BTreeMap<String, Vec<&Disagreement>> = BTreeMap::new();
    let mut unexplained = Vec::new();
    for d in &default_diff {
        match default_exception(&corpus[d.index], d.kind) {
            Some(why) if !strict_failed.contains(&d.index) => {
                let category = format!("exception: {why}; {}", d.kind);
                examples.entry(category.clone()).or_default().push(d);
                *by_category.entry(category).or_default() += 1;
            }
            _ => {
                let also_strict = if strict_failed.contains(&d.index) {
                    " (strict mode too)"
                } else {
                    ""
                };
                let category = format!("unexplained{also_strict}: {}", d.kind);
                examples.entry(category.clone()).or_default().push(d);
                *by_category.entry(category).or_default() += 1;
                unexplained.push(d);
            }
        }
    }

    print_costs("strict mode", &strict_run.costs);
    print_costs("default mode", &default_run.costs);
    println!("\nDefault-mode disagreements with slapd by category (first 3 of each):");
    for (category, n) in &by_category {
        println!("  {n:>5}  {category}");
        for d in examples.get(category).into_iter().flatten().take(3) {
            println!("         {}", d.detail.replace("\n      ", "\n           "));
        }
    }
    let n = corpus.len();
    println!(
        "\ndifferential: {} searches, {} agreed ({} strict, {} default; {} client patterns, \
         {} generated; slapd matched something on {}; {:.0} s)",
        2 * n,
        2 * n - strict_diff.len() - default_diff.len(),
        n - strict_diff.len(),
        n - default_diff.len(),
        clients,
        n - clients,
        oracle_matches,
        started.elapsed().as_secs_f64()
    );

    // Every failed check is collected, so that one run reports them all.
    let mut failures: Vec<String> = Vec::new();
    // The corpus must be meaningful: many searches match something in slapd.
    if oracle_matches * 4 <= n {
        failures.push(format!(
            "only {oracle_matches} of {n} searches match anything in slapd"
        ));
    }
    if !strict_diff.is_empty() {
        failures.push(format!(
            "strict mode disagrees with slapd on {} of {n} searches (first {SHOWN}):\n{}",
            strict_diff.len(),
            list(&strict_diff)
        ));
    }
    let default_only: Vec<&Disagreement> = unexplained
        .iter()
        .copied()
        .filter(|d| !strict_failed.contains(&d.index))
        .collect();
    if !default_only.is_empty() {
        failures.push(format!(
            "default mode disagrees with slapd outside the documented exceptions on {} searches \
             that strict mode answers right (first {SHOWN}):\n{}",
            default_only.len(),
            list(default_only)
        ));
    }
    for (mode, run) in [("strict", &strict_run), ("default", &default_run)] {
        if run.rejections != 0 {
            failures.push(format!(
                "{mode} mode: {} Graph requests rejected by the emulator",
                run.rejections
            ));
        }
        let expensive: Vec<String> = corpus
            .iter()
            .zip(&run.requests)
            .filter_map(|(q, r)| {
                let cost = request_bound(&q.category, *r)?;
                Some(format!(
                    "  - {cost}: -b '{}' '{}'",
                    q.base,
                    q.filter.render()
                ))
            })
            .collect();
        if !expensive.is_empty() {
            failures.push(format!(
                "{mode} mode: {} name-prefix/caller-ID searches cost more than 2 Graph requests \
                 (caller ID: to /users) \
                 (first {SHOWN}):\n{}",
                expensive.len(),
                expensive
                    .iter()
                    .take(SHOWN)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
    drop(slapd);
}

/// Runs one search against slapd and both gateway modes: (slapd, strict, default) DNs.
async fn three_ways(entries: &[SampleEntry], q: &Query) -> [BTreeSet<String>; 3] {
    let slapd = oracle(entries);
    let url = slapd.url();
    let oracle_q = vec![q.clone()];
    let want = tokio::task::spawn_blocking(move || ask_oracle(&url, &oracle_q))
        .await
        .expect("oracle");
    let mut got = Vec::new();
    for mode in [strict as fn(&mut Config), default_mode] {
        let m = Measured::start(mode).await;
        got.push(ask_gateway(&m, std::slice::from_ref(q)).await);
        m.harness.stop().await;
    }
    let dns = |a: &Answer| -> BTreeSet<String> { a.entries.keys().cloned().collect() };
    println!(
        "-b '{}' '{}'\n  slapd:   {}\n  strict:  {}\n  default: {}",
        q.base,
        q.filter.render(),
        want[0].summary(),
        got[0].answers[0].summary(),
        got[1].answers[0].summary()
    );
    [
        dns(&want[0]),
        dns(&got[0].answers[0]),
        dns(&got[1].answers[0]),
    ]
}

/// Exception 1 (CONTRACT §7, docs/exactness.md): in the default `e164` mode a user is
/// found by their number written in national format with parentheses, which
/// telephoneNumberMatch (slapd, strict mode) does not equate with the stored E.164 form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exception_phone_numbers_match_across_formats() {
    let entries = exported_entries(&Tenant::sample());
    let (dn, stored) = entries
        .iter()
        .filter(|e| e.dn.to_ascii_lowercase().contains(",ou=users,"))
        .find_map(|e| {
            let v = e.values("telephoneNumber").iter().find(|v| {
                v.starts_with("+1") && v.chars().filter(char::is_ascii_digit).count() == 11
            })?;
            Some((normalize_dn(&e.dn), v.clone()))
        })
        .expect("a user with a +1 business phone in the sample tenant");
    let digits: String = stored.chars().filter(char::is_ascii_digit).collect();
    let national = format!("({}) {}-{}", &digits[1..4], &digits[4..7], &digits[7..]);
    let q = Query {
        category: "exception".into(),
        base: BASE.into(),
        scope: Scope::Sub,
        filter: filtergen::fill("(telephoneNumber=%)", &national).expect("filter"),
    };
    let [slapd, strict, default] = three_ways(&entries, &q).await;
    assert!(
        !slapd.contains(&dn),
        "slapd equates {national} with {stored}"
    );
    assert_eq!(strict, slapd, "strict mode must answer like slapd");
    assert!(
        default.contains(&dn),
        "e164 mode must find {stored} by {national}"
    );
}

/// Exception 2 (CONTRACT §6, docs/exactness.md): with non-strict substrings a contains
/// search on a name is answered by Graph's word-prefix `$search`, so a piece inside a
/// word (not at a word start) finds nothing, while slapd and strict mode find the entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exception_contains_is_word_prefix_by_default() {
    let entries = exported_entries(&Tenant::sample());
    let (dn, piece) = entries
        .iter()
        .filter(|e| e.dn.to_ascii_lowercase().contains(",ou=users,"))
        .find_map(|e| {
            let cn = e.values("cn").first()?;
            let word = cn.split(' ').find(|w| w.chars().count() >= 5)?;
            let piece: String = word
                .chars()
                .skip(1)
                .take(3)
                .collect::<String>()
                .to_lowercase();
            // the piece must not start any word of any of the entry's names
            let starts_a_word = e.attrs.iter().flat_map(|(_, vs)| vs).any(|v| {
                v.to_lowercase()
                    .split(|c: char| !c.is_alphanumeric())
                    .any(|w| w.starts_with(&piece))
            });
            (!starts_a_word && piece.chars().all(char::is_alphabetic))
                .then(|| (normalize_dn(&e.dn), piece))
        })
        .expect("a user whose cn has a word of five letters");
    let q = Query {
        category: "exception".into(),
        base: BASE.into(),
        scope: Scope::Sub,
        filter: filtergen::fill("(cn=*%*)", &piece).expect("filter"),
    };
    let [slapd, strict, default] = three_ways(&entries, &q).await;
    assert!(slapd.contains(&dn), "slapd finds *{piece}* inside a word");
    assert_eq!(strict, slapd, "strict substrings must answer like slapd");
    assert!(
        !default.contains(&dn),
        "word-prefix $search finds no *{piece}* inside a word"
    );
}
