//! The gateway against OpenLDAP slapd holding the same entries (issue 10): a generated
//! tenant served by the emulator in its own process, exported through the gateway into an
//! indexed slapd, both driven by the same load generator; one table of searches/s, p50,
//! p99 and CPU per search (the emulator's apart), each a ratio gateway/slapd in this run.
//! Run: `cargo bench --bench vs_slapd [-- --users 10000,100000 --seconds 10 --conns 1,16,256]`
//! (`--quick`: 10,000 users, 3 s samples; `--kinds exact,prefix,yealink,callerid,browse`). Without `--bench` (`cargo test --all-targets`)
//! it runs a smoke version on 200 users in a few seconds. See docs/performance.md.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

#[path = "support/children.rs"]
mod children;
#[path = "support/cpu.rs"]
mod cpu;
#[path = "support/export.rs"]
mod export;
#[path = "support/loadgen.rs"]
mod loadgen;
#[path = "support/mix.rs"]
mod mix;
#[path = "../tests/support/slapd.rs"]
#[allow(dead_code)]
mod slapd;
#[path = "support/tenant_gen.rs"]
mod tenant_gen;

use children::Cache;

/// The allocator of the gateway's binary (src/main.rs): the gateway child runs this binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use loadgen::{Sample, Workload};
use mix::{KINDS, Kind};

/// What to run, from the command line.
struct Plan {
    users: Vec<usize>,
    seconds: f64,
    conns: Vec<usize>,
    /// Different searches of each kind sent round robin.
    variety: usize,
    kinds: Vec<Kind>,
}

fn list(args: &[String], key: &str) -> Option<Vec<usize>> {
    let at = args.iter().position(|a| a == key)?;
    let text = args
        .get(at + 1)
        .unwrap_or_else(|| panic!("{key} needs a value"));
    Some(
        text.split(',')
            .map(|n| {
                n.replace('_', "")
                    .parse()
                    .unwrap_or_else(|_| panic!("{key} {text}"))
            })
            .collect(),
    )
}

fn plan(args: &[String]) -> Plan {
    let bench = args.iter().any(|a| a == "--bench");
    let quick = args.iter().any(|a| a == "--quick");
    let seconds = args
        .iter()
        .position(|a| a == "--seconds")
        .map(|at| args[at + 1].parse().expect("--seconds"));
    if !bench {
        // `cargo test --all-targets`: show the benchmark still works, in seconds.
        return Plan {
            users: vec![200],
            seconds: 0.2,
            conns: vec![1, 4],
            variety: 5,
            kinds: KINDS.to_vec(),
        };
    }
    Plan {
        users: list(args, "--users").unwrap_or(if quick {
            vec![10_000]
        } else {
            vec![10_000, 100_000]
        }),
        seconds: seconds.unwrap_or(if quick { 3.0 } else { 10.0 }),
        conns: list(args, "--conns").unwrap_or(vec![1, 16, 256]),
        variety: 100,
        kinds: kinds(args),
    }
}

/// `--kinds exact,prefix,yealink,callerid,browse` (default: all five).
fn kinds(args: &[String]) -> Vec<Kind> {
    let Some(at) = args.iter().position(|a| a == "--kinds") else {
        return KINDS.to_vec();
    };
    args[at + 1]
        .split(',')
        .map(|k| match k {
            "exact" => Kind::Exact,
            "prefix" => Kind::Prefix,
            "yealink" => Kind::YealinkName,
            "callerid" => Kind::CallerId,
            "browse" => Kind::PolyBrowse,
            other => panic!("--kinds: unknown {other}"),
        })
        .collect()
}

/// One line of the table.
struct Row {
    users: usize,
    kind: Kind,
    conns: usize,
    server: &'static str,
    per_second: f64,
    p50_us: u64,
    p99_us: u64,
    cpu_us: f64,
    emulator_us: Option<f64>,
    loadgen_us: f64,
}

/// CPU time of the measured processes around one sample.
fn measure<F: Future<Output = Sample>>(
    rt: &tokio::runtime::Runtime,
    server: u32,
    emulator: Option<u32>,
    run: F,
) -> (Sample, Duration, Option<Duration>, Duration) {
    let me = std::process::id();
    let before = (
        cpu::cpu_time(server),
        emulator.map(cpu::cpu_time),
        cpu::cpu_time(me),
    );
    let sample = rt.block_on(run);
    let after = (
        cpu::cpu_time(server),
        emulator.map(cpu::cpu_time),
        cpu::cpu_time(me),
    );
    (
        sample,
        after.0 - before.0,
        after.1.zip(before.1).map(|(a, b)| a - b),
        after.2 - before.2,
    )
}

fn us_per(d: Duration, searches: u64) -> f64 {
    d.as_secs_f64() * 1e6 / searches.max(1) as f64
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if children::run_role(&args) {
        return;
    }
    let plan = plan(&args);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let mut rows = Vec::new();
    let mut added = Vec::new();
    for &users in &plan.users {
        bench_tenant(&rt, &plan, users, &mut rows, &mut added);
    }
    print_table(&rows);
    println!();
    println!(
        "gateway-added latency, 1 connection, cache off: LDAP search through the gateway \
         against the same Graph requests sent directly to the emulator"
    );
    println!(
        "{:>7}  {:<24} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "users", "search", "direct p50", "direct p99", "gw p50", "gw p99", "added p50", "added p99"
    );
    for (users, kind, d, g) in added {
        let (d50, d99, g50, g99) = (
            d.value_at_quantile(0.5),
            d.value_at_quantile(0.99),
            g.value_at_quantile(0.5),
            g.value_at_quantile(0.99),
        );
        println!(
            "{users:>7}  {:<24} {:>8}µs {:>8}µs {:>8}µs {:>8}µs {:>8}µs {:>8}µs",
            kind.label(),
            d50,
            d99,
            g50,
            g99,
            g50 as i64 - d50 as i64,
            g99 as i64 - d99 as i64
        );
    }
}

type Added = (usize, Kind, Histogram<u64>, Histogram<u64>);

fn bench_tenant(
    rt: &tokio::runtime::Runtime,
    plan: &Plan,
    users: usize,
    rows: &mut Vec<Row>,
    added: &mut Vec<Added>,
) {
    let t0 = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("vs-slapd-")
        .tempdir()
        .expect("a temporary directory");
    let tenant = dir.path().join("tenant.json");
    std::fs::write(&tenant, tenant_gen::tenant_json(users)).expect("write the tenant");
    let emu = children::emulator(&tenant);
    // Room for the whole tenant: the export reads every user in one search.
    let max_scan = (users + 1000) as u32;
    let gw_on = children::gateway(&emu.url, Cache::On, max_scan);
    let gw_off = children::gateway(&emu.url, Cache::Off, max_scan);
    eprintln!(
        "{users} users: emulator and gateways up in {:.1?}",
        t0.elapsed()
    );
    let entries = rt.block_on(export::all_entries(&gw_on.url, mix::BASE));
    assert!(
        entries.len() > users,
        "the export holds every user and the containers"
    );
    let slapd = export::load_slapd(&entries, mix::BASE);
    drop(entries);
    eprintln!(
        "{users} users: exported into slapd after {:.1?}",
        t0.elapsed()
    );
    let slapd_addr: SocketAddr = slapd
        .url()
        .trim_start_matches("ldap://")
        .parse()
        .expect("slapd's address");

    // The same entries, attribute for attribute, before anything is measured.
    for &kind in &plan.kinds {
        for filter in kind.filters(users, 3) {
            for gw in [&gw_on, &gw_off] {
                let n = rt.block_on(export::same_answer(
                    &gw.url,
                    &slapd.url(),
                    mix::BASE,
                    &filter,
                    &mix::ATTRS,
                ));
                let whole = if kind.paged() {
                    100.min(users)
                } else {
                    kind.expected()
                };
                assert_eq!(n, whole, "{filter} returns {n} entries");
            }
        }
    }
    eprintln!("{users} users: same answers from both; measuring");

    for &kind in &plan.kinds {
        let w = Workload {
            pdus: kind
                .filters(users, plan.variety)
                .iter()
                .map(|f| mix::encode(f, kind.paged()))
                .collect(),
            expected_entries: kind.expected(),
        };
        let servers: [(&'static str, SocketAddr, u32, Option<u32>); 3] = [
            ("slapd", slapd_addr, slapd.pid(), None),
            (
                "gateway, cache on",
                gw_on.addr(),
                gw_on.pid(),
                Some(emu.pid()),
            ),
            (
                "gateway, cache off",
                gw_off.addr(),
                gw_off.pid(),
                Some(emu.pid()),
            ),
        ];
        for (server, addr, pid, emu_pid) in servers {
            rt.block_on(loadgen::check(addr, &w, 16))
                .unwrap_or_else(|e| panic!("{server}, {}: {e}", kind.label()));
            for &conns in &plan.conns {
                let d = Duration::from_secs_f64(plan.seconds);
                let (s, cpu_server, cpu_emu, cpu_me) = measure(rt, pid, emu_pid, async {
                    loadgen::run(addr, &w, conns, d)
                        .await
                        .unwrap_or_else(|e| panic!("{server}, {}: {e}", kind.label()))
                });
                let row = Row {
                    users,
                    kind,
                    conns,
                    server,
                    per_second: s.per_second(),
                    p50_us: s.latency.value_at_quantile(0.5),
                    p99_us: s.latency.value_at_quantile(0.99),
                    cpu_us: us_per(cpu_server, s.searches),
                    emulator_us: cpu_emu.map(|c| us_per(c, s.searches)),
                    loadgen_us: us_per(cpu_me, s.searches),
                };
                eprintln!(
                    "  {users} {} {conns:>3} {server:<18} {:>9.0}/s p50 {:>6}µs p99 {:>7}µs cpu {:>7.1}µs emulator {:>7.1}µs load generator {:>5.1}µs",
                    kind.label(),
                    row.per_second,
                    row.p50_us,
                    row.p99_us,
                    row.cpu_us,
                    row.emulator_us.unwrap_or(0.0),
                    row.loadgen_us
                );
                rows.push(row);
            }
        }
    }
    for kind in [Kind::Exact, Kind::Prefix] {
        added.push(rt.block_on(added_latency(
            &emu.url,
            &gw_off,
            kind,
            users,
            plan.seconds,
            max_scan,
        )));
    }
    drop((gw_on, gw_off, slapd, emu));
}

/// Latency of `kind`'s first search through the cache-off gateway against its Graph
/// requests sent directly to the emulator by the gateway's own client, all at once; the
/// two alternate, one of each in turn, on one connection each.
async fn added_latency(
    graph_url: &str,
    gw: &children::Server,
    kind: Kind,
    users: usize,
    seconds: f64,
    max_scan: u32,
) -> Added {
    use ldap_graph_gateway::directory::Collection;
    let filter = kind.filter(kind.filters(users, 1).len().saturating_sub(1));
    // An in-process gateway only for its plan and its Graph client; its LDAP port is idle.
    // Without a phone index: loading one (100,000 users: half a minute of delta pages)
    // would load the emulator while the direct requests are timed, and these plans have
    // no phone item.
    let mut cfg = children::gateway_config(graph_url, false, max_scan);
    cfg.phone.index = false;
    let (direct_gw, server) = ldap_graph_gateway::app::start(&cfg)
        .await
        .expect("the gateway starts");
    let f = ldap_graph_gateway::directory::filter::parse_filter(&filter).expect("filter");
    let queries: Vec<_> = [Collection::Users, Collection::Contacts]
        .into_iter()
        .flat_map(|c| direct_gw.directory.plan(&f, c, None).queries)
        .collect();
    let d = Duration::from_secs_f64(seconds);
    let mut direct = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
    let mut via = direct.clone();
    let pdu = mix::encode(&filter, kind.paged());
    let mut ldap = loadgen::connect(gw.addr()).await.expect("connect");
    let mut buf = bytes::BytesMut::with_capacity(64 * 1024);
    // One direct read, then one search through the gateway, in turn: both see the same
    // moment of a shared machine (its noise drifts over seconds, and would otherwise
    // land in one column and not the other).
    let until = Instant::now() + d;
    while Instant::now() < until {
        let t = Instant::now();
        // At once, as the gateway sends a search's requests.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let requests: Vec<_> = queries.iter().map(|q| q.into()).collect();
        let pages = requests
            .iter()
            .map(|r| direct_gw.directory.graph().first_page(r, deadline));
        for page in futures_util::future::join_all(pages).await {
            page.expect("graph");
        }
        direct.saturating_record(t.elapsed().as_micros() as u64);
        let t = Instant::now();
        let n = loadgen::one_search(&mut ldap, &mut buf, &pdu)
            .await
            .expect("the gateway answers");
        assert_eq!(n, kind.expected(), "{filter}");
        via.saturating_record(t.elapsed().as_micros() as u64);
    }
    server.shutdown(Duration::from_secs(2)).await;
    (users, kind, direct, via)
}

fn print_table(rows: &[Row]) {
    println!(
        "| users | search | conns | server | searches/s | p50 µs | p99 µs | server CPU/search µs | emulator CPU/search µs | load generator CPU/search µs | searches/s ratio | p50 ratio | p99 ratio | CPU/search ratio |"
    );
    println!("|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let base = rows
            .iter()
            .find(|b| {
                b.users == r.users && b.kind == r.kind && b.conns == r.conns && b.server == "slapd"
            })
            .expect("a slapd row");
        let ratio = |a: f64, b: f64| {
            if b > 0.0 {
                format!("{:.2}", a / b)
            } else {
                "-".into()
            }
        };
        println!(
            "| {} | {} | {} | {} | {:.0} | {} | {} | {:.1} | {} | {:.1} | {} | {} | {} | {} |",
            r.users,
            r.kind.label(),
            r.conns,
            r.server,
            r.per_second,
            r.p50_us,
            r.p99_us,
            r.cpu_us,
            r.emulator_us.map_or("-".into(), |e| format!("{e:.1}")),
            r.loadgen_us,
            ratio(r.per_second, base.per_second),
            ratio(r.p50_us as f64, base.p50_us as f64),
            ratio(r.p99_us as f64, base.p99_us as f64),
            ratio(r.cpu_us, base.cpu_us),
        );
    }
}
