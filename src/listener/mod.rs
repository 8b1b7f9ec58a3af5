//! The main listener: accept loop, connection limit, optional TLS, HTTP/1.1 + HTTP/2 server,
//! graceful close.
//!
//! Each connection starts on Meridian's own HTTP/1.1 loop ([`h1`]), which serves requests
//! without a body; the first request it does not serve hands the connection to hyper's server
//! (HTTP/1.1 with bodies and upgrades, HTTP/2) for the rest of its life. Every client socket is
//! wrapped in a [`SendTimeout`], so a client that stops reading cannot hold it forever.

mod h1;
mod send_timeout;

use send_timeout::SendTimeout;

use crate::message::ClientRequest;
use crate::proxy::{Peer, Proxy};
use crate::runtime::Runtime;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Sent (then the socket is closed) to a connection over `limits.max_connections`.
const OVERLOADED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-type: application/json\r\ncontent-length: 24\r\nconnection: close\r\n\r\n{\"error\":\"overloaded\"}\r\n";

/// Serves the proxy on a bound listener.
pub struct Listener {
    /// Bound socket.
    listener: TcpListener,
    /// Shared state (limits, snapshot).
    runtime: Arc<Runtime>,
    /// Stops accepting when cancelled; connections then close gracefully.
    stop_accepting: CancellationToken,
    /// TLS termination, when `[server.tls]` is configured.
    tls: Option<TlsAcceptor>,
}

impl Listener {
    /// Wraps a bound socket.
    pub fn new(
        listener: TcpListener,
        runtime: Arc<Runtime>,
        stop_accepting: CancellationToken,
        tls: Option<TlsAcceptor>,
    ) -> Self {
        Self {
            listener,
            runtime,
            stop_accepting,
            tls,
        }
    }

    /// Accepts until `stop_accepting`, then asks every connection to close after its current
    /// request (HTTP/1 `Connection: close`, HTTP/2 GOAWAY) and waits for them up to `grace`.
    pub async fn run(self, grace: impl std::future::Future<Output = ()>) {
        let proxy = Proxy::new(self.runtime.clone(), self.tls.is_some());
        let connections = TaskTracker::new();
        // Cancelled when accepting stops: idle connections close, busy ones after their request.
        let closing = CancellationToken::new();
        loop {
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // EMFILE and friends: back off briefly instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = self.stop_accepting.cancelled() => break,
            };
            let snapshot = self.runtime.snapshot();
            let limits = &snapshot.settings.limits;
            let open = self.runtime.connections.fetch_add(1, Relaxed) + 1;
            if open > limits.max_connections {
                self.runtime.connections.fetch_sub(1, Relaxed);
                metrics::counter!("meridian_rejected_total", "reason" => "max_connections")
                    .increment(1);
                tokio::spawn(async move {
                    let mut stream = stream;
                    let _ =
                        tokio::time::timeout(Duration::from_secs(1), stream.write_all(OVERLOADED))
                            .await;
                });
                continue;
            }
            let _ = stream.set_nodelay(true);
            // Below TLS, so the send timeout covers every protocol and upgraded connections.
            let stream = SendTimeout::new(stream, snapshot.settings.timeouts.send);
            let conn = Connection {
                limits: h1::Limits {
                    header_read: snapshot.settings.timeouts.header_read,
                    max_head: snapshot.settings.limits.max_header_bytes,
                },
                proxy: proxy.clone(),
                peer,
                closing: closing.clone(),
                runtime: self.runtime.clone(),
            };
            let tls = self.tls.clone();
            connections.spawn(async move {
                metrics::gauge!("meridian_connections").increment(1.0);
                match tls {
                    None => conn.serve(stream).await,
                    Some(acceptor) => {
                        // A client that never finishes its handshake is cut off like a slow header.
                        match tokio::time::timeout(conn.limits.header_read, acceptor.accept(stream))
                            .await
                        {
                            Ok(Ok(tls_stream)) => conn.serve(tls_stream).await,
                            Ok(Err(e)) => {
                                tracing::debug!(peer = %conn.peer, error = %e, "TLS handshake failed");
                                conn.finish();
                            }
                            Err(_) => conn.finish(),
                        }
                    }
                }
                metrics::gauge!("meridian_connections").decrement(1.0);
            });
        }
        drop(self.listener);
        closing.cancel();
        connections.close();
        tokio::select! {
            () = connections.wait() => tracing::info!("all connections closed"),
            () = grace => tracing::warn!("grace period over; closing remaining connections"),
        }
    }
}

/// One accepted connection, before or after TLS.
struct Connection {
    /// Header-read timeout and head size, from the snapshot at accept time.
    limits: h1::Limits,
    /// The request handler.
    proxy: Proxy,
    /// Client address.
    peer: SocketAddr,
    /// Cancelled when the listener shuts down.
    closing: CancellationToken,
    /// For the connection count.
    runtime: Arc<Runtime>,
}

impl Connection {
    async fn serve<I>(self, mut io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let peer = Peer::new(self.peer);
        let ended = h1::serve(&mut io, &self.proxy, &peer, self.limits, &self.closing).await;
        if let h1::Ended::HandOff(read) = ended {
            self.serve_with_hyper(Prefixed { read, io }, peer).await;
        }
        self.runtime.connections.fetch_sub(1, Relaxed);
    }

    /// hyper's server for the rest of the connection, from the bytes already read.
    async fn serve_with_hyper<I>(&self, io: Prefixed<I>, peer: Peer)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let proxy = self.proxy.clone();
        let service = service_fn(move |req| {
            let proxy = proxy.clone();
            let peer = peer.clone();
            async move {
                let req = ClientRequest::from_hyper(req.map(crate::body::ClientBody::Streaming));
                Ok::<_, std::convert::Infallible>(proxy.handle(req, &peer).await.into_hyper())
            }
        });
        let builder = server_builder(self.limits.header_read, self.limits.max_head);
        let mut conn = pin!(builder.serve_connection_with_upgrades(TokioIo::new(io), service));
        let served = tokio::select! {
            served = conn.as_mut() => served,
            () = self.closing.cancelled() => {
                // HTTP/1: finish the request in flight, then close; HTTP/2: GOAWAY.
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(e) = served {
            tracing::debug!(peer = %self.peer, error = %e, "connection ended with an error");
        }
    }

    fn finish(self) {
        self.runtime.connections.fetch_sub(1, Relaxed);
    }
}

/// A connection whose first reads return the bytes Meridian's own loop already read from it.
struct Prefixed<I> {
    /// Read, not yet consumed.
    read: bytes::BytesMut,
    /// The connection.
    io: I,
}

impl<I: AsyncRead + Unpin> AsyncRead for Prefixed<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.read.is_empty() {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        }
        let n = this.read.len().min(buf.remaining());
        buf.put_slice(&this.read.split_to(n));
        Poll::Ready(Ok(()))
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Prefixed<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// HTTP/1.1 + HTTP/2 server settings from the limits and timeouts.
pub fn server_builder(
    header_read: Duration,
    max_header_bytes: usize,
) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read)
        .max_buf_size(max_header_bytes.max(8192))
        // Flatten head and body into one buffer and one write(2): for API-sized responses this
        // is cheaper than a vectored write (callgrind -1.6 % instructions per request); large
        // bodies pay one extra user-space copy per byte, bounded by max_buf_size.
        .writev(false)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(max_header_bytes as u32)
        .max_concurrent_streams(256)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(10));
    builder
}
