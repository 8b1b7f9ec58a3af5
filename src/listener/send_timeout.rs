//! A client socket whose writes give up when the client stops reading.
//!
//! nginx calls this `send_timeout`; hyper has no equivalent, so without it a client that stops
//! reading a streamed response holds its connection, and the origin connection feeding it,
//! forever. `tokio-io-timeout` does the same job, but its pinned, boxed state cost ~160
//! instructions on every request (callgrind) and re-arms its timer on every recovered stall;
//! this guard costs a branch until a write actually stalls.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Wraps a client socket: a write, flush or shutdown that makes no progress for `limit` fails
/// with `TimedOut`, which ends the connection. Reads pass through untouched.
pub struct SendTimeout<I> {
    /// The socket.
    io: I,
    /// Longest a write may stay pending.
    limit: Duration,
    /// The stall clock; allocated at the first stall, reused after.
    stall: Option<Pin<Box<Sleep>>>,
    /// A write is pending and `stall` runs for it.
    armed: bool,
}

impl<I> SendTimeout<I> {
    /// Guards `io` with `limit`.
    pub fn new(io: I, limit: Duration) -> Self {
        Self {
            io,
            limit,
            stall: None,
            armed: false,
        }
    }

    /// Passes a write's result on; a pending one starts (or checks) the stall clock.
    fn watch<T>(
        &mut self,
        result: Poll<io::Result<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<T>> {
        if result.is_ready() {
            self.armed = false;
            return result;
        }
        if !self.armed {
            let deadline = Instant::now() + self.limit;
            match &mut self.stall {
                Some(sleep) => sleep.as_mut().reset(deadline),
                None => self.stall = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
            self.armed = true;
        }
        match self.stall.as_mut().map(|sleep| sleep.as_mut().poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "client stopped reading (send timeout)",
            ))),
            _ => Poll::Pending,
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for SendTimeout<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for SendTimeout<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write(cx, buf);
        this.watch(result, cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.watch(result, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_flush(cx);
        this.watch(result, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_shutdown(cx);
        this.watch(result, cx)
    }
}
