//! The status document: every region and endpoint with its health, as JSON.

use crate::runtime::Runtime;
use serde_json::{Value, json};
use std::time::UNIX_EPOCH;

/// Current state of regions, endpoints and config, for scripts and the status page.
pub fn status_json(runtime: &Runtime) -> Value {
    let snapshot = runtime.snapshot();
    let settings = &snapshot.settings;
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
                        "in_flight": h.in_flight(),
                    })
                })
                .collect();
            json!({
                "name": r.name(),
                "local": r.index == settings.local_region,
                "healthy": r.is_healthy(),
                "probe_latency_ms": r.probe_latency().map(|d| d.as_secs_f64() * 1000.0),
                "endpoints": endpoints,
            })
        })
        .collect();
    json!({
        "ready": runtime.is_ready(),
        "draining": runtime.draining.load(std::sync::atomic::Ordering::Relaxed),
        "local_region": settings.local().name,
        "config": {
            "version": settings.version,
            "origin": settings.origin,
            "loaded_at_unix": snapshot.loaded_at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        },
        "regions": regions,
    })
}
