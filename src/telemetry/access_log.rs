//! Access logs: one JSON object per request, one per line, on stdout (for CloudWatch Logs),
//! field names as the OpenTelemetry HTTP semantic conventions spell them.
//!
//! The request path hands its finished record to a bounded queue without waiting; a full queue
//! (stdout blocked, a flood) drops the line and counts it. One task formats and writes the
//! lines in batches, so the request path never formats or writes anything.

use super::Observed;
use crate::config::telemetry::AccessLogSettings;
use opentelemetry::trace::TraceContextExt as _;
use serde_json::{Map, Value, json};
use std::io::Write as _;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Most lines written in one write.
const BATCH: usize = 256;
/// A flush at shutdown waits at most this long.
const FLUSH_LIMIT: Duration = Duration::from_secs(2);

/// What the writer task receives.
enum Message {
    /// A finished request.
    Record(Box<Observed>),
    /// Write what came before, then answer.
    Flush(oneshot::Sender<()>),
}

/// The access log of one config: its settings and the writer's queue.
pub struct AccessLog {
    /// Sampling and error policy (a reload may change them; the queue stays).
    settings: AccessLogSettings,
    /// To the writer task.
    queue: mpsc::Sender<Message>,
    /// `meridian_access_log_dropped_total`.
    dropped: metrics::Counter,
}

impl AccessLog {
    /// Starts the writer task on the current runtime.
    pub fn start(settings: AccessLogSettings) -> Result<Self, String> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| "access logs need a Tokio runtime".to_string())?;
        let (queue, rx) = mpsc::channel(settings.queue_size);
        handle.spawn(Writer { queue: rx }.run());
        Ok(Self {
            settings,
            queue,
            dropped: metrics::counter!("meridian_access_log_dropped_total"),
        })
    }

    /// The same writer under new sampling settings.
    pub fn with_settings(&self, settings: AccessLogSettings) -> Self {
        Self {
            settings,
            queue: self.queue.clone(),
            dropped: self.dropped.clone(),
        }
    }

    /// The writer queue's capacity.
    pub fn queue_size(&self) -> usize {
        self.settings.queue_size
    }

    /// Share of requests logged.
    pub fn sample_ratio(&self) -> f64 {
        self.settings.sample_ratio
    }

    /// 5xx (and requests the client abandoned) are logged whatever the sample.
    pub fn always_log_errors(&self) -> bool {
        self.settings.always_log_errors
    }

    /// Queues a finished request, or drops and counts it when the queue is full.
    pub fn send(&self, record: Box<Observed>) {
        if self.queue.try_send(Message::Record(record)).is_err() {
            self.dropped.increment(1);
        }
    }

    /// Writes what is queued (shutdown), waiting at most a couple of seconds.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        let sent = tokio::time::timeout(FLUSH_LIMIT, self.queue.send(Message::Flush(done))).await;
        if matches!(sent, Ok(Ok(()))) {
            let _ = tokio::time::timeout(FLUSH_LIMIT, wait).await;
        }
    }
}

/// The writer background job; ends when every sender is gone (its config was replaced and the
/// last request logged under it has finished).
struct Writer {
    /// Records and flush requests.
    queue: mpsc::Receiver<Message>,
}

impl Writer {
    async fn run(mut self) {
        let mut out = Vec::with_capacity(64 * 1024);
        let written = metrics::counter!("meridian_access_log_lines_total");
        while let Some(first) = self.queue.recv().await {
            let mut flushes = Vec::new();
            let mut lines = 0u64;
            let mut next = Some(first);
            while let Some(message) = next.take() {
                match message {
                    Message::Record(record) => {
                        line(&record, &mut out);
                        lines += 1;
                    }
                    Message::Flush(done) => flushes.push(done),
                }
                if lines < BATCH as u64 {
                    next = self.queue.try_recv().ok();
                }
            }
            // stdout may block (a full pipe): off the runtime's threads, one batch at a time,
            // and under stdout's lock so lines of two writers never interleave.
            let batch = std::mem::take(&mut out);
            out = tokio::task::spawn_blocking(move || {
                let mut batch = batch;
                let mut stdout = std::io::stdout().lock();
                let _ = stdout.write_all(&batch).and_then(|()| stdout.flush());
                batch.clear();
                batch
            })
            .await
            .unwrap_or_default();
            written.increment(lines);
            for done in flushes {
                let _ = done.send(());
            }
        }
    }
}

/// Appends one record as a JSON line.
fn line(r: &Observed, out: &mut Vec<u8>) {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            m.insert(k.to_string(), v);
        }
    };
    let text = |v: &Option<http::HeaderValue>| {
        v.as_ref()
            .map_or(Value::Null, |v| Value::from(super::text(v)))
    };
    put(
        "timestamp",
        Value::from(humantime::format_rfc3339_millis(r.start_time).to_string()),
    );
    put("http.request.method", Value::from(r.method.as_str()));
    put("url.path", Value::from(r.path.as_str()));
    put("server.address", text(&r.host));
    put("http.route", json!(r.route));
    put(
        "network.protocol.version",
        Value::from(super::protocol_version(r.version)),
    );
    put(
        "client.address",
        Value::from(r.client.ip().to_canonical().to_string()),
    );
    put("client.port", Value::from(r.client.port()));
    put(
        "http.request.header.x-forwarded-for",
        text(&r.forwarded_for),
    );
    put("user_agent.original", text(&r.user_agent));
    put("http.response.status_code", json!(r.status));
    put("http.request.body.size", Value::from(r.request_bytes));
    put("http.response.body.size", Value::from(r.response_bytes));
    put(
        "http.server.request.duration",
        Value::from(r.duration.as_secs_f64()),
    );
    put(
        "meridian.response_headers.duration",
        json!(r.headers_after.map(|d| d.as_secs_f64())),
    );
    put("meridian.response.complete", Value::from(r.complete));
    put("error.type", json!(r.error_type()));
    put(
        "meridian.request_id",
        Value::from(super::text(&r.request_id)),
    );
    if let Some(cx) = &r.span {
        let span = cx.span();
        let sc = span.span_context();
        put("trace_id", Value::from(sc.trace_id().to_string()));
        put("span_id", Value::from(sc.span_id().to_string()));
        put(
            "trace_flags",
            Value::from(format!("{:02x}", sc.trace_flags().to_u8())),
        );
    }
    put("cloud.region", Value::from(&*r.local_region));
    put("meridian.region", json!(r.served_by));
    put("meridian.forwarded_from", json!(r.forwarded_from));
    let attempts = r.attempts.lock().unwrap_or_else(|e| e.into_inner());
    put(
        "meridian.regions_tried",
        attempts.iter().map(|t| t.region.as_str()).collect(),
    );
    put(
        "meridian.attempt_outcomes",
        attempts.iter().map(|t| t.outcome).collect(),
    );
    drop(attempts);
    if serde_json::to_writer(&mut *out, &m).is_ok() {
        out.push(b'\n');
    }
}
