//! Opens one upstream connection: TCP with a connect timeout, then TLS with the region's SNI name.
//!
//! The pool hands us an already-resolved socket address; the host name for SNI and certificate
//! checks comes from the region's endpoint spec.

use rustls::pki_types::ServerName;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// TLS settings for one region's connections.
#[derive(Clone)]
pub struct TlsTarget {
    /// Shared rustls client config (roots, ALPN, optional client cert).
    pub config: Arc<rustls::ClientConfig>,
    /// Name sent in SNI and checked against the certificate.
    pub server_name: ServerName<'static>,
}

/// Opens connections for one region's endpoints: TCP, then TLS when the endpoints are https.
#[derive(Clone)]
pub struct RegionConnector {
    /// Identity of these settings: pooled connections opened under other settings (before a
    /// reload changed TLS or protocol) are not reused.
    pub id: u64,
    /// Speak HTTP/2 (prior knowledge on http, ALPN h2 on https).
    pub h2: bool,
    /// TCP connect (and TLS handshake) limit.
    pub connect_timeout: Duration,
    /// None for plain http.
    pub tls: Option<TlsTarget>,
}

/// Plain or TLS stream; both halves are `Unpin`, so no projection is needed.
pub enum UpstreamStream {
    /// http://
    Plain(TcpStream),
    /// https://
    Tls(Box<TlsStream<TcpStream>>),
}

impl RegionConnector {
    /// Settings for a new connector, with a process-unique id.
    pub fn new(h2: bool, connect_timeout: Duration, tls: Option<TlsTarget>) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Self {
            id: NEXT_ID.fetch_add(1, Relaxed),
            h2,
            connect_timeout,
            tls,
        }
    }

    /// Connects to `addr` (an endpoint's resolved address, or `host:port` for one-off fetches)
    /// within the connect timeout.
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<UpstreamStream> {
        let connect = async {
            let tcp = TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            match &self.tls {
                None => Ok(UpstreamStream::Plain(tcp)),
                Some(tls) => {
                    let stream = TlsConnector::from(tls.config.clone())
                        .connect(tls.server_name.clone(), tcp)
                        .await?;
                    Ok(UpstreamStream::Tls(Box::new(stream)))
                }
            }
        };
        match tokio::time::timeout(self.connect_timeout, connect).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")),
        }
    }
}

// === impl UpstreamStream ===

impl AsyncRead for UpstreamStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            UpstreamStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for UpstreamStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            UpstreamStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            UpstreamStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamStream::Plain(s) => Pin::new(s).poll_flush(cx),
            UpstreamStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            UpstreamStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            UpstreamStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            UpstreamStream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            UpstreamStream::Plain(s) => s.is_write_vectored(),
            UpstreamStream::Tls(s) => s.is_write_vectored(),
        }
    }
}
