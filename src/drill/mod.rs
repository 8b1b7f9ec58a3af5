//! `meridian drill`: drives canary writes and read-backs through a failover and measures what
//! clients saw: RTO, RPO (acknowledged writes lost), stale reads, latency.
//!
//! Flow: the [`load`] generator sends an open-loop schedule over [`client`] connections and
//! keeps a [`record`] of every request; [`hooks`] run the fault, heal and step commands at their
//! seconds; afterwards [`database`] reads this run's canaries from the surviving writer, the
//! [`check`]er classifies every acknowledged write, [`report`] does the arithmetic, [`summary`]
//! prints the table and the JSON, and [`plot`] draws the SVG.

pub mod check;
pub mod client;
pub mod database;
pub mod hooks;
pub mod load;
pub mod plot;
pub mod record;
pub mod report;
pub mod summary;

use self::hooks::Hook;
use self::load::{Run, Schedule};
use self::summary::{DatabaseReport, Report};
use http::{HeaderName, HeaderValue};
use std::collections::HashSet;
use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, SystemTime};

/// Exit code: every stated objective met.
pub const EXIT_MET: u8 = 0;
/// Exit code: an objective (`--rto`, `--rpo`) missed.
pub const EXIT_MISSED: u8 = 1;
/// Exit code: usage or set-up error (including a fault or heal command that failed).
pub const EXIT_SETUP: u8 = 2;

/// Everything `meridian drill` was asked to do.
#[derive(Debug, Clone)]
pub struct DrillSpec {
    /// Front doors, one per region (`http(s)://host[:port][/prefix]`).
    pub targets: Vec<String>,
    /// Headers for every request (`--header 'Name: value'`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Requests per second.
    pub rate: f64,
    /// How long to send.
    pub duration: Duration,
    /// Share of writes.
    pub write_share: f64,
    /// Share of reads sent to another target than their write.
    pub cross_region_share: f64,
    /// The fault instant.
    pub fault_at: Option<Duration>,
    /// Command that injects the fault at `fault_at`.
    pub fault_cmd: Option<String>,
    /// The heal instant.
    pub heal_at: Option<Duration>,
    /// Command that heals at `heal_at`.
    pub heal_cmd: Option<String>,
    /// Other commands at other seconds (marked on the plot).
    pub steps: Vec<Hook>,
    /// Name of the scenario (report, plot, canary prefix).
    pub scenario: String,
    /// Connection string of the writer's database for the final read.
    pub check_database: Option<String>,
    /// CA bundle to verify the database's certificate (e.g. the RDS bundle).
    pub check_database_ca: Option<String>,
    /// How long the final read keeps trying to find a writer.
    pub check_patience: Duration,
    /// Where to write the JSON report (the SVG goes next to it).
    pub json: Option<PathBuf>,
    /// Where to write every request as one JSON object per line (for a closer look).
    pub records: Option<PathBuf>,
    /// RTO objective.
    pub rto: Option<Duration>,
    /// RPO objective.
    pub rpo: Option<Duration>,
    /// Slow-answer threshold.
    pub slow: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Seed of the request mix (random when None).
    pub seed: Option<u64>,
    /// Print the live progress line.
    pub progress: bool,
}

/// A drill that could not run as asked.
#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    /// The command line asks for something impossible.
    #[error("{0}")]
    Usage(String),
    /// A target cannot be driven.
    #[error(transparent)]
    Target(#[from] client::TargetError),
    /// The report could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Parses `--rate`: `50/s`, `3000/m`, or a bare number per second.
pub fn parse_rate(s: &str) -> Result<f64, String> {
    let (n, per) = match s.split_once('/') {
        Some((n, unit)) => match unit.trim() {
            "s" | "sec" => (n, 1.0),
            "m" | "min" => (n, 60.0),
            other => return Err(format!("{s:?}: unknown unit {other:?} (use /s or /m)")),
        },
        None => (s, 1.0),
    };
    match n.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v / per),
        _ => Err(format!("{s:?}: expected a positive rate such as 50/s")),
    }
}

/// Parses `--header 'Name: value'`.
pub fn parse_header(s: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?}: expected 'Name: value'"))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("{s:?}: invalid header name"))?;
    let value =
        HeaderValue::from_str(value.trim()).map_err(|_| format!("{s:?}: invalid header value"))?;
    Ok((name, value))
}

impl DrillSpec {
    /// Rejects impossible combinations before anything is sent.
    pub fn validate(&self) -> Result<(), DrillError> {
        let usage = |m: &str| Err(DrillError::Usage(m.to_string()));
        if self.targets.is_empty() {
            return usage("at least one --target is needed");
        }
        if !(0.0..=1.0).contains(&self.write_share) {
            return usage("--write-share must be between 0 and 1");
        }
        if !(0.0..=1.0).contains(&self.cross_region_share) {
            return usage("--cross-region-share must be between 0 and 1");
        }
        if self.duration.is_zero() || !(self.rate.is_finite() && self.rate > 0.0) {
            return usage("--duration and --rate must be positive");
        }
        if self.fault_cmd.is_some() && self.fault_at.is_none() {
            return usage("--fault-cmd needs --fault-at (the second to run it)");
        }
        if self.heal_cmd.is_some() && self.heal_at.is_none() {
            return usage("--heal-cmd needs --heal-at");
        }
        if let (Some(f), Some(h)) = (self.fault_at, self.heal_at)
            && h < f
        {
            return usage("--heal-at must not come before --fault-at");
        }
        let late = [self.fault_at, self.heal_at]
            .into_iter()
            .flatten()
            .chain(self.steps.iter().map(|s| s.at))
            .any(|at| at > self.duration);
        if late {
            return usage("--fault-at, --heal-at and --step must fall within --duration");
        }
        if self.rpo.is_some() && self.check_database.is_none() {
            return usage(
                "--rpo needs --check-database: only the final read can prove a write lost",
            );
        }
        Ok(())
    }

    fn hooks(&self) -> Vec<Hook> {
        let mut hooks = self.steps.clone();
        if let Some(at) = self.fault_at {
            hooks.push(Hook {
                label: "fault".into(),
                at,
                cmd: self.fault_cmd.clone(),
            });
        }
        if let Some(at) = self.heal_at {
            hooks.push(Hook {
                label: "heal".into(),
                at,
                cmd: self.heal_cmd.clone(),
            });
        }
        hooks
    }
}

/// Runs the drill, prints the table, writes the JSON and the SVG; returns the exit code.
pub async fn main(spec: DrillSpec) -> u8 {
    match run(&spec).await {
        Ok(report) => {
            println!("{}", report.table());
            if let Some(path) = &spec.json {
                println!(
                    "report: {} and {}",
                    path.display(),
                    svg_path(path).display()
                );
            }
            if report.hooks.iter().any(|h| !h.ok) {
                eprintln!("meridian drill: a fault, heal or step command failed (see above)");
                EXIT_SETUP
            } else if report.objectives.met {
                EXIT_MET
            } else {
                EXIT_MISSED
            }
        }
        Err(e) => {
            eprintln!("meridian drill: {e}");
            EXIT_SETUP
        }
    }
}

/// Runs the drill and writes the JSON and SVG when asked; the report is returned.
pub async fn run(spec: &DrillSpec) -> Result<Report, DrillError> {
    spec.validate()?;
    let tls = client::tls()?;
    let targets = spec
        .targets
        .iter()
        .map(|url| client::Target::new(url, &tls))
        .collect::<Result<Vec<_>, _>>()?;
    let started = SystemTime::now();
    let stamp = started
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let canary_prefix = format!("drill-{}-{stamp:x}-", spec.scenario);
    let schedule = Arc::new(Schedule {
        rate: spec.rate,
        duration: spec.duration,
        write_share: spec.write_share,
        cross_region_share: spec.cross_region_share,
        timeout: spec.timeout,
        headers: spec.headers.clone(),
        seed: spec.seed.unwrap_or_else(|| fastrand::u64(..)),
        canary_prefix: canary_prefix.clone(),
    });
    let run = Arc::new(Run::new(targets));
    let hooks: Vec<_> = spec
        .hooks()
        .into_iter()
        .map(|h| tokio::spawn(hooks::run(run.epoch, h)))
        .collect();
    let progress = spec
        .progress
        .then(|| tokio::spawn(progress(run.clone(), spec.duration)));
    load::drive(run.clone(), schedule.clone()).await;
    let mut hook_reports = Vec::new();
    for h in hooks {
        if let Ok(r) = h.await {
            hook_reports.push(r);
        }
    }
    hook_reports.sort_by_key(|h| h.at_ms);
    if let Some(p) = progress {
        p.abort();
        eprintln!();
    }
    let records = run.records();

    let mut database = DatabaseReport::default();
    let final_rows = match &spec.check_database {
        None => None,
        Some(url) => match database::final_read(
            url,
            spec.check_database_ca.as_deref(),
            &canary_prefix,
            spec.check_patience,
        )
        .await
        {
            Ok(rows) => {
                database.checked = true;
                database.rows = rows.len() as u64;
                Some(rows)
            }
            Err(e) => {
                database.error = Some(e.to_string());
                None
            }
        },
    };
    let check = check::check(&records, final_rows.as_deref());
    let at = |label: &str| {
        hook_reports
            .iter()
            .find(|h| h.label == label)
            .map(|h| h.at_ms)
    };
    let timeline = report::Timeline {
        fault_us: at("fault").map(|ms| ms * 1000),
        heal_us: at("heal").map(|ms| ms * 1000),
        end_us: report::duration_us(spec.duration),
    };
    let figures = report::figures(&records, &check, timeline, spec.slow);
    let basis = match (&spec.check_database, check.database_checked) {
        (_, true) => report::RpoBasis::FinalRead,
        (None, false) => report::RpoBasis::ReadBacks,
        (Some(_), false) => report::RpoBasis::Unverified,
    };
    let objectives = report::objectives(&figures, basis, spec.rto, spec.rpo);
    let (lost_writes, stale_reads, duplicates) = report::listed(&check);
    let report = Report {
        scenario: spec.scenario.clone(),
        started_at: humantime::format_rfc3339_millis(started).to_string(),
        canary_prefix,
        targets: spec.targets.clone(),
        rate_per_s: spec.rate,
        duration_ms: timeline.end_us / 1000,
        write_share: spec.write_share,
        cross_region_share: spec.cross_region_share,
        slow_ms: report::duration_us(spec.slow) / 1000,
        timeout_ms: report::duration_us(spec.timeout) / 1000,
        fault_at_ms: at("fault"),
        heal_at_ms: at("heal"),
        hooks: hook_reports,
        database,
        writes: figures.writes,
        reads: figures.reads,
        objectives,
        lost_writes,
        stale_reads,
        duplicates,
    };
    if let Some(path) = &spec.json {
        write_outputs(path, &report, &records, &check, timeline, spec.slow)?;
    }
    if let Some(path) = &spec.records {
        write_records(path, &records)?;
    }
    Ok(report)
}

/// The SVG's path: the JSON's with the extension `.svg`.
pub fn svg_path(json: &Path) -> PathBuf {
    json.with_extension("svg")
}

fn write_outputs(
    path: &Path,
    report: &Report,
    records: &[record::Record],
    check: &check::Check,
    timeline: report::Timeline,
    slow: Duration,
) -> Result<(), DrillError> {
    let write = |p: &Path, bytes: &[u8]| {
        if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| DrillError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(p, bytes).map_err(|source| DrillError::Write {
            path: p.to_path_buf(),
            source,
        })
    };
    let json = serde_json::to_vec_pretty(report).unwrap_or_default();
    write(path, &json)?;
    let lost: HashSet<u64> = check.lost.iter().map(|l| l.seq).collect();
    let stale: HashSet<u64> = check.stale_reads.iter().map(|s| s.read_seq).collect();
    let marks = report
        .hooks
        .iter()
        .map(|h| plot::Mark {
            label: h.label.clone(),
            at_us: h.at_ms * 1000,
            colour: match h.label.as_str() {
                "fault" => "#d32f2f",
                "heal" => "#1e88e5",
                _ => "#757575",
            },
        })
        .collect();
    let svg = plot::svg(&plot::PlotInput {
        title: format!(
            "meridian drill: {} ({})",
            report.scenario, report.started_at
        ),
        subtitle: report.headline(),
        records,
        lost: &lost,
        stale: &stale,
        slow_us: report::duration_us(slow),
        end_us: timeline.end_us,
        marks,
    });
    write(&svg_path(path), svg.as_bytes())
}

fn write_records(path: &Path, records: &[record::Record]) -> Result<(), DrillError> {
    let mut out = Vec::with_capacity(records.len() * 256);
    for r in records {
        if serde_json::to_writer(&mut out, r).is_ok() {
            out.push(b'\n');
        }
    }
    std::fs::write(path, out).map_err(|source| DrillError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// The live line: elapsed, rate, errors, requests in flight. On a terminal it is redrawn in
/// place four times a second; in a log, one line every five seconds.
async fn progress(run: Arc<Run>, duration: Duration) {
    let tty = std::io::stderr().is_terminal();
    let every = if tty {
        Duration::from_millis(250)
    } else {
        Duration::from_secs(5)
    };
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        let c = &run.counters;
        let elapsed = run.epoch.elapsed().as_secs_f64();
        let sent = c.sent.load(Relaxed);
        let done = c.done.load(Relaxed);
        let line = format!(
            "[{elapsed:6.1} s / {:.0} s] sent {sent} ({:.0}/s) | writes ok {} err {} | reads ok {} err {} miss {} | in flight {}",
            duration.as_secs_f64(),
            sent as f64 / elapsed.max(0.001),
            c.write_ok.load(Relaxed),
            c.write_err.load(Relaxed),
            c.read_ok.load(Relaxed),
            c.read_err.load(Relaxed),
            c.read_miss.load(Relaxed),
            sent.saturating_sub(done),
        );
        let mut err = std::io::stderr().lock();
        let _ = if tty {
            write!(err, "\r\x1b[2K{line}")
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> DrillSpec {
        DrillSpec {
            targets: vec!["http://127.0.0.1:1".into()],
            headers: Vec::new(),
            rate: 10.0,
            duration: Duration::from_secs(10),
            write_share: 0.5,
            cross_region_share: 0.5,
            fault_at: None,
            fault_cmd: None,
            heal_at: None,
            heal_cmd: None,
            steps: Vec::new(),
            scenario: "t".into(),
            check_database: None,
            check_database_ca: None,
            check_patience: Duration::from_secs(1),
            json: None,
            records: None,
            rto: None,
            rpo: None,
            slow: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            seed: Some(1),
            progress: false,
        }
    }

    #[test]
    fn rates_and_headers_parse() {
        assert_eq!(parse_rate("50/s"), Ok(50.0));
        assert_eq!(parse_rate("600/m"), Ok(10.0));
        assert_eq!(parse_rate("7.5"), Ok(7.5));
        assert!(parse_rate("0/s").is_err());
        assert!(parse_rate("50/h").is_err());
        assert!(parse_rate("fast").is_err());
        let (n, v) = parse_header("Authorization: Bearer x y").unwrap();
        assert_eq!(
            (n.as_str(), v.to_str().unwrap()),
            ("authorization", "Bearer x y")
        );
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: v").is_err());
    }

    #[test]
    fn impossible_specs_are_refused() {
        assert!(spec().validate().is_ok());
        let cases: [fn(&mut DrillSpec); 6] = [
            |s| s.targets.clear(),
            |s| s.write_share = 1.5,
            |s| s.fault_cmd = Some("true".into()),
            |s| s.fault_at = Some(Duration::from_secs(11)),
            |s| {
                s.fault_at = Some(Duration::from_secs(5));
                s.heal_at = Some(Duration::from_secs(4));
            },
            |s| s.duration = Duration::ZERO,
        ];
        for (i, change) in cases.iter().enumerate() {
            let mut s = spec();
            change(&mut s);
            assert!(
                matches!(s.validate(), Err(DrillError::Usage(_))),
                "case {i}"
            );
        }
    }

    #[test]
    fn the_plot_sits_next_to_the_json() {
        assert_eq!(
            svg_path(Path::new("target/drill/writer-db-kill.json")),
            PathBuf::from("target/drill/writer-db-kill.svg")
        );
    }
}
