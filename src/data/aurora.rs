//! Aurora PostgreSQL Global Database: a region's sample from `aurora_global_db_status()` and
//! `aurora_global_db_instance_status()`.
//!
//! Written from AWS's documentation of both functions and unit-tested over rows shaped as that
//! documentation shows them; it has not yet been run against Aurora. Per the documentation,
//! either function may be called on any instance of the global database and returns one row
//! per cluster (`aurora_global_db_status`) or per instance (`..._instance_status`); the primary
//! cluster's row has `rpo_lag_in_msec = -1` and `durability_lag_in_msec = -1`, and the writer
//! instance's row has `session_id = 'MASTER_SESSION_ID'`. Aurora exposes no timeline, so the
//! epoch is the writer's region (a failover changes it) and lost-write detection for tokens
//! from before a failover is not available (such tokens are sent to the writer's region).

use super::view::{Lsn, Sample};
use std::time::{Duration, Instant};

/// The query for cluster-level rows (one per region's cluster).
pub const GLOBAL_STATUS: &str = "SELECT aws_region::text, highest_lsn_written::text, \
     durability_lag_in_msec::float8, rpo_lag_in_msec::float8 FROM aurora_global_db_status()";

/// The query for instance-level rows.
pub const INSTANCE_STATUS: &str = "SELECT server_id::text, session_id::text, aws_region::text, \
     durable_lsn::text FROM aurora_global_db_instance_status()";

/// One `aurora_global_db_status()` row.
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalStatusRow {
    /// The cluster's AWS Region.
    pub aws_region: String,
    /// Highest LSN on that cluster.
    pub highest_lsn_written: Option<String>,
    /// -1 on the primary cluster.
    pub durability_lag_in_msec: Option<f64>,
    /// -1 on the primary cluster.
    pub rpo_lag_in_msec: Option<f64>,
}

/// One `aurora_global_db_instance_status()` row.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceStatusRow {
    /// Instance identifier.
    pub server_id: String,
    /// `MASTER_SESSION_ID` on the writer instance.
    pub session_id: String,
    /// The instance's AWS Region.
    pub aws_region: String,
    /// Its durable LSN.
    pub durable_lsn: Option<String>,
}

/// The writer instance's session id, per AWS's documentation.
const MASTER_SESSION_ID: &str = "MASTER_SESSION_ID";

/// A stable number naming a writer region: the epoch's "timeline" on Aurora.
fn region_epoch(region: &str) -> u32 {
    // FNV-1a: stable across processes and versions, unlike std's hasher.
    region.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// `region`'s sample from the rows its cluster returned.
pub fn sample(
    region: &str,
    global: &[GlobalStatusRow],
    instances: &[InstanceStatusRow],
    started: Instant,
) -> Result<Sample, String> {
    let own = global
        .iter()
        .find(|r| r.aws_region == region)
        .ok_or_else(|| format!("aurora_global_db_status() has no row for {region}"))?;
    let writer_region = instances
        .iter()
        .find(|r| r.session_id == MASTER_SESSION_ID)
        .map(|r| r.aws_region.as_str())
        .or_else(|| {
            global
                .iter()
                .find(|r| r.rpo_lag_in_msec == Some(-1.0))
                .map(|r| r.aws_region.as_str())
        });
    let primary_flagged =
        own.rpo_lag_in_msec == Some(-1.0) || own.durability_lag_in_msec == Some(-1.0);
    let writer = writer_region == Some(region) && primary_flagged;
    let lsn = own.highest_lsn_written.as_deref().and_then(Lsn::parse);
    let reported_lag = match own.rpo_lag_in_msec {
        Some(ms) if ms >= 0.0 && ms.is_finite() => Some(Duration::from_secs_f64(ms / 1000.0)),
        _ if writer => Some(Duration::ZERO),
        _ => None,
    };
    Ok(Sample {
        started,
        writer,
        system: 0,
        timeline: writer_region.map_or(0, region_epoch),
        writer_lsn: if writer { lsn } else { None },
        replay_lsn: if writer { None } else { lsn },
        receiving: !writer && reported_lag.is_some(),
        replay_paused: false,
        heartbeat_age: None,
        replay_age: None,
        reported_lag: if writer { None } else { reported_lag },
        history: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows in the shape AWS documents (a primary in us-east-1, secondaries elsewhere).
    fn recorded() -> (Vec<GlobalStatusRow>, Vec<InstanceStatusRow>) {
        let g = |region: &str, lsn: &str, durability: f64, rpo: f64| GlobalStatusRow {
            aws_region: region.into(),
            highest_lsn_written: Some(lsn.into()),
            durability_lag_in_msec: Some(durability),
            rpo_lag_in_msec: Some(rpo),
        };
        let i = |id: &str, session: &str, region: &str| InstanceStatusRow {
            server_id: id.into(),
            session_id: session.into(),
            aws_region: region.into(),
            durable_lsn: Some("0/4A3F2C98".into()),
        };
        (
            vec![
                g("us-east-1", "0/4A3F2C98", -1.0, -1.0),
                g("eu-west-1", "0/4A3F2A10", 321.0, 847.0),
                g("ap-southeast-1", "0/4A3F1000", 912.0, 6120.0),
            ],
            vec![
                i("db-use1-a", MASTER_SESSION_ID, "us-east-1"),
                i("db-use1-b", "b1f3-reader", "us-east-1"),
                i("db-euw1-a", "c4a0-reader", "eu-west-1"),
                i("db-apse1-a", "99e2-reader", "ap-southeast-1"),
            ],
        )
    }

    #[test]
    fn the_primary_cluster_is_the_writer_and_secondaries_report_rpo_lag() {
        let (global, instances) = recorded();
        let now = Instant::now();
        let w = sample("us-east-1", &global, &instances, now).unwrap();
        assert!(w.writer);
        assert_eq!(w.writer_lsn, Lsn::parse("0/4A3F2C98"));
        let eu = sample("eu-west-1", &global, &instances, now).unwrap();
        assert!(!eu.writer);
        assert_eq!(eu.reported_lag, Some(Duration::from_millis(847)));
        assert_eq!(eu.replay_lsn, Lsn::parse("0/4A3F2A10"));
        assert_eq!(eu.timeline, w.timeline, "both see the same writer epoch");
        let ap = sample("ap-southeast-1", &global, &instances, now).unwrap();
        assert_eq!(ap.reported_lag, Some(Duration::from_millis(6120)));
        assert!(sample("sa-east-1", &global, &instances, now).is_err());
    }

    #[test]
    fn after_a_global_failover_the_epoch_names_the_new_writer() {
        let (mut global, mut instances) = recorded();
        let before = sample("eu-west-1", &global, &instances, Instant::now())
            .unwrap()
            .timeline;
        global[0].rpo_lag_in_msec = Some(0.0);
        global[0].durability_lag_in_msec = Some(0.0);
        global[1].rpo_lag_in_msec = Some(-1.0);
        global[1].durability_lag_in_msec = Some(-1.0);
        instances[0].session_id = "x-reader".into();
        instances[2].session_id = MASTER_SESSION_ID.into();
        let eu = sample("eu-west-1", &global, &instances, Instant::now()).unwrap();
        assert!(eu.writer);
        assert_ne!(eu.timeline, before);
        let us = sample("us-east-1", &global, &instances, Instant::now()).unwrap();
        assert!(!us.writer);
        assert_eq!(us.reported_lag, Some(Duration::ZERO));
    }
}
