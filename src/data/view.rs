//! The database view: each region's latest probe sample, and what follows from all of them
//! together (who the writer is, which claimant is fenced, each replica's lag in time and bytes).
//!
//! Probe tasks hand samples to a [`ViewBuilder`], which builds a whole new [`DataView`] on each
//! one; the request path reads the view with one lock-free load.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A PostgreSQL log position (`pg_lsn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

impl Lsn {
    /// Parses PostgreSQL's text form `X/Y` (two hex numbers).
    pub fn parse(text: &str) -> Option<Self> {
        let (hi, lo) = text.trim().split_once('/')?;
        if hi.is_empty() || lo.is_empty() || hi.len() > 8 || lo.len() > 8 {
            return None;
        }
        let hi = u32::from_str_radix(hi, 16).ok()?;
        let lo = u32::from_str_radix(lo, 16).ok()?;
        Some(Lsn((u64::from(hi) << 32) | u64::from(lo)))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// Which history a writer's log belongs to: the cluster's system identifier and the timeline.
/// Every promotion starts a new, higher timeline; a writer on a lower one is an old writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Epoch {
    /// `pg_control_system().system_identifier` (shared by a primary and its replicas).
    pub system: u64,
    /// The timeline id.
    pub timeline: u32,
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.system, self.timeline)
    }
}

/// A timeline's ancestry: for each parent timeline, the position where it was left.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TimelineHistory {
    /// The timeline this history leads to.
    pub timeline: u32,
    /// (parent timeline, switchpoint) in file order.
    pub switchpoints: Vec<(u32, Lsn)>,
}

impl TimelineHistory {
    /// Parses a `<timeline>.history` file: `parentTLI<TAB>switchpoint<TAB>reason` lines.
    pub fn parse(timeline: u32, text: &str) -> Self {
        let switchpoints = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .filter_map(|l| {
                let mut fields = l.split_whitespace();
                let tli = fields.next()?.parse().ok()?;
                let lsn = Lsn::parse(fields.next()?)?;
                Some((tli, lsn))
            })
            .collect();
        Self {
            timeline,
            switchpoints,
        }
    }

    /// Where `timeline` (an ancestor) ended; None if it is not an ancestor.
    pub fn switchpoint(&self, timeline: u32) -> Option<Lsn> {
        self.switchpoints
            .iter()
            .find(|(t, _)| *t == timeline)
            .map(|(_, l)| *l)
    }
}

/// What one probe of one region's database found.
#[derive(Debug, Clone)]
pub struct Sample {
    /// When the probe started (a log position read by it is at least this recent).
    pub started: Instant,
    /// Out of recovery: accepts writes.
    pub writer: bool,
    /// The cluster's system identifier.
    pub system: u64,
    /// Writer: its timeline. Replica: the timeline it receives (0 = unknown).
    pub timeline: u32,
    /// Writer: its current WAL insert position.
    pub writer_lsn: Option<Lsn>,
    /// Replica: last replayed position.
    pub replay_lsn: Option<Lsn>,
    /// Replica: a WAL receiver is streaming.
    pub receiving: bool,
    /// Replica: replay is paused.
    pub replay_paused: bool,
    /// Age of the newest heartbeat row visible here (database clock); None without heartbeats.
    pub heartbeat_age: Option<Duration>,
    /// Age of the last replayed transaction (a fallback when there are no heartbeats).
    pub replay_age: Option<Duration>,
    /// Aurora: the writer's reported RPO lag for this region.
    pub reported_lag: Option<Duration>,
    /// Writer: the history of its timeline (when the timeline is above 1 and readable).
    pub history: Option<Arc<TimelineHistory>>,
}

/// A region's role as the view judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The one writer writes are sent to.
    Writer,
    /// Claims to be a writer, but an epoch at least as new is known: never receives writes.
    Fenced,
    /// Streams from the writer.
    Replica,
    /// No recent sample (unreachable, or not probed yet).
    Unknown,
    /// No database configured for the region.
    None,
}

impl Role {
    /// Lower-case label for JSON and the page.
    pub fn label(self) -> &'static str {
        match self {
            Role::Writer => "writer",
            Role::Fenced => "fenced",
            Role::Replica => "replica",
            Role::Unknown => "unknown",
            Role::None => "none",
        }
    }
}

/// One region in the view.
#[derive(Debug, Clone)]
pub struct RegionView {
    /// Its role.
    pub role: Role,
    /// The last successful sample.
    pub sample: Option<Sample>,
    /// The last probe failed (the sample above is older).
    pub error: Option<String>,
    /// Replica lag in time when last measured (at `sample.started`).
    pub lag: Option<Duration>,
    /// Replica lag in bytes behind the writer's last sample.
    pub lag_bytes: Option<u64>,
}

impl RegionView {
    fn empty(role: Role) -> Self {
        Self {
            role,
            sample: None,
            error: None,
            lag: None,
            lag_bytes: None,
        }
    }

    /// How far behind the writer this replica may be at `now`: the measured lag, plus the
    /// time since that measurement once it is older than `fresh_for` (a replica that stopped
    /// answering reads as ever more behind, never as "no lag").
    pub fn exposure(&self, now: Instant, fresh_for: Duration) -> Option<Duration> {
        let lag = self.lag?;
        let started = self.sample.as_ref()?.started;
        let age = now.saturating_duration_since(started);
        Some(if age > fresh_for { lag + age } else { lag })
    }
}

/// The whole picture, rebuilt on every sample.
#[derive(Debug, Clone)]
pub struct DataView {
    /// Per region, in config order.
    pub regions: Vec<RegionView>,
    /// The writer region, if exactly one is known.
    pub writer: Option<usize>,
    /// Its epoch.
    pub epoch: Option<Epoch>,
    /// Its last sampled insert position, and when that sample started.
    pub writer_lsn: Option<(Lsn, Instant)>,
    /// Its timeline history.
    pub history: Option<Arc<TimelineHistory>>,
    /// Bumped on every rebuild.
    pub generation: u64,
}

impl DataView {
    /// A view with nothing known yet.
    pub fn empty(regions: usize) -> Self {
        Self {
            regions: vec![RegionView::empty(Role::None); regions],
            writer: None,
            epoch: None,
            writer_lsn: None,
            history: None,
            generation: 0,
        }
    }
}

/// The write side: latest samples per region, and the newest epoch ever seen (fencing).
#[derive(Debug)]
pub struct ViewBuilder {
    /// Latest good sample per region.
    samples: Vec<Option<Sample>>,
    /// Last probe error per region (cleared by a good sample).
    errors: Vec<Option<String>>,
    /// Regions that have a database.
    configured: Vec<bool>,
    /// The newest writer epoch seen: a claimant on an older one is fenced.
    newest: Option<Epoch>,
    /// Rebuild counter.
    generation: u64,
}

impl ViewBuilder {
    /// A builder for `configured.len()` regions.
    pub fn new(configured: Vec<bool>) -> Self {
        let n = configured.len();
        Self {
            samples: vec![None; n],
            errors: vec![None; n],
            configured,
            newest: None,
            generation: 0,
        }
    }

    /// Adopts a new region layout (a reload); samples of regions that kept their index stay.
    pub fn resize(&mut self, configured: Vec<bool>) {
        let n = configured.len();
        self.samples.resize(n, None);
        self.errors.resize(n, None);
        for (i, on) in configured.iter().enumerate() {
            if !on {
                self.samples[i] = None;
                self.errors[i] = None;
            }
        }
        self.configured = configured;
    }

    /// Records a region's probe result.
    pub fn record(&mut self, region: usize, result: Result<Sample, String>) {
        if region >= self.samples.len() {
            return;
        }
        match result {
            Ok(sample) => {
                self.samples[region] = Some(sample);
                self.errors[region] = None;
            }
            Err(e) => self.errors[region] = Some(e),
        }
    }

    /// Builds the view as of `now`. A sample older than `stale_after` no longer counts for a
    /// role (the region is Unknown), though its lag still shows, growing.
    pub fn build(&mut self, now: Instant, stale_after: Duration) -> DataView {
        self.generation += 1;
        // A sample counts for a role while it is recent and the probe after it did not fail: a
        // writer whose server refuses connections takes no writes, so they are held instead.
        let errors = &self.errors;
        let current = |i: usize, s: &Sample| {
            errors[i].is_none() && now.saturating_duration_since(s.started) <= stale_after
        };
        let claimants: Vec<(usize, Epoch)> = self
            .samples
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let s = s.as_ref()?;
                (s.writer && current(i, s)).then_some((
                    i,
                    Epoch {
                        system: s.system,
                        timeline: s.timeline,
                    },
                ))
            })
            .collect();
        // The newest epoch only grows: a restarted old primary never wins back the role.
        // (Aurora, system 0, has no timeline order: there the one claimant is the writer.)
        for (_, epoch) in claimants.iter().filter(|(_, e)| e.system != 0) {
            match self.newest {
                Some(newest)
                    if newest.system == epoch.system && newest.timeline >= epoch.timeline => {}
                Some(newest) if newest.system != epoch.system => {}
                _ => self.newest = Some(*epoch),
            }
        }
        let on_newest: Vec<usize> = claimants
            .iter()
            .filter(|(_, e)| e.system == 0 || Some(*e) == self.newest)
            .map(|(i, _)| *i)
            .collect();
        // Two claimants on the same newest epoch cannot be told apart: none is the writer.
        let writer = match on_newest.as_slice() {
            [one] => Some(*one),
            _ => None,
        };
        let writer_sample = writer.and_then(|w| self.samples[w].as_ref());
        let writer_lsn = writer_sample.and_then(|s| Some((s.writer_lsn?, s.started)));
        let mut regions = Vec::with_capacity(self.samples.len());
        for (i, sample) in self.samples.iter().enumerate() {
            if !self.configured[i] {
                regions.push(RegionView::empty(Role::None));
                continue;
            }
            let role = match sample {
                None => Role::Unknown,
                Some(s) if !current(i, s) => Role::Unknown,
                Some(s) if s.writer && Some(i) == writer => Role::Writer,
                Some(s) if s.writer => {
                    if on_newest.contains(&i) {
                        // A tie on the newest epoch: nobody is the writer, nobody is fenced
                        // for good; the view waits for one side to go.
                        Role::Unknown
                    } else {
                        Role::Fenced
                    }
                }
                Some(_) => Role::Replica,
            };
            let (lag, lag_bytes) = match sample {
                Some(s) if !s.writer => replica_lag(s, writer_lsn.map(|(l, _)| l)),
                Some(_) if role == Role::Writer => (Some(Duration::ZERO), Some(0)),
                _ => (None, None),
            };
            regions.push(RegionView {
                role,
                sample: sample.clone(),
                error: self.errors[i].clone(),
                lag,
                lag_bytes,
            });
        }
        DataView {
            regions,
            writer,
            epoch: writer.and_then(|w| claimants.iter().find(|(i, _)| *i == w).map(|(_, e)| *e)),
            writer_lsn,
            history: writer_sample.and_then(|s| s.history.clone()),
            generation: self.generation,
        }
    }
}

/// A replica's lag: the heartbeat's age when there is one (robust when the writer is idle and
/// when the stream is cut); else, as GitLab's load balancer does, no lag when it has replayed
/// everything the writer wrote, and the last replayed transaction's age when it has not.
fn replica_lag(s: &Sample, writer_lsn: Option<Lsn>) -> (Option<Duration>, Option<u64>) {
    let bytes = match (writer_lsn, s.replay_lsn) {
        (Some(w), Some(r)) => Some(w.0.saturating_sub(r.0)),
        _ => None,
    };
    if let Some(lag) = s.reported_lag {
        return (Some(lag), bytes);
    }
    let time = match (s.heartbeat_age, bytes) {
        (Some(age), _) => Some(age),
        (None, Some(0)) => Some(Duration::ZERO),
        (None, _) => s.replay_age,
    };
    (time, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(timeline: u32, lsn: u64, started: Instant) -> Sample {
        Sample {
            started,
            writer: true,
            system: 7,
            timeline,
            writer_lsn: Some(Lsn(lsn)),
            replay_lsn: None,
            receiving: false,
            replay_paused: false,
            heartbeat_age: Some(Duration::ZERO),
            replay_age: None,
            reported_lag: None,
            history: None,
        }
    }

    fn replica(replay: u64, heartbeat_ms: u64, started: Instant) -> Sample {
        Sample {
            writer: false,
            writer_lsn: None,
            replay_lsn: Some(Lsn(replay)),
            receiving: true,
            heartbeat_age: Some(Duration::from_millis(heartbeat_ms)),
            ..writer(1, 0, started)
        }
    }

    #[test]
    fn lsn_round_trips_text() {
        assert_eq!(Lsn::parse("0/3000148"), Some(Lsn(0x300_0148)));
        assert_eq!(
            Lsn::parse("16/B374D848").unwrap().to_string(),
            "16/B374D848"
        );
        for bad in ["", "0", "/1", "1/", "x/1", "123456789/0", "0/1/2"] {
            assert_eq!(Lsn::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn history_names_switchpoints() {
        let h = TimelineHistory::parse(
            3,
            "1\t0/3000148\tno recovery target specified\n\n2\t0/5000A0\tno recovery target specified\n",
        );
        assert_eq!(h.switchpoint(1), Some(Lsn(0x300_0148)));
        assert_eq!(h.switchpoint(2), Some(Lsn(0x50_00A0)));
        assert_eq!(h.switchpoint(3), None);
    }

    #[test]
    fn one_writer_lag_in_time_and_bytes() {
        let now = Instant::now();
        let mut b = ViewBuilder::new(vec![true, true, false]);
        b.record(0, Ok(writer(1, 1000, now)));
        b.record(1, Ok(replica(400, 1200, now)));
        let v = b.build(now, Duration::from_secs(1));
        assert_eq!(v.writer, Some(0));
        assert_eq!(
            v.epoch,
            Some(Epoch {
                system: 7,
                timeline: 1
            })
        );
        assert_eq!(v.regions[1].role, Role::Replica);
        assert_eq!(v.regions[1].lag, Some(Duration::from_millis(1200)));
        assert_eq!(v.regions[1].lag_bytes, Some(600));
        assert_eq!(v.regions[2].role, Role::None);
        // A replica that stops answering reads as ever more behind.
        let later = now + Duration::from_secs(10);
        let exposure = v.regions[1]
            .exposure(later, Duration::from_secs(1))
            .unwrap();
        assert_eq!(exposure, Duration::from_millis(11_200));
    }

    #[test]
    fn older_epoch_is_fenced_even_when_it_comes_back_alone() {
        let now = Instant::now();
        let mut b = ViewBuilder::new(vec![true, true]);
        b.record(0, Ok(writer(1, 1000, now)));
        b.record(1, Ok(writer(2, 900, now)));
        let v = b.build(now, Duration::from_secs(1));
        assert_eq!(v.writer, Some(1));
        assert_eq!(v.regions[0].role, Role::Fenced);
        // The new writer goes away; the old one alone is still fenced.
        b.record(1, Err("connection refused".into()));
        let v = b.build(now + Duration::from_secs(5), Duration::from_secs(1));
        b.record(0, Ok(writer(1, 1000, now + Duration::from_secs(5))));
        let v2 = b.build(now + Duration::from_secs(5), Duration::from_secs(1));
        assert_eq!(v.writer, None);
        assert_eq!(v2.writer, None);
        assert_eq!(v2.regions[0].role, Role::Fenced);
        assert_eq!(v2.regions[1].role, Role::Unknown);
    }

    #[test]
    fn a_tie_on_the_newest_epoch_has_no_writer() {
        let now = Instant::now();
        let mut b = ViewBuilder::new(vec![true, true]);
        b.record(0, Ok(writer(2, 1, now)));
        b.record(1, Ok(writer(2, 2, now)));
        let v = b.build(now, Duration::from_secs(1));
        assert_eq!(v.writer, None);
        assert_eq!(v.epoch, None);
    }

    #[test]
    fn without_heartbeats_a_caught_up_idle_replica_has_no_lag() {
        let now = Instant::now();
        let mut b = ViewBuilder::new(vec![true, true]);
        b.record(0, Ok(writer(1, 500, now)));
        let mut r = replica(500, 0, now);
        r.heartbeat_age = None;
        r.replay_age = Some(Duration::from_secs(600));
        b.record(1, Ok(r.clone()));
        assert_eq!(
            b.build(now, Duration::from_secs(1)).regions[1].lag,
            Some(Duration::ZERO)
        );
        r.replay_lsn = Some(Lsn(400));
        b.record(1, Ok(r));
        assert_eq!(
            b.build(now, Duration::from_secs(1)).regions[1].lag,
            Some(Duration::from_secs(600))
        );
    }
}
