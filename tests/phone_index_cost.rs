//! What the phone index costs (docs/exactness.md, "The phone index"): its memory per
//! 10,000 numbers, and its load time for 10,000 and 100,000 users through the emulator's
//! delta query. Measurements, not checks; ignored by default. Run:
//! `cargo test --release --test phone_index_cost -- --ignored --nocapture --test-threads 1`

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use graph_emulator::{SAMPLE_CLIENT_ID, SAMPLE_CLIENT_SECRET, SAMPLE_TENANT_ID, Tenant};
use ldap_graph_gateway::app;
use ldap_graph_gateway::config::Config;
use ldap_graph_gateway::directory::Collection;
use ldap_graph_gateway::directory::mapping::Mapping;
use ldap_graph_gateway::directory::phone::{PhoneMatch, PhoneRules};
use ldap_graph_gateway::search::phone_index::PhoneIndex;
use serde_json::{Value, json};

/// Counts the bytes live on the heap.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// `n` users with a business and a mobile number each, in the spellings of several
/// countries (so E.164 parsing, keys and digits all have their real sizes).
fn users(n: usize) -> Vec<Value> {
    let spell = |i: usize| match i % 5 {
        0 => format!("+1 (425) 555-{:04}", i % 10_000),
        1 => format!("+49 (0)30 {:07}", 1_000_000 + i % 9_000_000),
        2 => format!("+44 20 7946 {:04}", i % 10_000),
        3 => format!("(212) 555.{:04}", i % 10_000),
        _ => format!("+48 22 585 {:02} {:02}", (i / 100) % 100, i % 100),
    };
    (0..n)
        .map(|i| {
            json!({
                "id": format!("{:08x}-0000-4000-8000-{i:012x}", 0x10ad),
                "userPrincipalName": format!("user{i}@example.com"),
                "displayName": format!("User {i}"),
                "accountEnabled": true,
                "businessPhones": [spell(i)],
                "mobilePhone": spell(i + 7),
            })
        })
        .collect()
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn phone_index_memory_per_10000_numbers() {
    let rules = PhoneRules::new(PhoneMatch::E164, "US").unwrap();
    let mapping = Mapping::default_mapping();
    let objects = users(5_000);
    // The E.164 memo belongs to the phone rules (shared with every search): fill it
    // first so only the index is measured.
    for o in &objects {
        rules.e164(o["businessPhones"][0].as_str().unwrap());
        rules.e164(o["mobilePhone"].as_str().unwrap());
    }
    let before = LIVE.load(Ordering::SeqCst);
    let mut index = PhoneIndex::new(rules.clone(), &mapping, &[Collection::Users]);
    for o in &objects {
        index.apply(Collection::Users, o);
    }
    let bytes = LIVE.load(Ordering::SeqCst) - before;
    let size = index.size();
    println!(
        "phone index: {} numbers of {} users hold {} bytes ({:.2} MiB per 10,000 numbers)",
        size.numbers,
        size.objects,
        bytes,
        bytes as f64 / size.numbers as f64 * 10_000.0 / 1_048_576.0
    );
    assert_eq!(size.numbers, 10_000);
}

async fn load_time(n: usize) {
    let tenant = Tenant {
        tenant_id: SAMPLE_TENANT_ID.to_string(),
        client_id: SAMPLE_CLIENT_ID.to_string(),
        client_secret: SAMPLE_CLIENT_SECRET.to_string(),
        users: users(n),
        contacts: Vec::new(),
    };
    let emu = graph_emulator::start(tenant, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let cfg = Config::demo(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        &emu.base_url(),
        SAMPLE_TENANT_ID,
        SAMPLE_CLIENT_ID,
        SAMPLE_CLIENT_SECRET,
    )
    .unwrap();
    let started = Instant::now();
    let (gw, server) = app::start(&cfg).await.unwrap();
    assert!(
        gw.directory
            .phone_index_ready(Duration::from_secs(600))
            .await
    );
    let elapsed = started.elapsed();
    println!(
        "phone index of {n} users: loaded in {:.2} s over {} delta requests; {}",
        elapsed.as_secs_f64(),
        emu.request_log()
            .iter()
            .filter(|l| l.contains("/delta"))
            .count(),
        gw.directory.phone_index_status()
    );
    server.shutdown(Duration::from_secs(5)).await;
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement: run with --ignored --nocapture"]
async fn phone_index_load_time_10000_users() {
    load_time(10_000).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement: run with --ignored --nocapture"]
async fn phone_index_load_time_100000_users() {
    load_time(100_000).await;
}
