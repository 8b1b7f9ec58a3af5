//! The data tier: each region's database watched for its writer and its replication lag, and
//! what the request path does with that view (writes follow the writer, the RPO guard,
//! read-your-writes tokens).
//!
//! Write side: one [`probe::RegionProbe`] task per region with a database, supervised by
//! [`DataMonitor`], hands samples to [`DataState::record`], which rebuilds the whole
//! [`view::DataView`] and stores it once. Read side: the request path loads the view with one
//! lock-free load ([`DataState::view`]) and only when `[database]` is configured.

pub mod aurora;
pub mod probe;
pub mod route;
pub mod tls;
pub mod token;
pub mod view;

use crate::config::Settings;
use crate::runtime::{Runtime, supervise_per_key};
use arc_swap::ArcSwap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};
use view::{DataView, Epoch, Lsn, Role, Sample, ViewBuilder};

/// The process-wide data-tier state: the view, its write side, and the held-write count.
pub struct DataState {
    /// The current view (one lock-free load on the request path).
    view: ArcSwap<DataView>,
    /// Bumped on every new view, so held requests wake up.
    changed: watch::Sender<u64>,
    /// Samples and fencing memory; only probe tasks lock it, briefly.
    builder: Mutex<ViewBuilder>,
    /// Per region: the nudge of its probe task (a sample now, for consistency tokens).
    nudges: Mutex<Vec<Option<Arc<Notify>>>>,
    /// Writes held now (while no writer is known, or by the RPO guard).
    pub held_writes: AtomicUsize,
}

impl Default for DataState {
    fn default() -> Self {
        Self::new()
    }
}

/// How old a sample may be and still count for a role (the writer, a replica).
pub fn stale_after(interval: Duration) -> Duration {
    (interval * 4).max(Duration::from_secs(1))
}

impl DataState {
    /// An empty state (no regions known until the first sample).
    pub fn new() -> Self {
        Self {
            view: ArcSwap::from_pointee(DataView::empty(0)),
            changed: watch::Sender::new(0),
            builder: Mutex::new(ViewBuilder::new(Vec::new())),
            nudges: Mutex::new(Vec::new()),
            held_writes: AtomicUsize::new(0),
        }
    }

    /// The current view.
    pub fn view(&self) -> Arc<DataView> {
        self.view.load_full()
    }

    /// Wakes on every new view.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Records a probe result for `region` and publishes the rebuilt view.
    pub fn record(&self, settings: &Settings, region: usize, result: Result<Sample, String>) {
        let Some(db) = &settings.database else {
            return;
        };
        if let Err(e) = &result {
            tracing::debug!(region = %settings.regions.get(region).map_or("?", |r| r.name.as_str()),
                error = %e, "database probe failed");
        }
        let view = {
            let mut builder = self.builder.lock().unwrap_or_else(|e| e.into_inner());
            let configured: Vec<bool> = db.regions.iter().map(Option::is_some).collect();
            builder.resize(configured);
            builder.record(region, result);
            builder.build(Instant::now(), stale_after(db.probe_interval))
        };
        let old = self.view.load_full();
        publish_metrics(settings, &view, old.as_ref(), db.probe_interval);
        if old.writer != view.writer || old.epoch != view.epoch {
            let name = |i: Option<usize>| {
                i.and_then(|i| settings.regions.get(i))
                    .map_or("none".to_string(), |r| r.name.clone())
            };
            tracing::info!(event = "writer_changed", from = %name(old.writer),
                to = %name(view.writer), epoch = ?view.epoch.map(|e| e.to_string()),
                "database writer changed");
        }
        let generation = view.generation;
        self.view.store(Arc::new(view));
        self.changed.send_replace(generation);
    }

    /// Registers the nudge of `region`'s probe task.
    fn set_nudge(&self, region: usize, nudge: Arc<Notify>) {
        let mut nudges = self.nudges.lock().unwrap_or_else(|e| e.into_inner());
        if nudges.len() <= region {
            nudges.resize(region + 1, None);
        }
        nudges[region] = Some(nudge);
    }

    /// Asks `region`'s probe task to sample now.
    pub fn nudge(&self, region: usize) {
        let nudges = self.nudges.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(Some(n)) = nudges.get(region) {
            n.notify_one();
        }
    }

    /// The writer's epoch and the first writer position sampled by a probe that *started* at or
    /// after `after` (so it is at or past any commit acknowledged before `after`); None if no
    /// such sample arrives within `limit` (or the writer changes meanwhile).
    pub async fn writer_lsn_after(&self, after: Instant, limit: Duration) -> Option<(Epoch, Lsn)> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut changes = self.subscribe();
        let mut nudged = None;
        loop {
            let view = self.view();
            let writer = view.writer?;
            if let (Some(epoch), Some((lsn, sampled))) = (view.epoch, view.writer_lsn)
                && sampled >= after
            {
                return Some((epoch, lsn));
            }
            if nudged != Some(writer) {
                self.nudge(writer);
                nudged = Some(writer);
            }
            tokio::time::timeout_at(deadline, changes.changed())
                .await
                .ok()?
                .ok()?;
        }
    }
}

/// Gauges per region: lag (time, bytes), writer, fenced, reachable.
fn publish_metrics(settings: &Settings, view: &DataView, old: &DataView, interval: Duration) {
    let now = Instant::now();
    for (i, region) in view.regions.iter().enumerate() {
        let Some(spec) = settings.regions.get(i) else {
            continue;
        };
        if region.role == Role::None {
            continue;
        }
        let name = spec.name.clone();
        if let Some(exposure) = region.exposure(now, stale_after(interval)) {
            metrics::gauge!("meridian_db_replication_lag_seconds", "region" => name.clone())
                .set(exposure.as_secs_f64());
        }
        if let Some(bytes) = region.lag_bytes {
            metrics::gauge!("meridian_db_replication_lag_bytes", "region" => name.clone())
                .set(bytes as f64);
        }
        let flag = |b: bool| if b { 1.0 } else { 0.0 };
        metrics::gauge!("meridian_db_writer", "region" => name.clone())
            .set(flag(region.role == Role::Writer));
        metrics::gauge!("meridian_db_fenced", "region" => name.clone())
            .set(flag(region.role == Role::Fenced));
        metrics::gauge!("meridian_db_up", "region" => name)
            .set(flag(region.error.is_none() && region.sample.is_some()));
    }
    if old.writer.is_some() && view.writer.is_some() && old.writer != view.writer {
        metrics::counter!("meridian_db_writer_changes_total").increment(1);
    }
}

/// Keeps one probe task per region with a database, in step with reloads.
pub struct DataMonitor {
    /// Shared state: settings to follow, where samples go, shutdown.
    runtime: Arc<Runtime>,
}

/// What a probe task is started with; a change of any of it restarts the task.
#[derive(Clone)]
struct ProbeSpec {
    region: usize,
    name: String,
    conninfo: String,
    settings: crate::config::database::DatabaseSettings,
    local: String,
}

impl DataMonitor {
    /// A monitor for this runtime; call `run` in a task.
    pub fn new(runtime: Arc<Runtime>) -> Self {
        Self { runtime }
    }

    /// Runs until shutdown.
    pub async fn run(self) {
        let runtime = self.runtime.clone();
        supervise_per_key(
            &self.runtime,
            |snapshot| {
                let settings = &snapshot.settings;
                let Some(db) = &settings.database else {
                    return Vec::new();
                };
                db.regions
                    .iter()
                    .enumerate()
                    .filter_map(|(i, conninfo)| {
                        let conninfo = conninfo.clone()?;
                        let spec = ProbeSpec {
                            region: i,
                            name: settings.regions[i].name.clone(),
                            conninfo,
                            settings: db.clone(),
                            local: settings.local().name.clone(),
                        };
                        let key = format!("{i}|{}|{}|{:?}", spec.name, spec.local, spec.settings);
                        Some((key, spec))
                    })
                    .collect()
            },
            |spec| {
                let nudge = Arc::new(Notify::new());
                runtime.data.set_nudge(spec.region, nudge.clone());
                probe::RegionProbe {
                    runtime: runtime.clone(),
                    region: spec.region,
                    name: spec.name.clone(),
                    conninfo: spec.conninfo.clone(),
                    settings: spec.settings.clone(),
                    heartbeat_source: spec.local.clone(),
                    nudge,
                }
                .run()
            },
            |count| metrics::gauge!("meridian_db_probe_tasks").set(count as f64),
        )
        .await;
    }
}
