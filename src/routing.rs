//! Request -> route -> ordered candidate regions (the [`FailoverPlan`]).
//!
//! Order: the local region first when it is healthy, then healthy siblings by probe latency.
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
        .map(|r| (r.index, r.probe_latency()))
        .collect();
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
