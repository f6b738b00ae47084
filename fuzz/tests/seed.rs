//! Writes the generated part of the seed corpora (ignored by default; run it to re-seed):
//! filters from the differential test's generator and client patterns
//! (tests/support/filtergen.rs, on the sample tenant as tests/support/tenant.rs maps it)
//! into `filter` and `translate`, and the OData text the translator renders for every
//! `filter` seed into `odata`. Knows the targets only by their corpus folders.
//!
//! `cargo test -p ldap-graph-gateway-fuzz --test seed -- --ignored`

#[allow(dead_code)]
#[path = "../../tests/support/filtergen.rs"]
mod filtergen;
#[path = "../../tests/support/tenant.rs"]
mod tenant;

use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use filtergen::{Generator, Pools, SampleEntry};
use graph_emulator::Tenant;
use ldap_graph_gateway::directory::Collection;
use ldap_graph_gateway::directory::filter::parse_filter;
use ldap_graph_gateway::translate::{TranslateContext, plan_collection};
use ldap_graph_gateway_fuzz::fixtures;

/// The differential test's seed (tests/differential.rs `SEED`), for the same first filters.
const SEED: u64 = 0x1DA9_2026_0003;
/// Generated filters written.
const GENERATED: usize = 120;
/// Typed values the client patterns are filled with.
const TYPED: &[&str] = &[
    "jo",
    "Meyer",
    "müller",
    "O'Brien",
    "+1 425 555 0100",
    "5550100",
    "a*b",
];

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
}

/// Writes `text` as `<prefix>-<hash>` into each folder (the same text, the same name).
fn write(folders: &[&Path], prefix: &str, text: &str) {
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    for dir in folders {
        fs::create_dir_all(dir).expect("corpus folder");
        fs::write(dir.join(format!("{prefix}-{:016x}", h.finish())), text).expect("corpus file");
    }
}

#[test]
#[ignore = "writes the seed corpora"]
fn write_seed_corpora() {
    let (filter_dir, translate_dir, odata_dir) =
        (corpus("filter"), corpus("translate"), corpus("odata"));
    let both = [filter_dir.as_path(), translate_dir.as_path()];

    let entries: Vec<SampleEntry> = tenant::people(&Tenant::sample())
        .into_iter()
        .map(|p| SampleEntry {
            attrs: p.attributes(),
            dn: p.dn,
        })
        .collect();
    let pools = Pools::new(&entries);
    let mut generator = Generator::new(SEED, &pools);
    for _ in 0..GENERATED {
        write(&both, "gen", &generator.filter(3).render());
    }
    let patterns = filtergen::NAME_PREFIX_PATTERNS
        .iter()
        .chain(filtergen::NAME_EQUALITY_PATTERNS)
        .chain(filtergen::NAME_CONTAINS_PATTERNS)
        .chain(filtergen::CALLER_ID_PATTERNS)
        .chain(filtergen::PHONE_SUFFIX_PATTERNS);
    for (i, pattern) in patterns.enumerate() {
        if let Ok(f) = filtergen::fill(pattern, TYPED[i % TYPED.len()]) {
            write(&both, "client", &f.render());
        }
    }

    // What the translator renders for every filter seed, as the odata target's seeds.
    let fx = fixtures::get();
    let variants = |v: &str| fx.e164.spelling_variants(v);
    let ctx = TranslateContext {
        mapping: &fx.mapping,
        user_filter: "accountEnabled eq true",
        strict_substrings: false,
        phone_e164: true,
        phone_variants: &variants,
        phone_index: &|_, _, _| None,
        page_size: 999,
    };
    for file in fs::read_dir(&filter_dir).expect("filter corpus") {
        let text = fs::read_to_string(file.expect("entry").path()).unwrap_or_default();
        let Ok(f) = parse_filter(&text) else { continue };
        for c in [Collection::Users, Collection::Contacts] {
            for q in plan_collection(&f, c, None, &ctx).queries {
                for odata in q.filter.iter().chain(&q.search) {
                    write(&[odata_dir.as_path()], "plan", odata);
                }
            }
        }
    }
}
