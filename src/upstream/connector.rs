//! Opens one upstream connection: TCP with a connect timeout, then TLS with the region's SNI name.
//!
//! The pool hands us URIs whose authority is an already-resolved socket address; the host name
//! for SNI and certificate checks comes from the region's endpoint spec, not from the URI.

use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
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

/// A tower `Service<Uri>` that hyper-util's pooled client uses to open connections.
#[derive(Clone)]
pub struct RegionConnector {
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

impl tower::Service<http::Uri> for RegionConnector {
    type Response = TokioIo<UpstreamStream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let authority = uri
                .authority()
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "uri has no authority"))?
                .as_str()
                .to_string();
            let connect = async {
                let tcp = TcpStream::connect(authority.as_str()).await?;
                tcp.set_nodelay(true)?;
                match &this.tls {
                    None => Ok(UpstreamStream::Plain(tcp)),
                    Some(tls) => {
                        let stream = TlsConnector::from(tls.config.clone())
                            .connect(tls.server_name.clone(), tcp)
                            .await?;
                        Ok(UpstreamStream::Tls(Box::new(stream)))
                    }
                }
            };
            match tokio::time::timeout(this.connect_timeout, connect).await {
                Ok(result) => result.map(TokioIo::new),
                Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")),
            }
        })
    }
}

// === impl UpstreamStream ===

impl Connection for UpstreamStream {
    fn connected(&self) -> Connected {
        match self {
            UpstreamStream::Plain(_) => Connected::new(),
            UpstreamStream::Tls(tls) => {
                if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                    Connected::new().negotiated_h2()
                } else {
                    Connected::new()
                }
            }
        }
    }
}

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
