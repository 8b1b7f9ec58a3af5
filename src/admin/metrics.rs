//! The Prometheus recorder (installed once per process) and the description of every metric.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// Latency buckets in seconds: fine at the low end where a proxy lives, up to the deadline.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs the global recorder on first call; later calls return the same handle.
pub fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
                .expect("bucket list is not empty")
                .install_recorder()
                .expect("no other metrics recorder is installed in this process");
            describe();
            handle
        })
        .clone()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "meridian_requests_total",
        "Client requests by route, serving region and status."
    );
    describe_histogram!(
        "meridian_request_duration_seconds",
        "Client request latency to response headers, by route and region."
    );
    describe_counter!(
        "meridian_upstream_attempts_total",
        "Attempts sent to origins, by region and outcome."
    );
    describe_counter!(
        "meridian_failovers_total",
        "Requests sent on to another region, by from, to and reason (a failure kind or hedge)."
    );
    describe_counter!(
        "meridian_cross_region_bytes_total",
        "Body bytes sent to or received from a sibling region (inter-region transfer is billed)."
    );
    describe_counter!(
        "meridian_hedges_total",
        "Hedged attempts started because the first was slow."
    );
    describe_counter!(
        "meridian_hedges_won_total",
        "Requests where a later attempt answered before an earlier one."
    );
    describe_counter!(
        "meridian_retry_budget_exhausted_total",
        "Retries or hedges refused because the retry budget was spent."
    );
    describe_counter!(
        "meridian_fail_open_total",
        "Requests planned while every allowed region looked down (all tried anyway)."
    );
    describe_counter!(
        "meridian_rejected_total",
        "Requests or connections refused by limits, by reason."
    );
    describe_counter!(
        "meridian_endpoint_ejections_total",
        "Outlier ejections per endpoint."
    );
    describe_gauge!(
        "meridian_endpoint_up",
        "Active health verdict per endpoint (1 up, 0 down)."
    );
    describe_histogram!(
        "meridian_probe_duration_seconds",
        "Health probe round-trip time per endpoint."
    );
    describe_gauge!(
        "meridian_health_probe_tasks",
        "Probe tasks running (equals the endpoint count)."
    );
    describe_gauge!("meridian_connections", "Client connections open.");
    describe_counter!(
        "meridian_config_reloads_total",
        "Config reload attempts by result."
    );
    describe_counter!(
        "meridian_idle_spin_microseconds_total",
        "Time busy workers stayed on their core before sleeping (--idle-spin)."
    );
    describe_counter!(
        "meridian_idle_spin_windows_total",
        "Windows a busy worker stayed on its core before sleeping (--idle-spin)."
    );
    describe_counter!(
        "meridian_dns_resolutions_total",
        "DNS re-resolutions of endpoint names, by result."
    );
    describe_gauge!(
        "meridian_db_replication_lag_seconds",
        "How far each region's database is behind the writer (heartbeat age; grows while a replica is cut off or unreachable)."
    );
    describe_gauge!(
        "meridian_db_replication_lag_bytes",
        "WAL bytes each region's database has not replayed, against the writer's last sample."
    );
    describe_gauge!(
        "meridian_db_writer",
        "1 on the region whose database is the writer writes are sent to."
    );
    describe_gauge!(
        "meridian_db_fenced",
        "1 on a region whose database claims to be a writer on an older epoch (never sent writes)."
    );
    describe_gauge!(
        "meridian_db_up",
        "1 while the last probe of the region's database succeeded."
    );
    describe_gauge!("meridian_db_probe_tasks", "Database probe tasks running.");
    describe_counter!(
        "meridian_db_writer_changes_total",
        "Times the writer moved from one region to another."
    );
    describe_counter!(
        "meridian_rpo_guard_decisions_total",
        "RPO guard decisions on writes, by route and decision (admitted, admitted_after_hold, admitted_no_replicas, exposed, refused)."
    );
    describe_counter!(
        "meridian_writes_held_total",
        "Writes held while no writer was known, by outcome (released, no_writer, overflow)."
    );
    describe_counter!(
        "meridian_writes_to_writer_total",
        "Writes sent to the writer's region from another region, by route and writer region."
    );
    describe_counter!(
        "meridian_consistency_reads_total",
        "Reads carrying a consistency token, by outcome (local, local_after_wait, writer, lost, foreign, local_unconfirmed)."
    );
    describe_counter!(
        "meridian_consistency_lost_total",
        "Reads whose token names a write lost in a failover (past its timeline's switchpoint)."
    );
    describe_counter!(
        "meridian_trace_spans_exported_total",
        "Spans the collector accepted over OTLP/HTTP."
    );
    describe_counter!(
        "meridian_trace_spans_dropped_total",
        "Spans dropped, by reason: queue_full (the export queue was full) or export_failed (the collector refused, failed or timed out)."
    );
    describe_counter!(
        "meridian_access_log_lines_total",
        "Access-log lines written to stdout."
    );
    describe_counter!(
        "meridian_access_log_dropped_total",
        "Access-log lines dropped because the writer's queue was full."
    );
}
