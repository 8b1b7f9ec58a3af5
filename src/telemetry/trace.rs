//! OpenTelemetry traces: the tracer of one config, W3C `traceparent`/`tracestate` in and out,
//! the request span and one child span per attempt (hedges included).
//!
//! A request that fails over to a sibling region carries the attempt span's context in its
//! `traceparent`, so the sibling Meridian's request span is that attempt's child: one trace
//! across both regions.

use super::export::{ExportTask, FlushRequest, QueueProcessor};
use crate::config::telemetry::{Sampling, TracingSettings};
use crate::header_list::HeaderList;
use crate::tls::UpstreamTls;
use http::HeaderValue;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// W3C trace context request header.
pub const TRACEPARENT: &str = "traceparent";
/// W3C vendor trace state, travels with `traceparent`.
pub const TRACESTATE: &str = "tracestate";

/// A flush at shutdown waits at most this long for the collector.
const FLUSH_LIMIT: Duration = Duration::from_secs(2);

/// The tracing pipeline of one config: tracer (sampler, resource) and its export task.
pub struct Tracing {
    /// What it was built from (a reload with equal settings keeps it).
    pub settings: TracingSettings,
    /// The local region it was built for (a resource attribute).
    region: String,
    /// Owns the processor; dropped with the last span, which ends the export task.
    _provider: SdkTracerProvider,
    /// Starts spans.
    tracer: SdkTracer,
    /// W3C trace context.
    propagator: TraceContextPropagator,
    /// Asks the export task to send what it holds.
    flushes: mpsc::Sender<FlushRequest>,
}

impl Tracing {
    /// Builds the pipeline and spawns its export task on the current runtime.
    pub fn start(
        settings: &TracingSettings,
        region: &str,
        tls: &UpstreamTls,
    ) -> Result<Self, String> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| "tracing needs a Tokio runtime".to_string())?;
        let mut attributes = vec![
            KeyValue::new("cloud.region", region.to_string()),
            KeyValue::new("telemetry.sdk.name", "opentelemetry"),
            KeyValue::new("telemetry.sdk.language", "rust"),
            KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
        ];
        attributes.extend(
            settings
                .resource
                .iter()
                .filter(|(k, _)| k != "service.name")
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        );
        let resource = opentelemetry_sdk::Resource::builder_empty()
            .with_service_name(settings.service_name.clone())
            .with_attributes(attributes)
            .build();
        let (queue_tx, queue_rx) = mpsc::channel(settings.queue_size);
        let (flush_tx, flush_rx) = mpsc::channel(1);
        let task = ExportTask::new(settings, resource.clone(), queue_rx, flush_rx, tls)?;
        let root = match settings.sampling {
            Sampling::AlwaysOn => Sampler::AlwaysOn,
            Sampling::AlwaysOff => Sampler::AlwaysOff,
            Sampling::Ratio(r) => Sampler::TraceIdRatioBased(r),
        };
        let sampler = if settings.parent_based {
            Sampler::ParentBased(Box::new(root))
        } else {
            root
        };
        let provider = SdkTracerProvider::builder()
            .with_span_processor(QueueProcessor::new(queue_tx))
            .with_sampler(sampler)
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("meridian");
        handle.spawn(task.run());
        Ok(Self {
            settings: settings.clone(),
            region: region.to_string(),
            _provider: provider,
            tracer,
            propagator: TraceContextPropagator::new(),
            flushes: flush_tx,
        })
    }

    /// Can this pipeline serve `settings` in `region` (a reload that changed neither)?
    pub fn serves(&self, settings: &TracingSettings, region: &str) -> bool {
        self.settings == *settings && self.region == region
    }

    /// Sends the spans finished so far (shutdown), waiting at most a couple of seconds.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.flushes.try_send(done).is_ok() {
            let _ = tokio::time::timeout(FLUSH_LIMIT, wait).await;
        }
    }

    /// Starts the request span, a child of the client's `traceparent` when it sent a valid one,
    /// and removes the client's trace headers (each attempt sends its own).
    /// `attributes` is called only when the span records (sampled in): an unsampled request
    /// builds none of them.
    pub fn request_span(
        &self,
        headers: &mut HeaderList,
        attributes: impl FnOnce() -> Vec<KeyValue>,
    ) -> Context {
        let parent = if headers.contains(TRACEPARENT) {
            let parent = self.propagator.extract(&Extract(headers));
            headers.remove(TRACEPARENT);
            headers.remove(TRACESTATE);
            parent
        } else {
            headers.remove(TRACESTATE);
            Context::new()
        };
        let mut span = self
            .tracer
            .span_builder("request")
            .with_kind(SpanKind::Server)
            .start_with_context(&self.tracer, &parent);
        if span.is_recording() {
            span.set_attributes(attributes());
        }
        Context::new().with_span(span)
    }

    /// Starts an attempt span under the request span; returns it with the headers that carry
    /// its context upstream.
    pub fn attempt_span(
        &self,
        request: &Context,
        attributes: impl FnOnce() -> Vec<KeyValue>,
    ) -> (opentelemetry_sdk::trace::Span, TraceHeaders) {
        let mut span = self
            .tracer
            .span_builder("attempt")
            .with_kind(SpanKind::Client)
            .start_with_context(&self.tracer, request);
        if span.is_recording() {
            span.set_attributes(attributes());
        }
        // W3C trace context, written directly (the propagator would allocate a context first).
        let sc = span.span_context();
        let traceparent = format!(
            "00-{}-{}-{:02x}",
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags().to_u8()
        );
        let state = sc.trace_state().header();
        let headers = TraceHeaders {
            traceparent: HeaderValue::from_str(&traceparent).ok(),
            tracestate: (!state.is_empty())
                .then(|| HeaderValue::from_str(&state).ok())
                .flatten(),
        };
        (span, headers)
    }
}

/// Ends a span with an error status when `error` says so.
pub fn end_span(span: &mut impl opentelemetry::trace::Span, error: Option<&'static str>) {
    if let Some(e) = error {
        span.set_status(Status::error(e));
    }
    span.end();
}

/// `traceparent` (and `tracestate`) for one attempt's request.
#[derive(Debug, Default, Clone)]
pub struct TraceHeaders {
    /// `00-<trace id>-<span id>-<flags>`.
    pub traceparent: Option<HeaderValue>,
    /// Vendor state passed on from the client.
    pub tracestate: Option<HeaderValue>,
}

impl TraceHeaders {
    /// Appends them to an attempt's own header lines.
    pub fn append_to(&self, headers: &mut HeaderList) {
        if let Some(v) = &self.traceparent {
            headers.append(TRACEPARENT, v.clone());
        }
        if let Some(v) = &self.tracestate {
            headers.append(TRACESTATE, v.clone());
        }
    }
}

impl Injector for TraceHeaders {
    fn set(&mut self, key: &str, value: String) {
        let Ok(value) = HeaderValue::from_str(&value) else {
            return;
        };
        match key {
            TRACEPARENT => self.traceparent = Some(value),
            TRACESTATE if !value.is_empty() => self.tracestate = Some(value),
            _ => {}
        }
    }
}

/// A request's header lines as the propagator reads them.
struct Extract<'a>(&'a HeaderList);

impl Extractor for Extract<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .iter()
            .filter_map(|l| std::str::from_utf8(&l.name).ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(ratio: f64) -> TracingSettings {
        TracingSettings {
            endpoint: "http://127.0.0.1:9/v1/traces".parse().unwrap(),
            headers: Vec::new(),
            timeout: Duration::from_millis(100),
            sampling: Sampling::Ratio(ratio),
            parent_based: true,
            service_name: "meridian".into(),
            resource: Vec::new(),
            queue_size: 8,
            batch_size: 8,
            export_interval: Duration::from_secs(1),
        }
    }

    #[tokio::test]
    async fn continues_the_clients_trace_and_passes_its_own_span_on() {
        let tls = UpstreamTls::system_roots().unwrap();
        // Ratio 0: only the parent's decision can sample.
        let tracing = Tracing::start(&settings(0.0), "us-east-1", &tls).unwrap();
        let mut h = HeaderList::new();
        h.append(
            TRACEPARENT,
            HeaderValue::from_static("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        );
        h.append(TRACESTATE, HeaderValue::from_static("congo=t61rcWkgMzE"));
        let cx = tracing.request_span(&mut h, Vec::new);
        assert!(!h.contains(TRACEPARENT) && !h.contains(TRACESTATE));
        let sc = cx.span().span_context().clone();
        assert_eq!(
            sc.trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert!(sc.is_sampled(), "the parent's decision is kept");
        let (attempt, out) = tracing.attempt_span(&cx, Vec::new);
        let tp = out.traceparent.unwrap();
        let tp = tp.to_str().unwrap();
        assert!(
            tp.starts_with("00-0af7651916cd43dd8448eb211c80319c-"),
            "{tp}"
        );
        assert!(tp.contains(&attempt.span_context().span_id().to_string()));
        assert!(tp.ends_with("-01"));
        assert_eq!(out.tracestate.unwrap(), "congo=t61rcWkgMzE");

        // No (or a malformed) parent: a new trace, unsampled at ratio 0, still propagated.
        let mut bad = HeaderList::new();
        bad.append(TRACEPARENT, HeaderValue::from_static("00-zz-yy-01"));
        let cx = tracing.request_span(&mut bad, Vec::new);
        let sc = cx.span().span_context().clone();
        assert!(sc.is_valid() && !sc.is_sampled());
        assert_ne!(
            sc.trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        let (_, out) = tracing.attempt_span(&cx, Vec::new);
        assert!(out.traceparent.unwrap().to_str().unwrap().ends_with("-00"));
    }
}
