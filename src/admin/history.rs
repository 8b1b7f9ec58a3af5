//! The status page's recent past: a fixed-size ring of per-region samples (requests served,
//! failovers in and out, probe latency, replication lag) taken by one background task.
//!
//! Memory is bounded by `[status]` (at most `MAX_HISTORY_POINTS` samples of a few numbers per
//! region). Rates come from the regions' counters; a counter that went down (its region was
//! rebuilt by a reload) restarts from zero, as Prometheus treats a counter reset.

use crate::config::telemetry::StatusSettings;
use crate::runtime::Runtime;
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// One region at one moment.
#[derive(Debug, Clone)]
pub struct RegionSample {
    /// Region name.
    pub name: String,
    /// Requests it answered, per second since the previous sample.
    pub served_per_s: f64,
    /// Requests failed over or hedged to it, per second.
    pub failovers_in_per_s: f64,
    /// Requests failed over or hedged from it, per second.
    pub failovers_out_per_s: f64,
    /// Smoothed probe latency of its best endpoint.
    pub probe_ms: Option<f64>,
    /// Replication lag of its database (with `[database]`).
    pub lag_s: Option<f64>,
}

/// All regions at one moment.
#[derive(Debug, Clone)]
pub struct Sample {
    /// When it was taken.
    pub at: SystemTime,
    /// Regions in config order.
    pub regions: Vec<RegionSample>,
}

/// The ring, shared by the sampler (writer) and the admin handlers (readers).
#[derive(Default)]
pub struct History {
    /// Samples oldest first, and the counters of the last one; locked briefly by both sides.
    inner: Mutex<Ring>,
}

#[derive(Default)]
struct Ring {
    /// Most samples kept.
    capacity: usize,
    /// Sample period in seconds (for the JSON).
    interval_s: f64,
    /// Oldest first.
    samples: VecDeque<Sample>,
    /// Per region: (served, failovers in, failovers out) at the last sample, and when.
    last: HashMap<String, (u64, u64, u64)>,
    /// When the last sample was taken.
    last_at: Option<Instant>,
}

impl History {
    /// An empty history.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Takes one sample of `runtime` now.
    pub fn sample(&self, runtime: &Runtime, settings: &StatusSettings) {
        let snapshot = runtime.snapshot();
        let now = Instant::now();
        let mut ring = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if ring.capacity != settings.history_points {
            // `[status]` changed: start over rather than mix two periods on one axis.
            ring.samples.clear();
            ring.capacity = settings.history_points;
        }
        ring.interval_s = settings.history_interval.as_secs_f64();
        let elapsed = ring
            .last_at
            .map(|t| now.saturating_duration_since(t).as_secs_f64())
            .filter(|dt| *dt > 0.0);
        let mut regions = Vec::with_capacity(snapshot.regions.len());
        let mut last = HashMap::with_capacity(snapshot.regions.len());
        for (i, region) in snapshot.regions.iter().enumerate() {
            let counters = (
                region.served.load(Relaxed),
                region.failovers_in.load(Relaxed),
                region.failovers_out.load(Relaxed),
            );
            let before = ring.last.get(region.name()).copied();
            let rate = |now: u64, then: Option<u64>| match (elapsed, then) {
                (Some(dt), Some(then)) if now >= then => (now - then) as f64 / dt,
                (Some(dt), Some(_)) => now as f64 / dt,
                _ => 0.0,
            };
            regions.push(RegionSample {
                name: region.name().to_string(),
                served_per_s: rate(counters.0, before.map(|b| b.0)),
                failovers_in_per_s: rate(counters.1, before.map(|b| b.1)),
                failovers_out_per_s: rate(counters.2, before.map(|b| b.2)),
                probe_ms: region.probe_latency().map(|d| d.as_secs_f64() * 1000.0),
                lag_s: replication_lag(runtime, i),
            });
            last.insert(region.name().to_string(), counters);
        }
        ring.last = last;
        ring.last_at = Some(now);
        if elapsed.is_none() {
            // The first sample only sets the counters' baseline.
            return;
        }
        while ring.samples.len() >= ring.capacity.max(1) {
            ring.samples.pop_front();
        }
        ring.samples.push_back(Sample {
            at: SystemTime::now(),
            regions,
        });
    }

    /// The samples, oldest first.
    pub fn samples(&self) -> Vec<Sample> {
        let ring = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        ring.samples.iter().cloned().collect()
    }

    /// The `history` member of /status: per region, one array per series, oldest first.
    pub fn json(&self, rpo_budget_s: Option<f64>) -> Value {
        let ring = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let at: Vec<f64> = ring.samples.iter().map(|s| unix(s.at)).collect();
        let names: Vec<String> = ring
            .samples
            .back()
            .map(|s| s.regions.iter().map(|r| r.name.clone()).collect())
            .unwrap_or_default();
        let regions: Vec<Value> = names
            .iter()
            .map(|name| {
                let series = |f: &dyn Fn(&RegionSample) -> Option<f64>| -> Vec<Option<f64>> {
                    ring.samples
                        .iter()
                        .map(|s| s.regions.iter().find(|r| &r.name == name).and_then(f))
                        .collect()
                };
                json!({
                    "name": name,
                    "served_per_s": series(&|r| Some(r.served_per_s)),
                    "failovers_in_per_s": series(&|r| Some(r.failovers_in_per_s)),
                    "failovers_out_per_s": series(&|r| Some(r.failovers_out_per_s)),
                    "probe_latency_ms": series(&|r| r.probe_ms),
                    "replication_lag_s": series(&|r| r.lag_s),
                })
            })
            .collect();
        json!({
            "interval_s": ring.interval_s,
            "capacity": ring.capacity,
            "at_unix": at,
            "rpo_budget_s": rpo_budget_s,
            "regions": regions,
        })
    }
}

/// The replication lag of region `index`'s database (its exposure, as /status reports it);
/// None without a data tier or before the region has been measured.
fn replication_lag(runtime: &Runtime, index: usize) -> Option<f64> {
    let snapshot = runtime.snapshot();
    let db = snapshot.settings.database.as_ref()?;
    let view = runtime.data.view();
    let fresh = crate::data::stale_after(db.probe_interval);
    view.regions
        .get(index)?
        .exposure(Instant::now(), fresh)
        .map(|d| d.as_secs_f64())
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The sampling background job.
pub struct HistorySampler {
    /// What is sampled (and the shutdown token).
    runtime: Arc<Runtime>,
    /// Where samples go.
    history: Arc<History>,
}

impl HistorySampler {
    /// A sampler of `runtime` into `history`.
    pub fn new(runtime: Arc<Runtime>, history: Arc<History>) -> Self {
        Self { runtime, history }
    }

    /// Samples every `[status] history_interval` (read again after each sample, so a reload
    /// applies) until shutdown.
    pub async fn run(self) {
        let shutdown = self.runtime.shutdown.clone();
        loop {
            let settings = self.runtime.snapshot().settings.status.clone();
            self.history.sample(&self.runtime, &settings);
            tokio::select! {
                () = tokio::time::sleep(settings.history_interval) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Snapshot;
    use std::time::Duration;

    const CONFIG: &str = "[server]\nlocal_region = \"a\"\nforward_secret = \"s\"\n\
        [[regions]]\nname = \"a\"\nendpoints = [\"127.0.0.1:1\"]\n\
        [[regions]]\nname = \"b\"\nendpoints = [\"127.0.0.1:2\"]\n[[routes]]\nname = \"r\"\n";

    #[tokio::test]
    async fn the_ring_keeps_its_size_and_survives_counter_resets() {
        let settings = crate::config::parse_and_validate("t", CONFIG).unwrap();
        let snapshot = Snapshot::build(settings, None).await.unwrap();
        let runtime = Runtime::new(snapshot, crate::tls::UpstreamTls::system_roots().unwrap());
        let status = StatusSettings {
            history_interval: Duration::from_secs(1),
            history_points: 3,
        };
        let history = History::default();
        let a = &runtime.snapshot().regions[0];
        history.sample(&runtime, &status);
        assert!(
            history.samples().is_empty(),
            "the first sample is the baseline"
        );
        for round in 1..=5u64 {
            a.served.fetch_add(10, Relaxed);
            a.failovers_out.fetch_add(round, Relaxed);
            history.sample(&runtime, &status);
        }
        let samples = history.samples();
        assert_eq!(samples.len(), 3, "bounded by history_points");
        assert!(samples.iter().all(|s| s.regions[0].served_per_s > 0.0));
        assert!(samples.iter().all(|s| s.regions[1].served_per_s == 0.0));
        // A counter that went down (its region rebuilt) counts from zero, never negative.
        a.served.store(1, Relaxed);
        history.sample(&runtime, &status);
        let last = history.samples().pop().unwrap();
        assert!(last.regions[0].served_per_s > 0.0);
        let doc = history.json(Some(5.0));
        assert_eq!(doc["regions"][0]["name"], "a");
        assert_eq!(
            doc["regions"][0]["served_per_s"].as_array().unwrap().len(),
            3
        );
        assert_eq!(doc["rpo_budget_s"], 5.0);
        // A new window starts over.
        let wider = StatusSettings {
            history_points: 10,
            ..status
        };
        history.sample(&runtime, &wider);
        assert_eq!(history.samples().len(), 1);
    }
}
