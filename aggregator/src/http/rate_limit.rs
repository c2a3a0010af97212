//! Per-client rate limiting that never stores an address: token buckets keyed by a keyed hash
//! of the address (IPv6 by its /64), with a random salt that lives only in memory and is
//! replaced every [`SALT_LIFETIME`] (which also forgets every bucket).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// How long one salt (and so one set of buckets) lives.
pub const SALT_LIFETIME: Duration = Duration::from_secs(3_600);
/// Most buckets kept; beyond it full buckets are dropped first.
const MAX_BUCKETS: usize = 200_000;

struct Bucket {
    tokens: f64,
    last: Instant,
}

struct Buckets {
    salt: [u8; 32],
    salt_born: Instant,
    by_key: HashMap<u64, Bucket>,
}

/// Token buckets: `per_minute` capacity, refilled at `per_minute / 60` per second.
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<Buckets>,
}

fn fresh_salt() -> [u8; 32] {
    let mut salt = [0_u8; 32];
    // Without OS randomness fall back to the clock: still never persisted or logged.
    if getrandom::fill(&mut salt).is_err() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        salt[..16].copy_from_slice(&nanos.to_le_bytes());
    }
    salt
}

fn client_key(salt: &[u8; 32], address: IpAddr) -> u64 {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    match address {
        IpAddr::V4(v4) => hasher.update(v4.octets()),
        IpAddr::V6(v6) => hasher.update(&v6.octets()[..8]),
    }
    let digest = hasher.finalize();
    let mut word = [0_u8; 8];
    word.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(word)
}

impl RateLimiter {
    /// `per_minute = 0` admits everything.
    pub fn new(per_minute: u32, now: Instant) -> Self {
        Self { per_minute, buckets: Mutex::new(Buckets { salt: fresh_salt(), salt_born: now, by_key: HashMap::new() }) }
    }

    /// Takes one token for `address` at `now`; `false` means refuse.
    pub fn admit(&self, address: IpAddr, now: Instant) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let Ok(mut buckets) = self.buckets.lock() else {
            return true;
        };
        if now.saturating_duration_since(buckets.salt_born) >= SALT_LIFETIME {
            buckets.salt = fresh_salt();
            buckets.salt_born = now;
            buckets.by_key.clear();
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        if buckets.by_key.len() >= MAX_BUCKETS {
            buckets.by_key.retain(|_, bucket| {
                bucket.tokens + now.saturating_duration_since(bucket.last).as_secs_f64() * per_second < capacity
            });
        }
        let key = client_key(&buckets.salt, address);
        let bucket = buckets.by_key.entry(key).or_insert(Bucket { tokens: capacity, last: now });
        let refill = now.saturating_duration_since(bucket.last).as_secs_f64() * per_second;
        bucket.tokens = (bucket.tokens + refill).min(capacity);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Buckets currently held (for tests and metrics).
    pub fn tracked_clients(&self) -> usize {
        self.buckets.lock().map_or(0, |buckets| buckets.by_key.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_burst_then_refills_at_the_rate() {
        let start = Instant::now();
        let limiter = RateLimiter::new(3, start);
        let client: IpAddr = "10.1.2.3".parse().expect("address");
        let other: IpAddr = "10.1.2.4".parse().expect("address");
        assert!((0..3).all(|_| limiter.admit(client, start)));
        assert!(!limiter.admit(client, start));
        assert!(limiter.admit(other, start), "another client has its own bucket");
        // 3 per minute: one token every 20 s.
        assert!(!limiter.admit(client, start + Duration::from_secs(19)));
        assert!(limiter.admit(client, start + Duration::from_secs(40)));
    }

    #[test]
    fn ipv6_clients_are_limited_by_their_64_prefix() {
        let start = Instant::now();
        let limiter = RateLimiter::new(1, start);
        assert!(limiter.admit("2001:db8::1".parse().expect("address"), start));
        assert!(!limiter.admit("2001:db8::2".parse().expect("address"), start));
    }

    #[test]
    fn salt_rotation_forgets_every_bucket() {
        let start = Instant::now();
        let limiter = RateLimiter::new(1, start);
        let client: IpAddr = "192.0.2.1".parse().expect("address");
        assert!(limiter.admit(client, start));
        assert_eq!(limiter.tracked_clients(), 1);
        assert!(limiter.admit(client, start + SALT_LIFETIME));
        assert_eq!(limiter.tracked_clients(), 1);
    }

    #[test]
    fn keys_depend_on_the_salt() {
        let address: IpAddr = "192.0.2.1".parse().expect("address");
        assert_ne!(client_key(&[1; 32], address), client_key(&[2; 32], address));
        assert_eq!(client_key(&[1; 32], address), client_key(&[1; 32], address));
    }

    #[test]
    fn zero_disables_the_limit() {
        let start = Instant::now();
        let limiter = RateLimiter::new(0, start);
        let client: IpAddr = "192.0.2.1".parse().expect("address");
        assert!((0..1000).all(|_| limiter.admit(client, start)));
        assert_eq!(limiter.tracked_clients(), 0);
    }
}
