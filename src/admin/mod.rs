//! The admin listener: metrics, liveness, readiness and status. It reads state, never owns it.

pub mod metrics;
mod status;

use crate::body::ProxyBody;
use crate::runtime::Runtime;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use tokio::net::TcpListener;

/// The admin HTTP server.
pub struct Admin {
    /// Bound socket (loopback by default).
    listener: TcpListener,
    /// State to read.
    runtime: Arc<Runtime>,
    /// Renders /metrics.
    metrics: PrometheusHandle,
}

impl Admin {
    /// Wraps a bound socket.
    pub fn new(listener: TcpListener, runtime: Arc<Runtime>) -> Self {
        Self {
            listener,
            runtime,
            metrics: metrics::recorder(),
        }
    }

    /// Serves until shutdown. Admin connections are not drained: they carry no client traffic.
    pub async fn run(self) {
        let this = Arc::new((self.runtime, self.metrics));
        loop {
            let (stream, _) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(_) => continue,
                },
                () = this.0.shutdown.cancelled() => return,
            };
            let shared = this.clone();
            let service = service_fn(move |req| {
                let this = shared.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(&this.0, &this.1, req).await) }
            });
            let shutdown = this.0.shutdown.clone();
            tokio::spawn(async move {
                let builder = auto::Builder::new(TokioExecutor::new());
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                tokio::select! {
                    _ = conn => {}
                    () = shutdown.cancelled() => {}
                }
            });
        }
    }
}

async fn handle(
    runtime: &Runtime,
    metrics: &PrometheusHandle,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/healthz") => text(StatusCode::OK, "ok\n"),
        (&Method::GET, "/readyz") => crate::proxy::readiness_response(runtime.is_ready()),
        (&Method::GET, "/metrics") => {
            let mut resp = text(StatusCode::OK, metrics.render());
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            resp
        }
        (&Method::GET, "/status") => json(StatusCode::OK, status::status_json(runtime)),
        (_, "/healthz" | "/readyz" | "/metrics" | "/status") => {
            text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

fn text(status: StatusCode, body: impl Into<bytes::Bytes>) -> Response<ProxyBody> {
    let mut resp = Response::new(ProxyBody::local(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

fn json(status: StatusCode, value: serde_json::Value) -> Response<ProxyBody> {
    let mut resp = Response::new(ProxyBody::local(value.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
