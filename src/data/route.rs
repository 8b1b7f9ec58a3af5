//! What the data tier does to one request: writes to the writer's region (held while no writer
//! is known), the RPO guard, reads with a consistency token, and the token on the response.
//!
//! Called by the proxy only when `[database]` is configured: [`admit`] before the attempts
//! (it may hold the request, refuse it, or pick the region that must serve it), and
//! [`Decision::finish`] on the response.

use super::token::{self, LOST_HEADER, TOKEN_HEADER, Token, TokenKey};
use super::view::{DataView, Lsn, Role};
use super::{DataState, stale_after};
use crate::body::ProxyBody;
use crate::config::RouteSpec;
use crate::config::database::DatabaseSettings;
use crate::error::ErrorKind;
use crate::message::{ClientRequest, ProxyResponse};
use crate::runtime::{Runtime, Snapshot};
use http::HeaderValue;
use http_body::Body as _;
use http_body_util::BodyExt;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// Response header on a write admitted while no replica was within the RPO budget.
///
/// A write is any request whose method is not safe (GET, HEAD, OPTIONS and TRACE are reads), or
/// any request on a route with `treat_as_writes`.
pub const EXPOSED_HEADER: &str = "x-meridian-rpo-exposed";
/// Response header an application may set with its commit's log position (tighter tokens).
pub const COMMIT_LSN_HEADER: &str = "x-meridian-commit-lsn";
/// Largest response body held back so that a token's position can be sampled after it ends.
const MAX_BUFFERED_BODY: u64 = 64 * 1024;
/// How long a response waits for a writer position sampled after it (one probe round trip).
const SAMPLE_LIMIT: Duration = Duration::from_secs(2);

/// What the data tier decided for one request.
#[derive(Debug)]
pub struct Decision {
    /// The region that must serve it (the writer's, or the writer's for an unmet token);
    /// None = the usual plan.
    pub target: Option<usize>,
    /// The request is a write.
    pub write: bool,
    /// A sibling forwarded it (its Meridian decided; the token goes back in a header only).
    pub forwarded: bool,
    /// Admitted by the RPO guard's "expose" policy while no replica was within budget.
    pub exposed: bool,
    /// Its token names a write lost in a failover.
    pub lost: bool,
    /// The token the client sent, if valid.
    pub token: Option<Token>,
    /// When the attempts may start (after any hold).
    pub released: Instant,
    /// The cookie gets `Secure` (the client came over HTTPS).
    pub secure: bool,
}

/// Counts a held write for as long as it lives.
struct Held<'a>(&'a DataState);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.held_writes.fetch_sub(1, Relaxed);
    }
}

/// Decides where the request goes; an `Err` is the response to send at once.
pub async fn admit(
    runtime: &Runtime,
    snapshot: &Snapshot,
    route: &RouteSpec,
    req: &ClientRequest,
    request_id: &HeaderValue,
    tls: bool,
) -> Result<Decision, ErrorKind> {
    let settings = &snapshot.settings;
    let Some(db) = &settings.database else {
        return Ok(Decision::plain(false));
    };
    let state = &runtime.data;
    let local = settings.local_region;
    // Every method that is not safe (RFC 9110 9.2.1) changes state: PUT and DELETE are
    // idempotent, but they write all the same.
    let write = !req.method.is_safe() || route.data.treat_as_writes;
    let forwarded = req
        .headers
        .get(crate::proxy::forward_mark::FORWARD_MARK)
        .and_then(|mark| {
            snapshot
                .forward_key
                .verify(mark, request_id.to_str().unwrap_or(""))
        })
        .is_some();
    let secure = tls
        || req
            .headers
            .get("x-forwarded-proto")
            .is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https"));
    let token = snapshot
        .token_key
        .as_ref()
        .and_then(|key| key.from_request(&req.headers));
    let mut decision = Decision {
        target: None,
        write,
        forwarded,
        exposed: false,
        lost: false,
        token,
        released: Instant::now(),
        secure,
    };
    if forwarded {
        // A sibling's Meridian decided; this region serves it.
        return Ok(decision);
    }
    if write {
        let to_writer = route.data.writes_to_writer;
        let _held;
        let mut view = state.view();
        if !to_writer && view.writer.is_none() {
            // A route that writes locally, no writer known: nothing to hold for or guard by.
            return Ok(decision);
        }
        if view.writer.is_none() {
            _held = hold(state, db, ErrorKind::NoWriter)?;
            view = wait_for(state, db.writer_hold, |v| v.writer.is_some()).await;
            let Some(_) = view.writer else {
                count_held(&route.name, "no_writer");
                return Err(ErrorKind::NoWriter);
            };
            count_held(&route.name, "released");
        }
        let Some(writer) = view.writer else {
            return Err(ErrorKind::NoWriter);
        };
        let decision_label = match guard(&view, db, writer) {
            Guard::Open => "admitted",
            Guard::NoReplicas => "admitted_no_replicas",
            Guard::Tripped if route.data.rpo_expose => {
                decision.exposed = true;
                "exposed"
            }
            Guard::Tripped => {
                let _held = hold(state, db, ErrorKind::RpoGuard)?;
                let view = wait_for(state, db.rpo_hold, |v| {
                    v.writer.is_some_and(|w| guard(v, db, w) != Guard::Tripped)
                })
                .await;
                if view
                    .writer
                    .is_none_or(|w| guard(&view, db, w) == Guard::Tripped)
                {
                    count_guard(&route.name, "refused");
                    return Err(ErrorKind::RpoGuard);
                }
                "admitted_after_hold"
            }
        };
        count_guard(&route.name, decision_label);
        decision.released = Instant::now();
        if !to_writer {
            return Ok(decision);
        }
        let view = state.view();
        let Some(writer) = view.writer else {
            return Err(ErrorKind::NoWriter);
        };
        decision.target = Some(writer);
        if writer != local {
            metrics::counter!("meridian_writes_to_writer_total",
                "route" => route.name.clone(), "to" => settings.regions[writer].name.clone())
            .increment(1);
        }
        decision.released = Instant::now();
        return Ok(decision);
    }
    let Some(token) = token else {
        return Ok(decision);
    };
    let outcome = match assess(&state.view(), local, token) {
        Assessment::NotYet => {
            // Without a database of its own, the local region can never catch up: no wait.
            let wait = if db.regions.get(local).is_some_and(Option::is_some) {
                db.read_wait
            } else {
                Duration::ZERO
            };
            let view = wait_for(state, wait, |v| {
                assess(v, local, token) != Assessment::NotYet
            })
            .await;
            match assess(&view, local, token) {
                Assessment::NotYet => match view.writer {
                    Some(w) if w != local => {
                        decision.target = Some(w);
                        "writer"
                    }
                    _ => "local_unconfirmed",
                },
                Assessment::Satisfied => "local_after_wait",
                Assessment::Lost => {
                    decision.lost = true;
                    "lost"
                }
                Assessment::Foreign => "foreign",
            }
        }
        Assessment::Satisfied => "local",
        Assessment::Lost => {
            decision.lost = true;
            "lost"
        }
        Assessment::Foreign => "foreign",
    };
    metrics::counter!("meridian_consistency_reads_total",
        "route" => route.name.clone(), "outcome" => outcome)
    .increment(1);
    if decision.lost {
        metrics::counter!("meridian_consistency_lost_total", "route" => route.name.clone())
            .increment(1);
    }
    decision.released = Instant::now();
    Ok(decision)
}

fn count_guard(route: &str, decision: &'static str) {
    metrics::counter!("meridian_rpo_guard_decisions_total",
        "route" => route.to_string(), "decision" => decision)
    .increment(1);
}

fn count_held(route: &str, outcome: &'static str) {
    metrics::counter!("meridian_writes_held_total",
        "route" => route.to_string(), "outcome" => outcome)
    .increment(1);
}

/// Takes a place among the held writes, or refuses at once (with the reason it would have
/// been held for) when they are all taken: holding never grows memory without bound.
fn hold<'a>(
    state: &'a DataState,
    db: &DatabaseSettings,
    reason: ErrorKind,
) -> Result<Held<'a>, ErrorKind> {
    let held = state.held_writes.fetch_add(1, Relaxed) + 1;
    let guard = Held(state);
    if held > db.max_held_writes {
        metrics::counter!("meridian_writes_held_total", "route" => "*", "outcome" => "overflow")
            .increment(1);
        return Err(reason);
    }
    Ok(guard)
}

/// Waits until `ready` holds for the view, at most `limit`; returns the last view seen.
async fn wait_for(
    state: &DataState,
    limit: Duration,
    ready: impl Fn(&DataView) -> bool,
) -> std::sync::Arc<DataView> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut changes = state.subscribe();
    loop {
        let view = state.view();
        if ready(&view) {
            return view;
        }
        match tokio::time::timeout_at(deadline, changes.changed()).await {
            Ok(Ok(())) => {}
            _ => return state.view(),
        }
    }
}

/// The RPO guard's verdict for a write now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// At least one other region's replica is within the budget.
    Open,
    /// No other region has a database: nothing to guard.
    NoReplicas,
    /// Every other region's replica is beyond the budget (or unknown).
    Tripped,
}

/// Is a write admissible: is at least one replica in another region within the budget?
pub fn guard(view: &DataView, db: &DatabaseSettings, writer: usize) -> Guard {
    let now = Instant::now();
    let fresh = stale_after(db.probe_interval);
    let mut others = view
        .regions
        .iter()
        .enumerate()
        .filter(|(i, r)| *i != writer && r.role != Role::None)
        .peekable();
    if others.peek().is_none() {
        return Guard::NoReplicas;
    }
    let within = others.any(|(_, r)| {
        r.role == Role::Replica
            && r.exposure(now, fresh)
                .is_some_and(|lag| lag <= db.rpo_budget)
    });
    if within { Guard::Open } else { Guard::Tripped }
}

/// Can the local region serve a read carrying `token`?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assessment {
    /// The local database has replayed the token's position (or is the writer).
    Satisfied,
    /// Not yet (or it cannot be told): wait, then send it to the writer's region.
    NotYet,
    /// The token's write was on a timeline abandoned before it: lost in a failover.
    Lost,
    /// The token belongs to another database cluster: ignored.
    Foreign,
}

/// Judges a token against the view for the local region.
pub fn assess(view: &DataView, local: usize, token: Token) -> Assessment {
    let Some(local_view) = view.regions.get(local) else {
        return Assessment::Foreign;
    };
    let current = view.epoch;
    if let Some(epoch) = current
        && epoch.system != token.epoch.system
    {
        return Assessment::Foreign;
    }
    // The position the local database must have replayed, and the oldest timeline it may
    // have replayed it on.
    let (need, min_timeline) = match current {
        Some(epoch) if token.epoch.timeline < epoch.timeline && epoch.system != 0 => {
            match view
                .history
                .as_ref()
                .and_then(|h| h.switchpoint(token.epoch.timeline))
            {
                // The write lay past the point where its timeline was abandoned.
                Some(switch) if token.lsn > switch => return Assessment::Lost,
                // Before the switch: it is part of the current history.
                Some(_) => (token.lsn, token.epoch.timeline),
                None => return Assessment::NotYet,
            }
        }
        Some(epoch) if token.epoch.timeline != epoch.timeline => return Assessment::NotYet,
        _ => (token.lsn, token.epoch.timeline),
    };
    let Some(sample) = local_view.sample.as_ref() else {
        return Assessment::NotYet;
    };
    if sample.system != token.epoch.system {
        return Assessment::NotYet;
    }
    let satisfied = match local_view.role {
        Role::Writer => true,
        Role::Replica => {
            sample.timeline >= min_timeline && sample.replay_lsn.is_some_and(|r| r >= need)
        }
        _ => false,
    };
    if satisfied {
        Assessment::Satisfied
    } else {
        Assessment::NotYet
    }
}

impl Decision {
    fn plain(write: bool) -> Self {
        Self {
            target: None,
            write,
            forwarded: false,
            exposed: false,
            lost: false,
            token: None,
            released: Instant::now(),
            secure: false,
        }
    }

    /// Adds the data tier's headers to the response: the lost and exposed flags, and after a
    /// write the consistency token (header, and cookie for the client).
    pub async fn finish(self, resp: &mut ProxyResponse, runtime: &Runtime, snapshot: &Snapshot) {
        if self.lost {
            resp.headers
                .insert(LOST_HEADER, HeaderValue::from_static("1"));
        }
        if self.exposed {
            resp.headers
                .insert(EXPOSED_HEADER, HeaderValue::from_static("1"));
        }
        let Some(key) = snapshot.token_key.as_ref() else {
            return;
        };
        if !self.write || resp.status.is_server_error() {
            return;
        }
        let minted = self.mint(resp, runtime, key).await;
        let merged = match (minted, self.token) {
            (Some(new), Some(old)) => Some(new.max(old)),
            (new, old) => new.or(old),
        };
        resp.headers.remove(TOKEN_HEADER);
        let Some(token) = merged else {
            return;
        };
        let signed = key.sign(token);
        if let Ok(v) = HeaderValue::from_str(&signed) {
            resp.headers.insert(TOKEN_HEADER, v);
        }
        if !self.forwarded
            && let Some(cookie) = token::cookie(&signed, self.secure)
        {
            resp.headers.append("set-cookie", cookie);
        }
    }

    /// The token for this write's response: a sibling's (it saw the commit locally), the
    /// application's commit position, or the first writer position sampled after the response
    /// ended.
    async fn mint(
        &self,
        resp: &mut ProxyResponse,
        runtime: &Runtime,
        key: &TokenKey,
    ) -> Option<Token> {
        let view = runtime.data.view();
        if let Some(sibling) = resp
            .headers
            .get(TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| key.verify(v))
        {
            return Some(sibling);
        }
        if let (Some(epoch), Some(lsn)) = (
            view.epoch,
            resp.headers
                .get(COMMIT_LSN_HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(Lsn::parse),
        ) {
            return Some(Token { epoch, lsn });
        }
        // The response must be complete before the sample starts: a small body is read here
        // (then sent whole); a larger one is timed from its head.
        let size = resp.body.size_hint();
        if size.upper().is_some_and(|n| n <= MAX_BUFFERED_BODY) {
            let body = std::mem::replace(&mut resp.body, ProxyBody::empty());
            match tokio::time::timeout(SAMPLE_LIMIT, body.collect()).await {
                Ok(Ok(collected)) => resp.body = ProxyBody::local(collected.to_bytes()),
                _ => {
                    // The origin's body broke (or stalled) before its end: the client gets the
                    // error it would have seen mid-stream, as a whole response.
                    let id = resp
                        .headers
                        .get(crate::proxy::headers::REQUEST_ID)
                        .cloned()
                        .unwrap_or(HeaderValue::from_static(""));
                    *resp = ErrorKind::UpstreamReset.into_response(&id);
                    return None;
                }
            }
        }
        let (epoch, lsn) = runtime
            .data
            .writer_lsn_after(Instant::now(), SAMPLE_LIMIT)
            .await?;
        Some(Token { epoch, lsn })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::view::{Epoch, Sample, TimelineHistory, ViewBuilder};
    use std::sync::Arc;

    fn sample(writer: bool, timeline: u32, lsn: u64, history: Option<TimelineHistory>) -> Sample {
        Sample {
            started: Instant::now(),
            writer,
            system: 9,
            timeline,
            writer_lsn: writer.then_some(Lsn(lsn)),
            replay_lsn: (!writer).then_some(Lsn(lsn)),
            receiving: !writer,
            replay_paused: false,
            heartbeat_age: Some(Duration::from_millis(100)),
            replay_age: None,
            reported_lag: None,
            history: history.map(Arc::new),
        }
    }

    fn token(timeline: u32, lsn: u64) -> Token {
        Token {
            epoch: Epoch {
                system: 9,
                timeline,
            },
            lsn: Lsn(lsn),
        }
    }

    #[test]
    fn tokens_are_met_by_replay_and_lost_past_a_switchpoint() {
        let mut b = ViewBuilder::new(vec![true, true]);
        let history = TimelineHistory::parse(2, "1\t0/1000\tno recovery target specified\n");
        b.record(0, Ok(sample(true, 2, 0x3000, Some(history))));
        b.record(1, Ok(sample(false, 2, 0x2000, None)));
        let v = b.build(Instant::now(), Duration::from_secs(1));
        // Current timeline: replayed or not yet.
        assert_eq!(assess(&v, 1, token(2, 0x2000)), Assessment::Satisfied);
        assert_eq!(assess(&v, 1, token(2, 0x2001)), Assessment::NotYet);
        assert_eq!(assess(&v, 0, token(2, 0x9999)), Assessment::Satisfied);
        // Old timeline: before its switchpoint it survived; past it, it was lost.
        assert_eq!(assess(&v, 1, token(1, 0x0800)), Assessment::Satisfied);
        assert_eq!(assess(&v, 1, token(1, 0x1001)), Assessment::Lost);
        // Another cluster's token is ignored.
        let mut foreign = token(2, 1);
        foreign.epoch.system = 1;
        assert_eq!(assess(&v, 1, foreign), Assessment::Foreign);
    }

    #[test]
    fn the_guard_trips_when_every_replica_is_beyond_budget() {
        let db = crate::config::parse_and_validate(
            "t",
            "[server]\nlocal_region = \"a\"\n[[regions]]\nname = \"a\"\nendpoints = [\"127.0.0.1:1\"]\n[[regions]]\nname = \"b\"\nendpoints = [\"127.0.0.1:2\"]\n[[regions]]\nname = \"c\"\nendpoints = [\"127.0.0.1:3\"]\n[[routes]]\nname = \"r\"\n[database.regions]\na = \"host=x\"\nb = \"host=y\"\nc = \"host=z\"\n",
        )
        .unwrap()
        .database
        .unwrap();
        let mut b = ViewBuilder::new(vec![true, true, true]);
        b.record(0, Ok(sample(true, 1, 10, None)));
        let mut lagging = sample(false, 1, 5, None);
        lagging.heartbeat_age = Some(Duration::from_secs(6));
        b.record(1, Ok(lagging.clone()));
        b.record(2, Ok(lagging));
        let v = b.build(Instant::now(), Duration::from_secs(1));
        assert_eq!(guard(&v, &db, 0), Guard::Tripped);
        b.record(2, Ok(sample(false, 1, 10, None)));
        let v = b.build(Instant::now(), Duration::from_secs(1));
        assert_eq!(guard(&v, &db, 0), Guard::Open);
    }
}
