//! Random identifiers and jitter for the Graph client (`client-request-id`, JWT `jti`,
//! backoff jitter), drawn from the ring provider's system random source. Nothing here
//! is secret material.

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

/// A random version-4 UUID in its usual 8-4-4-4-12 lowercase hex form, as Graph's
/// `client-request-id` and the assertion's `jti` expect (GRAPH.md §7).
pub(crate) fn random_uuid() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40; // version 4 (RFC 9562 §5.4)
    b[8] = (b[8] & 0x3f) | 0x80; // variant 10
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A random fraction in [0, 1), for backoff jitter.
pub(crate) fn random_fraction() -> f64 {
    let b = random_bytes::<4>();
    f64::from(u32::from_le_bytes(b)) / (f64::from(u32::MAX) + 1.0)
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
    }

    #[test]
    fn fractions_stay_below_one() {
        for _ in 0..100 {
            let f = random_fraction();
            assert!((0.0..1.0).contains(&f));
        }
    }
}
