//! The live state of one Meridian process: the current [`Snapshot`] behind one `ArcSwap`,
//! and the process-wide pieces that outlive reloads (retry budget, counters, shutdown).
//!
//! Writers (reload, DNS discovery) build a whole new snapshot and store it once; the request
//! path does one lock-free load and keeps that `Arc` for the life of the request.

use crate::config::ReloadStatus;
use crate::config::Settings;
use crate::proxy::budget::RetryBudget;
use crate::proxy::forward_mark::ForwardKey;
use crate::tls::UpstreamTls;
use crate::upstream::dns::{Dns, resolve_initial};
use crate::upstream::{Endpoint, Region};
use arc_swap::{ArcSwap, ArcSwapOption};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::time::SystemTime;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Why a snapshot could not be built from valid settings.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Neither `forward_secret` nor its environment variable is set.
    #[error(
        "no forwarding secret: set the environment variable {0} (or server.forward_secret for tests)"
    )]
    NoForwardSecret(String),
    /// Upstream TLS material could not be loaded.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The tracing or access-log pipeline could not be started.
    #[error("telemetry: {0}")]
    Telemetry(String),
    /// The DNS resolver could not be set up.
    #[error("dns: {0}")]
    Dns(String),
}

/// Metric handles for one (route, region) pair, registered when the snapshot is built.
pub struct RouteRegionMetrics {
    /// `meridian_requests_total{status="200"}`.
    pub ok: metrics::Counter,
    /// `meridian_request_duration_seconds`.
    pub duration: metrics::Histogram,
}

/// One immutable view of config + topology.
pub struct Snapshot {
    /// Validated settings.
    pub settings: Arc<Settings>,
    /// Regions in config order (index = position in `settings.regions`).
    pub regions: Vec<Arc<Region>>,
    /// Key for the cross-region forwarding mark.
    pub forward_key: ForwardKey,
    /// Resolver for endpoint names (built from `[dns]`).
    pub dns: Arc<Dns>,
    /// Bearer token for mutating admin calls; None = not required.
    pub admin_token: Option<String>,
    /// Hot-path metric handles, indexed `[route][region]`.
    pub route_metrics: Vec<Vec<RouteRegionMetrics>>,
    /// When this snapshot was stored.
    pub loaded_at: SystemTime,
    /// Signs consistency tokens (read-your-writes); set when `[database]` is configured.
    pub token_key: Option<crate::data::token::TokenKey>,
    /// Traces and access logs (both off: one flag on the request path).
    pub telemetry: crate::telemetry::Telemetry,
}

impl Snapshot {
    /// Builds a snapshot, reusing regions, clients and endpoint health from `previous` where the
    /// config of a region is unchanged, and endpoint health where an endpoint survives.
    pub async fn build(
        settings: Settings,
        previous: Option<&Snapshot>,
    ) -> Result<Self, BuildError> {
        let tls = UpstreamTls::from_settings(&settings.upstream_tls)?;
        let tls = &tls;
        let secret = settings
            .forward_secret
            .clone()
            .or_else(|| std::env::var(&settings.forward_secret_env).ok())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| BuildError::NoForwardSecret(settings.forward_secret_env.clone()))?;
        let dns = Arc::new(Dns::new(&settings.dns).map_err(BuildError::Dns)?);
        let mut regions = Vec::with_capacity(settings.regions.len());
        for (index, spec) in settings.regions.iter().enumerate() {
            let old = previous.and_then(|p| p.regions.iter().find(|r| r.name() == spec.name));
            if let Some(old) = old {
                let same_client = previous.is_some_and(|p| {
                    p.settings.timeouts.connect == settings.timeouts.connect
                        && p.settings.upstream_tls == settings.upstream_tls
                        && old.spec.protocol == spec.protocol
                });
                if same_client
                    && old.index == index
                    && old.spec.endpoints == spec.endpoints
                    && old.spec.health_path == spec.health_path
                    && old.spec.weight == spec.weight
                {
                    regions.push(old.clone());
                    continue;
                }
            }
            let mut carried: HashMap<_, Vec<Arc<Endpoint>>> = HashMap::new();
            if let Some(old) = old {
                for e in old.endpoints().iter() {
                    carried.entry(e.spec.clone()).or_default().push(e.clone());
                }
            }
            let mut endpoints = Vec::new();
            for ep in &spec.endpoints {
                if let Some(kept) = carried.remove(ep) {
                    endpoints.extend(kept);
                    continue;
                }
                endpoints.extend(resolve_initial(&dns, &spec.name, ep).await);
            }
            regions.push(Arc::new(Region::new(
                index,
                spec.clone(),
                endpoints,
                &settings,
                tls,
            )));
        }
        let admin_token = settings
            .admin_token
            .clone()
            .or_else(|| std::env::var(&settings.admin_token_env).ok())
            .filter(|t| !t.is_empty());
        let route_metrics = settings
            .routes
            .iter()
            .map(|route| {
                settings
                    .regions
                    .iter()
                    .map(|region| RouteRegionMetrics {
                        ok: metrics::counter!("meridian_requests_total",
                            "route" => route.name.clone(), "region" => region.name.clone(),
                            "status" => "200"),
                        duration: metrics::histogram!("meridian_request_duration_seconds",
                            "route" => route.name.clone(), "region" => region.name.clone()),
                    })
                    .collect()
            })
            .collect();
        let token_key = settings
            .database
            .as_ref()
            .map(|_| crate::data::token::TokenKey::new(secret.as_bytes()));
        let telemetry =
            crate::telemetry::Telemetry::build(&settings, previous.map(|p| &p.telemetry), tls)
                .map_err(BuildError::Telemetry)?;
        Ok(Self {
            token_key,
            telemetry,
            route_metrics,
            settings: Arc::new(settings),
            regions,
            forward_key: ForwardKey::new(secret.as_bytes()),
            dns,
            admin_token,
            loaded_at: SystemTime::now(),
        })
    }

    /// The local region.
    pub fn local(&self) -> &Arc<Region> {
        &self.regions[self.settings.local_region]
    }

    /// Every endpoint of every region.
    pub fn all_endpoints(&self) -> Vec<Arc<Endpoint>> {
        self.regions
            .iter()
            .flat_map(|r| r.endpoints().iter().cloned().collect::<Vec<_>>())
            .collect()
    }
}

/// Process-wide state shared by listeners, the proxy, checkers and admin.
pub struct Runtime {
    /// The current snapshot.
    snapshot: ArcSwap<Snapshot>,
    /// Bumped on every change of snapshot or endpoint lists, so checkers can resync.
    topology: watch::Sender<u64>,
    /// Retries and hedges draw from this; survives reloads so a reload cannot reset it.
    pub budget: RetryBudget,
    /// Requests in flight now (limit: `limits.max_in_flight`).
    pub in_flight: AtomicUsize,
    /// Connections open now (limit: `limits.max_connections`).
    pub connections: AtomicUsize,
    /// SIGTERM received: readiness answers 503.
    pub draining: AtomicBool,
    /// Upstream TLS client configs.
    pub tls: UpstreamTls,
    /// Cancelled when the process is shutting down; every background task selects on it.
    pub shutdown: CancellationToken,
    /// The last config reload attempt, if any.
    reload_status: ArcSwapOption<ReloadStatus>,
    /// The data tier's view of the databases (empty without `[database]`).
    pub data: crate::data::DataState,
}

impl Runtime {
    /// Wraps a first snapshot.
    pub fn new(snapshot: Snapshot, tls: UpstreamTls) -> Arc<Self> {
        Arc::new(Self {
            snapshot: ArcSwap::from_pointee(snapshot),
            topology: watch::Sender::new(0),
            budget: RetryBudget::new(),
            in_flight: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            draining: AtomicBool::new(false),
            tls,
            shutdown: CancellationToken::new(),
            reload_status: ArcSwapOption::empty(),
            data: crate::data::DataState::new(),
        })
    }

    /// The current snapshot (one lock-free load).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Stores a new snapshot and tells the checkers.
    pub fn store(&self, snapshot: Snapshot) {
        self.snapshot.store(Arc::new(snapshot));
        self.topology_changed();
    }

    /// Signals that endpoint lists changed (DNS) without a new snapshot.
    pub fn topology_changed(&self) {
        self.topology.send_modify(|v| *v += 1);
    }

    /// Records the last reload attempt.
    pub fn set_reload_status(&self, status: ReloadStatus) {
        self.reload_status.store(Some(Arc::new(status)));
    }

    /// The last reload attempt, if any.
    pub fn reload_status(&self) -> Option<Arc<ReloadStatus>> {
        self.reload_status.load_full()
    }

    /// Subscribe to topology changes.
    pub fn watch_topology(&self) -> watch::Receiver<u64> {
        self.topology.subscribe()
    }

    /// Ready for traffic: not draining, and the local region has a probed, usable endpoint.
    pub fn is_ready(&self) -> bool {
        if self.draining.load(std::sync::atomic::Ordering::Relaxed) {
            return false;
        }
        let snap = self.snapshot.load();
        snap.local()
            .endpoints()
            .iter()
            .any(|e| e.health.is_probed() && e.health.is_up())
    }
}

/// Keeps one task per key running for as long as the key is wanted: on every topology change
/// `wanted` is asked again, tasks of new keys are started with `start`, tasks of keys that are
/// gone are aborted, and `synced` hears the task count. Returns on shutdown, after every task
/// has ended. The value stored beside each key (e.g. the endpoint `Arc`) lives as long as its task.
pub async fn supervise_per_key<K, V, Fut>(
    runtime: &Runtime,
    mut wanted: impl FnMut(&Snapshot) -> Vec<(K, V)>,
    mut start: impl FnMut(&V) -> Fut,
    mut synced: impl FnMut(usize),
) where
    K: std::hash::Hash + Eq,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut topology = runtime.watch_topology();
    let mut tasks = tokio::task::JoinSet::new();
    let mut running: HashMap<K, (V, tokio::task::AbortHandle)> = HashMap::new();
    loop {
        let current: HashMap<K, V> = wanted(&runtime.snapshot()).into_iter().collect();
        running.retain(|key, (_, handle)| {
            let keep = current.contains_key(key);
            if !keep {
                handle.abort();
            }
            keep
        });
        for (key, value) in current {
            if let std::collections::hash_map::Entry::Vacant(slot) = running.entry(key) {
                let handle = tasks.spawn(start(&value));
                slot.insert((value, handle));
            }
        }
        synced(running.len());
        tokio::select! {
            changed = topology.changed() => if changed.is_err() { break },
            () = runtime.shutdown.cancelled() => break,
            // Reap finished (aborted) tasks so the set does not grow.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    tasks.shutdown().await;
}
