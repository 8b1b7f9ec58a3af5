//! A test origin: one region's application on an ephemeral loopback port, with failure modes,
//! a custom-handler hook, and a record of every (non-probe) request it saw.

use super::{BoxBody, full};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;

/// The user agent Meridian's health checker sends; such requests are counted apart.
const PROBE_AGENT: &str = "meridian-health-check";

/// How the origin behaves now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Answers (default handler: 200 with the region name).
    Serving,
    /// Open connections dropped and not listening: connection refused. The port stays bound
    /// (not listening), so no other socket can take it and serving again reuses it.
    Down,
    /// Accepts and reads requests, never answers while in this mode.
    Hang,
    /// Answers every request (probes included) with this status.
    Status(u16),
}

/// One request as the origin saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Method.
    pub method: Method,
    /// Path and query.
    pub path: String,
    /// Headers as received.
    pub headers: HeaderMap,
}

/// What a custom handler returns.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Response<BoxBody>> + Send>>;
/// A custom request handler; probes never reach it (they get 200 "ok").
pub type Handler = Arc<dyn Fn(Request<Incoming>) -> HandlerFuture + Send + Sync>;

struct State {
    /// Region name, answered in the body and `x-origin-region`.
    region: String,
    /// Mode switch, read by the accept loop and each request.
    mode: watch::Sender<Mode>,
    /// Non-probe requests that arrived (counted on arrival, before any hang).
    hits: AtomicU64,
    /// Health probes that arrived.
    probes: AtomicU64,
    /// TCP connections accepted (keep-alive reuse shows as fewer connections than requests).
    connections: AtomicU64,
    /// Status answered to health probes while serving (200 unless a test says otherwise).
    probe_status: AtomicU16,
    /// Every non-probe request's head, in arrival order.
    seen: Mutex<Vec<Seen>>,
    /// Replaces the default answer when set.
    handler: Option<Handler>,
}

/// Builds a [`TestOrigin`].
pub struct OriginBuilder {
    region: String,
    handler: Option<Handler>,
    mode: Mode,
}

/// A running origin; dropping it stops it.
pub struct TestOrigin {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

// === impl OriginBuilder ===

impl OriginBuilder {
    /// Answers with a custom handler instead of the region name.
    pub fn handler<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<BoxBody>> + Send + 'static,
    {
        self.handler = Some(Arc::new(move |req| Box::pin(f(req))));
        self
    }

    /// Starts in this mode (e.g. a status) instead of serving.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Binds 127.0.0.1:0 and serves.
    pub async fn start(self) -> TestOrigin {
        let listener = reusable_socket("127.0.0.1:0".parse().unwrap())
            .listen(1024)
            .expect("origin listens");
        let addr = listener.local_addr().expect("origin addr");
        let (mode, _) = watch::channel(self.mode);
        let state = Arc::new(State {
            region: self.region,
            mode,
            hits: AtomicU64::new(0),
            probes: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            probe_status: AtomicU16::new(200),
            seen: Mutex::new(Vec::new()),
            handler: self.handler,
        });
        let task = tokio::spawn(accept_loop(listener, addr, state.clone()));
        TestOrigin { addr, state, task }
    }
}

// === impl TestOrigin ===

impl TestOrigin {
    /// One origin per region of the standard three, local (us-east-1) first.
    pub async fn three() -> [TestOrigin; 3] {
        [
            TestOrigin::new("us-east-1").start().await,
            TestOrigin::new("eu-west-1").start().await,
            TestOrigin::new("ap-southeast-1").start().await,
        ]
    }

    /// An origin for `region`, serving by default.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(region: &str) -> OriginBuilder {
        OriginBuilder {
            region: region.to_string(),
            handler: None,
            mode: Mode::Serving,
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its region name.
    pub fn region(&self) -> &str {
        &self.state.region
    }

    /// Goes down and waits until connections are refused, so "after the kill" means something.
    pub async fn kill(&self) {
        self.set_mode(Mode::Down);
        let addr = self.addr;
        super::eventually(
            std::time::Duration::from_secs(2),
            "origin refuses connections",
            || async move { tokio::net::TcpStream::connect(addr).await.is_err() },
        )
        .await;
    }

    /// Switches mode for new and open connections alike.
    pub fn set_mode(&self, mode: Mode) {
        self.state.mode.send_replace(mode);
    }

    /// Non-probe requests that arrived.
    pub fn hits(&self) -> u64 {
        self.state.hits.load(Relaxed)
    }

    /// Makes health probes fail (or pass) while requests are still answered.
    pub fn set_probe_status(&self, status: u16) {
        self.state.probe_status.store(status, Relaxed);
    }

    /// Health probes that arrived.
    pub fn probes(&self) -> u64 {
        self.state.probes.load(Relaxed)
    }

    /// TCP connections accepted so far (probes' included).
    pub fn connections(&self) -> u64 {
        self.state.connections.load(Relaxed)
    }

    /// Heads of the non-probe requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }
}

impl Drop for TestOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A socket bound to `addr` with SO_REUSEPORT, so that a second one can hold the same port
/// while the first stops listening.
fn reusable_socket(addr: SocketAddr) -> TcpSocket {
    let socket = TcpSocket::new_v4().expect("origin socket");
    socket.set_reuseaddr(true).expect("SO_REUSEADDR");
    socket.set_reuseport(true).expect("SO_REUSEPORT");
    socket.bind(addr).expect("origin binds");
    socket
}

async fn accept_loop(listener: TcpListener, addr: SocketAddr, state: Arc<State>) {
    let mut listener = Some(listener);
    let mut held = None;
    let mut mode = state.mode.subscribe();
    let mut conns = tokio::task::JoinSet::new();
    loop {
        if *mode.borrow_and_update() == Mode::Down {
            // A dead process: its open connections die first (waiting until every connection
            // task has ended, since one may be mid-poll on another worker), and only then does it
            // stop listening. So a caller that sees connections refused knows that nothing more
            // will be answered: `kill` relies on it.
            conns.shutdown().await;
            if listener.is_some() {
                held = Some(reusable_socket(addr));
                listener = None;
            }
            if mode.changed().await.is_err() {
                return;
            }
            continue;
        }
        let Some(l) = listener.as_ref() else {
            let socket = held.take().expect("a down origin holds its port");
            listener = Some(socket.listen(1024).expect("origin listens again"));
            continue;
        };
        tokio::select! {
            accepted = l.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                state.connections.fetch_add(1, Relaxed);
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                conns.spawn(async move {
                    let service = service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, std::convert::Infallible>(respond(&state, req).await) }
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .await;
                });
            }
            _ = mode.changed() => {}
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn respond(state: &State, req: Request<Incoming>) -> Response<BoxBody> {
    let probe = req
        .headers()
        .get(http::header::USER_AGENT)
        .is_some_and(|v| v == PROBE_AGENT);
    if probe {
        state.probes.fetch_add(1, Relaxed);
    } else {
        state.hits.fetch_add(1, Relaxed);
        state.seen.lock().unwrap().push(Seen {
            method: req.method().clone(),
            path: req
                .uri()
                .path_and_query()
                .map_or("/".into(), |p| p.to_string()),
            headers: req.headers().clone(),
        });
    }
    let mut mode = state.mode.subscribe();
    while *mode.borrow_and_update() == Mode::Hang {
        if mode.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
    let current = *mode.borrow();
    if let Mode::Status(code) = current {
        let received = drain(req.into_body()).await;
        return plain(state, StatusCode::from_u16(code).unwrap(), received);
    }
    if probe {
        let mut resp = Response::new(full("ok\n"));
        *resp.status_mut() = StatusCode::from_u16(state.probe_status.load(Relaxed)).unwrap();
        return resp;
    }
    if let Some(handler) = &state.handler {
        return handler(req).await;
    }
    let received = drain(req.into_body()).await;
    plain(state, StatusCode::OK, received)
}

/// Reads a body to its end without keeping it; returns its length.
pub async fn drain(mut body: Incoming) -> u64 {
    use http_body_util::BodyExt;
    let mut n = 0;
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            n += data.len() as u64;
        }
    }
    n
}

fn plain(state: &State, status: StatusCode, received: u64) -> Response<BoxBody> {
    let mut resp = Response::new(full(Bytes::from(format!("{}\n", state.region))));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        "x-origin-region",
        HeaderValue::from_str(&state.region).unwrap(),
    );
    h.insert("x-origin-received-bytes", HeaderValue::from(received));
    resp
}
