//! What operators see of each request: OpenTelemetry traces and access logs.
//!
//! The request path holds one [`Observation`] per request. With tracing and access logs both
//! off (the snapshot's [`Telemetry`] says so with one flag) it is empty and every hook is a
//! branch on `None`; otherwise it records the request span, one span per attempt, the regions
//! tried and the answer, and when the response body ends (or is dropped) it ends the span and
//! hands the record to the access-log writer.
//!
//! - [`trace`]: the tracer of one config, W3C propagation, request and attempt spans.
//! - [`export`]: the span queue, the OTLP/HTTP export task and its HTTP client.
//! - [`access_log`]: one JSON line per request on stdout, written by a task of its own.

pub mod access_log;
pub mod export;
pub mod trace;

use crate::config::Settings;
use crate::error::ErrorKind;
use crate::message::{ClientRequest, ProxyResponse};
use crate::proxy::Peer;
use crate::tls::UpstreamTls;
use crate::upstream::{Endpoint, Region};
use access_log::AccessLog;
use http::{HeaderValue, Method, Version};
use opentelemetry::trace::{Span as _, TraceContextExt as _};
use opentelemetry::{Context, KeyValue, StringValue, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use trace::{TraceHeaders, Tracing};

/// The telemetry of one snapshot: which pipelines are on, built once per config.
pub struct Telemetry {
    /// Tracing or access logs are on: the one flag the request path tests when both are off.
    active: bool,
    /// The tracing pipeline, when `[tracing]` (or `OTEL_*`) turns it on.
    tracing: Option<Arc<Tracing>>,
    /// The access-log writer, when `[access_log]` is enabled.
    access_log: Option<Arc<AccessLog>>,
    /// The local region's name (`cloud.region` of log lines).
    region: Arc<str>,
}

impl Telemetry {
    /// Builds the pipelines the settings ask for, keeping `previous`' where their settings are
    /// unchanged (a reload that does not touch `[tracing]` keeps its queue and connection).
    pub fn build(
        settings: &Settings,
        previous: Option<&Telemetry>,
        tls: &UpstreamTls,
    ) -> Result<Self, String> {
        let region = settings.local().name.as_str();
        let tracing = match &settings.tracing {
            None => None,
            Some(t) => match previous.and_then(|p| p.tracing.as_ref()) {
                Some(old) if old.serves(t, region) => Some(old.clone()),
                _ => Some(Arc::new(Tracing::start(t, region, tls)?)),
            },
        };
        let access_log = match &settings.access_log {
            None => None,
            Some(a) => match previous.and_then(|p| p.access_log.as_ref()) {
                Some(old) if old.queue_size() == a.queue_size => {
                    Some(Arc::new(old.with_settings(a.clone())))
                }
                _ => Some(Arc::new(AccessLog::start(a.clone())?)),
            },
        };
        Ok(Self {
            active: tracing.is_some() || access_log.is_some(),
            tracing,
            access_log,
            region: Arc::from(region),
        })
    }

    /// Neither traces nor access logs.
    pub fn off(region: &str) -> Self {
        Self {
            active: false,
            tracing: None,
            access_log: None,
            region: Arc::from(region),
        }
    }

    /// Is tracing on?
    pub fn tracing_on(&self) -> bool {
        self.tracing.is_some()
    }

    /// Starts observing a request; with both pipelines off, an empty observation. With tracing
    /// on, the client's `traceparent`/`tracestate` leave `req` (each attempt sends its own).
    #[inline]
    pub fn begin(
        &self,
        req: &mut ClientRequest,
        peer: &Peer,
        request_id: &HeaderValue,
        started: Instant,
    ) -> Observation {
        if !self.active {
            return Observation(None);
        }
        Observation(Some(self.observe(req, peer.addr, request_id, started)))
    }

    fn observe(
        &self,
        req: &mut ClientRequest,
        client: SocketAddr,
        request_id: &HeaderValue,
        started: Instant,
    ) -> Box<Observed> {
        let path = req.uri.path().to_string();
        let host = req
            .headers
            .get("host")
            .cloned()
            .or_else(|| HeaderValue::from_str(req.uri.authority()?.as_str()).ok());
        let user_agent = req.headers.get("user-agent").cloned();
        let span = self.tracing.as_ref().map(|t| {
            let (method, version) = (&req.method, req.version);
            let attributes = || {
                let mut attributes = vec![
                    KeyValue::new("http.request.method", method.as_str().to_string()),
                    KeyValue::new("url.path", path.clone()),
                    KeyValue::new("network.protocol.version", protocol_version(version)),
                    KeyValue::new("client.address", client.ip().to_canonical().to_string()),
                    KeyValue::new("client.port", i64::from(client.port())),
                    KeyValue::new("meridian.request_id", text(request_id)),
                ];
                if let Some(h) = &host {
                    attributes.push(KeyValue::new("server.address", text(h)));
                }
                if let Some(ua) = &user_agent {
                    attributes.push(KeyValue::new("user_agent.original", text(ua)));
                }
                attributes
            };
            t.request_span(&mut req.headers, attributes)
        });
        let log_sampled = self
            .access_log
            .as_ref()
            .is_some_and(|l| l.sample_ratio() >= 1.0 || fastrand::f64() < l.sample_ratio());
        Box::new(Observed {
            started,
            start_time: SystemTime::now(),
            method: req.method.clone(),
            path,
            host,
            version: req.version,
            client,
            user_agent,
            forwarded_for: req.headers.get("x-forwarded-for").cloned(),
            request_id: request_id.clone(),
            local_region: self.region.clone(),
            route: None,
            forwarded_from: None,
            span,
            tracing: self.tracing.clone(),
            log: self.access_log.clone(),
            log_sampled,
            attempts: Mutex::new(Vec::new()),
            status: None,
            served_by: None,
            error: None,
            headers_after: None,
            request_bytes: 0,
            response_bytes: 0,
            complete: false,
            duration: Duration::ZERO,
        })
    }

    /// Sends what the pipelines hold (shutdown).
    pub async fn flush(&self) {
        if let Some(t) = &self.tracing {
            t.flush().await;
        }
        if let Some(l) = &self.access_log {
            l.flush().await;
        }
    }
}

/// One request as observed; empty when telemetry is off.
#[derive(Default)]
pub struct Observation(Option<Box<Observed>>);

/// What is known of one observed request.
pub struct Observed {
    /// Arrival, on the monotonic clock (durations).
    started: Instant,
    /// Arrival, on the wall clock (the log line's timestamp).
    start_time: SystemTime,
    /// `http.request.method`.
    method: Method,
    /// `url.path` (no query: query strings carry tokens).
    path: String,
    /// `server.address`: the Host the client asked for.
    host: Option<HeaderValue>,
    /// `network.protocol.version`.
    version: Version,
    /// `client.address` / `client.port`: the TCP peer (behind an ALB, the ALB).
    client: SocketAddr,
    /// `user_agent.original`.
    user_agent: Option<HeaderValue>,
    /// The X-Forwarded-For the client (or the ALB) sent, as received.
    forwarded_for: Option<HeaderValue>,
    /// `meridian.request_id`.
    request_id: HeaderValue,
    /// `cloud.region`.
    local_region: Arc<str>,
    /// `http.route`: the matched route's name.
    route: Option<String>,
    /// The sibling region whose Meridian forwarded this request.
    forwarded_from: Option<String>,
    /// The request span in its context (tracing on).
    span: Option<Context>,
    /// Starts attempt spans (tracing on).
    tracing: Option<Arc<Tracing>>,
    /// The writer, when access logs are on.
    log: Option<Arc<AccessLog>>,
    /// Picked by the access log's sample.
    log_sampled: bool,
    /// Every attempt, in the order started, with its outcome so far.
    attempts: Mutex<Vec<Tried>>,
    /// `http.response.status_code`.
    status: Option<u16>,
    /// The region that answered.
    served_by: Option<String>,
    /// `error.type`: why Meridian answered itself.
    error: Option<ErrorKind>,
    /// Time to response headers.
    headers_after: Option<Duration>,
    /// `http.request.body.size`.
    request_bytes: u64,
    /// `http.response.body.size` (what reached the client's connection).
    response_bytes: u64,
    /// The response body was sent to its end.
    complete: bool,
    /// Arrival to the body's end (or its drop).
    duration: Duration,
}

/// One attempt, as the access log lists it.
#[derive(Debug, Clone)]
pub struct Tried {
    /// Region name.
    pub region: String,
    /// `ok`, a failure label, `lost_to_hedge`, `cancelled` or `pending`.
    pub outcome: &'static str,
}

// === impl Observation ===

impl Observation {
    /// Moves the observation out, leaving an empty one.
    pub fn take(&mut self) -> Observation {
        std::mem::take(self)
    }

    /// Records the matched route.
    pub fn route(&mut self, name: &str) {
        if let Some(o) = &mut self.0 {
            o.route = Some(name.to_string());
            if let Some(cx) = o.span.as_ref().filter(|cx| cx.span().is_recording()) {
                let span = cx.span();
                span.update_name(format!("{} {name}", o.method));
                span.set_attribute(KeyValue::new("http.route", name.to_string()));
            }
        }
    }

    /// Records the sibling that forwarded this request (its forwarding mark verified).
    pub fn forwarded_from(&mut self, region: Option<&str>) {
        if let (Some(o), Some(region)) = (&mut self.0, region) {
            o.forwarded_from = Some(region.to_string());
            if let Some(cx) = &o.span {
                cx.span()
                    .set_attribute(KeyValue::new("meridian.forwarded_from", region.to_string()));
            }
        }
    }

    /// Records what the data tier decided: a write, where it was sent (the writer's region, or
    /// the writer's for a read whose token the local replica has not replayed), how long it was
    /// held, and the RPO guard's and the consistency token's verdicts.
    pub fn data(&mut self, decision: &crate::data::route::Decision, target: Option<&str>) {
        let Some(o) = &mut self.0 else { return };
        let Some(cx) = o.span.as_ref().filter(|cx| cx.span().is_recording()) else {
            return;
        };
        let span = cx.span();
        span.set_attribute(KeyValue::new("meridian.data.write", decision.write));
        if let Some(target) = target {
            span.set_attribute(KeyValue::new(
                "meridian.data.target_region",
                target.to_string(),
            ));
        }
        let held = decision.released.saturating_duration_since(o.started);
        span.set_attribute(KeyValue::new(
            "meridian.data.held_ms",
            held.as_secs_f64() * 1000.0,
        ));
        if decision.write {
            let guard = if decision.exposed {
                "exposed"
            } else {
                "admitted"
            };
            span.set_attribute(KeyValue::new("meridian.rpo_guard", guard));
        }
        if decision.token.is_some() || decision.lost {
            let token = if decision.lost { "lost" } else { "valid" };
            span.set_attribute(KeyValue::new("meridian.consistency.token", token));
        }
    }

    /// The trace id, for log lines that should lead to the trace.
    pub fn trace_id(&self) -> Option<String> {
        let cx = self.0.as_ref()?.span.as_ref()?;
        Some(cx.span().span_context().trace_id().to_string())
    }

    /// A response Meridian made itself (`kind`): recorded and finished.
    pub fn error(mut self, kind: ErrorKind, resp: ProxyResponse) -> ProxyResponse {
        if let Some(o) = &mut self.0 {
            o.error = Some(kind);
            o.status = Some(resp.status.as_u16());
            o.headers_after = Some(o.started.elapsed());
            o.response_bytes = http_body::Body::size_hint(&resp.body).exact().unwrap_or(0);
            o.complete = true;
        }
        resp
    }

    /// The client's response: recorded; the observation rides in a streamed body until it
    /// ends, or ends here for a local one.
    pub fn respond(
        mut self,
        resp: &mut ProxyResponse,
        served_by: &str,
        attempts: u32,
        request_bytes: u64,
    ) {
        let Some(o) = &mut self.0 else { return };
        o.status = Some(resp.status.as_u16());
        o.served_by = Some(served_by.to_string());
        o.headers_after = Some(o.started.elapsed());
        o.request_bytes = request_bytes;
        if let Some(cx) = &o.span {
            cx.span()
                .set_attribute(KeyValue::new("meridian.attempts", i64::from(attempts)));
        }
        match &mut resp.body {
            crate::body::ProxyBody::Upstream { observe, .. } => *observe = self,
            local => {
                o.response_bytes = http_body::Body::size_hint(local).exact().unwrap_or(0);
                o.complete = true;
            }
        }
    }

    /// Counts response body bytes as they go to the client.
    #[inline]
    pub fn body_bytes(&mut self, n: usize, end: bool) {
        if let Some(o) = &mut self.0 {
            o.response_bytes += n as u64;
            o.complete |= end;
        }
    }

    /// Starts an attempt's span (`why`: `first`, `hedge`, or the failure that made this a
    /// retry); its `traceparent` goes upstream with the attempt.
    pub fn attempt(
        &self,
        region: &Region,
        endpoint: &Endpoint,
        why: &'static str,
    ) -> AttemptSpan<'_> {
        let Some(o) = &self.0 else {
            return AttemptSpan::default();
        };
        let index = {
            let mut attempts = o.attempts.lock().unwrap_or_else(|e| e.into_inner());
            attempts.push(Tried {
                region: region.name().to_string(),
                outcome: "pending",
            });
            attempts.len() - 1
        };
        let (span, headers) = match (&o.tracing, &o.span) {
            (Some(t), Some(cx)) => {
                let (reason, failover) = match why {
                    "first" | "hedge" => (why, None),
                    failure => ("retry", Some(failure)),
                };
                let attributes = || {
                    let mut attributes = vec![
                        KeyValue::new("meridian.region", region.name().to_string()),
                        KeyValue::new("meridian.endpoint", endpoint.label.clone()),
                        KeyValue::new("server.address", endpoint.addr.ip().to_string()),
                        KeyValue::new("server.port", i64::from(endpoint.addr.port())),
                        KeyValue::new("http.request.method", o.method.as_str().to_string()),
                        KeyValue::new("meridian.attempt", (index + 1) as i64),
                        KeyValue::new("meridian.attempt.reason", reason),
                        KeyValue::new("meridian.cross_region", *region.name() != *o.local_region),
                    ];
                    if let Some(f) = failover {
                        attributes.push(KeyValue::new("meridian.failover.reason", f));
                    }
                    attributes
                };
                let (span, headers) = t.attempt_span(cx, attributes);
                (Some(span), Some(headers))
            }
            _ => (None, None),
        };
        AttemptSpan(Some(Box::new(OpenAttempt {
            observed: o,
            index,
            span,
            headers,
            outcome: "cancelled",
            status: None,
        })))
    }
}

impl Drop for Observation {
    fn drop(&mut self) {
        if let Some(mut o) = self.0.take() {
            o.duration = o.started.elapsed();
            o.end_span();
            if let Some(log) = o.log.clone() {
                let error = o.status.is_none_or(|s| s >= 500);
                if o.log_sampled || (error && log.always_log_errors()) {
                    log.send(o);
                }
            }
        }
    }
}

// === impl Observed ===

impl Observed {
    /// `error.type`: Meridian's own error kind, the status of an origin's 5xx, or
    /// `client_closed` when the client left before the response.
    fn error_type(&self) -> Option<String> {
        match (self.error, self.status) {
            (Some(kind), _) => Some(kind.to_string()),
            (None, Some(s)) if s >= 500 => Some(s.to_string()),
            (None, None) => Some("client_closed".into()),
            _ => None,
        }
    }

    fn end_span(&mut self) {
        let Some(cx) = self.span.take() else { return };
        let span = cx.span();
        if !span.is_recording() {
            // Unsampled: nothing is exported, so nothing is added.
            span.end();
            self.span = Some(cx);
            return;
        }
        let tried: Vec<StringValue> = self
            .attempts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|t| StringValue::from(t.region.clone()))
            .collect();
        let mut attributes = vec![
            KeyValue::new(
                "meridian.regions_tried",
                Value::Array(opentelemetry::Array::String(tried)),
            ),
            KeyValue::new("http.response.body.size", self.response_bytes as i64),
            KeyValue::new("http.request.body.size", self.request_bytes as i64),
            KeyValue::new("meridian.response.complete", self.complete),
        ];
        if let Some(s) = self.status {
            attributes.push(KeyValue::new("http.response.status_code", i64::from(s)));
        }
        if let Some(r) = &self.served_by {
            attributes.push(KeyValue::new("meridian.region", r.clone()));
        }
        let error = self.error_type();
        if let Some(e) = &error {
            attributes.push(KeyValue::new("error.type", e.clone()));
        }
        attributes.push(KeyValue::new(
            "meridian.outcome",
            error.clone().unwrap_or_else(|| "ok".into()),
        ));
        span.set_attributes(attributes);
        if let Some(e) = error {
            span.set_status(opentelemetry::trace::Status::error(e));
        }
        span.end();
        // Kept for the log line's trace and span ids.
        self.span = Some(cx);
    }
}

/// The span of one attempt; ends (with outcome `cancelled` unless told otherwise) when dropped.
/// One pointer, `None` when telemetry is off, so the failover loop's bookkeeping stays small.
#[derive(Default)]
pub struct AttemptSpan<'a>(Option<Box<OpenAttempt<'a>>>);

/// An attempt being observed.
struct OpenAttempt<'a> {
    /// The request's record.
    observed: &'a Observed,
    /// Its place in the request's attempt list.
    index: usize,
    /// The span (tracing on).
    span: Option<opentelemetry_sdk::trace::Span>,
    /// What goes upstream in `traceparent`/`tracestate`.
    headers: Option<TraceHeaders>,
    /// How it ended.
    outcome: &'static str,
    /// The origin's status, when it answered.
    status: Option<u16>,
}

impl AttemptSpan<'_> {
    /// The trace headers for this attempt's request (None: tracing off).
    pub fn trace_headers(&self) -> Option<TraceHeaders> {
        self.0.as_ref()?.headers.clone()
    }

    /// Ends the span: `outcome` is `ok` or the failure label, `status` the origin's answer.
    pub fn finish(mut self, outcome: &'static str, status: Option<u16>) {
        if let Some(a) = &mut self.0 {
            a.outcome = outcome;
            a.status = status;
        }
    }

    /// A later attempt answered first.
    pub fn lost(&mut self) {
        if let Some(a) = &mut self.0 {
            a.outcome = "lost_to_hedge";
        }
    }
}

impl Drop for OpenAttempt<'_> {
    fn drop(&mut self) {
        if let Some(t) = self
            .observed
            .attempts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(self.index)
        {
            t.outcome = self.outcome;
        }
        if let Some(span) = &mut self.span {
            span.set_attribute(KeyValue::new("meridian.outcome", self.outcome));
            if let Some(s) = self.status {
                span.set_attribute(KeyValue::new("http.response.status_code", i64::from(s)));
            }
            let error = (self.outcome != "ok").then_some(self.outcome);
            trace::end_span(span, error);
        }
    }
}

fn text(v: &HeaderValue) -> String {
    String::from_utf8_lossy(v.as_bytes()).into_owned()
}

fn protocol_version(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "1.1",
    }
}
