//! The HTTP/1.1 exchange for requests without a body, run inside the request's own task.
//!
//! hyper's client drives each connection as a separate task and passes every request and
//! response through channels to it: for a GET that was ~12k of the ~42k instructions a proxied
//! request cost. Here the request head goes out in one write, the response head is parsed with
//! `httparse` (hyper's own parser) and the body is framed by [`H1Body`] as the client reads it,
//! all in the task that serves the client. Requests with a body, upgrades and HTTP/2 stay on
//! hyper (see `pool::send`): they need a writer and a reader at once, which is what its
//! connection task is for.
//!
//! Framing follows RFC 9112 section 6.3. A response that could be read two ways
//! (Transfer-Encoding with Content-Length, or Content-Length values that disagree) is refused,
//! not guessed at, as section 6.3 advises against request smuggling and response splitting.

mod body;

pub use body::H1Body;
use body::{Framing, framing};

use super::connector::UpstreamStream;
use super::pool::{SendError, UpstreamBody};
use super::{Endpoint, UpstreamRequest, UpstreamResponse};
use crate::header_list::{HeaderList, RESPONSE_LINES_ADDED};
use crate::http1::{MAX_HEADERS, has_token, header_list, spans_of};
use bytes::BytesMut;
use http::{Method, StatusCode};
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};

/// Largest response head, or trailer section, accepted (offsets into it fit a u16).
pub const MAX_HEAD: usize = u16::MAX as usize;
/// Longest chunk-size line (with extensions) accepted.
const MAX_CHUNK_LINE: usize = 4096;
/// Read size while a head is incomplete.
const HEAD_READ: usize = 8 * 1024;
/// Read size while streaming a body.
const BODY_READ: usize = 64 * 1024;

/// Why an HTTP/1 exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum H1Error {
    /// The socket failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The origin closed (or reset) the connection without sending a byte of response: on a
    /// reused connection, the keep-alive race (it closed the idle connection as the request
    /// arrived).
    #[error("connection closed before any response")]
    Closed,
    /// The origin closed the connection before the response was complete.
    #[error("connection closed before the response was complete")]
    Incomplete,
    /// The response head is not HTTP/1.
    #[error("malformed response head: {0}")]
    Head(#[from] httparse::Error),
    /// The response head (or trailer section) is larger than [`MAX_HEAD`].
    #[error("response head larger than {MAX_HEAD} bytes")]
    HeadTooLarge,
    /// A header name or value that HTTP does not allow.
    #[error("invalid response header")]
    Header,
    /// A 101 answer to a request that asked for no upgrade.
    #[error("unrequested protocol switch")]
    UnexpectedSwitch,
    /// Content-Length values that are not one number, or Transfer-Encoding with Content-Length.
    #[error("ambiguous response framing (RFC 9112 section 6.3)")]
    Framing,
    /// A chunk-size line or chunk delimiter that is not chunked encoding.
    #[error("invalid chunked encoding")]
    Chunk,
    /// Bytes arrived after the response ended.
    #[error("bytes after the end of the response")]
    Trailing,
}

/// A plain or TLS connection speaking HTTP/1.1, with its buffers.
pub struct H1Conn {
    /// The socket.
    stream: UpstreamStream,
    /// Bytes read and not yet consumed. Response bodies are cut from it without copying.
    read: BytesMut,
    /// The request head being written; kept to reuse its allocation.
    write: Vec<u8>,
}

// === impl H1Conn ===

impl H1Conn {
    /// Wraps a freshly connected stream.
    pub fn new(stream: UpstreamStream) -> Self {
        Self {
            stream,
            read: BytesMut::new(),
            write: Vec::new(),
        }
    }

    /// False when the origin has closed the idle connection (or sent bytes nobody asked for).
    /// Costs no system call unless the socket was reported readable: it polls with a no-op
    /// waker, and tokio answers from the readiness the event loop already recorded.
    pub fn is_open(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        let mut byte = [0u8; 1];
        let mut buf = ReadBuf::new(&mut byte);
        // Pending is the healthy answer: nothing to read. A TLS stream also answers Pending
        // after consuming post-handshake messages such as session tickets.
        self.read.is_empty()
            && matches!(
                Pin::new(&mut self.stream).poll_read(&mut cx, &mut buf),
                Poll::Pending
            )
    }

    /// Drops buffer capacity a large response left behind, so idle connections stay small.
    fn shrink(&mut self) {
        if self.read.capacity() > BODY_READ {
            self.read = BytesMut::new();
        }
    }
}

/// Where an exchange failed: before the origin could have seen the request, or after.
pub enum Failed {
    /// The request head could not be written; the origin never got a whole request.
    Unsent(H1Error),
    /// The request went out; the origin may have acted on it.
    Sent(H1Error),
}

impl From<Failed> for SendError {
    fn from(f: Failed) -> Self {
        match f {
            Failed::Unsent(e) => SendError::Connect(Box::new(e)),
            Failed::Sent(e) => SendError::Exchange(Box::new(e)),
        }
    }
}

/// Where the connection goes when the response ends cleanly.
struct Home {
    /// The endpoint whose pool takes it back.
    endpoint: Arc<Endpoint>,
    /// The connector that opened it (a reload that changes it retires the connection).
    connector: u64,
}

/// Writes `req` (whose body is empty) on `conn` and reads the response head. The connection
/// travels with the response body and returns to `endpoint`'s pool when the body ends, if the
/// origin keeps it alive.
pub async fn exchange(
    mut conn: H1Conn,
    shared: &HeaderList,
    req: &UpstreamRequest,
    endpoint: &Arc<Endpoint>,
    connector: u64,
) -> Result<UpstreamResponse, Failed> {
    encode_head(&mut conn.write, shared, req);
    let written = async {
        conn.stream.write_all(&conn.write).await?;
        conn.stream.flush().await
    };
    written.await.map_err(|e| Failed::Unsent(e.into()))?;
    let head = read_head(&mut conn).await.map_err(Failed::Sent)?;
    let framing = framing(&req.method, &head).map_err(Failed::Sent)?;
    let home = Home {
        endpoint: endpoint.clone(),
        connector,
    };
    let body = match framing {
        // The whole body is already here (the common case for small responses): cut it out and
        // give the connection back before the client has even been answered.
        Framing::Length(n) if conn.read.len() as u64 >= n => {
            let data = conn.read.split_to(n as usize).freeze();
            release(conn, head.reusable, home);
            UpstreamBody::Full(Some(data).filter(|d| !d.is_empty()))
        }
        framing => UpstreamBody::H1(Box::new(H1Body {
            conn: Some(conn),
            framing,
            reusable: head.reusable,
            home: Some(home),
        })),
    };
    Ok(UpstreamResponse {
        status: head.status,
        headers: head.headers,
        body,
        on_upgrade: None,
    })
}

/// Puts a connection whose response ended back in its pool, if it can take another request.
fn release(mut conn: H1Conn, reusable: bool, home: Home) {
    if !reusable || !conn.read.is_empty() {
        return; // dropped, so closed
    }
    conn.shrink();
    home.endpoint.pool.put_stream(home.connector, conn);
}

/// `METHOD target HTTP/1.1`, the `shared` headers (except those the request sets itself), the
/// request's own, and `content-length: 0` where a method that usually has a body goes without
/// one (as hyper does), so the origin does not wait for one.
fn encode_head(dst: &mut Vec<u8>, shared: &HeaderList, req: &UpstreamRequest) {
    dst.clear();
    dst.extend_from_slice(req.method.as_str().as_bytes());
    dst.push(b' ');
    let target = req.uri.path_and_query().map_or("/", |p| p.as_str());
    dst.extend_from_slice(target.as_bytes());
    dst.extend_from_slice(b" HTTP/1.1\r\n");
    let own = &req.headers;
    let headers = shared
        .iter()
        .filter(|l| own.is_empty() || !own.iter().any(|o| o.is(&*l.name)));
    for line in headers.chain(own) {
        dst.extend_from_slice(&line.name);
        dst.extend_from_slice(b": ");
        dst.extend_from_slice(line.value.as_bytes());
        dst.extend_from_slice(b"\r\n");
    }
    let bodyless_method = matches!(
        req.method,
        Method::GET | Method::HEAD | Method::DELETE | Method::OPTIONS | Method::TRACE
    );
    if !bodyless_method && !shared.contains("content-length") && !own.contains("content-length") {
        dst.extend_from_slice(b"content-length: 0\r\n");
    }
    dst.extend_from_slice(b"\r\n");
}

/// A parsed response head.
struct Head {
    status: StatusCode,
    headers: HeaderList,
    /// HTTP/1.1 without `Connection: close`: the connection may carry another request.
    reusable: bool,
}

/// Reads until a final (non-1xx) response head is complete, skipping interim responses.
async fn read_head(conn: &mut H1Conn) -> Result<Head, H1Error> {
    let mut received = false;
    loop {
        if let Some(head) = parse_head(&mut conn.read)? {
            return Ok(head);
        }
        if conn.read.len() >= MAX_HEAD {
            return Err(H1Error::HeadTooLarge);
        }
        conn.read.reserve(HEAD_READ);
        let read = conn.stream.read_buf(&mut conn.read).await;
        match read {
            Ok(0) if received => return Err(H1Error::Incomplete),
            Ok(0) => return Err(H1Error::Closed),
            // A reset before the first byte is the same race: the origin had closed, and our
            // request drew a RST, which the kernel may report before the FIN's end of stream.
            Err(e) if !received && is_reset(&e) => return Err(H1Error::Closed),
            Err(e) => return Err(e.into()),
            Ok(_) => received = true,
        }
    }
}

fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// Parses one final response head off the front of `buf`, or None if more bytes are needed.
/// Header values are slices of the frozen head: no copy per header.
fn parse_head(buf: &mut BytesMut) -> Result<Option<Head>, H1Error> {
    loop {
        if buf.is_empty() {
            return Ok(None);
        }
        let mut spans = [[0u16; 4]; MAX_HEADERS];
        let (len, code, minor, count) = {
            // httparse writes into uninitialised slots: neither array is zero-filled per parse
            // beyond the 800 bytes of spans.
            let mut headers =
                [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
            let mut resp = httparse::Response::new(&mut []);
            let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
                &mut resp,
                buf,
                &mut headers,
            )?;
            let len = match parsed {
                httparse::Status::Complete(len) if len > MAX_HEAD => {
                    return Err(H1Error::HeadTooLarge);
                }
                httparse::Status::Complete(len) => len,
                httparse::Status::Partial => return Ok(None),
            };
            let count = spans_of(buf, resp.headers, &mut spans);
            let code = resp.code.ok_or(H1Error::Header)?;
            (len, code, resp.version, count)
        };
        let head = buf.split_to(len).freeze();
        let status = StatusCode::from_u16(code).map_err(|_| H1Error::Header)?;
        if status == StatusCode::SWITCHING_PROTOCOLS {
            return Err(H1Error::UnexpectedSwitch);
        }
        if status.is_informational() {
            continue; // 100 Continue, 103 Early Hints: the final answer follows
        }
        let headers =
            header_list(&head, &spans[..count], RESPONSE_LINES_ADDED).ok_or(H1Error::Header)?;
        let close = headers.get_all("connection").any(|v| has_token(v, "close"));
        return Ok(Some(Head {
            status,
            headers,
            reusable: minor == Some(1) && !close,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::HeaderValue;

    fn head(raw: &str) -> Head {
        let mut buf = BytesMut::from(raw);
        parse_head(&mut buf).unwrap().unwrap()
    }

    #[test]
    fn interim_responses_are_skipped_and_headers_kept_in_order() {
        let h =
            head("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nA: 1\r\na: 2\r\nX-Y: z\r\n\r\n");
        assert_eq!(h.status, 200);
        let a: Vec<_> = h.headers.get_all("a").collect();
        assert_eq!(a, ["1", "2"]);
        assert_eq!(h.headers.get("x-y").unwrap(), "z");
        // Names reach the client as the origin spelled them.
        let names: Vec<_> = h.headers.iter().map(|l| &l.name[..]).collect();
        assert_eq!(names, [&b"A"[..], b"a", b"X-Y"]);
        assert!(h.reusable);
    }

    #[test]
    fn close_and_http10_are_not_reused() {
        assert!(!head("HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\n\r\n").reusable);
        assert!(!head("HTTP/1.0 200 OK\r\n\r\n").reusable);
    }

    #[test]
    fn unrequested_switch_and_garbage_are_errors() {
        let mut buf = BytesMut::from("HTTP/1.1 101 Switching Protocols\r\n\r\n");
        assert!(matches!(
            parse_head(&mut buf),
            Err(H1Error::UnexpectedSwitch)
        ));
        let mut buf = BytesMut::from("SSH-2.0-OpenSSH\r\n\r\n");
        assert!(matches!(parse_head(&mut buf), Err(H1Error::Head(_))));
        let mut buf = BytesMut::from("HTTP/1.1 200 OK\r\nContent-Le");
        assert!(parse_head(&mut buf).unwrap().is_none());
    }

    #[test]
    fn encoded_head_merges_headers_and_adds_zero_length_only_where_a_body_is_expected() {
        let mut dst = Vec::new();
        let mut shared = HeaderList::new();
        shared.append("host", HeaderValue::from_static("api"));
        shared.append_line(
            Bytes::from_static(b"X-Mark"),
            HeaderValue::from_static("forged"),
        );
        let mut req = UpstreamRequest {
            method: Method::GET,
            uri: "/a?b=1".parse().unwrap(),
            headers: HeaderList::new(),
            body: super::super::ReplayBody::empty(),
        };
        encode_head(&mut dst, &shared, &req);
        assert_eq!(
            dst,
            b"GET /a?b=1 HTTP/1.1\r\nhost: api\r\nX-Mark: forged\r\n\r\n"
        );
        // The request's own headers replace shared ones of the same name, whatever their case.
        req.method = Method::POST;
        req.headers
            .append("x-mark", HeaderValue::from_static("signed"));
        encode_head(&mut dst, &shared, &req);
        assert_eq!(
            dst,
            b"POST /a?b=1 HTTP/1.1\r\nhost: api\r\nx-mark: signed\r\ncontent-length: 0\r\n\r\n"
        );
    }
}
