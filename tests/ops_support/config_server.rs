//! A config server like the AppConfig agent: serves one TOML document with an ETag and answers
//! `If-None-Match` with 304, counting both kinds of answer.

use crate::support::{BoxBody, full};
use http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

struct State {
    /// (document, ETag); the ETag changes with every `set`.
    doc: Mutex<(String, String)>,
    /// Every request.
    requests: AtomicU64,
    /// Requests answered 304.
    not_modified: AtomicU64,
    /// `set` calls, for fresh ETags.
    generation: AtomicU64,
}

/// A running config server; dropping it stops it.
pub struct ConfigServer {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl ConfigServer {
    /// Serves `doc` on 127.0.0.1:0.
    pub async fn start(doc: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(State {
            doc: Mutex::new((doc.to_string(), "\"v0\"".to_string())),
            requests: AtomicU64::new(0),
            not_modified: AtomicU64::new(0),
            generation: AtomicU64::new(0),
        });
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, std::convert::Infallible>(answer(&state, req)) }
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, state, task }
    }

    /// The document's URL.
    pub fn url(&self) -> String {
        format!("http://{}/config.toml", self.addr)
    }

    /// Replaces the document (with a new ETag).
    pub fn set(&self, doc: &str) {
        let n = self.state.generation.fetch_add(1, Relaxed) + 1;
        *self.state.doc.lock().unwrap() = (doc.to_string(), format!("\"v{n}\""));
    }

    /// Requests so far.
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Relaxed)
    }

    /// Requests answered 304 so far.
    pub fn not_modified(&self) -> u64 {
        self.state.not_modified.load(Relaxed)
    }
}

impl Drop for ConfigServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn answer(state: &State, req: Request<Incoming>) -> Response<BoxBody> {
    state.requests.fetch_add(1, Relaxed);
    let (doc, etag) = state.doc.lock().unwrap().clone();
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes());
    let mut resp = if matches {
        state.not_modified.fetch_add(1, Relaxed);
        let mut r = Response::new(full(""));
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        Response::new(full(doc))
    };
    resp.headers_mut()
        .insert(header::ETAG, etag.parse().expect("etag"));
    resp
}
