//! The main listener: accept loop, connection limit, HTTP/1.1 + HTTP/2 server, graceful close.

use crate::proxy::Proxy;
use crate::runtime::Runtime;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

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
}

impl Listener {
    /// Wraps a bound socket.
    pub fn new(
        listener: TcpListener,
        runtime: Arc<Runtime>,
        stop_accepting: CancellationToken,
    ) -> Self {
        Self {
            listener,
            runtime,
            stop_accepting,
        }
    }

    /// Accepts until `stop_accepting`, then asks every connection to close after its current
    /// request (HTTP/1 `Connection: close`, HTTP/2 GOAWAY) and waits for them up to `grace`.
    pub async fn run(self, grace: impl std::future::Future<Output = ()>) {
        let proxy = Proxy::new(self.runtime.clone(), false);
        let graceful = GracefulShutdown::new();
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
            let builder = server_builder(&snapshot.settings);
            let proxy = proxy.clone();
            let service = service_fn(move |req| {
                let proxy = proxy.clone();
                async move { Ok::<_, std::convert::Infallible>(proxy.handle(req, peer).await) }
            });
            let conn = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned();
            let conn = graceful.watch(conn);
            let runtime = self.runtime.clone();
            tokio::spawn(async move {
                metrics::gauge!("meridian_connections").increment(1.0);
                if let Err(e) = conn.await {
                    tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
                }
                metrics::gauge!("meridian_connections").decrement(1.0);
                runtime.connections.fetch_sub(1, Relaxed);
            });
        }
        drop(self.listener);
        tokio::select! {
            () = graceful.shutdown() => tracing::info!("all connections closed"),
            () = grace => tracing::warn!("grace period over; closing remaining connections"),
        }
    }
}

/// HTTP/1.1 + HTTP/2 server settings from the limits and timeouts.
pub fn server_builder(settings: &crate::config::Settings) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.timeouts.header_read)
        .max_buf_size(settings.limits.max_header_bytes.max(8192))
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(settings.limits.max_header_bytes as u32)
        .max_concurrent_streams(256)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(10));
    builder
}
