//! Active health checking: one probe task per endpoint address, kept in step with the topology.
//!
//! The supervisor owns a `JoinSet`; on every topology change it starts probes for new endpoints
//! (which probe at once) and aborts those of endpoints that are gone, so the task count always
//! equals the endpoint count. Endpoints that survive a reload keep their task and their state.

use super::{ProbeOutcome, Transition};
use crate::header_list::HeaderList;
use crate::runtime::{Runtime, supervise_per_key};
use crate::upstream::{Endpoint, ReplayBody, UpstreamRequest};
use http::HeaderValue;
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Largest probe response body read (and discarded) so the pooled connection can be reused.
const MAX_PROBE_BODY: usize = 64 * 1024;

/// Supervises probe tasks for every endpoint of the current topology.
pub struct HealthChecker {
    /// Shared state: topology to watch, shutdown to honour.
    runtime: Arc<Runtime>,
}

impl HealthChecker {
    /// A checker for this runtime; call `run` in a task.
    pub fn new(runtime: Arc<Runtime>) -> Self {
        Self { runtime }
    }

    /// Runs until shutdown, resyncing probe tasks on every topology change.
    pub async fn run(self) {
        let runtime = self.runtime.clone();
        supervise_per_key(
            &self.runtime,
            // Keyed by identity: an endpoint that survives a reload keeps its task and state.
            |snapshot| {
                snapshot
                    .all_endpoints()
                    .into_iter()
                    .map(|e| (Arc::as_ptr(&e) as usize, e))
                    .collect()
            },
            |endpoint| probe_loop(runtime.clone(), endpoint.clone()),
            |count| metrics::gauge!("meridian_health_probe_tasks").set(count as f64),
        )
        .await;
    }
}

/// Probes one endpoint forever (until aborted): at once, then every interval with jitter.
async fn probe_loop(runtime: Arc<Runtime>, endpoint: Arc<Endpoint>) {
    loop {
        let snapshot = runtime.snapshot();
        let Some(region) = snapshot
            .regions
            .iter()
            .find(|r| r.name() == endpoint.region)
        else {
            return;
        };
        let health = &snapshot.settings.health;
        let started = Instant::now();
        let outcome = probe_once(region, &endpoint, health.timeout, health.expect_status).await;
        let rtt = started.elapsed();
        let labels = [
            ("region", endpoint.region.clone()),
            ("endpoint", endpoint.label.clone()),
        ];
        metrics::histogram!("meridian_probe_duration_seconds", &labels).record(rtt.as_secs_f64());
        match endpoint
            .health
            .record_probe(outcome, rtt, health.rise, health.fall)
        {
            Some(Transition::Up) => {
                tracing::info!(endpoint = %endpoint.label, region = %endpoint.region, "endpoint up")
            }
            Some(Transition::Down) => {
                tracing::warn!(endpoint = %endpoint.label, region = %endpoint.region, "endpoint down")
            }
            None => {}
        }
        let up = if endpoint.health.is_up() { 1.0 } else { 0.0 };
        metrics::gauge!("meridian_endpoint_up", &labels).set(up);
        // jitter is validated to 0.0..=0.5, so the factor stays within 0.5..=1.5.
        let factor = 1.0 + health.jitter * (fastrand::f64() * 2.0 - 1.0);
        let wait = health
            .interval
            .mul_f64(factor)
            .max(Duration::from_millis(1));
        drop(snapshot);
        tokio::time::sleep(wait).await;
    }
}

async fn probe_once(
    region: &crate::upstream::Region,
    endpoint: &Arc<Endpoint>,
    timeout: Duration,
    (lo, hi): (u16, u16),
) -> ProbeOutcome {
    // Each probe also retires the endpoint's connections that sat idle too long.
    endpoint.pool.evict_expired();
    let Ok(path) = http::uri::PathAndQuery::try_from(region.spec.health_path.as_str()) else {
        return ProbeOutcome::Unhealthy;
    };
    let uri = region.request_uri(endpoint, path);
    let req = UpstreamRequest {
        method: http::Method::GET,
        uri,
        headers: HeaderList::new(),
        body: ReplayBody::empty(),
    };
    let mut headers = HeaderList::with_capacity(2);
    if let Ok(host) = HeaderValue::from_str(&endpoint.spec.host) {
        headers.append("host", host);
    }
    headers.append(
        "user-agent",
        HeaderValue::from_static("meridian-health-check"),
    );
    let exchange = async {
        let resp = region.send(endpoint, &headers, req).await.ok()?;
        let status = resp.status.as_u16();
        // Drain a bounded body so the connection returns to the pool.
        let _ = http_body_util::Limited::new(resp.body, MAX_PROBE_BODY)
            .collect()
            .await;
        Some(status)
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Some(status)) if (lo..=hi).contains(&status) => ProbeOutcome::Healthy,
        _ => ProbeOutcome::Unhealthy,
    }
}
