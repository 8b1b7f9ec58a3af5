//! Endpoint health: the atomics the hot path reads, and the rules that move them.
//!
//! Writers are the active checker (probe results), the proxy's passive observations (connect
//! failures, resets, 5xx, per-try timeouts) and nothing else. Readers do plain atomic loads.
//!
//! An endpoint is *usable* when active checks say up, it is not ejected by outlier detection,
//! and no per-try timeout has made it suspect since its last successful probe.

pub mod checker;

use crate::config::OutlierSettings;
use std::sync::OnceLock;
use std::sync::atomic::{
    AtomicBool, AtomicU32, AtomicU64, Ordering::Acquire, Ordering::Relaxed, Ordering::Release,
};
use std::time::{Duration, Instant};

/// Milliseconds since the process's first call, as a cheap monotonic clock for atomics.
pub fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

/// Health state of one endpoint address. All fields are atomics so the request path never locks.
#[derive(Debug)]
pub struct EndpointHealth {
    /// Active-check verdict after rise/fall; starts up so traffic flows before the first probe.
    up: AtomicBool,
    /// Consecutive probe successes (reset by a failure).
    probe_successes: AtomicU32,
    /// Consecutive probe failures (reset by a success).
    probe_failures: AtomicU32,
    /// Probes recorded so far (readiness waits for the first).
    probes: AtomicU64,
    /// Number (1-based, in `probes`) of the probe that last changed the verdict; 0 = never.
    changed_at_probe: AtomicU64,
    /// `now_ms()` when the verdict last changed; 0 = never.
    changed_ms: AtomicU64,
    /// Set when a per-try timeout trips; cleared by the next successful probe. Skipping a hanging
    /// origin at once is what keeps hundreds of clients from waiting out a read timeout each.
    suspect: AtomicBool,
    /// Consecutive passive failures (connect errors, resets, 5xx).
    passive_failures: AtomicU32,
    /// Ejected until this `now_ms()`; 0 = not ejected.
    ejected_until: AtomicU64,
    /// Ejections so far; the next one lasts base * 2^count, capped.
    ejection_count: AtomicU32,
    /// Smoothed probe round-trip time, microseconds; 0 = no sample yet.
    probe_rtt_us: AtomicU64,
    /// Smoothed request latency to response headers (Jacobson's SRTT), microseconds.
    srtt_us: AtomicU64,
    /// Smoothed mean deviation of request latency (RTTVAR), microseconds.
    rttvar_us: AtomicU64,
    /// Requests currently in flight to this endpoint, for least-loaded choice.
    in_flight: AtomicU32,
}

/// What a probe saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// Expected status within the timeout.
    Healthy,
    /// Anything else.
    Unhealthy,
}

/// A change of the active verdict, reported so the checker can log and count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Went up after `rise` successes.
    Up,
    /// Went down after `fall` failures.
    Down,
}

impl Default for EndpointHealth {
    fn default() -> Self {
        Self {
            up: AtomicBool::new(true),
            probe_successes: AtomicU32::new(0),
            probe_failures: AtomicU32::new(0),
            probes: AtomicU64::new(0),
            changed_at_probe: AtomicU64::new(0),
            changed_ms: AtomicU64::new(0),
            suspect: AtomicBool::new(false),
            passive_failures: AtomicU32::new(0),
            ejected_until: AtomicU64::new(0),
            ejection_count: AtomicU32::new(0),
            probe_rtt_us: AtomicU64::new(0),
            srtt_us: AtomicU64::new(0),
            rttvar_us: AtomicU64::new(0),
            in_flight: AtomicU32::new(0),
        }
    }
}

// === impl EndpointHealth ===

impl EndpointHealth {
    /// May the request path pick this endpoint?
    pub fn is_usable(&self) -> bool {
        self.up.load(Relaxed) && !self.suspect.load(Relaxed) && !self.is_ejected()
    }

    /// Active verdict alone.
    pub fn is_up(&self) -> bool {
        self.up.load(Acquire)
    }

    /// Has any probe finished yet?
    pub fn is_probed(&self) -> bool {
        self.probes.load(Relaxed) > 0
    }

    /// Probes recorded so far.
    pub fn probes(&self) -> u64 {
        self.probes.load(Relaxed)
    }

    /// Number of the probe (counting as [`Self::probes`] does) whose result last changed the
    /// verdict, 0 if none has. With `probes` it says how many probes ago the verdict changed.
    pub fn changed_at_probe(&self) -> u64 {
        self.changed_at_probe.load(Relaxed)
    }

    /// How long ago the verdict last changed; None if it never has (up since start).
    pub fn verdict_age(&self) -> Option<Duration> {
        match self.changed_ms.load(Relaxed) {
            0 => None,
            at => Some(Duration::from_millis(now_ms().saturating_sub(at))),
        }
    }

    /// Per-try timeout flag.
    pub fn is_suspect(&self) -> bool {
        self.suspect.load(Relaxed)
    }

    /// Outlier ejection in force?
    pub fn is_ejected(&self) -> bool {
        let until = self.ejected_until.load(Relaxed);
        until != 0 && now_ms() < until
    }

    /// Times this endpoint has been ejected.
    pub fn ejections(&self) -> u32 {
        self.ejection_count.load(Relaxed)
    }

    /// Smoothed probe RTT, if sampled.
    pub fn probe_rtt(&self) -> Option<Duration> {
        match self.probe_rtt_us.load(Relaxed) {
            0 => None,
            us => Some(Duration::from_micros(us)),
        }
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Relaxed)
    }

    /// Counts a request in flight until the guard drops.
    pub fn track(&self) -> InFlightGuard<'_> {
        self.in_flight.fetch_add(1, Relaxed);
        InFlightGuard(&self.in_flight)
    }

    /// Records a probe result; returns a transition when rise/fall thresholds are crossed.
    pub fn record_probe(
        &self,
        outcome: ProbeOutcome,
        rtt: Duration,
        rise: u32,
        fall: u32,
    ) -> Option<Transition> {
        let number = self.probes.fetch_add(1, Relaxed) + 1;
        let transition = match outcome {
            ProbeOutcome::Healthy => {
                ewma_store(&self.probe_rtt_us, rtt.as_micros() as u64);
                self.suspect.store(false, Relaxed);
                self.probe_failures.store(0, Relaxed);
                let n = self.probe_successes.fetch_add(1, Relaxed) + 1;
                (n >= rise && !self.up.load(Relaxed)).then_some(Transition::Up)
            }
            ProbeOutcome::Unhealthy => {
                self.probe_successes.store(0, Relaxed);
                let n = self.probe_failures.fetch_add(1, Relaxed) + 1;
                (n >= fall && self.up.load(Relaxed)).then_some(Transition::Down)
            }
        };
        if let Some(t) = transition {
            // Only the endpoint's one probe task writes here, so load-then-store cannot race.
            // The probe number goes first and the verdict is stored with Release, so whoever
            // sees the new verdict through `is_up` (Acquire) sees its number too.
            self.changed_at_probe.store(number, Relaxed);
            self.changed_ms.store(now_ms(), Relaxed);
            self.up.store(t == Transition::Up, Release);
        }
        transition
    }

    /// A per-try timeout tripped: skip this endpoint until a probe succeeds.
    pub fn mark_suspect(&self) -> bool {
        !self.suspect.swap(true, Relaxed)
    }

    /// A request succeeded: reset the passive failure streak and learn its latency.
    pub fn record_success(&self, latency: Duration) {
        self.passive_failures.store(0, Relaxed);
        let sample = latency.as_micros() as u64;
        let srtt = self.srtt_us.load(Relaxed);
        if srtt == 0 {
            self.srtt_us.store(sample.max(1), Relaxed);
            self.rttvar_us.store(sample / 2, Relaxed);
        } else {
            // RFC 6298: RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|; SRTT = 7/8 SRTT + 1/8 R.
            let var = self.rttvar_us.load(Relaxed);
            self.rttvar_us
                .store((3 * var + srtt.abs_diff(sample)) / 4, Relaxed);
            self.srtt_us
                .store(((7 * srtt + sample) / 8).max(1), Relaxed);
        }
    }

    /// SRTT + 4 * RTTVAR: how long a healthy answer takes, at the slow end. None before samples.
    pub fn latency_bound(&self) -> Option<Duration> {
        match self.srtt_us.load(Relaxed) {
            0 => None,
            srtt => Some(Duration::from_micros(
                srtt + 4 * self.rttvar_us.load(Relaxed),
            )),
        }
    }

    /// A passive failure; returns the ejection length when this one crosses the threshold and
    /// `may_eject` (the cap on ejected endpoints) allows it.
    pub fn record_failure(&self, settings: &OutlierSettings, may_eject: bool) -> Option<Duration> {
        let n = self.passive_failures.fetch_add(1, Relaxed) + 1;
        if n < settings.consecutive_failures || self.is_ejected() || !may_eject {
            return None;
        }
        self.passive_failures.store(0, Relaxed);
        let count = self.ejection_count.fetch_add(1, Relaxed);
        let factor = 1u32.checked_shl(count.min(16)).unwrap_or(u32::MAX);
        let length = settings
            .base_ejection
            .saturating_mul(factor)
            .min(settings.max_ejection);
        self.ejected_until
            .store(now_ms() + length.as_millis() as u64, Relaxed);
        Some(length)
    }
}

/// Decrements the in-flight counter on drop.
pub struct InFlightGuard<'a>(&'a AtomicU32);

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

/// Exponentially weighted moving average with weight 1/4 for the new sample.
fn ewma_store(cell: &AtomicU64, sample: u64) {
    let old = cell.load(Relaxed);
    let new = if old == 0 {
        sample
    } else {
        (3 * old + sample) / 4
    };
    cell.store(new.max(1), Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outlier() -> OutlierSettings {
        OutlierSettings {
            consecutive_failures: 3,
            base_ejection: Duration::from_secs(1),
            max_ejection: Duration::from_secs(3),
            max_ejected_percent: 50,
        }
    }

    #[test]
    fn fall_then_rise_thresholds() {
        let h = EndpointHealth::default();
        let rtt = Duration::from_millis(1);
        assert_eq!(h.verdict_age(), None);
        assert_eq!(h.record_probe(ProbeOutcome::Unhealthy, rtt, 2, 3), None);
        assert_eq!(h.record_probe(ProbeOutcome::Unhealthy, rtt, 2, 3), None);
        assert_eq!(
            h.record_probe(ProbeOutcome::Unhealthy, rtt, 2, 3),
            Some(Transition::Down)
        );
        assert!(!h.is_usable());
        assert_eq!((h.probes(), h.changed_at_probe()), (3, 3));
        assert!(
            h.verdict_age()
                .is_some_and(|age| age < Duration::from_secs(60))
        );
        // Further failures do not move the change.
        assert_eq!(h.record_probe(ProbeOutcome::Unhealthy, rtt, 2, 3), None);
        assert_eq!(h.record_probe(ProbeOutcome::Healthy, rtt, 2, 3), None);
        assert_eq!(
            h.record_probe(ProbeOutcome::Healthy, rtt, 2, 3),
            Some(Transition::Up)
        );
        assert!(h.is_usable());
        assert_eq!((h.probes(), h.changed_at_probe()), (6, 6));
        assert_eq!(h.record_probe(ProbeOutcome::Healthy, rtt, 2, 3), None);
        assert_eq!((h.probes(), h.changed_at_probe()), (7, 6));
    }

    #[test]
    fn suspect_until_probe_succeeds() {
        let h = EndpointHealth::default();
        assert!(h.mark_suspect());
        assert!(!h.is_usable());
        h.record_probe(ProbeOutcome::Healthy, Duration::from_millis(1), 1, 1);
        assert!(h.is_usable());
    }

    #[test]
    fn ejection_backs_off_and_caps() {
        let h = EndpointHealth::default();
        let s = outlier();
        let mut lengths = Vec::new();
        for _ in 0..4 {
            h.ejected_until.store(0, Relaxed);
            for _ in 0..2 {
                assert_eq!(h.record_failure(&s, true), None);
            }
            lengths.push(h.record_failure(&s, true).unwrap());
        }
        assert_eq!(
            lengths.iter().map(|d| d.as_secs()).collect::<Vec<_>>(),
            [1, 2, 3, 3]
        );
        assert!(h.is_ejected());
    }

    #[test]
    fn cap_prevents_ejection() {
        let h = EndpointHealth::default();
        for _ in 0..10 {
            assert_eq!(h.record_failure(&outlier(), false), None);
        }
        assert!(h.is_usable());
    }

    #[test]
    fn latency_bound_follows_samples() {
        let h = EndpointHealth::default();
        assert_eq!(h.latency_bound(), None);
        for _ in 0..50 {
            h.record_success(Duration::from_millis(10));
        }
        let bound = h.latency_bound().unwrap();
        assert!(
            bound >= Duration::from_millis(10) && bound < Duration::from_millis(12),
            "{bound:?}"
        );
    }
}
