//! Bind abuse: the per-address table of failed binds (a delay that grows, then a lockout),
//! bounded in memory, and the bounded pool that password verification runs on. The table
//! is pure logic over an `Instant` the caller passes; it knows no socket and no account.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

/// Failed binds an address may make before each further attempt is delayed.
pub const FREE_FAILURES: u32 = 3;
/// Failed binds after which the address is locked out.
pub const LOCKOUT_FAILURES: u32 = 10;
/// How long a locked-out address is refused, counted from its last failure.
pub const LOCKOUT: Duration = Duration::from_secs(60);
/// An address with no failure for this long starts afresh.
pub const FORGET_AFTER: Duration = Duration::from_secs(300);
/// The first delay; it doubles with each further failure up to `MAX_DELAY`.
pub const FIRST_DELAY: Duration = Duration::from_millis(250);
pub const MAX_DELAY: Duration = Duration::from_secs(4);
/// Addresses remembered at most; beyond it the one idle longest is forgotten.
pub const MAX_ADDRESSES: usize = 4096;
/// Password verifications (argon2id, about 19 MiB and tens of ms each) running at once:
/// half the cores, at least one, so binds never take every core from searches.
pub fn verify_pool_size() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// What a bind from an address may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Verify, after waiting `delay` (zero for the first failures).
    Proceed { delay: Duration },
    /// Refuse without verifying; the lockout ends after `remaining`.
    LockedOut { remaining: Duration },
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last: Instant,
}

/// Failed binds per client address.
#[derive(Debug, Default)]
pub struct FailureTable {
    records: HashMap<IpAddr, Record>,
}

impl FailureTable {
    /// The verdict for a bind from `addr` at `now`.
    pub fn verdict(&self, addr: IpAddr, now: Instant) -> Verdict {
        let Some(r) = self.live(addr, now) else {
            return Verdict::Proceed {
                delay: Duration::ZERO,
            };
        };
        if r.failures >= LOCKOUT_FAILURES {
            let ends = r.last + LOCKOUT;
            if ends > now {
                return Verdict::LockedOut {
                    remaining: ends - now,
                };
            }
        }
        Verdict::Proceed {
            delay: delay_after(r.failures),
        }
    }

    /// Records a failed bind.
    pub fn failed(&mut self, addr: IpAddr, now: Instant) {
        let failures = match self.live(addr, now) {
            // A lockout that ran out grants one more try, then locks again at once.
            Some(r) => r.failures.saturating_add(1),
            None => 1,
        };
        if !self.records.contains_key(&addr) && self.records.len() >= MAX_ADDRESSES {
            self.make_room(now);
        }
        self.records.insert(
            addr,
            Record {
                failures,
                last: now,
            },
        );
    }

    /// A successful bind clears the address.
    pub fn succeeded(&mut self, addr: IpAddr) {
        self.records.remove(&addr);
    }

    /// Addresses remembered.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when no address is remembered.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    fn live(&self, addr: IpAddr, now: Instant) -> Option<Record> {
        self.records
            .get(&addr)
            .filter(|r| now.saturating_duration_since(r.last) < FORGET_AFTER)
            .copied()
    }

    fn make_room(&mut self, now: Instant) {
        self.records
            .retain(|_, r| now.saturating_duration_since(r.last) < FORGET_AFTER);
        if self.records.len() >= MAX_ADDRESSES
            && let Some(oldest) = self
                .records
                .iter()
                .min_by_key(|(_, r)| r.last)
                .map(|(a, _)| *a)
        {
            self.records.remove(&oldest);
        }
    }
}

/// The wait before verifying a bind from an address with `failures` recent failures.
pub fn delay_after(failures: u32) -> Duration {
    if failures < FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (failures - FREE_FAILURES).min(16);
    FIRST_DELAY.saturating_mul(1 << doublings).min(MAX_DELAY)
}

/// Shared by all connections: the failure table and the verification pool.
#[derive(Debug, Clone)]
pub struct BindGuard {
    pub table: Arc<Mutex<FailureTable>>,
    pub pool: Arc<Semaphore>,
}

impl Default for BindGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl BindGuard {
    pub fn new() -> BindGuard {
        BindGuard {
            table: Arc::new(Mutex::new(FailureTable::default())),
            pool: Arc::new(Semaphore::new(verify_pool_size())),
        }
    }

    /// The verdict for `addr` now.
    pub fn verdict(&self, addr: IpAddr) -> Verdict {
        match self.table.lock() {
            Ok(t) => t.verdict(addr, Instant::now()),
            Err(poisoned) => poisoned.into_inner().verdict(addr, Instant::now()),
        }
    }

    /// Records the outcome of a verified bind.
    pub fn record(&self, addr: IpAddr, ok: bool) {
        let mut t = match self.table.lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        if ok {
            t.succeeded(addr);
        } else {
            t.failed(addr, Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn delay_grows_then_locks_out_and_expires() {
        let mut t = FailureTable::default();
        let a = ip("192.0.2.7");
        let start = Instant::now();
        let mut now = start;
        let mut delays = Vec::new();
        for _ in 0..LOCKOUT_FAILURES {
            match t.verdict(a, now) {
                Verdict::Proceed { delay } => delays.push(delay),
                v => panic!("locked out too early: {v:?}"),
            }
            t.failed(a, now);
            now += Duration::from_millis(10);
        }
        assert_eq!(delays[..3], [Duration::ZERO; 3]);
        assert_eq!(delays[3], FIRST_DELAY);
        assert_eq!(delays[4], FIRST_DELAY * 2);
        assert!(delays.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*delays.last().unwrap(), MAX_DELAY);
        assert!(
            matches!(t.verdict(a, now), Verdict::LockedOut { remaining } if remaining <= LOCKOUT && remaining > LOCKOUT - Duration::from_secs(1))
        );
        // Another address is untouched.
        assert_eq!(
            t.verdict(ip("2001:db8::1"), now),
            Verdict::Proceed {
                delay: Duration::ZERO
            }
        );
        // After the lockout: one more (delayed) try, which locks again on failure.
        now += LOCKOUT;
        assert!(matches!(t.verdict(a, now), Verdict::Proceed { delay } if delay == MAX_DELAY));
        t.failed(a, now);
        assert!(matches!(t.verdict(a, now), Verdict::LockedOut { .. }));
        // Long quiet: forgotten.
        now += FORGET_AFTER;
        assert_eq!(
            t.verdict(a, now),
            Verdict::Proceed {
                delay: Duration::ZERO
            }
        );
        t.failed(a, now);
        t.succeeded(a);
        assert!(t.is_empty());
    }

    #[test]
    fn the_table_stays_bounded() {
        let mut t = FailureTable::default();
        let now = Instant::now();
        for i in 0..(MAX_ADDRESSES as u32 + 500) {
            let addr = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            t.failed(addr, now + Duration::from_micros(u64::from(i)));
        }
        assert_eq!(t.len(), MAX_ADDRESSES);
        // The newest is kept, the oldest went.
        let newest = IpAddr::from(std::net::Ipv4Addr::from(
            0x0a00_0000 + MAX_ADDRESSES as u32 + 499,
        ));
        assert!(t.records.contains_key(&newest));
        assert!(!t.records.contains_key(&ip("10.0.0.0")));
    }
}
