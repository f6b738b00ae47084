//! Random identifiers and jitter for the Graph client (`client-request-id`, JWT `jti`,
//! backoff jitter): a per-thread SplitMix64 stream seeded once from the ring provider's
//! system random source (one system call per thread, not per request). Nothing here is
//! secret material; the values only need to be unique.

/// `N` random bytes; falls back to clock-derived bytes if the system source fails,
/// which is acceptable because these values only need to be unique, not secret.
fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    let provider = rustls::crypto::ring::default_provider();
    if provider.secure_random.fill(&mut buf).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (nanos >> ((i % 16) * 8)) as u8 ^ (i as u8);
        }
    }
    buf
}

thread_local! {
    /// The thread's SplitMix64 state, seeded from the system source on first use.
    static STREAM: std::cell::Cell<u64> = std::cell::Cell::new(u64::from_le_bytes(random_bytes::<8>()));
}

/// The next 64 bits of the thread's stream (SplitMix64: every state is visited once, so a
/// thread never repeats a value within 2^64 draws).
fn next_u64() -> u64 {
    STREAM.with(|s| {
        let state = s.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        s.set(state);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

/// A random version-4 UUID in its usual 8-4-4-4-12 lowercase hex form, as Graph's
/// `client-request-id` and the assertion's `jti` expect (GRAPH.md §7).
pub(crate) fn random_uuid() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&next_u64().to_le_bytes());
    b[8..].copy_from_slice(&next_u64().to_le_bytes());
    b[6] = (b[6] & 0x0f) | 0x40; // version 4 (RFC 9562 §5.4)
    b[8] = (b[8] & 0x3f) | 0x80; // variant 10
    let mut out = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(HEX[usize::from(x >> 4)] as char);
        out.push(HEX[usize::from(x & 0x0f)] as char);
    }
    out
}

/// A random fraction in [0, 1), for backoff jitter.
pub(crate) fn random_fraction() -> f64 {
    // The top 53 bits: every value a multiple of 2^-53, below one.
    (next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_well_formed_and_differ() {
        let a = random_uuid();
        let b = random_uuid();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(a.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
        let many: std::collections::HashSet<String> = (0..10_000).map(|_| random_uuid()).collect();
        assert_eq!(many.len(), 10_000);
        // Another thread draws from its own stream.
        let other = std::thread::spawn(random_uuid).join().unwrap();
        assert!(!many.contains(&other));
    }

    #[test]
    fn fractions_stay_below_one() {
        for _ in 0..100 {
            let f = random_fraction();
            assert!((0.0..1.0).contains(&f));
        }
    }
}
