//! The report: per-phase errors and slow answers, RTO, RPO, stale reads, latency percentiles,
//! and the verdict against the objectives. Pure arithmetic over records and the checker's result.
//!
//! Definitions (the JSON uses milliseconds since the drill started):
//! - A request *failed* when it got an error (a status other than the contract's answer, a
//!   timeout, a broken connection) or a slow answer (later than `slow_ms`). A read's 404 is an
//!   answer, judged by the checker as stale or not.
//! - `last_failure_ms`: from the fault to the last failed request's answer (or error).
//! - `rto_ms`: from the fault to the first good answer after that; 0 when nothing failed after
//!   the fault; null when nothing good came after the last failure (not recovered in the drill).
//! - `rpo_ms`: the span of acknowledged history lost: from the last surviving write acknowledged
//!   before the first lost one, to the last lost one. A single lost write among writes every
//!   40 ms gives 40 ms; a replication cut of 5 s before the writer died gives about 5 s.
//! - Phases split by send time: before the fault, during it (until the heal, or the end when
//!   there is none), after the heal.

use super::check::{Check, Duplicate, LostWrite, StaleRead};
use super::record::{Kind, Outcome, Record};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// At most this many lost writes and stale reads are listed one by one in the JSON.
const LISTED: usize = 1000;

/// The instants that shape a report (microseconds since the drill started).
#[derive(Debug, Clone, Copy, Default)]
pub struct Timeline {
    /// The fault instant, if any.
    pub fault_us: Option<u64>,
    /// The heal instant, if any.
    pub heal_us: Option<u64>,
    /// End of the schedule (the last request was sent before it).
    pub end_us: u64,
}

/// Latency percentiles (nearest rank) in milliseconds, over every request that ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

/// One phase of one kind of request.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Phase {
    /// Requests sent in the phase.
    pub sent: u64,
    /// Of them, errors.
    pub errors: u64,
    /// Of them, answered but slower than `slow_ms`.
    pub slow: u64,
    /// Their latency.
    pub latency: Latency,
}

/// Before, during and after the fault.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Phases {
    /// Sent before the fault (everything, when there is no fault).
    pub before: Phase,
    /// Sent from the fault to the heal (or the end).
    pub during: Phase,
    /// Sent after the heal.
    pub after: Phase,
}

/// How a kind of request recovered from the fault.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Recovery {
    /// Fault to the first good answer after the last failure; 0 when nothing failed; None
    /// when no good answer came after the last failure.
    pub rto_ms: Option<u64>,
    /// Fault to the last failure; None when nothing failed.
    pub last_failure_ms: Option<u64>,
}

/// Writes: availability and durability.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Writes {
    /// Writes sent.
    pub sent: u64,
    /// Acknowledged (201 with an id).
    pub acknowledged: u64,
    /// Errors of any kind (statuses, timeouts, broken connections).
    pub errors: u64,
    /// Of the errors, no answer within the drill's timeout.
    pub timeouts: u64,
    /// Of the errors, refused by Meridian's RPO guard (`rpo_guard`).
    pub refused_rpo_guard: u64,
    /// Of the errors, refused while no writer was known (`no_writer`).
    pub refused_no_writer: u64,
    /// Answered, but slower than `slow_ms`.
    pub slow: u64,
    /// Acknowledged with `x-meridian-rpo-exposed` (admitted while replication was behind).
    pub exposed: u64,
    /// Sent before the fault and not answered when it struck.
    pub in_flight_at_fault: u64,
    /// See the module doc.
    pub rto_ms: Option<u64>,
    /// See the module doc.
    pub last_failure_ms: Option<u64>,
    /// Acknowledged writes missing from the final read.
    pub lost: u64,
    /// See the module doc; 0 when nothing was lost.
    pub rpo_ms: u64,
    /// Fault to the oldest lost write's acknowledgement (how old it was when the fault struck).
    pub oldest_lost_age_at_fault_ms: Option<u64>,
    /// Acknowledged and present in the final read.
    pub stable: u64,
    /// Acknowledged, fate unknown (no final read and no drill read found it).
    pub never_read: u64,
    /// Canaries stored more than once.
    pub duplicates: u64,
    /// Failed for the client, stored anyway.
    pub unacked_applied: u64,
    /// Latency of every write.
    pub latency: Latency,
    /// Per phase.
    pub phases: Phases,
    /// Answers per serving region (`x-meridian-region`).
    pub regions: BTreeMap<String, u64>,
}

/// Reads: availability and read-your-writes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Reads {
    /// Reads sent.
    pub sent: u64,
    /// 200 with the expected canary.
    pub ok: u64,
    /// Errors of any kind (a 404 is not one: see `stale`).
    pub errors: u64,
    /// Of the errors, no answer within the drill's timeout.
    pub timeouts: u64,
    /// Answered, but slower than `slow_ms`.
    pub slow: u64,
    /// See the module doc.
    pub rto_ms: Option<u64>,
    /// See the module doc.
    pub last_failure_ms: Option<u64>,
    /// Read-your-writes violations: a read with the write's token that did not see it (404 or
    /// another row's body) and was not marked lost.
    pub stale: u64,
    /// Of them, sent to another region's front door than the write.
    pub stale_cross_region: u64,
    /// Of them, for a write the final read shows lost (the loss seen early).
    pub stale_of_lost_writes: u64,
    /// Of them, sent without a token because the write's answer carried none (Meridian
    /// cannot promise read-your-writes for those).
    pub stale_without_token: u64,
    /// Answered with `x-meridian-consistency-lost` for a write that is lost.
    pub lost_reported: u64,
    /// Answered with `x-meridian-consistency-lost` for a write that is stable.
    pub false_lost_reports: u64,
    /// Sent to another region's front door than their write.
    pub cross_region: u64,
    /// Latency of every read.
    pub latency: Latency,
    /// Per phase.
    pub phases: Phases,
    /// Answers per serving region (`x-meridian-region`).
    pub regions: BTreeMap<String, u64>,
}

/// The objectives given on the command line and whether they were met.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Objectives {
    /// `--rto`, milliseconds.
    pub rto_ms: Option<u64>,
    /// `--rpo`, milliseconds.
    pub rpo_ms: Option<u64>,
    /// What the measured RPO rests on.
    pub rpo_basis: RpoBasis,
    /// Every stated objective was met.
    pub met: bool,
    /// One line per objective missed.
    pub missed: Vec<String>,
}

/// Both kinds' figures, computed from the records.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    /// Writes.
    pub writes: Writes,
    /// Reads.
    pub reads: Reads,
}

/// Computes every figure. `slow` is the threshold of a slow answer.
pub fn figures(records: &[Record], check: &Check, timeline: Timeline, slow: Duration) -> Figures {
    let slow_us = duration_us(slow);
    let writes: Vec<&Record> = records.iter().filter(|r| r.kind == Kind::Write).collect();
    let reads: Vec<&Record> = records.iter().filter(|r| r.kind == Kind::Read).collect();
    let from_us = timeline.fault_us.unwrap_or(0);

    let w_recovery = recovery(&writes, from_us, slow_us);
    let w = Writes {
        sent: writes.len() as u64,
        acknowledged: writes.iter().filter(|r| r.acknowledged()).count() as u64,
        errors: count(&writes, |r| r.outcome.is_error()),
        timeouts: count(&writes, |r| r.outcome == Outcome::Timeout),
        refused_rpo_guard: count(&writes, |r| r.error_code.as_deref() == Some("rpo_guard")),
        refused_no_writer: count(&writes, |r| r.error_code.as_deref() == Some("no_writer")),
        slow: count(&writes, |r| is_slow(r, slow_us)),
        exposed: count(&writes, |r| r.acknowledged() && r.exposed),
        in_flight_at_fault: timeline.fault_us.map_or(0, |f| {
            count(&writes, |r| r.scheduled_us < f && r.done_us > f)
        }),
        rto_ms: w_recovery.rto_ms,
        last_failure_ms: w_recovery.last_failure_ms,
        lost: check.lost.len() as u64,
        rpo_ms: rpo_us(&writes, &check.lost) / 1000,
        oldest_lost_age_at_fault_ms: match (timeline.fault_us, check.lost.first()) {
            (Some(f), Some(l)) => Some(f.saturating_sub(l.acked_us) / 1000),
            _ => None,
        },
        stable: check.stable,
        never_read: check.never_read,
        duplicates: check.duplicates.len() as u64,
        unacked_applied: check.unacked_applied,
        latency: latency(writes.iter().copied()),
        phases: phases(&writes, timeline, slow_us),
        regions: regions(&writes),
    };

    let r_recovery = recovery(&reads, from_us, slow_us);
    let r = Reads {
        sent: reads.len() as u64,
        ok: count(&reads, |r| {
            r.outcome == Outcome::Ok && r.wrong_body.is_none()
        }),
        errors: count(&reads, |r| r.outcome.is_error()),
        timeouts: count(&reads, |r| r.outcome == Outcome::Timeout),
        slow: count(&reads, |r| is_slow(r, slow_us)),
        rto_ms: r_recovery.rto_ms,
        last_failure_ms: r_recovery.last_failure_ms,
        stale: check.stale_reads.len() as u64,
        stale_cross_region: check.stale_reads.iter().filter(|s| s.cross_region).count() as u64,
        stale_of_lost_writes: check
            .stale_reads
            .iter()
            .filter(|s| s.write_fate == super::check::Fate::Lost)
            .count() as u64,
        stale_without_token: check.stale_reads.iter().filter(|s| !s.had_token).count() as u64,
        lost_reported: check.lost_reported,
        false_lost_reports: check.false_lost_reports,
        cross_region: count(&reads, |r| r.cross_region),
        latency: latency(reads.iter().copied()),
        phases: phases(&reads, timeline, slow_us),
        regions: regions(&reads),
    };
    Figures {
        writes: w,
        reads: r,
    }
}

/// What the RPO rests on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RpoBasis {
    /// The surviving writer's database was read: every lost write is known.
    #[default]
    FinalRead,
    /// No database was given: only writes Meridian reported lost to a read-back are known, so
    /// the RPO is a lower bound.
    ReadBacks,
    /// A database was given but could not be read: the RPO is not verified.
    Unverified,
}

/// Judges the figures against `--rto` and `--rpo`. With [`RpoBasis::Unverified`] an RPO
/// objective is missed: nothing proves the writes survived.
pub fn objectives(
    figures: &Figures,
    basis: RpoBasis,
    rto: Option<Duration>,
    rpo: Option<Duration>,
) -> Objectives {
    let mut missed = Vec::new();
    let rto_ms = rto.map(|d| duration_us(d) / 1000);
    let rpo_ms = rpo.map(|d| duration_us(d) / 1000);
    if let Some(limit) = rto_ms {
        for (what, rto) in [
            ("writes", figures.writes.rto_ms),
            ("reads", figures.reads.rto_ms),
        ] {
            match rto {
                None => missed.push(format!("{what} did not recover before the drill ended")),
                Some(ms) if ms > limit => {
                    missed.push(format!("{what} RTO {ms} ms > objective {limit} ms"))
                }
                Some(_) => {}
            }
        }
    }
    if let Some(limit) = rpo_ms {
        let w = &figures.writes;
        if basis == RpoBasis::Unverified {
            missed.push("RPO not verified: the final database read did not happen".into());
        } else if w.lost > 0 && (limit == 0 || w.rpo_ms > limit) {
            missed.push(format!(
                "RPO {} ms ({} acknowledged writes lost) > objective {limit} ms",
                w.rpo_ms, w.lost
            ));
        }
    }
    Objectives {
        rto_ms,
        rpo_ms,
        rpo_basis: basis,
        met: missed.is_empty(),
        missed,
    }
}

/// The lost writes and stale reads listed one by one (the first [`LISTED`] of each).
pub fn listed(check: &Check) -> (Vec<LostWrite>, Vec<StaleRead>, Vec<Duplicate>) {
    (
        check.lost.iter().take(LISTED).cloned().collect(),
        check.stale_reads.iter().take(LISTED).cloned().collect(),
        check.duplicates.iter().take(LISTED).cloned().collect(),
    )
}

// === the arithmetic ===

/// Microseconds in a duration, saturating.
pub fn duration_us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn count(records: &[&Record], pred: impl Fn(&Record) -> bool) -> u64 {
    records.iter().filter(|r| pred(r)).count() as u64
}

fn is_slow(r: &Record, slow_us: u64) -> bool {
    !r.outcome.is_error() && r.latency_us() > slow_us
}

fn failed(r: &Record, slow_us: u64) -> bool {
    r.outcome.is_error() || r.latency_us() > slow_us
}

/// RTO and last failure, measured from `from_us` (the fault, or the start).
pub fn recovery(records: &[&Record], from_us: u64, slow_us: u64) -> Recovery {
    let last_bad = records
        .iter()
        .filter(|r| r.done_us >= from_us && failed(r, slow_us))
        .map(|r| r.done_us)
        .max();
    let Some(last_bad) = last_bad else {
        return Recovery {
            rto_ms: Some(0),
            last_failure_ms: None,
        };
    };
    let first_good = records
        .iter()
        .filter(|r| r.done_us > last_bad && !failed(r, slow_us))
        .map(|r| r.done_us)
        .min();
    Recovery {
        rto_ms: first_good.map(|g| (g - from_us) / 1000),
        last_failure_ms: Some((last_bad - from_us) / 1000),
    }
}

/// The span of acknowledged history lost (see the module doc), in microseconds.
pub fn rpo_us(writes: &[&Record], lost: &[LostWrite]) -> u64 {
    let (Some(first), Some(last)) = (
        lost.iter().map(|l| l.acked_us).min(),
        lost.iter().map(|l| l.acked_us).max(),
    ) else {
        return 0;
    };
    let lost_seqs: std::collections::HashSet<u64> = lost.iter().map(|l| l.seq).collect();
    // The last write that survived, acknowledged before the first lost one; without one, the
    // lost history starts when the first lost write was sent.
    let survived_before = writes
        .iter()
        .filter(|w| w.acknowledged() && !lost_seqs.contains(&w.seq) && w.done_us <= first)
        .map(|w| w.done_us)
        .max();
    let start = survived_before.unwrap_or_else(|| {
        lost.iter()
            .filter_map(|l| writes.iter().find(|w| w.seq == l.seq))
            .map(|w| w.scheduled_us)
            .min()
            .unwrap_or(first)
    });
    last.saturating_sub(start)
}

/// Nearest-rank percentiles of the latencies of `records`.
pub fn latency<'a>(records: impl Iterator<Item = &'a Record>) -> Latency {
    let mut us: Vec<u64> = records.map(Record::latency_us).collect();
    if us.is_empty() {
        return Latency::default();
    }
    us.sort_unstable();
    let at = |p: f64| {
        let rank = (p * us.len() as f64).ceil() as usize;
        us[rank.clamp(1, us.len()) - 1] as f64 / 1000.0
    };
    Latency {
        p50_ms: at(0.50),
        p90_ms: at(0.90),
        p99_ms: at(0.99),
        p999_ms: at(0.999),
        max_ms: at(1.0),
    }
}

fn phases(records: &[&Record], t: Timeline, slow_us: u64) -> Phases {
    let fault = t.fault_us.unwrap_or(u64::MAX);
    let heal = t.heal_us.unwrap_or(u64::MAX).max(fault);
    let phase = |from: u64, to: u64| {
        let inside: Vec<&Record> = records
            .iter()
            .copied()
            .filter(|r| r.scheduled_us >= from && r.scheduled_us < to)
            .collect();
        Phase {
            sent: inside.len() as u64,
            errors: count(&inside, |r| r.outcome.is_error()),
            slow: count(&inside, |r| is_slow(r, slow_us)),
            latency: latency(inside.iter().copied()),
        }
    };
    Phases {
        before: phase(0, fault),
        during: phase(fault, heal),
        after: phase(heal, u64::MAX),
    }
}

fn regions(records: &[&Record]) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for r in records {
        if let Some(region) = &r.region {
            *out.entry(region.clone()).or_insert(0) += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drill::check::check;

    /// A write sent at `at_ms`, answered `took_ms` later.
    fn w(seq: u64, at_ms: u64, took_ms: u64, outcome: Outcome) -> Record {
        let mut r = Record::new(seq, Kind::Write, 0, at_ms * 1000, format!("c-{seq}"));
        r.done_us = (at_ms + took_ms) * 1000;
        if outcome == Outcome::Ok {
            r.ledger_id = Some(seq as i64);
        }
        r.outcome = outcome;
        r
    }

    const SLOW: Duration = Duration::from_secs(1);

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let records: Vec<Record> = (1..=100).map(|i| w(i, 0, i, Outcome::Ok)).collect();
        let l = latency(records.iter());
        assert_eq!(
            (l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms),
            (50.0, 90.0, 99.0, 100.0)
        );
        assert_eq!(l.p999_ms, 100.0);
        assert_eq!(latency([].iter()), Latency::default());
        let one = [w(1, 0, 7, Outcome::Ok)];
        assert_eq!(latency(one.iter()).p50_ms, 7.0);
    }

    #[test]
    fn rto_runs_from_the_fault_to_the_first_success_after_the_last_failure() {
        // Fault at 1000 ms; errors answered at 1010 and 2500 ms; a success at 1800 ms in
        // between does not end the outage; the first success after 2500 ms is at 2600 ms.
        let records = [
            w(1, 900, 10, Outcome::Ok),
            w(2, 1000, 10, Outcome::Status(503)),
            w(3, 1790, 10, Outcome::Ok),
            w(4, 2400, 100, Outcome::Transport("refused".into())),
            w(5, 2590, 10, Outcome::Ok),
            w(6, 2700, 10, Outcome::Ok),
        ];
        let refs: Vec<&Record> = records.iter().collect();
        let r = recovery(&refs, 1_000_000, duration_us(SLOW));
        assert_eq!(r.last_failure_ms, Some(1500));
        assert_eq!(r.rto_ms, Some(1600));
    }

    #[test]
    fn a_held_request_counts_as_a_failure_until_it_is_answered_in_time() {
        // Nothing errors, but writes are held 9 s by a failover: the outage is visible.
        let records = [
            w(1, 1000, 9000, Outcome::Ok),
            w(2, 5000, 5010, Outcome::Ok),
            w(3, 10_020, 5, Outcome::Ok),
        ];
        let refs: Vec<&Record> = records.iter().collect();
        let r = recovery(&refs, 1_000_000, duration_us(SLOW));
        assert_eq!(r.last_failure_ms, Some(9010));
        assert_eq!(r.rto_ms, Some(9025));
    }

    #[test]
    fn rto_is_zero_without_failures_and_none_without_recovery() {
        let ok = [w(1, 1000, 10, Outcome::Ok)];
        let refs: Vec<&Record> = ok.iter().collect();
        assert_eq!(recovery(&refs, 500_000, 1_000_000).rto_ms, Some(0));
        let down = [
            w(1, 1000, 10, Outcome::Ok),
            w(2, 2000, 10, Outcome::Timeout),
        ];
        let refs: Vec<&Record> = down.iter().collect();
        let r = recovery(&refs, 500_000, 1_000_000);
        assert_eq!((r.rto_ms, r.last_failure_ms), (None, Some(1510)));
    }

    #[test]
    fn rpo_spans_the_lost_history_from_the_last_survivor() {
        // Writes every 100 ms, acknowledged 10 ms later; 3, 4 and 5 are lost.
        let records: Vec<Record> = (1..=8).map(|i| w(i, i * 100, 10, Outcome::Ok)).collect();
        let rows: Vec<_> = [1, 2, 6, 7, 8]
            .iter()
            .map(|&i| crate::drill::check::DbRow {
                id: i,
                body: format!("c-{i}"),
                region: "r".into(),
            })
            .collect();
        let c = check(&records, Some(&rows));
        let t = Timeline {
            fault_us: Some(600_000),
            heal_us: None,
            end_us: 900_000,
        };
        let f = figures(&records, &c, t, SLOW);
        assert_eq!(f.writes.lost, 3);
        // Survivor 2 acknowledged at 210 ms, last lost (5) at 510 ms.
        assert_eq!(f.writes.rpo_ms, 300);
        assert_eq!(f.writes.oldest_lost_age_at_fault_ms, Some(290));
        let met = objectives(
            &f,
            RpoBasis::FinalRead,
            None,
            Some(Duration::from_millis(300)),
        );
        assert!(met.met);
        let missed = objectives(
            &f,
            RpoBasis::FinalRead,
            None,
            Some(Duration::from_millis(299)),
        );
        assert!(!missed.met);
        assert_eq!(missed.missed.len(), 1);
    }

    #[test]
    fn phases_split_by_fault_and_heal_and_count_in_flight() {
        let records = [
            w(1, 100, 10, Outcome::Ok),
            w(2, 950, 100, Outcome::Status(502)),
            w(3, 1100, 2000, Outcome::Ok),
            w(4, 2100, 10, Outcome::Timeout),
            w(5, 3100, 10, Outcome::Ok),
        ];
        let c = check(&records, None);
        let t = Timeline {
            fault_us: Some(1_000_000),
            heal_us: Some(3_000_000),
            end_us: 4_000_000,
        };
        let f = figures(&records, &c, t, SLOW);
        let p = &f.writes.phases;
        assert_eq!((p.before.sent, p.before.errors), (2, 1));
        assert_eq!((p.during.sent, p.during.errors, p.during.slow), (2, 1, 1));
        assert_eq!((p.after.sent, p.after.errors), (1, 0));
        assert_eq!(f.writes.in_flight_at_fault, 1);
        assert_eq!(
            (f.writes.errors, f.writes.timeouts, f.writes.slow),
            (2, 1, 1)
        );
    }

    #[test]
    fn objectives_name_what_was_missed() {
        let mut f = Figures::default();
        f.writes.rto_ms = Some(12_000);
        f.reads.rto_ms = None;
        let (rto, rpo) = (Some(Duration::from_secs(11)), Some(Duration::ZERO));
        let o = objectives(&f, RpoBasis::Unverified, rto, rpo);
        assert!(!o.met);
        assert_eq!(o.missed.len(), 3, "{:?}", o.missed);
        f.writes.rto_ms = Some(0);
        f.reads.rto_ms = Some(0);
        let o = objectives(&f, RpoBasis::FinalRead, rto, rpo);
        assert!(o.met, "{:?}", o.missed);
        assert_eq!((o.rto_ms, o.rpo_ms), (Some(11_000), Some(0)));
        // Read-backs alone: judged on the losses Meridian reported.
        assert!(objectives(&f, RpoBasis::ReadBacks, rto, rpo).met);
        f.writes.lost = 1;
        assert!(!objectives(&f, RpoBasis::ReadBacks, rto, rpo).met);
    }
}
