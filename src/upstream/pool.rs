//! Keep-alive connections to one endpoint address: a LIFO free list, no keyed lookup.
//!
//! Each [`Endpoint`] owns its [`Pool`], so checking a connection out is one uncontended lock
//! and a `Vec::pop`. hyper-util's legacy pool, used before, hashed a `(scheme, authority)` key
//! with SipHash on every checkout and return and spawned a task per request to put the
//! connection back; that was ~10k of the ~59k instructions a proxied request cost.
//!
//! An HTTP/1 connection goes back to the free list when the response body has been read to its
//! end (see [`UpstreamBody`]); a body dropped early takes its connection with it, which hyper
//! then closes. HTTP/2 keeps one shared connection per endpoint.

use super::Endpoint;
use super::connector::RegionConnector;
use super::h1::{self, H1Body, H1Conn};
use super::replay::ReplayBody;
use super::{UpstreamRequest, UpstreamResponse};
use crate::header_list::HeaderList;
use bytes::Bytes;
use futures_util::future::Either;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Idle connections are closed before the ALB's 60 s idle timeout can cut them mid-request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(50);
/// Most idle HTTP/1 connections kept per endpoint address.
const MAX_IDLE: usize = 1024;

type H1Sender = http1::SendRequest<ReplayBody>;
type H2Sender = http2::SendRequest<ReplayBody>;

/// Why an exchange failed, in the only terms the failover logic needs.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// TCP, TLS or protocol handshake failed, or the connection closed before the request was
    /// written: nothing reached the origin.
    #[error("connect: {0}")]
    Connect(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The exchange failed after the request was (possibly) written.
    #[error("exchange: {0}")]
    Exchange(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl SendError {
    /// True when nothing was sent, so any request may be retried elsewhere.
    pub fn is_connect(&self) -> bool {
        matches!(self, SendError::Connect(_))
    }
}

/// An HTTP/1 connection a free list can hold: it can tell whether the origin closed it.
trait Reusable {
    /// Still open (cheap: no system call in the usual case).
    fn is_open(&mut self) -> bool;
}

/// hyper's request half; hyper's connection task notices the close.
impl Reusable for H1Sender {
    fn is_open(&mut self) -> bool {
        !self.is_closed()
    }
}

/// A connection the request task drives (see `h1`).
impl Reusable for H1Conn {
    fn is_open(&mut self) -> bool {
        H1Conn::is_open(self)
    }
}

/// A connection waiting for its next request.
struct Idle<C> {
    /// The connector (TLS and protocol settings) that opened it; a reload that changes them
    /// retires the connection.
    connector: u64,
    /// When it went idle.
    since: Instant,
    /// The connection.
    conn: C,
}

impl<C: Reusable> Idle<C> {
    /// Still open, and not idle long enough for a load balancer to cut it mid-request.
    fn is_fresh(&mut self) -> bool {
        self.since.elapsed() < IDLE_TIMEOUT && self.conn.is_open()
    }
}

/// Idle connections of one kind, most recently used last (LIFO keeps the warmest in use and
/// lets the rest age out).
struct FreeList<C>(Mutex<Vec<Idle<C>>>);

impl<C> Default for FreeList<C> {
    fn default() -> Self {
        FreeList(Mutex::new(Vec::new()))
    }
}

impl<C: Reusable> FreeList<C> {
    fn lock(&self) -> MutexGuard<'_, Vec<Idle<C>>> {
        // Nothing panics while holding these locks; a poisoned list is still a valid list.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The most recently used fresh connection opened by `connector`, dropping (closing) stale
    /// ones on the way.
    fn checkout(&self, connector: u64) -> Option<C> {
        let mut idle = self.lock();
        while let Some(mut entry) = idle.pop() {
            if entry.connector == connector && entry.is_fresh() {
                return Some(entry.conn);
            }
        }
        None
    }

    /// Takes back a connection that is free for another request.
    fn put(&self, connector: u64, conn: C) {
        let mut idle = self.lock();
        if idle.len() < MAX_IDLE {
            idle.push(Idle {
                connector,
                since: Instant::now(),
                conn,
            });
        }
    }

    fn evict_expired(&self) {
        self.lock().retain_mut(Idle::is_fresh);
    }

    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// The connections of one endpoint address.
#[derive(Default)]
pub struct Pool {
    /// Idle HTTP/1 connections that carry requests without a body (see `h1`).
    streams: FreeList<H1Conn>,
    /// Idle hyper HTTP/1 connections (requests with a body, upgrades).
    idle: FreeList<H1Sender>,
    /// The shared HTTP/2 connection and the connector that opened it.
    h2: Mutex<Option<(u64, H2Sender)>>,
    /// Held while an HTTP/2 connection is being opened, so a burst of requests waits for one
    /// connection instead of each opening its own.
    h2_connecting: tokio::sync::Mutex<()>,
    /// Failed HTTP/2 connection attempts, so a request that waited on `h2_connecting` can tell
    /// that the attempt it waited for failed.
    h2_failures: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("idle", &self.idle_count())
            .finish()
    }
}

// === impl Pool ===

impl Pool {
    /// Takes back a connection whose response ended and which the origin keeps alive.
    pub(super) fn put_stream(&self, connector: u64, conn: H1Conn) {
        self.streams.put(connector, conn);
    }

    fn h2(&self) -> MutexGuard<'_, Option<(u64, H2Sender)>> {
        self.h2.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn checkout_h2(&self, connector: u64) -> Option<H2Sender> {
        let mut slot = self.h2();
        match &*slot {
            Some((id, sender)) if *id == connector && !sender.is_closed() => Some(sender.clone()),
            Some(_) => {
                *slot = None;
                None
            }
            None => None,
        }
    }

    /// Closes connections idle for longer than [`IDLE_TIMEOUT`] or already closed by the peer.
    /// Called on every health probe, so an endpoint nobody sends to does not hold sockets open.
    pub fn evict_expired(&self) {
        self.idle.evict_expired();
        self.streams.evict_expired();
        let mut slot = self.h2();
        if slot.as_ref().is_some_and(|(_, s)| s.is_closed()) {
            *slot = None;
        }
    }

    /// Idle HTTP/1 connections, of both kinds.
    pub fn idle_count(&self) -> usize {
        self.idle.len() + self.streams.len()
    }
}

/// Sends `req` to `endpoint` over a pooled connection, or a new one. The request's URI must be
/// origin-form for HTTP/1 and absolute for HTTP/2 (see `Region::request_uri`).
pub fn send<'a>(
    connector: &'a RegionConnector,
    endpoint: &'a Arc<Endpoint>,
    shared: &'a HeaderList,
    req: UpstreamRequest,
) -> impl Future<Output = Result<UpstreamResponse, SendError>> + 'a {
    if !connector.h2
        && req.body.is_end_stream()
        && req.method != http::Method::CONNECT
        && !shared.contains("upgrade")
    {
        Either::Left(send_h1(connector, endpoint, shared, req))
    } else {
        // Boxed: its state (hyper's send futures, copies of the request) is large, and unboxed
        // it would be part of, and copied with, every attempt's future, bodyless GETs included.
        Either::Right(Box::pin(async move {
            send_hyper(connector, endpoint, merged(shared, req))
                .await
                .map(UpstreamResponse::from_hyper)
        }))
    }
}

/// Requests with a body, upgrades and HTTP/2, on hyper's client.
async fn send_hyper(
    connector: &RegionConnector,
    endpoint: &Arc<Endpoint>,
    req: Request<ReplayBody>,
) -> Result<Response<UpstreamBody>, SendError> {
    if connector.h2 {
        return send_h2(connector, endpoint, req).await;
    }
    let mut req = req;
    while let Some(mut sender) = endpoint.pool.idle.checkout(connector.id) {
        // Only ready connections are pooled (see `UpstreamBody::release`); one that is not ready
        // now is closing, and waiting on it could stall this request, so it is dropped.
        if !sender.is_ready() {
            continue;
        }
        match sender.try_send_request(req).await {
            Ok(resp) => return Ok(lease(resp, endpoint, connector.id, sender)),
            Err(mut e) => match e.take_message() {
                // The connection closed before the request was written: try the next one.
                Some(unsent) => req = unsent,
                None => return Err(SendError::Exchange(Box::new(e.into_error()))),
            },
        }
    }
    // Boxed: opening a connection (TCP, TLS, handshake) is rare but its state is large, and
    // unboxed it would be part of, and copied with, every request's future.
    let mut sender = Box::pin(connect_h1(connector, endpoint)).await?;
    match sender.try_send_request(req).await {
        Ok(resp) => Ok(lease(resp, endpoint, connector.id, sender)),
        Err(e) => Err(classify(e)),
    }
}

/// A request for hyper's client, which owns its request: the `shared` headers, then the
/// attempt's own in their place.
fn merged(shared: &HeaderList, req: UpstreamRequest) -> Request<ReplayBody> {
    let mut out = Request::new(req.body);
    *out.method_mut() = req.method;
    *out.uri_mut() = req.uri;
    let mut headers = shared.to_map();
    // `extend` with a whole map replaces every value of each name it brings.
    headers.extend(req.headers.to_map());
    *out.headers_mut() = headers;
    out
}

/// A request without a body, over a connection this task drives (see `h1`).
async fn send_h1(
    connector: &RegionConnector,
    endpoint: &Arc<Endpoint>,
    shared: &HeaderList,
    req: UpstreamRequest,
) -> Result<UpstreamResponse, SendError> {
    // One resend at most: an origin that drops every connection this request arrives on is
    // failing, not racing, and must not be sent the request once per pooled connection.
    let mut resent = false;
    while let Some(conn) = endpoint.pool.streams.checkout(connector.id) {
        match h1::exchange(conn, shared, &req, endpoint, connector.id).await {
            Ok(resp) => return Ok(resp),
            // The origin closed the idle connection before the request reached it: try the
            // next one.
            Err(h1::Failed::Unsent(_)) => continue,
            // It closed the idle connection as the request arrived (the keep-alive race), so it
            // most likely never read it. Like Go's net/http, resend an idempotent request on
            // the next connection rather than fail over a region for a routine close.
            Err(h1::Failed::Sent(h1::H1Error::Closed)) if !resent && req.method.is_idempotent() => {
                resent = true;
            }
            Err(failed) => return Err(failed.into()),
        }
    }
    let conn = Box::pin(connector.connect(endpoint.addr))
        .await
        .map_err(|e| SendError::Connect(Box::new(e)))?;
    Ok(h1::exchange(H1Conn::new(conn), shared, &req, endpoint, connector.id).await?)
}

/// A request hyper hands back was never written (as good as a connect failure); one it kept may
/// have reached the origin.
fn classify<T>(e: hyper::client::conn::TrySendError<T>) -> SendError {
    if e.message().is_some() {
        SendError::Connect(Box::new(e.into_error()))
    } else {
        SendError::Exchange(Box::new(e.into_error()))
    }
}

async fn send_h2(
    connector: &RegionConnector,
    endpoint: &Arc<Endpoint>,
    req: Request<ReplayBody>,
) -> Result<Response<UpstreamBody>, SendError> {
    let mut sender = match endpoint.pool.checkout_h2(connector.id) {
        Some(sender) => sender,
        None => {
            let pool = &endpoint.pool;
            let seen = pool.h2_failures.load(Relaxed);
            let _connecting = pool.h2_connecting.lock().await;
            // Whoever held the lock before us may have opened it already.
            match pool.checkout_h2(connector.id) {
                Some(sender) => sender,
                // ... or failed to: fail fast like it did (nothing was sent), instead of queueing
                // one connect timeout after another behind a dead endpoint.
                None if pool.h2_failures.load(Relaxed) != seen => {
                    return Err(SendError::Connect(
                        "a concurrent HTTP/2 connect to this endpoint failed".into(),
                    ));
                }
                None => {
                    let sender = Box::pin(connect_h2(connector, endpoint))
                        .await
                        .inspect_err(|_| {
                            pool.h2_failures.fetch_add(1, Relaxed);
                        })?;
                    *pool.h2() = Some((connector.id, sender.clone()));
                    sender
                }
            }
        }
    };
    match sender.try_send_request(req).await {
        Ok(resp) => Ok(resp.map(|inner| UpstreamBody::Hyper(HyperBody { inner, lease: None }))),
        Err(e) => Err(classify(e)),
    }
}

/// TCP (and TLS) to the endpoint's address; a failure here means nothing was sent.
async fn open(
    connector: &RegionConnector,
    endpoint: &Endpoint,
) -> Result<TokioIo<super::connector::UpstreamStream>, SendError> {
    connector
        .connect(endpoint.addr)
        .await
        .map(TokioIo::new)
        .map_err(|e| SendError::Connect(Box::new(e)))
}

async fn connect_h1(
    connector: &RegionConnector,
    endpoint: &Endpoint,
) -> Result<H1Sender, SendError> {
    let (sender, conn) = http1::Builder::new()
        // One buffer, one write(2), as on the listener side (see `server_builder`).
        .writev(false)
        .handshake(open(connector, endpoint).await?)
        .await
        .map_err(|e| SendError::Connect(Box::new(e)))?;
    let label = endpoint.label.clone();
    tokio::spawn(async move {
        // Upgrades (WebSocket) hand the socket to the tunnel once the 101 arrives.
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(endpoint = %label, error = %e, "upstream connection ended");
        }
    });
    Ok(sender)
}

async fn connect_h2(
    connector: &RegionConnector,
    endpoint: &Endpoint,
) -> Result<H2Sender, SendError> {
    let io = open(connector, endpoint).await?;
    let (sender, conn) = http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .keep_alive_interval(Duration::from_secs(20))
        .keep_alive_timeout(Duration::from_secs(10))
        .handshake(io)
        .await
        .map_err(|e| SendError::Connect(Box::new(e)))?;
    let label = endpoint.label.clone();
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(endpoint = %label, error = %e, "upstream h2 connection ended");
        }
    });
    Ok(sender)
}

fn lease(
    resp: Response<Incoming>,
    endpoint: &Arc<Endpoint>,
    connector: u64,
    sender: H1Sender,
) -> Response<UpstreamBody> {
    let (parts, inner) = resp.into_parts();
    let reusable = parts.status != http::StatusCode::SWITCHING_PROTOCOLS;
    let mut body = HyperBody {
        inner,
        lease: reusable.then(|| Lease {
            endpoint: endpoint.clone(),
            connector,
            sender,
        }),
    };
    if body.inner.is_end_stream() {
        body.release();
    }
    Response::from_parts(parts, UpstreamBody::Hyper(body))
}

/// An HTTP/1 connection on loan to one response body.
struct Lease {
    /// Whose pool it returns to.
    endpoint: Arc<Endpoint>,
    /// The connector that opened it.
    connector: u64,
    /// The request half of the connection.
    sender: H1Sender,
}

/// A body read error, whichever client read it.
pub type BodyReadError = Box<dyn std::error::Error + Send + Sync>;

/// An origin's response body. An HTTP/1 connection returns to its pool when the body ends.
pub enum UpstreamBody {
    /// Read by hyper (HTTP/2, requests with a body, upgrades).
    Hyper(HyperBody),
    /// Read off a connection the request task drives (see `h1`).
    H1(Box<H1Body>),
    /// Already read whole; its connection is back in the pool.
    Full(Option<Bytes>),
}

/// A response body as hyper reads it, holding its HTTP/1 connection until it ends.
pub struct HyperBody {
    /// The body as hyper reads it.
    inner: Incoming,
    /// Set while the body is being read over a pooled HTTP/1 connection.
    lease: Option<Lease>,
}

impl std::fmt::Debug for UpstreamBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamBody::Hyper(b) => f
                .debug_struct("HyperBody")
                .field("leased", &b.lease.is_some())
                .finish(),
            UpstreamBody::H1(b) => b.fmt(f),
            UpstreamBody::Full(b) => f
                .debug_tuple("Full")
                .field(&b.as_ref().map(Bytes::len))
                .finish(),
        }
    }
}

impl HyperBody {
    fn release(&mut self) {
        let Some(Lease {
            endpoint,
            connector,
            mut sender,
        }) = self.lease.take()
        else {
            return;
        };
        if sender.is_ready() {
            // The usual case: the connection task finished the exchange before handing over the
            // body's last frame.
            endpoint.pool.idle.put(connector, sender);
            return;
        }
        // The response is complete but the connection is still busy, e.g. still uploading a
        // request body the origin answered early. It rejoins the pool when it is free, so no
        // request ever waits behind another request's upload.
        tokio::spawn(async move {
            if let Ok(Ok(())) = tokio::time::timeout(IDLE_TIMEOUT, sender.ready()).await {
                endpoint.pool.idle.put(connector, sender);
            }
        });
    }

    fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.release(),
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => self.release(),
            // The connection is broken; dropping the sender lets hyper close it.
            Poll::Ready(Some(Err(_))) => self.lease = None,
            _ => {}
        }
        polled
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = BodyReadError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyReadError>>> {
        match self.get_mut() {
            UpstreamBody::Hyper(b) => b.poll_frame(cx).map_err(Into::into),
            UpstreamBody::H1(b) => b.poll_frame(cx).map_err(Into::into),
            UpstreamBody::Full(b) => Poll::Ready(b.take().map(|d| Ok(Frame::data(d)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            UpstreamBody::Hyper(b) => b.inner.is_end_stream(),
            UpstreamBody::H1(b) => b.is_end_stream(),
            UpstreamBody::Full(b) => b.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            UpstreamBody::Hyper(b) => b.inner.size_hint(),
            UpstreamBody::H1(b) => b.size_hint(),
            UpstreamBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |d| d.len() as u64)),
        }
    }
}
