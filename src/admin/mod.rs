//! The admin listener: metrics, liveness, readiness and status. It reads state, never owns it.

mod chart;
mod database;
pub mod history;
pub mod metrics;
mod page;
mod status;

use crate::body::ProxyBody;
use crate::config::{ReloadHandle, ReloadOutcome};
use crate::runtime::Runtime;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use tokio::net::TcpListener;

/// How often histogram samples are folded into their summaries when nobody scrapes.
const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// The admin HTTP server.
pub struct Admin {
    /// Bound socket (loopback by default).
    listener: TcpListener,
    /// State to read.
    runtime: Arc<Runtime>,
    /// Renders /metrics.
    metrics: PrometheusHandle,
    /// Triggers reloads (POST /reload); None when the config has no source.
    reload: Option<ReloadHandle>,
    /// The recent past, sampled by `history::HistorySampler`.
    history: Arc<history::History>,
}

/// What every admin request can see.
struct AdminState {
    runtime: Arc<Runtime>,
    metrics: PrometheusHandle,
    reload: Option<ReloadHandle>,
    rates: status::Rates,
    history: Arc<history::History>,
}

impl Admin {
    /// Wraps a bound socket.
    pub fn new(
        listener: TcpListener,
        runtime: Arc<Runtime>,
        reload: Option<ReloadHandle>,
        history: Arc<history::History>,
    ) -> Self {
        Self {
            listener,
            runtime,
            metrics: metrics::recorder(),
            reload,
            history,
        }
    }

    /// Serves until shutdown. Admin connections are not drained: they carry no client traffic.
    pub async fn run(self) {
        let shutdown = self.runtime.shutdown.clone();
        let state = Arc::new(AdminState {
            runtime: self.runtime,
            metrics: self.metrics,
            reload: self.reload,
            rates: status::Rates::default(),
            history: self.history,
        });
        // Histograms keep samples until drained; without a scraper they would grow forever.
        let mut upkeep = tokio::time::interval(UPKEEP_INTERVAL);
        loop {
            let (stream, _) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(_) => continue,
                },
                _ = upkeep.tick() => {
                    state.metrics.run_upkeep();
                    continue;
                }
                () = shutdown.cancelled() => return,
            };
            let shared = state.clone();
            let service = service_fn(move |req| {
                let state = shared.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(&state, req).await) }
            });
            let shutdown = shutdown.clone();
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

async fn handle(state: &AdminState, req: Request<Incoming>) -> Response<ProxyBody> {
    let runtime = &state.runtime;
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/") => {
            let doc = status_with_history(state);
            let mut resp = text(StatusCode::OK, page::render(&doc));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            resp
        }
        (&Method::GET, "/config") => json(StatusCode::OK, status::config_json(runtime)),
        (&Method::POST, "/reload") => {
            if !authorized(runtime, &req) {
                let mut resp = text(StatusCode::UNAUTHORIZED, "bearer token required\n");
                resp.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return resp;
            }
            let Some(reload) = &state.reload else {
                return text(
                    StatusCode::CONFLICT,
                    "this process has no config source to reload\n",
                );
            };
            match reload.reload().await {
                Some(outcome @ ReloadOutcome::Failed { .. }) => json(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    status::outcome_json(&outcome),
                ),
                Some(outcome) => json(StatusCode::OK, status::outcome_json(&outcome)),
                None => text(StatusCode::SERVICE_UNAVAILABLE, "reloader stopped\n"),
            }
        }
        (&Method::GET, "/healthz") => text(StatusCode::OK, "ok\n"),
        (&Method::GET, "/readyz") => {
            crate::proxy::readiness_response(runtime.is_ready()).into_hyper()
        }
        (&Method::GET, "/metrics") => {
            let mut resp = text(StatusCode::OK, state.metrics.render());
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            resp
        }
        (&Method::GET, "/status") => json(StatusCode::OK, status_with_history(state)),
        (_, "/" | "/healthz" | "/readyz" | "/metrics" | "/status" | "/config" | "/reload") => {
            text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// The status document with the sampled history of the last minutes.
fn status_with_history(state: &AdminState) -> serde_json::Value {
    let mut doc = status::status_json(&state.runtime, &state.rates);
    doc["history"] = state.history.json(rpo_budget_s(&state.runtime));
    doc
}

/// The RPO budget the replication-lag chart is drawn against; None without a data tier.
fn rpo_budget_s(runtime: &Runtime) -> Option<f64> {
    let snapshot = runtime.snapshot();
    snapshot
        .settings
        .database
        .as_ref()
        .map(|db| db.rpo_budget.as_secs_f64())
}

/// Mutating calls need `Authorization: Bearer <token>` when a token is configured. Digests of
/// both sides are compared in constant time, so neither content nor length leaks through timing.
fn authorized(runtime: &Runtime, req: &Request<Incoming>) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    let Some(token) = runtime.snapshot().admin_token.clone() else {
        return true;
    };
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(token.as_bytes());
    a.as_slice().ct_eq(b.as_slice()).into()
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
