//! The status documents: regions, endpoints, rates and config, as JSON for scripts and the page.

use crate::config::{ReloadOutcome, ReloadStatus};
use crate::runtime::Runtime;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Rates are averaged over at least this long.
const RATE_WINDOW: Duration = Duration::from_secs(10);

/// Per-region counters sampled at admin reads, so rates need no background task.
#[derive(Default)]
pub struct Rates {
    /// (when, region -> (served, failovers_in)) samples, oldest first; at most a few.
    samples: Mutex<Vec<(Instant, Counters)>>,
}

/// Region name -> (requests served, failovers in).
type Counters = HashMap<String, (u64, u64)>;

impl Rates {
    /// Records the current counters and returns per-region (served/s, failovers/s).
    fn update(&self, now: Counters) -> HashMap<String, (f64, f64)> {
        let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        let t = Instant::now();
        // Keep the newest sample that is at least RATE_WINDOW old as the baseline.
        while samples.len() > 1 && t.duration_since(samples[1].0) >= RATE_WINDOW {
            samples.remove(0);
        }
        let rates = match samples.first() {
            Some((then, old)) if t.duration_since(*then) >= Duration::from_millis(500) => {
                let dt = t.duration_since(*then).as_secs_f64();
                now.iter()
                    .map(|(name, (s, f))| {
                        let (s0, f0) = old.get(name).copied().unwrap_or((0, 0));
                        let rate = |a: u64, b: u64| a.saturating_sub(b) as f64 / dt;
                        (name.clone(), (rate(*s, s0), rate(*f, f0)))
                    })
                    .collect()
            }
            _ => HashMap::new(),
        };
        if samples
            .last()
            .is_none_or(|(last, _)| t.duration_since(*last) >= Duration::from_secs(1))
        {
            samples.push((t, now));
        }
        rates
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Current state of regions, endpoints and config.
pub fn status_json(runtime: &Runtime, rates: &Rates) -> Value {
    let snapshot = runtime.snapshot();
    let settings = &snapshot.settings;
    let counters = snapshot
        .regions
        .iter()
        .map(|r| {
            (
                r.name().to_string(),
                (r.served.load(Relaxed), r.failovers_in.load(Relaxed)),
            )
        })
        .collect();
    let rates = rates.update(counters);
    let regions: Vec<Value> = snapshot
        .regions
        .iter()
        .map(|r| {
            let endpoints: Vec<Value> = r
                .endpoints()
                .iter()
                .map(|e| {
                    let h = &e.health;
                    json!({
                        "endpoint": e.label,
                        "address": e.addr.to_string(),
                        "up": h.is_up(),
                        "usable": h.is_usable(),
                        "suspect": h.is_suspect(),
                        "ejected": h.is_ejected(),
                        "ejections": h.ejections(),
                        "probe_rtt_ms": h.probe_rtt().map(|d| d.as_secs_f64() * 1000.0),
                        "probes": h.probes(),
                        "changed_at_probe": h.changed_at_probe(),
                        "verdict_age_s": h.verdict_age().map(|d| d.as_secs_f64()),
                        "in_flight": h.in_flight(),
                    })
                })
                .collect();
            let (rps, fps) = rates.get(r.name()).copied().unwrap_or((0.0, 0.0));
            json!({
                "name": r.name(),
                "local": r.index == settings.local_region,
                "healthy": r.is_healthy(),
                "probe_latency_ms": r.probe_latency().map(|d| d.as_secs_f64() * 1000.0),
                "served_total": r.served.load(Relaxed),
                "failovers_in_total": r.failovers_in.load(Relaxed),
                "served_per_sec": rps,
                "failovers_in_per_sec": fps,
                "endpoints": endpoints,
            })
        })
        .collect();
    json!({
        "ready": runtime.is_ready(),
        "draining": runtime.draining.load(Relaxed),
        "local_region": settings.local().name,
        "in_flight": runtime.in_flight.load(Relaxed),
        "connections": runtime.connections.load(Relaxed),
        "config": config_json(runtime),
        "regions": regions,
        "database": super::database::json(runtime),
    })
}

/// The active config's version, origin and load time, and the last reload attempt.
pub fn config_json(runtime: &Runtime) -> Value {
    let snapshot = runtime.snapshot();
    let last = runtime.reload_status().map(|s| reload_json(&s));
    json!({
        "version": snapshot.settings.version,
        "origin": snapshot.settings.origin,
        "loaded_at_unix": unix(snapshot.loaded_at),
        "last_reload": last,
    })
}

fn reload_json(status: &ReloadStatus) -> Value {
    let mut v = outcome_json(&status.outcome);
    v["at_unix"] = json!(unix(status.at));
    v["failures_total"] = json!(status.failures);
    v
}

/// One reload outcome.
pub fn outcome_json(outcome: &ReloadOutcome) -> Value {
    match outcome {
        ReloadOutcome::Applied { version } => json!({"result": "applied", "version": version}),
        ReloadOutcome::Unchanged => json!({"result": "unchanged"}),
        ReloadOutcome::Failed { error } => json!({"result": "failed", "error": error}),
    }
}
