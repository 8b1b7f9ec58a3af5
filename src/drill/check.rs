//! The set-full checker: every acknowledged write is stable, lost or never read; duplicates and
//! stale reads are found.
//!
//! The idea is Jepsen's `set-full`: each element (here a canary) is added once; afterwards a read
//! that began after its acknowledgement must contain it. The final read is the surviving writer's
//! database (`--check-database`), which is the ground truth after a failover: a write it lacks is
//! lost, whatever any region answered during the drill. Without that read (a deployment whose
//! database the drill cannot reach), a write Meridian reported lost to a read-back is lost, one a
//! drill read found is stable as far as anyone can tell, and the rest are never read.
//!
//! Canaries are matched by body, not by ledger id: after an unplanned failover the new writer's
//! sequence can hand a lost write's id to another row, and a read of that id then finds somebody
//! else's canary (reported as a stale read with the wrong body).

use super::record::{Kind, Outcome, Record};
use serde::Serialize;
use std::collections::HashMap;

/// One drill row of the writer's `ledger` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbRow {
    /// `ledger.id`.
    pub id: i64,
    /// `ledger.body`: the canary.
    pub body: String,
    /// `ledger.region`: whose app stored it.
    pub region: String,
}

/// What became of an acknowledged write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fate {
    /// Present in the final read (or, without one, seen by a drill read).
    Stable,
    /// Absent from the final read.
    Lost,
    /// No final read, and no drill read found it: unknown.
    NeverRead,
}

/// An acknowledged write the final read does not have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LostWrite {
    /// The write's `seq`.
    pub seq: u64,
    /// Its canary.
    pub canary: String,
    /// The id it was acknowledged with.
    pub ledger_id: Option<i64>,
    /// When the acknowledgement arrived (microseconds since the drill started).
    pub acked_us: u64,
    /// Region whose Meridian answered the write.
    pub region: Option<String>,
}

/// A canary stored more than once: a write applied twice (a replay, a retry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Duplicate {
    /// The canary.
    pub canary: String,
    /// Every row id holding it.
    pub ids: Vec<i64>,
}

/// Why a read of an acknowledged write was stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StaleKind {
    /// 404: the row was not there.
    NotFound,
    /// 200 with another canary: the id belongs to a different row now.
    WrongBody,
}

/// A read that began after its write was acknowledged, carried the write's token, and did not
/// see the write, without Meridian saying the write was lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaleRead {
    /// The read's `seq`.
    pub read_seq: u64,
    /// The write it looked up.
    pub write_seq: u64,
    /// What it saw instead.
    pub kind: StaleKind,
    /// It went to another region's front door than the write.
    pub cross_region: bool,
    /// It carried the write's consistency token (no token: the write's answer had none).
    pub had_token: bool,
    /// Region whose Meridian answered.
    pub region: Option<String>,
    /// When it was sent (microseconds since the drill started).
    pub scheduled_us: u64,
    /// What became of the write (a stale read of a lost write is the loss showing early).
    pub write_fate: Fate,
}

/// The checker's findings.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Check {
    /// The final read happened (a database was given and answered).
    pub database_checked: bool,
    /// Acknowledged writes present in the final read (or seen, without one).
    pub stable: u64,
    /// Acknowledged writes missing from the final read, oldest first.
    pub lost: Vec<LostWrite>,
    /// Acknowledged writes nobody could confirm.
    pub never_read: u64,
    /// Canaries stored more than once.
    pub duplicates: Vec<Duplicate>,
    /// Reads that missed an acknowledged write and did not say it was lost.
    pub stale_reads: Vec<StaleRead>,
    /// Reads answered with `x-meridian-consistency-lost` for a write that is indeed lost.
    pub lost_reported: u64,
    /// Reads answered with `x-meridian-consistency-lost` for a write that is stable.
    pub false_lost_reports: u64,
    /// Writes the client saw fail (error or timeout) that are stored anyway: indeterminate
    /// writes that took effect. Not an error of the system, but a client must expect them.
    pub unacked_applied: u64,
    /// `seq` of every write, by fate (acknowledged writes only).
    #[serde(skip)]
    pub fates: HashMap<u64, Fate>,
}

/// Checks the records against the final read of the writer's database (`None`: no final read).
pub fn check(records: &[Record], final_read: Option<&[DbRow]>) -> Check {
    let mut out = Check {
        database_checked: final_read.is_some(),
        ..Check::default()
    };
    let mut stored: HashMap<&str, Vec<i64>> = HashMap::new();
    for row in final_read.unwrap_or_default() {
        stored.entry(row.body.as_str()).or_default().push(row.id);
    }
    // Without a final read, the drill's own reads are the only evidence: one that found the
    // canary makes the write stable as far as anyone can tell, and Meridian saying the token
    // names a write lost in a failover (`x-meridian-consistency-lost`) makes it lost.
    let mut seen: HashMap<u64, bool> = HashMap::new();
    let mut reported_lost: HashMap<u64, bool> = HashMap::new();
    for r in records.iter().filter(|r| r.kind == Kind::Read) {
        let Some(w) = r.of_write else { continue };
        if r.lost_flag {
            reported_lost.insert(w, true);
        } else if r.outcome == Outcome::Ok && r.wrong_body.is_none() {
            seen.insert(w, true);
        }
    }
    for w in records.iter().filter(|r| r.kind == Kind::Write) {
        if !w.acknowledged() {
            if w.outcome.is_error() && stored.contains_key(w.canary.as_str()) {
                out.unacked_applied += 1;
            }
            continue;
        }
        let fate = match final_read {
            Some(_) if stored.contains_key(w.canary.as_str()) => Fate::Stable,
            Some(_) => Fate::Lost,
            None if reported_lost.contains_key(&w.seq) => Fate::Lost,
            None if seen.contains_key(&w.seq) => Fate::Stable,
            None => Fate::NeverRead,
        };
        match fate {
            Fate::Stable => out.stable += 1,
            Fate::NeverRead => out.never_read += 1,
            Fate::Lost => out.lost.push(LostWrite {
                seq: w.seq,
                canary: w.canary.clone(),
                ledger_id: w.ledger_id,
                acked_us: w.done_us,
                region: w.region.clone(),
            }),
        }
        out.fates.insert(w.seq, fate);
    }
    out.lost.sort_by_key(|l| (l.acked_us, l.seq));
    let mut duplicates: Vec<Duplicate> = stored
        .iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|(canary, ids)| {
            let mut ids = ids.clone();
            ids.sort_unstable();
            Duplicate {
                canary: (*canary).to_string(),
                ids,
            }
        })
        .collect();
    duplicates.sort_by(|a, b| a.ids.cmp(&b.ids));
    out.duplicates = duplicates;

    for r in records.iter().filter(|r| r.kind == Kind::Read) {
        let Some(write_seq) = r.of_write else {
            continue;
        };
        let missed = match (&r.outcome, &r.wrong_body) {
            (Outcome::NotFound, _) => Some(StaleKind::NotFound),
            (Outcome::Ok, Some(_)) => Some(StaleKind::WrongBody),
            _ => None,
        };
        let write_fate = out
            .fates
            .get(&write_seq)
            .copied()
            .unwrap_or(Fate::NeverRead);
        if r.lost_flag {
            if write_fate == Fate::Lost {
                out.lost_reported += 1;
            } else if write_fate == Fate::Stable && final_read.is_some() {
                out.false_lost_reports += 1;
            }
            continue;
        }
        if let Some(kind) = missed {
            out.stale_reads.push(StaleRead {
                read_seq: r.seq,
                write_seq,
                kind,
                cross_region: r.cross_region,
                had_token: r.token.is_some(),
                region: r.region.clone(),
                scheduled_us: r.scheduled_us,
                write_fate,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(seq: u64, at_ms: u64, id: Option<i64>, outcome: Outcome) -> Record {
        let mut r = Record::new(seq, Kind::Write, 0, at_ms * 1000, format!("c-{seq}"));
        r.done_us = at_ms * 1000 + 5_000;
        r.ledger_id = id;
        r.outcome = outcome;
        r
    }

    fn read(seq: u64, of: &Record, at_ms: u64, outcome: Outcome) -> Record {
        let mut r = Record::new(seq, Kind::Read, 1, at_ms * 1000, of.canary.clone());
        r.done_us = at_ms * 1000 + 2_000;
        r.of_write = Some(of.seq);
        r.ledger_id = of.ledger_id;
        r.cross_region = true;
        r.outcome = outcome;
        r
    }

    fn row(id: i64, body: &str) -> DbRow {
        DbRow {
            id,
            body: body.into(),
            region: "us-east-1".into(),
        }
    }

    #[test]
    fn a_lost_write_is_found() {
        let w1 = write(1, 100, Some(1), Outcome::Ok);
        let w2 = write(2, 200, Some(2), Outcome::Ok);
        let w3 = write(3, 300, Some(3), Outcome::Ok);
        let rows = [row(1, "c-1"), row(3, "c-3")];
        let c = check(&[w1, w2, w3], Some(&rows));
        assert_eq!(c.stable, 2);
        assert_eq!(c.lost.len(), 1);
        assert_eq!(c.lost[0].seq, 2);
        assert_eq!(c.lost[0].acked_us, 205_000);
        assert_eq!(c.fates[&2], Fate::Lost);
        assert!(c.duplicates.is_empty() && c.stale_reads.is_empty());
    }

    #[test]
    fn a_duplicate_is_found() {
        let w1 = write(1, 100, Some(1), Outcome::Ok);
        let w2 = write(2, 200, Some(2), Outcome::Ok);
        let rows = [row(1, "c-1"), row(2, "c-2"), row(7, "c-1")];
        let c = check(&[w1, w2], Some(&rows));
        assert_eq!(
            c.duplicates,
            vec![Duplicate {
                canary: "c-1".into(),
                ids: vec![1, 7]
            }]
        );
        assert_eq!(c.stable, 2);
        assert!(c.lost.is_empty());
    }

    #[test]
    fn a_stale_read_is_found() {
        let w1 = write(1, 100, Some(1), Outcome::Ok);
        let fresh = read(2, &w1, 150, Outcome::Ok);
        let mut stale = read(3, &w1, 160, Outcome::NotFound);
        stale.token = Some("t".into());
        let rows = [row(1, "c-1")];
        let c = check(&[w1, fresh, stale], Some(&rows));
        assert_eq!(c.stale_reads.len(), 1);
        let s = &c.stale_reads[0];
        assert_eq!((s.read_seq, s.write_seq), (3, 1));
        assert_eq!(s.kind, StaleKind::NotFound);
        assert_eq!(s.write_fate, Fate::Stable);
        assert!(s.cross_region && s.had_token);
    }

    #[test]
    fn a_reused_id_reads_as_a_wrong_body() {
        // c-1 was acknowledged as id 1, lost in a failover; the new writer gave id 1 to c-2.
        let w1 = write(1, 100, Some(1), Outcome::Ok);
        let w2 = write(2, 300, Some(1), Outcome::Ok);
        let mut r = read(3, &w1, 400, Outcome::Ok);
        r.wrong_body = Some("c-2".into());
        let rows = [row(1, "c-2")];
        let c = check(&[w1, w2, r], Some(&rows));
        assert_eq!(c.lost.len(), 1);
        assert_eq!(c.stale_reads.len(), 1);
        assert_eq!(c.stale_reads[0].kind, StaleKind::WrongBody);
        assert_eq!(c.stale_reads[0].write_fate, Fate::Lost);
    }

    #[test]
    fn a_read_that_says_lost_is_not_stale() {
        let w1 = write(1, 100, Some(1), Outcome::Ok);
        let w2 = write(2, 100, Some(2), Outcome::Ok);
        let mut honest = read(3, &w1, 400, Outcome::NotFound);
        honest.lost_flag = true;
        let mut wrong = read(4, &w2, 400, Outcome::Ok);
        wrong.lost_flag = true;
        let rows = [row(2, "c-2")];
        let c = check(&[w1, w2, honest, wrong], Some(&rows));
        assert!(c.stale_reads.is_empty());
        assert_eq!(c.lost_reported, 1);
        assert_eq!(c.false_lost_reports, 1);
    }

    #[test]
    fn without_a_final_read_only_reads_confirm() {
        let w1 = write(1, 100, Some(1), Outcome::Ok);
        let w2 = write(2, 200, Some(2), Outcome::Ok);
        let w3 = write(3, 250, Some(3), Outcome::Ok);
        let r = read(4, &w1, 300, Outcome::Ok);
        let mut told_lost = read(5, &w3, 400, Outcome::NotFound);
        told_lost.lost_flag = true;
        let c = check(&[w1, w2, w3, r, told_lost], None);
        assert!(!c.database_checked);
        assert_eq!((c.stable, c.never_read, c.lost.len()), (1, 1, 1));
        assert_eq!(c.lost[0].seq, 3);
        assert_eq!(c.lost_reported, 1);
    }

    #[test]
    fn failed_writes_are_not_acknowledged_but_may_be_applied() {
        let w1 = write(1, 100, None, Outcome::Status(503));
        let w2 = write(2, 200, None, Outcome::Timeout);
        let w3 = write(3, 300, None, Outcome::Transport("reset".into()));
        let rows = [row(5, "c-2")];
        let c = check(&[w1, w2, w3], Some(&rows));
        assert_eq!((c.stable, c.lost.len(), c.never_read), (0, 0, 0));
        assert_eq!(c.unacked_applied, 1);
    }
}
