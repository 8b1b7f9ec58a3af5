//! An OTLP/HTTP trace receiver: a real HTTP server on loopback that decodes each
//! `ExportTraceServiceRequest` (protobuf, the opentelemetry-proto types) and keeps the spans.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message as _;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// One received span, flattened.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// Hex trace id.
    pub trace_id: String,
    /// Hex span id.
    pub span_id: String,
    /// Hex parent span id; empty for a root.
    pub parent_span_id: String,
    /// Span name.
    pub name: String,
    /// Span attributes as text (arrays joined with ',').
    pub attributes: BTreeMap<String, String>,
    /// Resource attributes of the batch it came in.
    pub resource: BTreeMap<String, String>,
}

impl ReceivedSpan {
    /// An attribute, or "" when absent.
    pub fn attr(&self, key: &str) -> &str {
        self.attributes.get(key).map_or("", String::as_str)
    }
}

/// A running receiver; dropping it stops accepting.
pub struct OtlpReceiver {
    addr: SocketAddr,
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
    requests: Arc<Mutex<Vec<http::HeaderMap>>>,
    task: tokio::task::JoinHandle<()>,
}

impl OtlpReceiver {
    /// Binds 127.0.0.1:0 and answers every POST with 200 and an empty export response.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let spans = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (s, r) = (spans.clone(), requests.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (s, r) = (s.clone(), r.clone());
                let service = service_fn(move |req: Request<Incoming>| {
                    let (s, r) = (s.clone(), r.clone());
                    async move { Ok::<_, std::convert::Infallible>(receive(req, &s, &r).await) }
                });
                tokio::spawn(
                    hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .into_owned(),
                );
            }
        });
        Self {
            addr,
            spans,
            requests,
            task,
        }
    }

    /// The traces URL to configure.
    pub fn endpoint(&self) -> String {
        format!("http://{}/v1/traces", self.addr)
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().unwrap().clone()
    }

    /// The heads of the export requests received so far.
    pub fn request_headers(&self) -> Vec<http::HeaderMap> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    req: Request<Incoming>,
    spans: &Mutex<Vec<ReceivedSpan>>,
    requests: &Mutex<Vec<http::HeaderMap>>,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let reply = |status: StatusCode, body: Vec<u8>| {
        let mut resp = Response::new(Full::new(Bytes::from(body)));
        *resp.status_mut() = status;
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/x-protobuf"),
        );
        resp
    };
    if parts.uri.path() != "/v1/traces"
        || parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .map(|v| v.as_bytes())
            != Some(b"application/x-protobuf")
    {
        return reply(StatusCode::NOT_FOUND, Vec::new());
    }
    requests.lock().unwrap().push(parts.headers);
    let Ok(bytes) = body.collect().await.map(|b| b.to_bytes()) else {
        return reply(StatusCode::BAD_REQUEST, Vec::new());
    };
    let Ok(export) = ExportTraceServiceRequest::decode(bytes) else {
        return reply(StatusCode::BAD_REQUEST, Vec::new());
    };
    let mut received = Vec::new();
    for rs in export.resource_spans {
        let resource = rs
            .resource
            .map(|r| flatten(&r.attributes))
            .unwrap_or_default();
        for ss in rs.scope_spans {
            for span in ss.spans {
                received.push(ReceivedSpan {
                    trace_id: hex::encode(&span.trace_id),
                    span_id: hex::encode(&span.span_id),
                    parent_span_id: hex::encode(&span.parent_span_id),
                    name: span.name,
                    attributes: flatten(&span.attributes),
                    resource: resource.clone(),
                });
            }
        }
    }
    spans.lock().unwrap().extend(received);
    reply(
        StatusCode::OK,
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
}

fn flatten(attributes: &[KeyValue]) -> BTreeMap<String, String> {
    attributes
        .iter()
        .map(|kv| {
            (
                kv.key.clone(),
                kv.value.as_ref().map_or(String::new(), text),
            )
        })
        .collect()
}

fn text(v: &AnyValue) -> String {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::ArrayValue(a)) => {
            a.values.iter().map(text).collect::<Vec<_>>().join(",")
        }
        _ => String::new(),
    }
}
