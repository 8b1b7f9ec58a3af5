//! One attempt against one endpoint, and the classification of how it failed.
//!
//! Retryability is decided here, where the failure is seen: a connect failure means nothing was
//! sent; anything later means the origin may have acted on the request.

use super::RequestCtx;
use super::forward_mark::FORWARD_MARK;
use crate::error::ErrorKind;
use crate::header_list::HeaderList;
use crate::runtime::Snapshot;
use crate::telemetry::trace::TraceHeaders;
use crate::upstream::{Endpoint, Region, UpstreamRequest, UpstreamResponse};
use std::sync::Arc;
use std::time::Instant;

/// How an attempt failed.
#[derive(Debug)]
pub enum Failure {
    /// TCP/TLS connect failed or timed out: nothing reached the origin.
    Connect,
    /// No response headers within the per-try timeout.
    Timeout,
    /// The connection failed after the request was (possibly) sent.
    Reset,
    /// The origin answered with a status from `retry.statuses`; kept in case it is the last word.
    Status(UpstreamResponse),
}

impl Failure {
    /// Could the origin have seen (and acted on) the request?
    pub fn may_have_reached_origin(&self) -> bool {
        !matches!(self, Failure::Connect)
    }

    /// The error kind a client sees if this is the final failure (Status is passed through).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Failure::Connect => ErrorKind::ConnectFailed,
            Failure::Timeout => ErrorKind::UpstreamTimeout,
            Failure::Reset | Failure::Status(_) => ErrorKind::UpstreamReset,
        }
    }

    /// Label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Failure::Connect => "connect_error",
            Failure::Timeout => "timeout",
            Failure::Reset => "reset",
            Failure::Status(_) => "retryable_status",
        }
    }
}

/// An attempt's result as its span records it: `ok` or the failure label, and the origin's
/// status when it answered.
pub fn outcome_label(result: &Result<UpstreamResponse, Failure>) -> (&'static str, Option<u16>) {
    match result {
        Ok(resp) => ("ok", Some(resp.status.as_u16())),
        Err(Failure::Status(resp)) => ("retryable_status", Some(resp.status.as_u16())),
        Err(f) => (f.label(), None),
    }
}

/// The result of one attempt, with what it was sent to.
pub struct AttemptOutcome {
    /// Region index.
    pub region: usize,
    /// The endpoint used.
    pub endpoint: Arc<Endpoint>,
    /// When it was sent.
    pub started: Instant,
    /// Response, or why not.
    pub result: Result<UpstreamResponse, Failure>,
}

/// Sends the request once to `endpoint` in `region` and classifies the result.
///
/// With `own_timer`, the attempt enforces its per-try timeout itself. Without, the caller does
/// (one timer per request serves the hedge, the deadline and the first attempt's per-try
/// limit): it drops the attempt when the limit passes and reports it with [`timed_out`].
pub async fn attempt(
    ctx: &RequestCtx,
    snapshot: &Snapshot,
    region: &Region,
    endpoint: Arc<Endpoint>,
    started: Instant,
    own_timer: bool,
    trace: Option<TraceHeaders>,
) -> AttemptOutcome {
    let settings = &snapshot.settings;
    let cross_region = region.index != settings.local_region;
    let streaming = !ctx.body.is_complete();
    let (mut req, upload_done) =
        upstream_request(ctx, snapshot, region, &endpoint, cross_region, streaming);
    if let Some(trace) = trace {
        // This attempt's span, so the origin (or the sibling Meridian) continues the trace.
        trace.append_to(&mut req.headers);
    }
    let in_flight = endpoint.health.track();
    let result = {
        let mut exchange = std::pin::pin!(region.send(&endpoint, &ctx.headers, req));
        // A streamed body is uploaded at the client's pace: the per-try timer (which judges the
        // origin) starts only once the upload is over, so a slow client cannot make a healthy
        // origin look hung. The overall deadline, enforced by the caller, still bounds the upload.
        let uploading = upload_done.is_some();
        let early = match upload_done {
            Some(done) => tokio::select! {
                result = &mut exchange => Some(result),
                _ = done => None,
            },
            None => None,
        };
        match early {
            Some(result) => Some(result),
            None if own_timer || uploading => {
                // From the attempt's start, or from the end of a streamed upload.
                let from = if uploading { Instant::now() } else { started };
                let until = (from + settings.timeouts.per_try).min(ctx.deadline);
                tokio::time::timeout_at(until.into(), &mut exchange)
                    .await
                    .ok()
            }
            None => Some(exchange.await),
        }
    };
    drop(in_flight);
    classify(snapshot, region, endpoint, started, result)
}

/// The outcome of an attempt its caller dropped when its per-try timeout passed.
pub fn timed_out(
    snapshot: &Snapshot,
    region: &Region,
    endpoint: Arc<Endpoint>,
    started: Instant,
) -> AttemptOutcome {
    classify(snapshot, region, endpoint, started, None)
}

/// Turns an exchange's result (None: the per-try timeout passed) into an outcome, and records
/// it: endpoint health, outlier detection, metrics.
fn classify(
    snapshot: &Snapshot,
    region: &Region,
    endpoint: Arc<Endpoint>,
    started: Instant,
    result: Option<Result<UpstreamResponse, crate::upstream::SendError>>,
) -> AttemptOutcome {
    let settings = &snapshot.settings;
    let result = match result {
        None => {
            if endpoint.health.mark_suspect() {
                tracing::warn!(endpoint = %endpoint.label, region = %region.name(),
                    "per-try timeout: endpoint suspect until its next good probe");
            }
            Err(Failure::Timeout)
        }
        Some(Err(e)) if e.is_connect() => Err(Failure::Connect),
        Some(Err(e)) => {
            tracing::debug!(endpoint = %endpoint.label, error = %e, "upstream error after send");
            Err(Failure::Reset)
        }
        Some(Ok(resp)) if settings.retry.statuses.contains(&resp.status.as_u16()) => {
            Err(Failure::Status(resp))
        }
        Some(Ok(resp)) => Ok(resp),
    };
    let outcome = match &result {
        Ok(resp) => {
            if resp.status.is_server_error() {
                record_failure(snapshot, &endpoint);
            } else {
                endpoint.health.record_success(started.elapsed());
            }
            "ok"
        }
        Err(f) => {
            if !matches!(f, Failure::Status(r) if !r.status.is_server_error()) {
                record_failure(snapshot, &endpoint);
            }
            f.label()
        }
    };
    if outcome == "ok" {
        region.attempts_ok.increment(1);
    } else {
        metrics::counter!("meridian_upstream_attempts_total",
            "region" => region.name().to_string(), "outcome" => outcome)
        .increment(1);
    }
    AttemptOutcome {
        region: region.index,
        endpoint,
        started,
        result,
    }
}

/// Counts a passive failure; ejects when the streak crosses the threshold and the cap allows.
pub fn record_failure(snapshot: &Snapshot, endpoint: &Endpoint) {
    let outlier = &snapshot.settings.outlier;
    let (mut total, mut ejected) = (0usize, 0usize);
    for region in &snapshot.regions {
        for e in region.endpoints().iter() {
            total += 1;
            ejected += usize::from(e.health.is_ejected());
        }
    }
    let may_eject = (ejected + 1) * 100 <= outlier.max_ejected_percent as usize * total;
    if let Some(length) = endpoint.health.record_failure(outlier, may_eject) {
        tracing::warn!(endpoint = %endpoint.label, region = %endpoint.region,
            seconds = length.as_secs_f64(), "endpoint ejected by outlier detection");
        metrics::counter!("meridian_endpoint_ejections_total",
            "region" => endpoint.region.clone(), "endpoint" => endpoint.label.clone())
        .increment(1);
    }
}

fn upstream_request(
    ctx: &RequestCtx,
    snapshot: &Snapshot,
    region: &Region,
    endpoint: &Endpoint,
    cross_region: bool,
    signal_upload: bool,
) -> (UpstreamRequest, Option<tokio::sync::oneshot::Receiver<()>>) {
    let uri = region.request_uri(endpoint, ctx.path_and_query.clone());
    let (body, upload_done) = if signal_upload {
        let (body, done) = ctx.body.attempt_signalled();
        (body, Some(done))
    } else {
        (ctx.body.attempt(), None)
    };
    // The request carries only what this attempt adds; the client's (rewritten) headers go by
    // reference (see `Region::send`), so an attempt does not copy them.
    let mut headers = HeaderList::new();
    if cross_region {
        let local = snapshot.local().name();
        let mark = snapshot.forward_key.sign(local, ctx.request_id_str());
        headers.append(FORWARD_MARK, mark);
    }
    let req = UpstreamRequest {
        method: ctx.method.clone(),
        uri,
        headers,
        body,
    };
    (req, upload_done)
}
