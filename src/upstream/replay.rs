//! The request body sent upstream, kept (up to a limit) so a failed attempt can be replayed.
//!
//! One [`ReplayBody`] per client request; each attempt reads through its own cursor. Chunks are
//! kept while the total fits the replay buffer; past it the body still streams but can no
//! longer be replayed. Modelled on linkerd's `ReplayBody`, with the same contract: a retry is
//! allowed only when the whole body is buffered, or when no attempt has read any of it yet.

use crate::body::ClientBody;
use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

/// Why a request body stopped.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The client's body failed (reset, malformed chunking).
    #[error("client body: {0}")]
    Client(#[from] hyper::Error),
    /// The body passed `limits.max_body_bytes`.
    #[error("request body exceeds the configured limit")]
    TooLarge,
}

#[derive(Default)]
struct Shared {
    /// Chunks kept for replay, in order.
    kept: Vec<Bytes>,
    /// Sum of `kept`.
    kept_len: usize,
    /// The client's body, until it ends.
    source: Option<Incoming>,
    /// Trailers seen at the end of the source.
    trailers: Option<HeaderMap>,
    /// The source has ended (or there was none).
    complete: bool,
    /// A chunk was passed on without being kept: replay is impossible.
    overflowed: bool,
    /// Some attempt has pulled from the source.
    touched: bool,
    /// Replay buffer size.
    limit: usize,
    /// Hard cap on the whole body, if any.
    max_body: Option<u64>,
    /// Bytes pulled from the source so far.
    total: u64,
}

/// A request body with a replay buffer; clone it (cheaply) for each attempt.
pub struct ReplayBody {
    shared: Arc<Mutex<Shared>>,
    /// Next kept chunk this cursor will yield.
    pos: usize,
    /// This cursor has yielded trailers or end-of-stream.
    finished: bool,
    /// Told when this cursor has sent its last frame or is dropped (the attempt's upload is over).
    sent: Option<tokio::sync::oneshot::Sender<()>>,
}

impl ReplayBody {
    /// Wraps a client body. `limit` is the replay buffer; `max_body` the hard cap.
    pub fn new(source: ClientBody, limit: usize, max_body: Option<u64>) -> Self {
        let source = match source {
            ClientBody::Streaming(body) if !body.is_end_stream() => Some(body),
            _ => None,
        };
        let complete = source.is_none();
        Self::from_shared(Shared {
            source,
            complete,
            limit,
            max_body,
            ..Shared::default()
        })
    }

    /// A complete body from bytes (probes, tests).
    pub fn from_bytes(bytes: Bytes) -> Self {
        let kept_len = bytes.len();
        Self::from_shared(Shared {
            kept: if bytes.is_empty() {
                vec![]
            } else {
                vec![bytes]
            },
            kept_len,
            total: kept_len as u64,
            complete: true,
            limit: kept_len,
            ..Shared::default()
        })
    }

    /// An empty body.
    pub fn empty() -> Self {
        Self::from_bytes(Bytes::new())
    }

    fn from_shared(shared: Shared) -> Self {
        Self {
            shared: Arc::new(Mutex::new(shared)),
            pos: 0,
            finished: false,
            sent: None,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A poisoned lock only means another attempt panicked mid-poll; the data is still valid.
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh cursor for the next attempt, starting at the first byte.
    pub fn attempt(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            pos: 0,
            finished: false,
            sent: None,
        }
    }

    /// A cursor like `attempt`, plus a receiver that resolves once the upload is over: the last
    /// frame was handed to the connection, or the cursor was dropped (sent or abandoned).
    pub fn attempt_signalled(&self) -> (Self, tokio::sync::oneshot::Receiver<()>) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let mut cursor = self.attempt();
        cursor.sent = Some(tx);
        (cursor, rx)
    }

    fn signal_sent(&mut self) {
        if let Some(tx) = self.sent.take() {
            let _ = tx.send(());
        }
    }

    /// Can another attempt send this body in full?
    pub fn is_replayable(&self) -> bool {
        let s = self.lock();
        (s.complete && !s.overflowed) || !s.touched
    }

    /// Is the whole body in memory (so concurrent attempts, i.e. hedges, are safe)?
    pub fn is_complete(&self) -> bool {
        let s = self.lock();
        s.complete && !s.overflowed
    }

    /// Bytes read from the client so far.
    pub fn bytes_read(&self) -> u64 {
        self.lock().total
    }

    /// Reads the client's body into the replay buffer until it ends or overflows the buffer.
    /// Used when Content-Length says the body fits, so that it can be retried and hedged.
    pub async fn fill(&self) -> Result<(), BodyError> {
        std::future::poll_fn(|cx| {
            let mut s = self.lock();
            loop {
                if s.complete || s.overflowed {
                    return Poll::Ready(Ok(()));
                }
                match poll_source(&mut s, cx, true) {
                    Poll::Ready(Ok(_)) => continue,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
            }
        })
        .await
    }
}

/// Pulls one frame from the source into `s`; returns the data chunk, if that frame was data.
fn poll_source(
    s: &mut Shared,
    cx: &mut Context<'_>,
    keep_all: bool,
) -> Poll<Result<Option<Bytes>, BodyError>> {
    let Some(source) = s.source.as_mut() else {
        s.complete = true;
        return Poll::Ready(Ok(None));
    };
    s.touched = true;
    match Pin::new(source).poll_frame(cx) {
        Poll::Pending => Poll::Pending,
        Poll::Ready(None) => {
            s.source = None;
            s.complete = true;
            Poll::Ready(Ok(None))
        }
        Poll::Ready(Some(Err(e))) => {
            s.source = None;
            Poll::Ready(Err(BodyError::Client(e)))
        }
        Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
            Ok(data) => {
                s.total += data.len() as u64;
                if s.max_body.is_some_and(|max| s.total > max) {
                    s.source = None;
                    return Poll::Ready(Err(BodyError::TooLarge));
                }
                if s.kept_len + data.len() <= s.limit {
                    s.kept_len += data.len();
                    s.kept.push(data.clone());
                } else if keep_all {
                    // fill() read past the buffer (the client sent more than it announced): the
                    // first attempt still needs this chunk, but a replay is no longer possible.
                    s.kept_len += data.len();
                    s.kept.push(data.clone());
                    s.overflowed = true;
                } else {
                    s.overflowed = true;
                }
                Poll::Ready(Ok(Some(data)))
            }
            Err(frame) => {
                s.trailers = frame.into_trailers().ok();
                s.source = None;
                s.complete = true;
                Poll::Ready(Ok(None))
            }
        },
    }
}

impl Drop for ReplayBody {
    fn drop(&mut self) {
        self.signal_sent();
    }
}

impl Body for ReplayBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        if self.finished {
            return Poll::Ready(None);
        }
        let pos = self.pos;
        let shared = self.shared.clone();
        let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(chunk) = s.kept.get(pos).cloned() {
            self.pos += 1;
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        loop {
            if s.complete {
                self.finished = true;
                let trailers = s.trailers.clone();
                drop(s);
                self.signal_sent();
                return Poll::Ready(trailers.map(|t| Ok(Frame::trailers(t))));
            }
            match poll_source(&mut s, cx, false) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => {
                    self.finished = true;
                    drop(s);
                    self.signal_sent();
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(Ok(Some(data))) => {
                    if !s.overflowed {
                        self.pos = s.kept.len();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Poll::Ready(Ok(None)) => continue,
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        if self.finished {
            return true;
        }
        let s = self.lock();
        s.complete && s.trailers.is_none() && self.pos >= s.kept.len()
    }

    fn size_hint(&self) -> SizeHint {
        let s = self.lock();
        if s.complete && !s.overflowed {
            return SizeHint::with_exact(s.kept_len as u64);
        }
        match &s.source {
            Some(src) => {
                let inner = src.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(inner.lower() + s.total);
                if let Some(upper) = inner.upper() {
                    hint.set_upper(upper + s.total);
                }
                hint
            }
            None => SizeHint::new(),
        }
    }
}
