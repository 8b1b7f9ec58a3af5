//! Request -> route -> ordered candidate regions (the [`FailoverPlan`]).
//!
//! Order: the local region first when it is healthy, then healthy siblings by probe latency
//! (divided by the region's weight).
//! When no allowed region is healthy, every allowed region is tried, local first (fail-open):
//! a health checker that is wrong must not turn into a self-inflicted outage.

use crate::config::{RouteSpec, Settings};
use crate::runtime::Snapshot;
use std::time::Duration;

/// Regions to try for one request, best first (indices into the snapshot's regions).
#[derive(Debug, Clone)]
pub struct FailoverPlan<'r> {
    /// Region indices in attempt order (so far: see [`FailoverPlan::region`]).
    pub regions: Vec<usize>,
    /// Every region looked down; these are tried anyway.
    pub fail_open: bool,
    /// Set while only the healthy local region is in `regions`: the route whose siblings are
    /// still to be ordered. Most requests end at the local region, so the siblings' health and
    /// latency are read only when a retry or hedge needs them (and are then fresher).
    unordered: Option<&'r RouteSpec>,
}

/// First route whose host and path prefix match. `host` is lower-case without port.
pub fn match_route<'a>(settings: &'a Settings, host: &str, path: &str) -> Option<&'a RouteSpec> {
    settings.routes.iter().find(|r| {
        r.host.as_deref().is_none_or(|h| h == host) && path.starts_with(r.path_prefix.as_str())
    })
}

/// The whole plan for a route, siblings ordered now.
/// `forwarded` = a sibling sent this request: serve it locally only.
pub fn plan<'r>(snapshot: &Snapshot, route: &'r RouteSpec, forwarded: bool) -> FailoverPlan<'r> {
    let mut plan = plan_lazily(snapshot, route, forwarded);
    plan.order_siblings(snapshot);
    plan
}

/// The plan for a route with the siblings left unordered while the local region is healthy;
/// [`FailoverPlan::region`] orders them on first need. Same order as [`plan`].
pub fn plan_lazily<'r>(
    snapshot: &Snapshot,
    route: &'r RouteSpec,
    forwarded: bool,
) -> FailoverPlan<'r> {
    let local = snapshot.settings.local_region;
    if forwarded {
        return FailoverPlan {
            regions: vec![local],
            fail_open: false,
            unordered: None,
        };
    }
    let local_allowed = route.regions.contains(&local);
    if local_allowed && snapshot.regions[local].is_healthy() {
        let mut regions = Vec::with_capacity(route.regions.len());
        regions.push(local);
        return FailoverPlan {
            regions,
            fail_open: false,
            unordered: Some(route),
        };
    }
    let healthy = healthy_siblings(snapshot, route);
    if !healthy.is_empty() {
        return FailoverPlan {
            regions: healthy,
            fail_open: false,
            unordered: None,
        };
    }
    let mut all: Vec<usize> = Vec::with_capacity(route.regions.len());
    if local_allowed {
        all.push(local);
    }
    all.extend(route.regions.iter().copied().filter(|&i| i != local));
    FailoverPlan {
        regions: all,
        fail_open: true,
        unordered: None,
    }
}

/// Healthy regions of the route other than the local one, by probe latency divided by weight.
fn healthy_siblings(snapshot: &Snapshot, route: &RouteSpec) -> Vec<usize> {
    let local = snapshot.settings.local_region;
    let mut healthy: Vec<(usize, Option<Duration>)> = route
        .regions
        .iter()
        .filter(|&&i| i != local)
        .map(|&i| &snapshot.regions[i])
        .filter(|r| r.is_healthy())
        .map(|r| (r.index, r.probe_latency().map(|l| l / r.spec.weight)))
        .collect();
    // Latency divided by weight: weight 2 prefers a region unless it is over twice as slow.
    // Unknown latency sorts last; ties keep config order (stable sort).
    healthy.sort_by_key(|(_, latency)| latency.unwrap_or(Duration::MAX));
    healthy.into_iter().map(|(i, _)| i).collect()
}

// === impl FailoverPlan ===

impl FailoverPlan<'_> {
    /// A plan of one region and no other (the data tier's choice: the database writer's).
    pub fn only(region: usize) -> Self {
        FailoverPlan {
            regions: vec![region],
            fail_open: false,
            unordered: None,
        }
    }

    /// The region to try `n`th (0 = first), ordering the siblings when first asked past the
    /// local region.
    pub fn region(&mut self, n: usize, snapshot: &Snapshot) -> Option<usize> {
        if n >= self.regions.len() {
            self.order_siblings(snapshot);
        }
        self.regions.get(n).copied()
    }

    /// The first region of the plan.
    pub fn first(&self) -> Option<usize> {
        self.regions.first().copied()
    }

    fn order_siblings(&mut self, snapshot: &Snapshot) {
        if let Some(route) = self.unordered.take() {
            self.regions.extend(healthy_siblings(snapshot, route));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::ProbeOutcome;

    const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
local_region = "a"
forward_secret = "s"
[[regions]]
name = "a"
endpoints = ["127.0.0.1:1"]
[[regions]]
name = "b"
endpoints = ["127.0.0.1:2"]
[[regions]]
name = "c"
endpoints = ["127.0.0.1:3"]
weight = 4
[[routes]]
name = "api"
host = "api.example.com"
[[routes]]
name = "rest"
path_prefix = "/static/"
regions = ["b", "c"]
"#;

    fn probe(snapshot: &Snapshot, region: usize, ms: u64, outcome: ProbeOutcome) {
        let e = &snapshot.regions[region].endpoints()[0];
        for _ in 0..3 {
            e.health
                .record_probe(outcome, Duration::from_millis(ms), 1, 1);
        }
    }

    #[tokio::test]
    async fn plan_orders_by_health_latency_and_weight() {
        let settings = crate::config::parse_and_validate("t", CONFIG).unwrap();
        let snapshot = Snapshot::build(settings, None).await.unwrap();
        let api = match_route(&snapshot.settings, "api.example.com", "/x").unwrap();
        assert_eq!(api.name, "api");
        assert!(match_route(&snapshot.settings, "other", "/x").is_none());
        assert_eq!(
            match_route(&snapshot.settings, "other", "/static/a")
                .unwrap()
                .name,
            "rest"
        );

        // b is faster, but c's weight 4 makes 30 ms count as 7.5 ms.
        probe(&snapshot, 1, 10, ProbeOutcome::Healthy);
        probe(&snapshot, 2, 30, ProbeOutcome::Healthy);
        assert_eq!(plan(&snapshot, api, false).regions, vec![0, 2, 1]);
        // The lazy plan holds only the local region until a sibling is asked for, and reads
        // sibling health at that moment: b turning unhealthy in between drops it.
        let mut lazy = plan_lazily(&snapshot, api, false);
        assert_eq!(lazy.regions, vec![0]);
        assert_eq!(lazy.region(0, &snapshot), Some(0));
        probe(&snapshot, 1, 1, ProbeOutcome::Unhealthy);
        assert_eq!(lazy.region(1, &snapshot), Some(2));
        assert_eq!(lazy.region(2, &snapshot), None);
        assert_eq!(lazy.regions, vec![0, 2]);
        probe(&snapshot, 1, 10, ProbeOutcome::Healthy);
        // A forwarded request stays local.
        assert_eq!(plan(&snapshot, api, true).regions, vec![0]);
        // Local down: siblings only.
        probe(&snapshot, 0, 1, ProbeOutcome::Unhealthy);
        assert_eq!(plan(&snapshot, api, false).regions, vec![2, 1]);
        // Everything down: fail-open, local first.
        probe(&snapshot, 1, 1, ProbeOutcome::Unhealthy);
        probe(&snapshot, 2, 1, ProbeOutcome::Unhealthy);
        let p = plan(&snapshot, api, false);
        assert!(p.fail_open);
        assert_eq!(p.regions, vec![0, 1, 2]);
        // A route without the local region never plans it.
        let rest = match_route(&snapshot.settings, "x", "/static/").unwrap();
        assert_eq!(plan(&snapshot, rest, false).regions, vec![1, 2]);
    }
}
