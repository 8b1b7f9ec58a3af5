//! The whole report as written to `--json`, and its table for humans.

use super::check::{Duplicate, LostWrite, StaleRead};
use super::hooks::HookReport;
use super::report::{Latency, Objectives, Phase, Reads, Writes};
use serde::Serialize;
use std::fmt::Write as _;

/// The final read, as it went.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DatabaseReport {
    /// The final read happened.
    pub checked: bool,
    /// Rows of this run found.
    pub rows: u64,
    /// Why it did not happen, when it was asked for.
    pub error: Option<String>,
}

/// Everything the drill measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `--scenario`.
    pub scenario: String,
    /// Wall-clock start, RFC 3339 UTC.
    pub started_at: String,
    /// Prefix of this run's canaries (rows in the ledger table start with it).
    pub canary_prefix: String,
    /// The front doors driven.
    pub targets: Vec<String>,
    /// Requests per second.
    pub rate_per_s: f64,
    /// Schedule length.
    pub duration_ms: u64,
    /// Share of writes.
    pub write_share: f64,
    /// Share of reads sent to another target than their write.
    pub cross_region_share: f64,
    /// Slow-answer threshold.
    pub slow_ms: u64,
    /// Per-request timeout.
    pub timeout_ms: u64,
    /// The fault instant (when its command started), since the drill started.
    pub fault_at_ms: Option<u64>,
    /// The heal instant.
    pub heal_at_ms: Option<u64>,
    /// Every hook (fault, heal, steps) as it ran.
    pub hooks: Vec<HookReport>,
    /// The final read.
    pub database: DatabaseReport,
    /// Writes.
    pub writes: Writes,
    /// Reads.
    pub reads: Reads,
    /// The verdict.
    pub objectives: Objectives,
    /// Lost writes, oldest first (at most 1000 listed; `writes.lost` has the count).
    pub lost_writes: Vec<LostWrite>,
    /// Stale reads (at most 1000 listed; `reads.stale` has the count).
    pub stale_reads: Vec<StaleRead>,
    /// Canaries stored more than once.
    pub duplicates: Vec<Duplicate>,
}

impl Report {
    /// One line with the headline figures (the plot's subtitle, the last line of the table).
    pub fn headline(&self) -> String {
        let w = &self.writes;
        let r = &self.reads;
        format!(
            "writes: RTO {}, {} errors, {} lost (RPO {} ms) | reads: RTO {}, {} errors, {} stale",
            rto_text(w.rto_ms),
            w.errors,
            w.lost,
            w.rpo_ms,
            rto_text(r.rto_ms),
            r.errors,
            r.stale
        )
    }

    /// The table printed at the end of a drill.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let w = &self.writes;
        let r = &self.reads;
        let _ = writeln!(
            s,
            "meridian drill: {}  ({:.0}/s for {:.1} s, {:.0} % writes, {} target{}{}{})",
            self.scenario,
            self.rate_per_s,
            self.duration_ms as f64 / 1000.0,
            self.write_share * 100.0,
            self.targets.len(),
            if self.targets.len() == 1 { "" } else { "s" },
            self.fault_at_ms
                .map(|f| format!(", fault at {:.1} s", f as f64 / 1000.0))
                .unwrap_or_default(),
            self.heal_at_ms
                .map(|h| format!(", heal at {:.1} s", h as f64 / 1000.0))
                .unwrap_or_default(),
        );
        let _ = writeln!(
            s,
            "\n{:<16}{:>7}{:>8}{:>8}{:>7}{:>10}{:>10}{:>10}{:>15}{:>11}",
            "", "sent", "ok", "errors", "slow", "p50", "p99", "max", "RTO", "last fail"
        );
        let ok_writes = w.acknowledged;
        for (name, sent, ok, errors, slow, lat, rto, last) in [
            (
                "writes",
                w.sent,
                ok_writes,
                w.errors,
                w.slow,
                &w.latency,
                w.rto_ms,
                w.last_failure_ms,
            ),
            (
                "reads",
                r.sent,
                r.ok,
                r.errors,
                r.slow,
                &r.latency,
                r.rto_ms,
                r.last_failure_ms,
            ),
        ] {
            let _ = writeln!(
                s,
                "{name:<16}{sent:>7}{ok:>8}{errors:>8}{slow:>7}{:>10}{:>10}{:>10}{:>15}{:>11}",
                if sent == 0 {
                    "-".into()
                } else {
                    ms(lat.p50_ms)
                },
                if sent == 0 {
                    "-".into()
                } else {
                    ms(lat.p99_ms)
                },
                if sent == 0 {
                    "-".into()
                } else {
                    ms(lat.max_ms)
                },
                rto_text(rto),
                last.map_or("-".to_string(), |l| format!("{l} ms")),
            );
        }
        let _ = writeln!(
            s,
            "\n{:<16}{:>28}{:>28}",
            "phase", "writes sent/err/slow p99", "reads sent/err/slow p99"
        );
        for (name, wp, rp) in [
            ("before fault", &w.phases.before, &r.phases.before),
            ("during", &w.phases.during, &r.phases.during),
            ("after heal", &w.phases.after, &r.phases.after),
        ] {
            let _ = writeln!(s, "{name:<16}{:>28}{:>28}", phase(wp), phase(rp));
        }
        let _ = writeln!(
            s,
            "\nwrites: {} acknowledged: {} stable, {} lost (RPO {} ms{}), {} never read; \
             {} duplicated; {} failed but stored; in flight at the fault {}; refused by the \
             RPO guard {}, for want of a writer {}; admitted exposed {}",
            w.acknowledged,
            w.stable,
            w.lost,
            w.rpo_ms,
            w.oldest_lost_age_at_fault_ms
                .map(|a| format!(", oldest {a} ms before the fault"))
                .unwrap_or_default(),
            w.never_read,
            w.duplicates,
            w.unacked_applied,
            w.in_flight_at_fault,
            w.refused_rpo_guard,
            w.refused_no_writer,
            w.exposed,
        );
        let _ = writeln!(
            s,
            "reads: {} stale ({} cross-region, {} of lost writes, {} without a token); {} \
             reported lost, {} wrongly; {} cross-region reads",
            r.stale,
            r.stale_cross_region,
            r.stale_of_lost_writes,
            r.stale_without_token,
            r.lost_reported,
            r.false_lost_reports,
            r.cross_region
        );
        let served: Vec<String> = w.regions.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let read_served: Vec<String> = r.regions.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(
            s,
            "served by (x-meridian-region): writes {}; reads {}",
            list_or_none(&served),
            list_or_none(&read_served)
        );
        match (&self.database.checked, &self.database.error) {
            (true, _) => {
                let _ = writeln!(s, "final read: {} rows of this run", self.database.rows);
            }
            (false, Some(e)) => {
                let _ = writeln!(s, "final read FAILED: {e}");
            }
            (false, None) => {
                let _ = writeln!(
                    s,
                    "final read: none (--check-database not given): lost writes are those \
                     Meridian reported lost to a read-back, so the RPO is a lower bound"
                );
            }
        }
        for h in &self.hooks {
            let _ = writeln!(
                s,
                "{} at {:.1} s{}{}",
                h.label,
                h.at_ms as f64 / 1000.0,
                h.cmd
                    .as_ref()
                    .map(|c| format!(": `{c}`"))
                    .unwrap_or_default(),
                match (h.ok, h.took_ms) {
                    (true, Some(t)) => format!(" (ok, {t} ms)"),
                    (true, None) => String::new(),
                    (false, _) => format!(" FAILED (exit {:?}): {}", h.exit_code, h.output),
                }
            );
        }
        let o = &self.objectives;
        let objectives: Vec<String> = [
            o.rto_ms.map(|v| format!("RTO {v} ms")),
            o.rpo_ms.map(|v| format!("RPO {v} ms")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if objectives.is_empty() {
            let _ = writeln!(s, "objectives: none given");
        } else if o.met {
            let _ = writeln!(s, "objectives met: {}", objectives.join(", "));
        } else {
            let _ = writeln!(s, "OBJECTIVES MISSED: {}", o.missed.join("; "));
        }
        s
    }
}

fn rto_text(rto: Option<u64>) -> String {
    match rto {
        Some(ms) => format!("{ms} ms"),
        None => "not recovered".into(),
    }
}

fn ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2} s", v / 1000.0)
    } else {
        format!("{v:.1} ms")
    }
}

fn phase(p: &Phase) -> String {
    if p.sent == 0 {
        return "-".into();
    }
    let Latency { p99_ms, .. } = p.latency;
    format!("{}/{}/{} {}", p.sent, p.errors, p.slow, ms(p99_ms))
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drill::report::{Objectives, Reads, Writes};

    fn report(met: bool) -> Report {
        Report {
            scenario: "writer-db-kill".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            canary_prefix: "drill-x-".into(),
            targets: vec!["http://a".into(), "http://b".into()],
            rate_per_s: 50.0,
            duration_ms: 30_000,
            write_share: 0.5,
            cross_region_share: 0.5,
            slow_ms: 1000,
            timeout_ms: 25_000,
            fault_at_ms: Some(8000),
            heal_at_ms: None,
            hooks: Vec::new(),
            database: DatabaseReport {
                checked: true,
                rows: 700,
                error: None,
            },
            writes: Writes {
                sent: 750,
                acknowledged: 700,
                errors: 3,
                rto_ms: Some(10_400),
                lost: 2,
                rpo_ms: 80,
                ..Writes::default()
            },
            reads: Reads {
                sent: 750,
                rto_ms: None,
                ..Reads::default()
            },
            objectives: Objectives {
                rto_ms: Some(11_000),
                rpo_ms: Some(5000),
                rpo_basis: crate::drill::report::RpoBasis::FinalRead,
                met,
                missed: if met {
                    Vec::new()
                } else {
                    vec!["reads did not recover before the drill ended".into()]
                },
            },
            lost_writes: Vec::new(),
            stale_reads: Vec::new(),
            duplicates: Vec::new(),
        }
    }

    #[test]
    fn the_table_states_the_figures_and_the_verdict() {
        let t = report(true).table();
        assert!(t.contains("writer-db-kill"), "{t}");
        assert!(t.contains("10400 ms") && t.contains("not recovered"), "{t}");
        assert!(t.contains("2 lost (RPO 80 ms"), "{t}");
        assert!(
            t.contains("objectives met: RTO 11000 ms, RPO 5000 ms"),
            "{t}"
        );
        let missed = report(false).table();
        assert!(
            missed.contains("OBJECTIVES MISSED: reads did not recover"),
            "{missed}"
        );
        assert_eq!(
            report(true).headline(),
            "writes: RTO 10400 ms, 3 errors, 2 lost (RPO 80 ms) | reads: RTO not recovered, 0 errors, 0 stale"
        );
    }
}
