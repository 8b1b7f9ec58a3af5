//! Finished spans to the collector: a bounded queue filled without waiting, one task that sends
//! batches over OTLP/HTTP, and the HTTP client it sends them with.
//!
//! The request path only ever calls `try_send`: when the queue is full (a collector that is
//! slow or gone), the span is dropped and counted, never waited for. A batch whose export fails
//! is dropped and counted too; nothing is retried, so a dead collector costs one refused
//! connection per export interval.

use crate::config::telemetry::TracingSettings;
use crate::tls::UpstreamTls;
use crate::upstream::RegionConnector;
use bytes::Bytes;
use http::{HeaderValue, Request, Response, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter as _, SpanProcessor};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Largest collector response read (OTLP answers are a few bytes).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// The span processor of a tracer provider: hands finished, sampled spans to the export task.
#[derive(Debug)]
pub struct QueueProcessor {
    /// Bounded: `try_send` or drop.
    queue: mpsc::Sender<SpanData>,
    /// `meridian_trace_spans_dropped_total{reason="queue_full"}`.
    dropped: metrics::Counter,
}

impl QueueProcessor {
    /// A processor feeding `queue`.
    pub fn new(queue: mpsc::Sender<SpanData>) -> Self {
        Self {
            queue,
            dropped: metrics::counter!("meridian_trace_spans_dropped_total", "reason" => "queue_full"),
        }
    }
}

impl SpanProcessor for QueueProcessor {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        if self.queue.try_send(span).is_err() {
            self.dropped.increment(1);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Asks the export task to send what it holds now; answered when done.
pub type FlushRequest = oneshot::Sender<()>;

/// The export background job of one tracing pipeline.
pub struct ExportTask {
    /// Finished spans.
    queue: mpsc::Receiver<SpanData>,
    /// Flush requests (shutdown).
    flushes: mpsc::Receiver<FlushRequest>,
    /// OTLP/HTTP protobuf encoder and sender (lent to the blocking pool during an export).
    exporter: Option<opentelemetry_otlp::SpanExporter>,
    /// Spans per export.
    batch_size: usize,
    /// Longest a span waits.
    interval: Duration,
    /// One export's limit.
    timeout: Duration,
}

impl ExportTask {
    /// The task for `settings`, reading `queue`.
    pub fn new(
        settings: &TracingSettings,
        resource: opentelemetry_sdk::Resource,
        queue: mpsc::Receiver<SpanData>,
        flushes: mpsc::Receiver<FlushRequest>,
        tls: &UpstreamTls,
    ) -> Result<Self, String> {
        use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
        let client = OtlpClient::new(settings, tls)?;
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(settings.endpoint.to_string())
            .with_timeout(settings.timeout)
            // A failed batch is dropped and counted: retrying would hold spans (memory) for a
            // collector that is most likely down, and its backoff sleeps block the thread.
            .with_retry_policy(opentelemetry_otlp::RetryPolicy::disabled())
            .with_http_client(client)
            .build()
            .map_err(|e| e.to_string())?;
        exporter.set_resource(&resource);
        Ok(Self {
            queue,
            flushes,
            exporter: Some(exporter),
            batch_size: settings.batch_size,
            interval: settings.export_interval,
            timeout: settings.timeout,
        })
    }

    /// Exports until every sender is gone (the pipeline was replaced by a reload and its last
    /// span ended), sending what is left first.
    pub async fn run(mut self) {
        let mut batch = Vec::with_capacity(self.batch_size);
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                span = self.queue.recv() => match span {
                    Some(span) => {
                        batch.push(span);
                        if batch.len() >= self.batch_size {
                            self.export(&mut batch).await;
                        }
                    }
                    None => break,
                },
                Some(done) = self.flushes.recv() => {
                    while let Ok(span) = self.queue.try_recv() {
                        batch.push(span);
                        if batch.len() >= self.batch_size {
                            self.export(&mut batch).await;
                        }
                    }
                    self.export(&mut batch).await;
                    let _ = done.send(());
                }
                _ = tick.tick() => self.export(&mut batch).await,
            }
        }
        self.export(&mut batch).await;
    }

    async fn export(&mut self, batch: &mut Vec<SpanData>) {
        if batch.is_empty() {
            return;
        }
        let spans = std::mem::replace(batch, Vec::with_capacity(self.batch_size));
        let n = spans.len() as u64;
        // Encoding a batch is CPU work (milliseconds for hundreds of spans): it runs on the
        // blocking pool, so it never holds up a worker that serves requests. The connection's
        // I/O still runs on the runtime (the client spawns it there).
        let Some(exporter) = self.exporter.take() else {
            return;
        };
        let (handle, timeout) = (tokio::runtime::Handle::current(), self.timeout);
        let exported = tokio::task::spawn_blocking(move || {
            // The client enforces the timeout too; this bounds the encoder and everything else.
            let result = handle.block_on(tokio::time::timeout(timeout, exporter.export(spans)));
            (exporter, result)
        })
        .await;
        let result = match exported {
            Ok((exporter, result)) => {
                self.exporter = Some(exporter);
                result
            }
            Err(_) => {
                // The export panicked: this pipeline stops exporting; its spans are counted.
                tracing::warn!("span export task failed; tracing export stops for this config");
                metrics::counter!("meridian_trace_spans_dropped_total", "reason" => "export_failed")
                    .increment(n);
                return;
            }
        };
        match result {
            Ok(Ok(())) => metrics::counter!("meridian_trace_spans_exported_total").increment(n),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, spans = n, "span export failed");
                metrics::counter!("meridian_trace_spans_dropped_total", "reason" => "export_failed")
                    .increment(n);
            }
            Err(_) => {
                tracing::debug!(spans = n, "span export timed out");
                metrics::counter!("meridian_trace_spans_dropped_total", "reason" => "export_failed")
                    .increment(n);
            }
        }
    }
}

/// OTLP/HTTP over hyper's HTTP/1 client and Meridian's own connector (rustls for https), so
/// exports add no second HTTP or TLS stack. Keeps one connection alive between exports.
#[derive(Debug)]
pub struct OtlpClient {
    /// Dials the collector (TCP, TLS for https).
    connector: DebugConnector,
    /// `host:port` to dial.
    authority: String,
    /// The Host header.
    host: HeaderValue,
    /// Configured headers, set last so they win over any the exporter adds.
    headers: Vec<(http::HeaderName, HeaderValue)>,
    /// One request's limit, connect included.
    timeout: Duration,
    /// The kept-alive connection.
    connection: tokio::sync::Mutex<Option<SendRequest<Full<Bytes>>>>,
}

/// `RegionConnector` has no `Debug`; the trait wants one.
struct DebugConnector(RegionConnector);

impl std::fmt::Debug for DebugConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RegionConnector")
    }
}

impl OtlpClient {
    /// A client for the settings' endpoint.
    pub fn new(settings: &TracingSettings, tls: &UpstreamTls) -> Result<Self, String> {
        let uri = &settings.endpoint;
        let host = uri
            .host()
            .ok_or("tracing endpoint has no host")?
            .to_string();
        let https = uri.scheme_str() == Some("https");
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tls_target = if https {
            Some(
                tls.target(&host, crate::config::Protocol::Http1)
                    .ok_or_else(|| format!("{host:?} is not a valid TLS server name"))?,
            )
        } else {
            None
        };
        let host_header = uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
            .ok_or("tracing endpoint has no valid authority")?;
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        Ok(Self {
            connector: DebugConnector(RegionConnector::new(false, settings.timeout, tls_target)),
            authority,
            host: host_header,
            headers: settings.headers.clone(),
            timeout: settings.timeout,
            connection: tokio::sync::Mutex::new(None),
        })
    }

    async fn exchange(
        &self,
        request: Request<Bytes>,
    ) -> Result<Response<Bytes>, opentelemetry_http::HttpError> {
        let (mut parts, body) = request.into_parts();
        // Origin form on the wire, with Host, like any HTTP/1.1 client.
        parts.uri = parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/"))
            .into();
        parts.headers.insert(header::HOST, self.host.clone());
        for (name, value) in &self.headers {
            parts.headers.insert(name.clone(), value.clone());
        }
        let request = Request::from_parts(parts, Full::new(body));
        let mut slot = self.connection.lock().await;
        let kept = match slot.take() {
            Some(mut sender) => sender.ready().await.is_ok().then_some(sender),
            None => None,
        };
        let mut sender = match kept {
            Some(sender) => sender,
            None => {
                let stream = self.connector.0.connect(self.authority.as_str()).await?;
                let (sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
                tokio::spawn(conn);
                sender
            }
        };
        let response = sender.send_request(request).await?;
        let (parts, body) = response.into_parts();
        let body = http_body_util::Limited::new(body, MAX_RESPONSE_BYTES)
            .collect()
            .await?
            .to_bytes();
        *slot = Some(sender);
        Ok(Response::from_parts(parts, body))
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for OtlpClient {
    async fn send_bytes(
        &self,
        request: Request<Bytes>,
    ) -> Result<Response<Bytes>, opentelemetry_http::HttpError> {
        match tokio::time::timeout(self.timeout, self.exchange(request)).await {
            Ok(result) => result,
            Err(_) => Err("OTLP export timed out".into()),
        }
    }
}
