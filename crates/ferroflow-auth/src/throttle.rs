//! Slowing down password guessing: failed logins are counted per source address and per username,
//! and each further attempt from a counted key waits longer (NIST SP 800-63B prefers increasing delays
//! to lock-outs, which an attacker could use to lock a user out). Successful token logins are never
//! slowed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures a key may have before its attempts are slowed.
const FREE_FAILURES: u32 = 3;
/// Delay after the first failure beyond the free ones; doubled with each further one.
const FIRST_DELAY: Duration = Duration::from_millis(250);
/// Longest delay.
const MAX_DELAY: Duration = Duration::from_secs(10);
/// A key's count is forgotten after this long without failures.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Bound on the keys remembered; beyond it the stale ones are dropped.
const MAX_KEYS: usize = 100_000;

/// Failure counts per source address and per username.
#[derive(Debug, Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Throttle {
    /// How long an attempt from `address` for `username` must wait before it is checked.
    #[must_use]
    pub fn delay(&self, address: &str, username: &str) -> Duration {
        let failures = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let count = |key: String| {
            failures.get(&key).filter(|(_, last)| now.duration_since(*last) < FORGET_AFTER).map_or(0, |(n, _)| *n)
        };
        let worst = count(address_key(address)).max(count(user_key(username)));
        delay_after(worst)
    }

    /// Counts a failed attempt.
    pub fn failed(&self, address: &str, username: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        if failures.len() >= MAX_KEYS {
            failures.retain(|_, (_, last)| now.duration_since(*last) < FORGET_AFTER);
        }
        for key in [address_key(address), user_key(username)] {
            let entry = failures.entry(key).or_insert((0, now));
            if now.duration_since(entry.1) >= FORGET_AFTER {
                entry.0 = 0;
            }
            entry.0 = entry.0.saturating_add(1);
            entry.1 = now;
        }
    }

    /// Forgets a user's failures after a successful password login (the address keeps its count, so
    /// one valid account does not unlock guessing at others).
    pub fn succeeded(&self, username: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        failures.remove(&user_key(username));
    }
}

fn address_key(address: &str) -> String {
    format!("a:{address}")
}

fn user_key(username: &str) -> String {
    format!("u:{username}")
}

fn delay_after(failures: u32) -> Duration {
    match failures.checked_sub(FREE_FAILURES) {
        None => Duration::ZERO,
        Some(extra) => FIRST_DELAY.saturating_mul(1 << extra.min(16)).min(MAX_DELAY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_with_failures_and_are_capped() {
        assert_eq!(delay_after(0), Duration::ZERO);
        assert_eq!(delay_after(3), FIRST_DELAY);
        assert_eq!(delay_after(4), FIRST_DELAY * 2);
        assert_eq!(delay_after(40), MAX_DELAY);
    }

    #[test]
    fn failures_count_per_address_and_per_user() {
        let throttle = Throttle::default();
        for _ in 0..4 {
            throttle.failed("10.0.0.1", "alice");
        }
        assert_eq!(throttle.delay("10.0.0.1", "bob"), FIRST_DELAY * 2, "same address, other user");
        assert_eq!(throttle.delay("10.0.0.2", "alice"), FIRST_DELAY * 2, "other address, same user");
        assert_eq!(throttle.delay("10.0.0.2", "bob"), Duration::ZERO);
        throttle.succeeded("alice");
        assert_eq!(throttle.delay("10.0.0.2", "alice"), Duration::ZERO);
        assert_eq!(throttle.delay("10.0.0.1", "alice"), FIRST_DELAY * 2);
    }
}
