//! The retry budget: retries and hedges may add at most a share of recent requests, plus a floor.
//!
//! Finagle's and Linkerd's idea, on by default: during a total outage every request fails once
//! and only a bounded number are retried, so the survivors never see load multiplied.

use crate::config::RetrySettings;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

/// Longest window the budget can look back over, in one-second buckets.
pub const MAX_WINDOW_SECS: u64 = 60;

/// Requests and retries counted per second in a ring of buckets; lock-free.
pub struct RetryBudget {
    /// Reference point for bucket seconds.
    start: Instant,
    /// One bucket per second, indexed by second modulo the ring size.
    buckets: Vec<Bucket>,
}

struct Bucket {
    /// Second (since `start`) this bucket currently counts; stale buckets are reset on use.
    second: AtomicU64,
    /// Requests seen in that second.
    requests: AtomicU64,
    /// Retries and hedges granted in that second.
    retries: AtomicU64,
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self::new()
    }
}

impl RetryBudget {
    /// An empty budget.
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            buckets: (0..MAX_WINDOW_SECS)
                .map(|_| Bucket {
                    second: AtomicU64::new(u64::MAX),
                    requests: AtomicU64::new(0),
                    retries: AtomicU64::new(0),
                })
                .collect(),
        }
    }

    fn sec_at(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.start).as_secs()
    }

    fn bucket(&self, sec: u64) -> &Bucket {
        let b = &self.buckets[(sec % MAX_WINDOW_SECS) as usize];
        let seen = b.second.load(Relaxed);
        if seen != sec
            && b.second
                .compare_exchange(seen, sec, Relaxed, Relaxed)
                .is_ok()
        {
            // A racing increment may land in the old second's count; the budget is approximate
            // by design and errs by one request at most per race.
            b.requests.store(0, Relaxed);
            b.retries.store(0, Relaxed);
        }
        b
    }

    /// Counts one client request that arrived at `now` (deposits into the budget). The caller's
    /// clock reading is reused: the request path reads the clock as few times as it can.
    pub fn record_request(&self, now: Instant) {
        self.bucket(self.sec_at(now)).requests.fetch_add(1, Relaxed);
    }

    /// Takes one retry or hedge from the budget; false when it is exhausted.
    pub fn try_withdraw(&self, settings: &RetrySettings) -> bool {
        let now = self.sec_at(Instant::now());
        let window = settings.budget_window.as_secs().clamp(1, MAX_WINDOW_SECS);
        let (mut requests, mut retries) = (0u64, 0u64);
        for b in &self.buckets {
            let sec = b.second.load(Relaxed);
            if sec != u64::MAX && sec <= now && now - sec < window {
                requests += b.requests.load(Relaxed);
                retries += b.retries.load(Relaxed);
            }
        }
        let allowed = settings.budget_ratio * requests as f64
            + f64::from(settings.budget_min_per_sec) * window as f64;
        if (retries as f64) < allowed {
            self.bucket(now).retries.fetch_add(1, Relaxed);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn settings(ratio: f64, floor: u32) -> RetrySettings {
        RetrySettings {
            statuses: vec![503],
            max_attempts: 3,
            replay_buffer: 0,
            budget_ratio: ratio,
            budget_min_per_sec: floor,
            budget_window: Duration::from_secs(10),
            hedge: false,
            hedge_delay: None,
        }
    }

    #[test]
    fn ratio_plus_floor_caps_retries() {
        let budget = RetryBudget::new();
        let s = settings(0.2, 1);
        for _ in 0..100 {
            budget.record_request(Instant::now());
        }
        // 0.2 * 100 + 1/s * 10 s = 30 retries.
        let granted = (0..100).filter(|_| budget.try_withdraw(&s)).count();
        assert_eq!(granted, 30);
    }

    #[test]
    fn floor_alone_allows_a_trickle() {
        let budget = RetryBudget::new();
        let granted = (0..50)
            .filter(|_| budget.try_withdraw(&settings(0.5, 2)))
            .count();
        assert_eq!(granted, 20);
    }
}
