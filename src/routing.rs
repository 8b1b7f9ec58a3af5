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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailoverPlan {
    /// Region indices in attempt order.
    pub regions: Vec<usize>,
    /// Every region looked down; these are tried anyway.
    pub fail_open: bool,
}

/// First route whose host and path prefix match. `host` is lower-case without port.
pub fn match_route<'a>(settings: &'a Settings, host: &str, path: &str) -> Option<&'a RouteSpec> {
    settings.routes.iter().find(|r| {
        r.host.as_deref().is_none_or(|h| h == host) && path.starts_with(r.path_prefix.as_str())
    })
}

/// Builds the plan for a route. `forwarded` = a sibling sent this request: serve it locally only.
pub fn plan(snapshot: &Snapshot, route: &RouteSpec, forwarded: bool) -> FailoverPlan {
    let local = snapshot.settings.local_region;
    if forwarded {
        return FailoverPlan {
            regions: vec![local],
            fail_open: false,
        };
    }
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
    let mut regions: Vec<usize> = Vec::with_capacity(route.regions.len());
    let local_allowed = route.regions.contains(&local);
    if local_allowed && snapshot.regions[local].is_healthy() {
        regions.push(local);
    }
    regions.extend(healthy.into_iter().map(|(i, _)| i));
    if !regions.is_empty() {
        return FailoverPlan {
            regions,
            fail_open: false,
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
