//! Search latency through the gateway, reported as a ratio against the same Graph query
//! sent straight to the emulator in the same run (the machines are shared and noisy).
//! Run: `cargo bench --bench search` (add `-- --quick` for fewer rounds).

use std::time::{Duration, Instant};

use ldap3::{LdapConnAsync, Scope};

#[path = "../tests/common/mod.rs"]
mod common;

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * p) as usize]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without
    // it, and then three rounds are enough to show the benchmark still works.
    let args: Vec<String> = std::env::args().collect();
    let rounds = if !args.iter().any(|a| a == "--bench") {
        3
    } else if args.iter().any(|a| a == "--quick") {
        50
    } else {
        300
    };
    // Measure the translation and Graph path, not the cache: coalescing off bypasses it.
    let harness = common::start_with(graph_emulator::Tenant::sample(), |cfg| {
        cfg.search.cache_ttl_secs = 0;
        cfg.search.coalesce = false;
    })
    .await;
    let common::Harness {
        emu, gw, server, ..
    } = harness;
    let url = format!("ldap://{}", server.ldap_addrs[0]);

    let cases: &[(&str, &str)] = &[
        ("name prefix", "(|(cn=meg*)(sn=meg*))"),
        (
            "caller id",
            "(|(telephoneNumber=+14255550100)(mobile=+14255550100))",
        ),
        ("equality", "(mail=megan.bowen@example.com)"),
    ];
    println!(
        "{:<14} {:>12} {:>12} {:>8} {:>10}",
        "case", "direct p50", "gateway p50", "ratio", "graph req"
    );
    for (name, filter) in cases {
        // Baseline: the plan's own Graph requests, sent directly by the gateway's client.
        let f = ldap_graph_gateway::directory::filter::parse_filter(filter).expect("filter");
        use ldap_graph_gateway::directory::Collection;
        let queries: Vec<_> = [Collection::Users, Collection::Contacts]
            .into_iter()
            .flat_map(|c| gw.directory.plan(&f, c, None).queries)
            .collect();
        let mut direct = Vec::new();
        for _ in 0..rounds {
            let t = Instant::now();
            for q in &queries {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
                gw.directory
                    .graph()
                    .first_page(&q.into(), deadline)
                    .await
                    .expect("graph");
            }
            direct.push(t.elapsed());
        }
        let (conn, mut ldap) = LdapConnAsync::new(&url).await.expect("connect");
        ldap3::drive!(conn);
        emu.reset_stats();
        let mut via = Vec::new();
        for _ in 0..rounds {
            let t = Instant::now();
            let r = ldap
                .search(
                    "dc=example,dc=com",
                    Scope::Subtree,
                    filter,
                    vec!["cn", "telephoneNumber"],
                )
                .await
                .expect("search");
            r.success().expect("success");
            via.push(t.elapsed());
        }
        let reqs = emu.requests() as f64 / rounds as f64;
        let d = percentile(&mut direct, 0.5);
        let g = percentile(&mut via, 0.5);
        println!(
            "{:<14} {:>10.2}ms {:>10.2}ms {:>8.2} {:>10.1}",
            name,
            d.as_secs_f64() * 1e3,
            g.as_secs_f64() * 1e3,
            g.as_secs_f64() / d.as_secs_f64(),
            reqs
        );
        let _ = ldap.unbind().await;
    }
    server.shutdown(Duration::from_secs(2)).await;
    emu.shutdown().await;
}
