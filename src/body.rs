//! Bodies at the client edge: the request body as a listener hands it over, and the response
//! body sent back (an origin's body streamed through, or a small local one).

use crate::upstream::UpstreamBody;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A client's request body, as the listener hands it to the proxy.
pub enum ClientBody {
    /// The request head said there is none (Meridian's own HTTP/1.1 server path only takes
    /// such requests).
    Empty,
    /// Streamed from the client by hyper's server.
    Streaming(hyper::body::Incoming),
}

/// Response body type of every Meridian response.
pub enum ProxyBody {
    /// Streamed from an origin. `bytes` counts what crossed regions (None = local origin).
    Upstream {
        /// The origin's body.
        inner: UpstreamBody,
        /// Counter for cross-region bytes, when this response came from a sibling region.
        bytes: Option<metrics::Counter>,
        /// The request's trace and access-log record, finished when the body ends or drops.
        observe: crate::telemetry::Observation,
    },
    /// Generated here (errors, readiness, admin).
    Local(Option<Bytes>),
}

impl ProxyBody {
    /// A local body from anything that becomes bytes.
    pub fn local(bytes: impl Into<Bytes>) -> Self {
        ProxyBody::Local(Some(bytes.into()))
    }

    /// An empty body.
    pub fn empty() -> Self {
        ProxyBody::Local(None)
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = crate::upstream::BodyReadError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, crate::upstream::BodyReadError>>> {
        match self.get_mut() {
            ProxyBody::Upstream {
                inner,
                bytes,
                observe,
            } => {
                let polled = Pin::new(&mut *inner).poll_frame(cx);
                match &polled {
                    Poll::Ready(Some(Ok(frame))) => {
                        if let Some(data) = frame.data_ref() {
                            if let Some(counter) = bytes {
                                counter.increment(data.len() as u64);
                            }
                            observe.body_bytes(data.len(), inner.is_end_stream());
                        }
                    }
                    Poll::Ready(None) => observe.body_bytes(0, true),
                    _ => {}
                }
                polled
            }
            ProxyBody::Local(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ProxyBody::Upstream { inner, .. } => inner.is_end_stream(),
            ProxyBody::Local(bytes) => bytes.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ProxyBody::Upstream { inner, .. } => inner.size_hint(),
            ProxyBody::Local(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
        }
    }
}
