//! A small origin server that answers with its region's name, with switchable failure modes.
//!
//! Used by `meridian demo`, by `meridian origin` (the end-to-end benchmark's backend) and by the
//! tests, so every one of them exercises a real socket. Modes: serving, down (connections
//! refused: the listener is closed), hang (accepts, reads, never answers), error (503).

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How the origin behaves now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginMode {
    /// Answers 200 with the region name.
    Serving,
    /// Listener closed and open connections dropped: clients see connection refused.
    Down,
    /// Accepts connections and reads requests but never answers (a frozen process).
    Hang,
    /// Answers 503.
    Error,
}

impl std::str::FromStr for OriginMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "up" | "serving" => Ok(OriginMode::Serving),
            "down" => Ok(OriginMode::Down),
            "hang" => Ok(OriginMode::Hang),
            "error" => Ok(OriginMode::Error),
            other => Err(format!("unknown mode {other:?} (up, down, hang, error)")),
        }
    }
}

/// A running origin; dropping it stops it.
pub struct Origin {
    /// Bound address (stays reserved while down: we re-bind the same port on `up`).
    addr: SocketAddr,
    /// Mode switch read by the accept loop and every connection.
    mode: watch::Sender<OriginMode>,
    /// Requests answered (any status).
    served: Arc<AtomicU64>,
    /// The accept loop.
    task: tokio::task::JoinHandle<()>,
}

impl Origin {
    /// Starts an origin for `region` on `addr` (port 0 for any).
    pub async fn start(region: &str, addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (mode, _) = watch::channel(OriginMode::Serving);
        let served = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(accept_loop(
            Some(listener),
            addr,
            Arc::from(region),
            mode.clone(),
            served.clone(),
        ));
        Ok(Self {
            addr,
            mode,
            served,
            task,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Switches mode; takes effect for new connections and open ones alike.
    pub fn set_mode(&self, mode: OriginMode) {
        self.mode.send_replace(mode);
    }

    /// Current mode.
    pub fn mode(&self) -> OriginMode {
        *self.mode.borrow()
    }

    /// Requests answered so far.
    pub fn served(&self) -> u64 {
        self.served.load(Relaxed)
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(
    mut listener: Option<TcpListener>,
    addr: SocketAddr,
    region: Arc<str>,
    mode: watch::Sender<OriginMode>,
    served: Arc<AtomicU64>,
) {
    let mut mode_rx = mode.subscribe();
    loop {
        let current = *mode_rx.borrow_and_update();
        if current == OriginMode::Down {
            listener = None;
            if mode_rx.changed().await.is_err() {
                return;
            }
            continue;
        }
        let Some(l) = listener.as_ref() else {
            match TcpListener::bind(addr).await {
                Ok(l) => listener = Some(l),
                Err(e) => {
                    tracing::warn!(%addr, error = %e, "origin could not re-bind");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
            continue;
        };
        tokio::select! {
            accepted = l.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve_conn(stream, region.clone(), mode.subscribe(), served.clone()));
            }
            _ = mode_rx.changed() => {}
        }
    }
}

async fn serve_conn(
    stream: tokio::net::TcpStream,
    region: Arc<str>,
    mut mode: watch::Receiver<OriginMode>,
    served: Arc<AtomicU64>,
) {
    let mode_for_requests = mode.clone();
    let service = service_fn(move |req| {
        let region = region.clone();
        let mode = mode_for_requests.clone();
        let served = served.clone();
        async move { respond(req, &region, mode, &served).await }
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    tokio::pin!(conn);
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            changed = mode.changed() => {
                // Going down kills open connections too, as a dead process would.
                if changed.is_err() || *mode.borrow() == OriginMode::Down {
                    return;
                }
            }
        }
    }
}

async fn respond(
    req: Request<Incoming>,
    region: &str,
    mut mode: watch::Receiver<OriginMode>,
    served: &AtomicU64,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    if *mode.borrow() == OriginMode::Hang {
        // Never answer while hanging; answer normally if resumed.
        while *mode.borrow_and_update() == OriginMode::Hang {
            if mode.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
    let (parts, body) = req.into_parts();
    // Read the whole body (counts it) so POST/PUT behave like a real app.
    let received = body.collect().await?.to_bytes().len();
    served.fetch_add(1, Relaxed);
    let status = if *mode.borrow() == OriginMode::Error {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let text = if parts.uri.path() == "/healthz" {
        "ok\n".to_string()
    } else {
        format!("{region}\n")
    };
    let mut resp = Response::new(Full::new(Bytes::from(text)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(region) {
        h.insert("x-origin-region", v);
    }
    h.insert("x-origin-received-bytes", HeaderValue::from(received));
    Ok(resp)
}
