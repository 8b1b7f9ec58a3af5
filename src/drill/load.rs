//! The open-loop load generator: a fixed-rate schedule of canary writes and read-backs, each
//! request on its own task so a slow answer never delays the next send.

use super::client::{Answer, Target};
use super::record::{Kind, Outcome, Record};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Reads look up one of this many most recently acknowledged writes: recent writes are where
/// a read-your-writes violation shows.
const RECENT_ACKS: usize = 32;

use crate::data::route::EXPOSED_HEADER;
use crate::data::token::{LOST_HEADER, TOKEN_COOKIE, TOKEN_HEADER};
use crate::proxy::headers::SERVED_BY as REGION_HEADER;

/// What to send, how fast, for how long.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Requests per second, writes and reads together.
    pub rate: f64,
    /// How long to send for.
    pub duration: Duration,
    /// Share of the requests that are writes (0..=1).
    pub write_share: f64,
    /// Share of the reads sent to a different target than their write (0..=1).
    pub cross_region_share: f64,
    /// A request with no answer after this long is a timeout.
    pub timeout: Duration,
    /// Headers added to every request (auth for a real deployment).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Seed of the write/read and target choices.
    pub seed: u64,
    /// Prefix of every canary of this run; unique per run, so the final read finds only them.
    pub canary_prefix: String,
}

impl Schedule {
    /// How many requests the schedule sends.
    pub fn total(&self) -> u64 {
        (self.rate * self.duration.as_secs_f64()).round() as u64
    }
}

/// Live counters for the progress line.
#[derive(Debug, Default)]
pub struct Counters {
    /// Requests sent.
    pub sent: AtomicU64,
    /// Requests that ended (answered, failed or timed out).
    pub done: AtomicU64,
    /// Writes acknowledged.
    pub write_ok: AtomicU64,
    /// Writes failed.
    pub write_err: AtomicU64,
    /// Reads answered with the canary.
    pub read_ok: AtomicU64,
    /// Reads failed.
    pub read_err: AtomicU64,
    /// Reads answered 404 or with another canary.
    pub read_miss: AtomicU64,
}

/// A write the ledger acknowledged, for reads to look up.
#[derive(Debug, Clone)]
struct Acked {
    seq: u64,
    target: usize,
    canary: String,
    id: i64,
    token: Option<String>,
}

/// State shared by the schedule and the requests in flight.
pub struct Run {
    /// Time zero of the drill.
    pub epoch: Instant,
    /// One per target.
    pub targets: Vec<Target>,
    /// Live counters.
    pub counters: Counters,
    /// Every request that ended.
    records: Mutex<Vec<Record>>,
    /// The latest acknowledged writes.
    acked: Mutex<VecDeque<Acked>>,
}

impl Run {
    /// A run over these targets starting now.
    pub fn new(targets: Vec<Target>) -> Self {
        Self {
            epoch: Instant::now(),
            targets,
            counters: Counters::default(),
            records: Mutex::new(Vec::new()),
            acked: Mutex::new(VecDeque::new()),
        }
    }

    /// Microseconds from time zero to `at`.
    pub fn us(&self, at: Instant) -> u64 {
        super::report::duration_us(at.saturating_duration_since(self.epoch))
    }

    /// Every record, in send order.
    pub fn records(&self) -> Vec<Record> {
        let mut out = self.records.lock().map(|r| r.clone()).unwrap_or_default();
        out.sort_by_key(|r| r.seq);
        out
    }

    fn push(&self, record: Record) {
        if let Ok(mut records) = self.records.lock() {
            records.push(record);
        }
    }
}

/// Sends the whole schedule and waits for every request to end.
pub async fn drive(run: Arc<Run>, schedule: Arc<Schedule>) {
    let total = schedule.total();
    let mut rng = fastrand::Rng::with_seed(schedule.seed);
    let mut tasks = JoinSet::new();
    let targets = run.targets.len();
    for seq in 0..total {
        let at = run.epoch + Duration::from_secs_f64(seq as f64 / schedule.rate);
        tokio::time::sleep_until(at).await;
        let scheduled_us = run.us(at);
        let pick = if rng.f64() < schedule.write_share {
            None
        } else {
            run.acked.lock().ok().and_then(|acked| {
                let recent = acked.len().min(RECENT_ACKS);
                (recent > 0).then(|| acked[acked.len() - 1 - rng.usize(..recent)].clone())
            })
        };
        let record = match pick {
            // A write, or a read before anything was acknowledged (reads need a write).
            None => {
                let canary = format!("{}{seq}", schedule.canary_prefix);
                Record::new(
                    seq,
                    Kind::Write,
                    seq as usize % targets,
                    scheduled_us,
                    canary,
                )
            }
            Some(write) => {
                let cross = targets > 1 && rng.f64() < schedule.cross_region_share;
                let target = if cross {
                    (write.target + 1 + rng.usize(..targets - 1)) % targets
                } else {
                    write.target
                };
                let mut r = Record::new(seq, Kind::Read, target, scheduled_us, write.canary);
                r.of_write = Some(write.seq);
                r.ledger_id = Some(write.id);
                r.token = write.token;
                r.cross_region = cross;
                r
            }
        };
        run.counters.sent.fetch_add(1, Relaxed);
        tasks.spawn(request(run.clone(), schedule.clone(), record));
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

/// Sends one request, records how it ended.
async fn request(run: Arc<Run>, schedule: Arc<Schedule>, mut record: Record) {
    let target = &run.targets[record.target];
    let mut headers = schedule.headers.clone();
    let (method, path, body) = match record.kind {
        Kind::Write => (
            Method::POST,
            "/ledger".to_string(),
            Bytes::from(record.canary.clone()),
        ),
        Kind::Read => {
            if let Some(token) = record.token.as_deref().and_then(|t| t.parse().ok()) {
                headers.push((HeaderName::from_static(TOKEN_HEADER), token));
            }
            let id = record.ledger_id.unwrap_or_default();
            (Method::GET, format!("/ledger/{id}"), Bytes::new())
        }
    };
    let sent = tokio::time::timeout(schedule.timeout, target.send(method, &path, body, &headers));
    let answer = sent.await;
    record.done_us = run.us(Instant::now());
    match answer {
        Err(_) => record.outcome = Outcome::Timeout,
        Ok(Err(e)) => record.outcome = Outcome::Transport(e),
        Ok(Ok(answer)) => interpret(&mut record, &answer),
    }
    let c = &run.counters;
    match (record.kind, &record.outcome) {
        (Kind::Write, Outcome::Ok) => c.write_ok.fetch_add(1, Relaxed),
        (Kind::Write, _) => c.write_err.fetch_add(1, Relaxed),
        (Kind::Read, Outcome::Ok) if record.wrong_body.is_none() => c.read_ok.fetch_add(1, Relaxed),
        (Kind::Read, o) if o.is_error() => c.read_err.fetch_add(1, Relaxed),
        (Kind::Read, _) => c.read_miss.fetch_add(1, Relaxed),
    };
    c.done.fetch_add(1, Relaxed);
    if record.acknowledged()
        && let (Ok(mut acked), Some(id)) = (run.acked.lock(), record.ledger_id)
    {
        acked.push_back(Acked {
            seq: record.seq,
            target: record.target,
            canary: record.canary.clone(),
            id,
            token: record.token.clone(),
        });
        while acked.len() > RECENT_ACKS {
            acked.pop_front();
        }
    }
    run.push(record);
}

/// Fills a record from an answer, per the ledger contract and Meridian's data-tier headers.
pub fn interpret(record: &mut Record, answer: &Answer) {
    let h = &answer.headers;
    let text = |name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    record.status = Some(answer.status);
    record.region = text(REGION_HEADER);
    record.lost_flag = text(LOST_HEADER).as_deref() == Some("1");
    record.exposed = text(EXPOSED_HEADER).as_deref() == Some("1");
    let json: Option<serde_json::Value> = serde_json::from_slice(&answer.body).ok();
    let field = |name: &str| json.as_ref().and_then(|j| j.get(name));
    let success = (200..300).contains(&answer.status);
    if !success {
        record.error_code = field("error").and_then(|e| e.as_str()).map(str::to_string);
    }
    match record.kind {
        Kind::Write if success => match field("id").and_then(serde_json::Value::as_i64) {
            Some(id) => {
                record.outcome = Outcome::Ok;
                record.ledger_id = Some(id);
                record.token = text(TOKEN_HEADER).or_else(|| cookie_token(h));
            }
            None => {
                let body = String::from_utf8_lossy(&answer.body);
                record.outcome = Outcome::Malformed(body.chars().take(200).collect());
            }
        },
        Kind::Read if answer.status == 200 => {
            match field("body").and_then(serde_json::Value::as_str) {
                Some(body) => {
                    record.outcome = Outcome::Ok;
                    if body != record.canary {
                        record.wrong_body = Some(body.chars().take(200).collect());
                    }
                }
                None => {
                    let body = String::from_utf8_lossy(&answer.body);
                    record.outcome = Outcome::Malformed(body.chars().take(200).collect());
                }
            }
        }
        Kind::Read if answer.status == 404 => record.outcome = Outcome::NotFound,
        _ => record.outcome = Outcome::Status(answer.status),
    }
}

/// The token from `Set-Cookie: meridian_consistency=...`, when there is no header.
fn cookie_token(h: &http::HeaderMap) -> Option<String> {
    h.get_all(http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            let first = c.split(';').next()?.trim();
            let (name, value) = first.split_once('=')?;
            (name == TOKEN_COOKIE).then(|| value.to_string())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Answer {
        let mut map = http::HeaderMap::new();
        for (k, v) in headers {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        Answer {
            status,
            headers: map,
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn a_write_is_acknowledged_with_its_id_region_and_token() {
        let mut r = Record::new(1, Kind::Write, 0, 0, "c-1".into());
        let a = answer(
            201,
            &[
                ("x-meridian-region", "eu-west-1"),
                ("set-cookie", "meridian_consistency=tok; HttpOnly; Path=/"),
                ("x-meridian-rpo-exposed", "1"),
            ],
            r#"{"id": 42, "region": "us-east-1"}"#,
        );
        interpret(&mut r, &a);
        assert!(r.acknowledged());
        assert_eq!(r.ledger_id, Some(42));
        assert_eq!(r.region.as_deref(), Some("eu-west-1"));
        assert_eq!(r.token.as_deref(), Some("tok"));
        assert!(r.exposed);
    }

    #[test]
    fn refusals_carry_their_reason() {
        let mut r = Record::new(1, Kind::Write, 0, 0, "c-1".into());
        interpret(&mut r, &answer(503, &[], r#"{"error": "rpo_guard"}"#));
        assert_eq!(r.outcome, Outcome::Status(503));
        assert_eq!(r.error_code.as_deref(), Some("rpo_guard"));
        assert!(!r.acknowledged());
        let mut m = Record::new(2, Kind::Write, 0, 0, "c-2".into());
        interpret(&mut m, &answer(201, &[], "stored"));
        assert!(matches!(m.outcome, Outcome::Malformed(_)));
        assert!(m.outcome.is_error());
    }

    #[test]
    fn reads_find_their_canary_another_one_or_nothing() {
        let mut ok = Record::new(3, Kind::Read, 0, 0, "c-1".into());
        interpret(
            &mut ok,
            &answer(200, &[], r#"{"id":1,"region":"r","body":"c-1"}"#),
        );
        assert_eq!(
            (ok.outcome.clone(), ok.wrong_body.clone()),
            (Outcome::Ok, None)
        );
        let mut other = Record::new(4, Kind::Read, 0, 0, "c-1".into());
        interpret(
            &mut other,
            &answer(200, &[], r#"{"id":1,"region":"r","body":"c-9"}"#),
        );
        assert_eq!(other.wrong_body.as_deref(), Some("c-9"));
        let mut missing = Record::new(5, Kind::Read, 0, 0, "c-1".into());
        interpret(
            &mut missing,
            &answer(404, &[("x-meridian-consistency-lost", "1")], ""),
        );
        assert_eq!(missing.outcome, Outcome::NotFound);
        assert!(missing.lost_flag && !missing.outcome.is_error());
        let mut broken = Record::new(6, Kind::Read, 0, 0, "c-1".into());
        interpret(&mut broken, &answer(502, &[], "{}"));
        assert_eq!(broken.outcome, Outcome::Status(502));
    }

    #[test]
    fn the_schedule_counts_its_requests() {
        let s = Schedule {
            rate: 50.0,
            duration: Duration::from_secs(60),
            write_share: 0.5,
            cross_region_share: 0.5,
            timeout: Duration::from_secs(15),
            headers: Vec::new(),
            seed: 1,
            canary_prefix: "drill-x-".into(),
        };
        assert_eq!(s.total(), 3000);
    }
}
