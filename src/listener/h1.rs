//! Meridian's own HTTP/1.1 server loop for requests without a body; any other request is
//! handed, with the bytes already read, to hyper's server for the rest of the connection.
//!
//! hyper's server cost ~9.5k of the ~32.6k instructions a proxied GET took (callgrind): its
//! dispatcher state machine, the version sniffing of its auto builder, and per-request timers.
//! This loop reads a head, parses it with `httparse` (hyper's parser), calls the proxy, and
//! writes the response head and a small body in one write. It serves only what it fully
//! understands: an HTTP/1.1 request in origin form with no body, no upgrade, no `Expect` and no
//! `TE`. Everything else (bodies, WebSocket, HTTP/2, HTTP/1.0, absolute-form targets, malformed
//! or oversized heads) goes to hyper exactly as before, which answers errors (400, 431) itself.
//!
//! Behaviour follows hyper's where a client can see it: the header-read timeout runs whenever a
//! head is awaited, idle connections included, and closes the connection without an answer; a
//! client that closes its connection while its request is in flight cancels the request; a
//! `Date` header is added when the response has none; `Connection: close` from either side, or
//! a shutdown, closes the connection after the response.

use crate::body::{ClientBody, ProxyBody};
use crate::header_list::REQUEST_LINES_ADDED;
use crate::http1::{MAX_HEADERS, Span, has_token, header_list, spans_of};
use crate::message::{ClientRequest, ProxyResponse};
use crate::proxy::{Peer, Proxy};
use bytes::{Bytes, BytesMut};
use http::{Method, StatusCode, Uri, Version};
use http_body::{Body, Frame};
use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::mem::MaybeUninit;
use std::pin::{Pin, pin};
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// Read size for request heads.
const READ_SIZE: usize = 8 * 1024;
/// Below this much spare room the read buffer grows (or is reclaimed) before a read.
const MIN_SPARE: usize = 1024;
/// Largest head this loop parses (offsets into it fit a u16); larger ones go to hyper.
const MAX_HEAD: usize = u16::MAX as usize;
/// Response bytes gathered before a write while more of the body is ready.
const WRITE_BATCH: usize = 64 * 1024;

/// What the loop needs from the settings, taken when the connection was accepted.
#[derive(Clone, Copy)]
pub struct Limits {
    /// Longest wait for a whole request head (slowloris), idle keep-alive included.
    pub header_read: Duration,
    /// Largest request head served here; hyper answers 431 past `limits.max_header_bytes`.
    pub max_head: usize,
}

/// How a connection's time in this loop ended.
pub enum Ended {
    /// The connection is done: closed by either side, timed out, or shut down.
    Closed,
    /// A request this loop does not serve arrived. hyper takes the connection from here,
    /// starting with these bytes (that request, and whatever followed it).
    HandOff(BytesMut),
}

/// Serves requests on `io` until it closes or a request needs hyper.
pub async fn serve<I>(
    io: &mut I,
    proxy: &Proxy,
    peer: &Peer,
    limits: Limits,
    closing: &CancellationToken,
) -> Ended
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    let max_head = limits.max_head.min(MAX_HEAD);
    let mut read = BytesMut::with_capacity(READ_SIZE);
    let mut write = Vec::new();
    let mut waiting_since = Instant::now();
    // One timer for the connection's life, not one per request: when it fires, the head
    // awaited then may have started later, and the timer is simply moved to that deadline.
    let mut timer = pin!(tokio::time::sleep_until(
        (waiting_since + limits.header_read).into()
    ));
    let mut closed = pin!(closing.cancelled());
    loop {
        let head = loop {
            match parse(&mut read, max_head) {
                Ok(Some(head)) => break head,
                Ok(None) => {}
                Err(NotServedHere) => return Ended::HandOff(read),
            }
            if read.capacity() - read.len() < MIN_SPARE {
                read.reserve(READ_SIZE);
            }
            let idle = read.is_empty();
            tokio::select! {
                biased;
                got = io.read_buf(&mut read) => match got {
                    // End of stream or an error: nothing more will come (a partial head is
                    // dropped unanswered, as hyper does).
                    Ok(0) | Err(_) => return Ended::Closed,
                    Ok(_) => {}
                },
                () = &mut timer => {
                    let deadline = waiting_since + limits.header_read;
                    if Instant::now() >= deadline {
                        tracing::debug!(peer = %peer.addr, "request head not received in time");
                        return Ended::Closed;
                    }
                    timer.as_mut().reset(deadline.into());
                }
                // Shutting down: an idle connection closes now; one mid-head gets its answer.
                () = &mut closed, if idle => return Ended::Closed,
            }
        };

        let head_request = head.request.method == Method::HEAD;
        let mut handling = pin!(proxy.handle(head.request, peer));
        let resp = loop {
            tokio::select! {
                biased;
                resp = &mut handling => break resp,
                // A client that leaves while its request is in flight cancels it (as with hyper,
                // which treats end of stream here as the client closing). Bytes that arrive
                // instead are a pipelined request, kept for the next turn.
                got = io.read_buf(&mut read), if read.is_empty() => match got {
                    Ok(0) | Err(_) => return Ended::Closed,
                    Ok(_) => {}
                },
            }
        };
        let close = head.close || closing.is_cancelled();
        match write_response(io, &mut write, resp, head_request, close).await {
            Ok(true) => {}
            Ok(false) => {
                let _ = io.shutdown().await;
                return Ended::Closed;
            }
            Err(_) => return Ended::Closed,
        }
        waiting_since = Instant::now();
    }
}

/// One parsed request head.
struct Head {
    /// The request, body empty.
    request: ClientRequest,
    /// The client asked to close the connection after this request.
    close: bool,
}

/// A request this loop does not serve: hyper takes it, and its bytes are still at the front
/// of the buffer.
struct NotServedHere;

/// Parses one request head off the front of `buf`: None if more bytes are needed.
fn parse(buf: &mut BytesMut, max_head: usize) -> Result<Option<Head>, NotServedHere> {
    if buf.is_empty() {
        return Ok(None);
    }
    let mut spans: [Span; MAX_HEADERS] = [[0; 4]; MAX_HEADERS];
    let (len, method, target, count) = {
        let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut []);
        let len = match httparse::ParserConfig::default().parse_request_with_uninit_headers(
            &mut req,
            buf,
            &mut headers,
        ) {
            Ok(httparse::Status::Complete(len)) if len <= max_head => len,
            Ok(httparse::Status::Partial) if buf.len() < max_head => return Ok(None),
            // Malformed, too many headers, too large: hyper answers 400 or 431.
            _ => return Err(NotServedHere),
        };
        let (Some(1), Some(method), Some(target)) = (req.version, req.method, req.path) else {
            return Err(NotServedHere); // HTTP/1.0
        };
        // Origin form only: absolute-form and asterisk-form targets take hyper's path.
        if !target.starts_with('/') {
            return Err(NotServedHere);
        }
        let Ok(method) = Method::from_bytes(method.as_bytes()) else {
            return Err(NotServedHere);
        };
        let start = (target.as_ptr() as usize - buf.as_ptr() as usize) as u16;
        let target = [start, start + target.len() as u16];
        (len, method, target, spans_of(buf, req.headers, &mut spans))
    };
    let head = buf.split_to(len).freeze();
    match request(&head, method, target, &spans[..count]) {
        Some(parsed) => Ok(Some(parsed)),
        None => {
            // Put the head back in front of what followed it, for hyper.
            let mut all = BytesMut::with_capacity(head.len() + buf.len());
            all.extend_from_slice(&head);
            all.extend_from_slice(buf);
            *buf = all;
            Err(NotServedHere)
        }
    }
}

/// The request in `head`, or None if it has a body, asks for an upgrade, or is not valid HTTP.
fn request(head: &Bytes, method: Method, target: [u16; 2], spans: &[Span]) -> Option<Head> {
    let headers = header_list(head, spans, REQUEST_LINES_ADDED)?;
    let mut close = false;
    for line in &headers {
        if line.is("content-length") {
            if line.value != "0" {
                return None;
            }
        } else if ["transfer-encoding", "upgrade", "expect", "te"]
            .iter()
            .any(|name| line.is(name))
        {
            return None;
        } else if line.is("connection") {
            close |= has_token(&line.value, "close");
        }
    }
    let uri = Uri::from_maybe_shared(head.slice(target[0] as usize..target[1] as usize)).ok()?;
    let request = ClientRequest {
        method,
        uri,
        version: Version::HTTP_11,
        headers,
        body: ClientBody::Empty,
        on_upgrade: None,
    };
    Some(Head { request, close })
}

/// How the response body is delimited on the wire.
enum Framing {
    /// No body may follow (HEAD, 1xx, 204, 304).
    None,
    /// `Content-Length`.
    Length(u64),
    /// Chunked: the length is not known up front.
    Chunked,
}

/// Writes `resp`; true if the connection can take another request.
async fn write_response<I>(
    io: &mut I,
    buf: &mut Vec<u8>,
    resp: ProxyResponse,
    head_request: bool,
    mut close: bool,
) -> io::Result<bool>
where
    I: AsyncWrite + Unpin,
{
    let ProxyResponse {
        status,
        headers,
        mut body,
    } = resp;
    let framing = if head_request
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        Framing::None
    } else if body.is_end_stream() {
        Framing::Length(0)
    } else {
        match body.size_hint().exact() {
            Some(n) => Framing::Length(n),
            None => Framing::Chunked,
        }
    };

    buf.clear();
    if status == StatusCode::OK {
        buf.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    } else {
        buf.extend_from_slice(b"HTTP/1.1 ");
        buf.extend_from_slice(status.as_str().as_bytes());
        buf.push(b' ');
        let reason = status.canonical_reason().unwrap_or("<none>");
        buf.extend_from_slice(reason.as_bytes());
        buf.extend_from_slice(b"\r\n");
    }
    let mut has_date = false;
    let mut says_close = false;
    // A HEAD or 304 answer keeps the length the full response would have had.
    let length_kept = matches!(framing, Framing::None) && status != 204;
    for line in &headers {
        // This loop frames the body itself.
        if (line.is("content-length") && !length_kept)
            || line.is("transfer-encoding")
            || line.is("trailer")
        {
            continue;
        }
        if line.is("connection") {
            says_close |= has_token(&line.value, "close");
        } else if line.is("date") {
            has_date = true;
        }
        put_header(buf, &line.name, line.value.as_bytes());
    }
    close |= says_close;
    if close && !says_close {
        buf.extend_from_slice(b"connection: close\r\n");
    }
    match framing {
        Framing::None => {}
        Framing::Length(n) => {
            put_header(
                buf,
                b"content-length",
                itoa::Buffer::new().format(n).as_bytes(),
            );
        }
        Framing::Chunked => buf.extend_from_slice(b"transfer-encoding: chunked\r\n"),
    }
    if !has_date {
        DATE_VALUE.with_borrow_mut(|date| put_header(buf, b"date", date.now()));
    }
    buf.extend_from_slice(b"\r\n");

    let complete = match framing {
        Framing::None => true,
        Framing::Length(n) => {
            let mut left = n;
            while let Some(data) = next_data(io, buf, &mut body).await? {
                let Some(data) = data else { return Ok(false) };
                if data.len() as u64 > left {
                    return Ok(false); // more than it declared: cut off, never sent on
                }
                left -= data.len() as u64;
                put_data(io, buf, &data).await?;
            }
            left == 0
        }
        Framing::Chunked => {
            while let Some(data) = next_data(io, buf, &mut body).await? {
                let Some(data) = data else { return Ok(false) };
                if data.is_empty() {
                    continue; // a zero-size chunk would end the body
                }
                let mut size = [0u8; 16];
                let size = hex(data.len(), &mut size);
                buf.extend_from_slice(size);
                buf.extend_from_slice(b"\r\n");
                put_data(io, buf, &data).await?;
                buf.extend_from_slice(b"\r\n");
            }
            buf.extend_from_slice(b"0\r\n\r\n");
            true
        }
    };
    if !complete {
        // The body ended early (an origin cut it short): the client must not take it as whole.
        return Ok(false);
    }
    io.write_all(buf).await?;
    io.flush().await?;
    Ok(!close)
}

fn put_header(buf: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    buf.extend_from_slice(name);
    buf.extend_from_slice(b": ");
    buf.extend_from_slice(value);
    buf.extend_from_slice(b"\r\n");
}

/// Appends `data` to the pending bytes, writing large pieces out instead of copying them.
async fn put_data<I>(io: &mut I, buf: &mut Vec<u8>, data: &[u8]) -> io::Result<()>
where
    I: AsyncWrite + Unpin,
{
    if buf.len() + data.len() <= WRITE_BATCH {
        buf.extend_from_slice(data);
        return Ok(());
    }
    io.write_all(buf).await?;
    buf.clear();
    io.write_all(data).await
}

/// The next data frame of `body` (trailers are dropped: clients that ask for them with `TE`
/// are served by hyper). `Some(None)` is a body error. When the body has nothing ready, the
/// bytes gathered so far are written first, so a slow stream reaches the client as it comes.
async fn next_data<I>(
    io: &mut I,
    buf: &mut Vec<u8>,
    body: &mut ProxyBody,
) -> io::Result<Option<Option<Bytes>>>
where
    I: AsyncWrite + Unpin,
{
    loop {
        let polled = poll_fn(|cx| Poll::Ready(Pin::new(&mut *body).poll_frame(cx))).await;
        let frame = match polled {
            Poll::Ready(frame) => frame,
            Poll::Pending => {
                if !buf.is_empty() {
                    io.write_all(buf).await?;
                    io.flush().await?;
                    buf.clear();
                }
                poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await
            }
        };
        match frame.map(|f| f.map(Frame::into_data)) {
            None => return Ok(None),
            Some(Err(e)) => {
                tracing::debug!(error = %e, "response body failed");
                return Ok(Some(None));
            }
            Some(Ok(Ok(data))) => return Ok(Some(Some(data))),
            Some(Ok(Err(_trailers))) => {}
        }
    }
}

/// `n` in lower-case hexadecimal.
fn hex(mut n: usize, out: &mut [u8; 16]) -> &[u8] {
    let mut i = out.len();
    loop {
        i -= 1;
        out[i] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
        if n == 0 {
            return &out[i..];
        }
    }
}

/// The `Date` value, formatted at most once a second per thread (as hyper caches it).
struct CachedDate {
    /// Second of the formatted value.
    second: u64,
    /// IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    text: String,
}

impl CachedDate {
    fn now(&mut self) -> &[u8] {
        let now = SystemTime::now();
        let second = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if second != self.second || self.text.is_empty() {
            self.second = second;
            self.text = httpdate::fmt_http_date(now);
        }
        self.text.as_bytes()
    }
}

thread_local! {
    static DATE_VALUE: RefCell<CachedDate> = const {
        RefCell::new(CachedDate { second: 0, text: String::new() })
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(raw: &str) -> Result<Option<Head>, NotServedHere> {
        let mut buf = BytesMut::from(raw);
        parse(&mut buf, 8192)
    }

    #[test]
    fn plain_requests_are_served_here_with_their_headers() {
        let Ok(Some(head)) = parsed("GET /a?b=1 HTTP/1.1\r\nHost: api\r\nX-A: 1\r\nx-a: 2\r\n\r\n")
        else {
            panic!("not parsed");
        };
        assert_eq!(head.request.uri, "/a?b=1");
        assert_eq!(head.request.headers.get("host").unwrap(), "api");
        assert_eq!(head.request.headers.get_all("x-a").count(), 2);
        assert!(!head.close);
        let Ok(Some(head)) = parsed(
            "DELETE /x HTTP/1.1\r\nHost: api\r\nContent-Length: 0\r\nConnection: Close\r\n\r\n",
        ) else {
            panic!("not parsed");
        };
        assert!(head.close);
        assert!(matches!(parsed("GET / HTTP/1.1\r\nHost: a"), Ok(None)));
    }

    #[test]
    fn anything_else_is_left_whole_for_hyper() {
        for raw in [
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n",
            "GET / HTTP/1.0\r\nHost: a\r\n\r\n",
            "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
            "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            "GARBAGE\r\n\r\n",
            "GET / HTTP/1.1\r\nBad\x01Name: v\r\n\r\n",
        ] {
            let mut buf = BytesMut::from(raw);
            assert!(
                matches!(parse(&mut buf, 8192), Err(NotServedHere)),
                "{raw:?}"
            );
            assert_eq!(buf, raw.as_bytes(), "bytes not left intact for {raw:?}");
        }
        // Too large for this loop, complete or not: hyper applies the configured limit.
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(200));
        assert!(matches!(
            parse(&mut BytesMut::from(&big[..]), 100),
            Err(NotServedHere)
        ));
        assert!(matches!(
            parse(&mut BytesMut::from(&big[..150]), 100),
            Err(NotServedHere)
        ));
    }

    #[test]
    fn chunk_sizes_are_lower_case_hex() {
        let mut out = [0u8; 16];
        assert_eq!(hex(0, &mut out), b"0");
        assert_eq!(hex(255, &mut out), b"ff");
        assert_eq!(hex(65536, &mut out), b"10000");
    }
}
