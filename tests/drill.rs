//! `meridian drill` against the real ledger app on a real PostgreSQL: the final read finds the
//! writes a "failover" took away, a write stored twice, and the reads that missed a write; and
//! the binary's exit codes.

mod support;

use meridian::demo::ledger::Ledger;
use meridian::demo::postgres::{PgCluster, connect};
use meridian::drill::{self, DrillSpec};
use std::process::Command;
use std::time::Duration;
use support::eventually;

fn spec(target: String, database: String) -> DrillSpec {
    DrillSpec {
        targets: vec![target],
        headers: Vec::new(),
        rate: 100.0,
        duration: Duration::from_secs(3),
        write_share: 0.5,
        cross_region_share: 0.0,
        fault_at: Some(Duration::from_millis(500)),
        fault_cmd: None,
        heal_at: None,
        heal_cmd: None,
        steps: Vec::new(),
        scenario: "checker-test".into(),
        check_database: Some(database),
        check_database_ca: None,
        check_patience: Duration::from_secs(10),
        json: Some(support::tmp_path("drill.json")),
        records: None,
        rto: None,
        rpo: Some(Duration::ZERO),
        slow: Duration::from_secs(1),
        timeout: Duration::from_secs(5),
        seed: Some(7),
        progress: false,
    }
}

/// Deletes a third of the run's rows while the drill runs (an unplanned failover's loss, made
/// exact) and stores one canary twice; the drill must report each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drill_finds_lost_writes_duplicates_and_stale_reads() {
    let cluster = match PgCluster::start(&["us-east-1"]).await {
        Ok(c) => c,
        Err(e) => panic!("PostgreSQL is needed for this test: {e}"),
    };
    let conninfo = cluster.servers()[0].conninfo();
    let ledger = Ledger::start("us-east-1", "127.0.0.1:0".parse().unwrap(), &conninfo)
        .await
        .expect("ledger");
    let spec = spec(format!("http://{}", ledger.addr()), conninfo.clone());
    let json = spec.json.clone().unwrap();
    let run = tokio::spawn(async move { drill::run(&spec).await });

    let db = std::sync::Arc::new(connect(&conninfo).await.expect("connect"));
    eventually(Duration::from_secs(10), "20 canaries stored", || {
        let db = db.clone();
        async move {
            db.query_one(
                "SELECT count(*) FROM ledger WHERE body LIKE 'drill-checker-test-%'",
                &[],
            )
            .await
            .is_ok_and(|r| r.get::<_, i64>(0) >= 20)
        }
    })
    .await;
    let deleted = db
        .execute(
            "DELETE FROM ledger WHERE body LIKE 'drill-checker-test-%' AND id % 3 = 0",
            &[],
        )
        .await
        .expect("delete");
    db.execute(
        "INSERT INTO ledger (body, region) SELECT body, region FROM ledger \
         WHERE body LIKE 'drill-checker-test-%' ORDER BY id LIMIT 1",
        &[],
    )
    .await
    .expect("duplicate");

    let report = run.await.expect("drill task").expect("drill ran");
    let w = &report.writes;
    assert!(report.database.checked, "{:?}", report.database);
    assert_eq!(w.errors, 0, "the ledger answered every write");
    assert_eq!(w.lost, deleted, "every deleted acknowledged write is lost");
    assert_eq!(w.stable + w.lost, w.acknowledged);
    assert!(w.rpo_ms > 0);
    assert_eq!(w.duplicates, 1);
    assert_eq!(report.duplicates[0].ids.len(), 2);
    assert!(report.reads.stale > 0, "reads of deleted rows answered 404");
    assert!(
        report
            .stale_reads
            .iter()
            .all(|s| s.write_fate == drill::check::Fate::Lost)
    );
    assert!(!report.objectives.met, "RPO 0 with lost writes is missed");
    let text = std::fs::read_to_string(&json).expect("json written");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json parses");
    for key in ["sent", "acknowledged", "errors", "rto_ms", "lost", "rpo_ms"] {
        assert!(v["writes"].get(key).is_some(), "writes.{key}");
    }
    for key in ["sent", "errors", "rto_ms", "stale"] {
        assert!(v["reads"].get(key).is_some(), "reads.{key}");
    }
    assert_eq!(v["scenario"], "checker-test");
    assert!(v["fault_at_ms"].as_u64().is_some());
    let svg = std::fs::read_to_string(drill::svg_path(&json)).expect("svg written");
    assert!(svg.contains("<svg") && svg.contains(">fault</text>"));
    cluster.stop().await;
}

#[test]
fn the_binary_exits_1_on_a_missed_objective_and_2_on_bad_usage() {
    // Nothing listens on port 1: every write fails and never recovers.
    let missed = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["drill", "--target", "http://127.0.0.1:1", "--rate", "20/s"])
        .args(["--duration", "1s", "--rto", "10s", "--quiet"])
        .output()
        .expect("run meridian drill");
    assert_eq!(missed.status.code(), Some(1), "{missed:?}");
    let table = String::from_utf8_lossy(&missed.stdout);
    assert!(table.contains("OBJECTIVES MISSED"), "{table}");

    let usage = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args([
            "drill",
            "--target",
            "http://127.0.0.1:1",
            "--fault-cmd",
            "true",
        ])
        .output()
        .expect("run meridian drill");
    assert_eq!(usage.status.code(), Some(2), "{usage:?}");
    assert!(String::from_utf8_lossy(&usage.stderr).contains("--fault-at"));

    let bad_rate = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["drill", "--target", "http://127.0.0.1:1", "--rate", "fast"])
        .output()
        .expect("run meridian drill");
    assert_eq!(bad_rate.status.code(), Some(2));
}
