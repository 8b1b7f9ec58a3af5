//! Response body framing (RFC 9112 section 6.3) and the body read off an HTTP/1 connection.

use super::{BODY_READ, HEAD_READ, MAX_CHUNK_LINE, MAX_HEAD, MAX_HEADERS};
use super::{H1Conn, H1Error, Head, Home, release};
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use http_body::{Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};

const CONTENT_LENGTH: &str = "content-length";
const TRANSFER_ENCODING: &str = "transfer-encoding";

/// How the response body is delimited, and how far reading it has got.
#[derive(Debug)]
pub(super) enum Framing {
    /// Content-Length (or no body at all): bytes still to come.
    Length(u64),
    /// Chunked transfer coding.
    Chunked(Chunk),
    /// Read until the origin closes the connection.
    Close,
    /// The body ended.
    Done,
}

/// Position in a chunked body.
#[derive(Debug)]
pub(super) enum Chunk {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk: bytes still to come.
    Data(u64),
    /// Expecting the CRLF that ends a chunk.
    DataEnd,
    /// After the last chunk: the trailer section, then an empty line.
    Trailers,
}

/// RFC 9112 section 6.3, in order: no body for HEAD, 1xx, 204 and 304; Transfer-Encoding
/// (chunked last, else read to close); one Content-Length; else read to close.
pub(super) fn framing(method: &Method, head: &Head) -> Result<Framing, H1Error> {
    let status = head.status;
    if *method == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok(Framing::Length(0));
    }
    let h = &head.headers;
    if h.contains(TRANSFER_ENCODING) {
        if h.contains(CONTENT_LENGTH) {
            return Err(H1Error::Framing);
        }
        let last = h.get_all(TRANSFER_ENCODING).next_back();
        let chunked = last.is_some_and(|v| {
            v.as_bytes()
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(b"chunked"))
        });
        return Ok(if chunked {
            Framing::Chunked(Chunk::Size)
        } else {
            Framing::Close
        });
    }
    let mut length = None;
    for value in h.get_all(CONTENT_LENGTH) {
        for part in value.as_bytes().split(|&b| b == b',') {
            let part = part.trim_ascii();
            if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
                return Err(H1Error::Framing);
            }
            let n: u64 = std::str::from_utf8(part)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or(H1Error::Framing)?;
            if length.is_some_and(|l| l != n) {
                return Err(H1Error::Framing);
            }
            length = Some(n);
        }
    }
    Ok(length.map_or(Framing::Close, Framing::Length))
}

/// A response body read straight off its HTTP/1 connection as the client takes it, so a slow
/// client slows the origin rather than filling memory. The connection returns to its pool when
/// the body ends cleanly; a body dropped early, or one that fails, closes it.
pub struct H1Body {
    /// The connection; None once the body ended or failed.
    pub(super) conn: Option<H1Conn>,
    /// Where in the body reading is.
    pub(super) framing: Framing,
    /// May the connection carry another request once the body ends?
    pub(super) reusable: bool,
    /// Where the connection goes then.
    pub(super) home: Option<Home>,
}

impl std::fmt::Debug for H1Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H1Body")
            .field("framing", &self.framing)
            .finish()
    }
}

/// One step of decoding what is already buffered.
enum Step {
    /// A frame to hand on.
    Frame(Frame<Bytes>),
    /// The body ended.
    End,
    /// More bytes are needed.
    Read,
}

// === impl H1Body ===

impl H1Body {
    /// The next body frame, reading from the connection as needed.
    pub fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, H1Error>>> {
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match decode(&mut self.framing, &mut conn.read) {
                Ok(Step::Frame(frame)) => {
                    if matches!(self.framing, Framing::Done) {
                        self.finish();
                    }
                    return Poll::Ready(Some(Ok(frame)));
                }
                Ok(Step::End) => {
                    self.finish();
                    return Poll::Ready(None);
                }
                Ok(Step::Read) => {}
                Err(e) => return self.fail(e),
            }
            if conn.read.capacity() - conn.read.len() < HEAD_READ {
                conn.read.reserve(BODY_READ);
            }
            match tokio_util::io::poll_read_buf(Pin::new(&mut conn.stream), cx, &mut conn.read) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return self.fail(e.into()),
                Poll::Ready(Ok(0)) if matches!(self.framing, Framing::Close) => {
                    self.framing = Framing::Done;
                    self.conn = None;
                    return Poll::Ready(None);
                }
                Poll::Ready(Ok(0)) => return self.fail(H1Error::Incomplete),
                Poll::Ready(Ok(_)) => {}
            }
        }
    }

    /// True once nothing is left to read.
    pub fn is_end_stream(&self) -> bool {
        matches!(self.framing, Framing::Done | Framing::Length(0))
    }

    /// Exact for Content-Length bodies.
    pub fn size_hint(&self) -> SizeHint {
        match self.framing {
            Framing::Length(n) => SizeHint::with_exact(n),
            Framing::Done => SizeHint::with_exact(0),
            _ => SizeHint::new(),
        }
    }

    fn finish(&mut self) {
        self.framing = Framing::Done;
        if let (Some(conn), Some(home)) = (self.conn.take(), self.home.take()) {
            release(conn, self.reusable, home);
        }
    }

    fn fail(&mut self, e: H1Error) -> Poll<Option<Result<Frame<Bytes>, H1Error>>> {
        self.framing = Framing::Done;
        self.conn = None;
        Poll::Ready(Some(Err(e)))
    }
}

/// Decodes as much of the body as `buf` holds, up to one frame.
fn decode(framing: &mut Framing, buf: &mut BytesMut) -> Result<Step, H1Error> {
    loop {
        match framing {
            Framing::Done => return Ok(Step::End),
            Framing::Length(0) => {
                *framing = Framing::Done;
                return Ok(Step::End);
            }
            Framing::Length(left) => {
                let Some(data) = take_counted(left, buf) else {
                    return Ok(Step::Read);
                };
                if *left == 0 {
                    *framing = Framing::Done;
                }
                return Ok(Step::Frame(Frame::data(data)));
            }
            Framing::Close => {
                if buf.is_empty() {
                    return Ok(Step::Read);
                }
                return Ok(Step::Frame(Frame::data(buf.split().freeze())));
            }
            Framing::Chunked(chunk) => match chunk {
                Chunk::Size => match httparse::parse_chunk_size(buf) {
                    Ok(httparse::Status::Complete((len, size))) => {
                        let _ = buf.split_to(len);
                        *chunk = if size == 0 {
                            Chunk::Trailers
                        } else {
                            Chunk::Data(size)
                        };
                    }
                    Ok(httparse::Status::Partial) if buf.len() < MAX_CHUNK_LINE => {
                        return Ok(Step::Read);
                    }
                    _ => return Err(H1Error::Chunk),
                },
                Chunk::Data(left) => {
                    let Some(data) = take_counted(left, buf) else {
                        return Ok(Step::Read);
                    };
                    if *left == 0 {
                        *chunk = Chunk::DataEnd;
                    }
                    return Ok(Step::Frame(Frame::data(data)));
                }
                Chunk::DataEnd => {
                    if buf.len() < 2 {
                        return Ok(Step::Read);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(H1Error::Chunk);
                    }
                    let _ = buf.split_to(2);
                    *chunk = Chunk::Size;
                }
                Chunk::Trailers => return decode_trailers(framing, buf),
            },
        }
    }
}

/// Up to `left` buffered bytes, without copying, counted off `left`; None when nothing is
/// buffered.
fn take_counted(left: &mut u64, buf: &mut BytesMut) -> Option<Bytes> {
    if buf.is_empty() {
        return None;
    }
    let n = (*left).min(buf.len() as u64);
    *left -= n;
    Some(buf.split_to(n as usize).freeze())
}

/// The trailer section after the last chunk: a trailers frame if it has fields.
fn decode_trailers(framing: &mut Framing, buf: &mut BytesMut) -> Result<Step, H1Error> {
    if buf.starts_with(b"\r\n") {
        let _ = buf.split_to(2);
        *framing = Framing::Done;
        return Ok(Step::End);
    }
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    match httparse::parse_headers(buf, &mut fields) {
        Ok(httparse::Status::Complete((len, fields))) => {
            let mut trailers = HeaderMap::with_capacity(fields.len());
            for f in fields {
                let name =
                    HeaderName::from_bytes(f.name.as_bytes()).map_err(|_| H1Error::Header)?;
                let value = HeaderValue::from_bytes(f.value).map_err(|_| H1Error::Header)?;
                trailers.append(name, value);
            }
            let _ = buf.split_to(len);
            *framing = Framing::Done;
            Ok(Step::Frame(Frame::trailers(trailers)))
        }
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => Ok(Step::Read),
        Ok(httparse::Status::Partial) => Err(H1Error::HeadTooLarge),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_head;
    use super::*;

    fn head(raw: &str) -> Head {
        let mut buf = BytesMut::from(raw);
        parse_head(&mut buf).unwrap().unwrap()
    }

    fn decode_all(
        framing: &mut Framing,
        raw: &[u8],
    ) -> Result<(Vec<u8>, Option<HeaderMap>), H1Error> {
        let mut buf = BytesMut::from(raw);
        let (mut data, mut trailers) = (Vec::new(), None);
        loop {
            match decode(framing, &mut buf)? {
                Step::Frame(f) => match f.into_data() {
                    Ok(d) => data.extend_from_slice(&d),
                    Err(f) => trailers = f.into_trailers().ok(),
                },
                Step::End => return Ok((data, trailers)),
                Step::Read => return Err(H1Error::Incomplete),
            }
        }
    }

    #[test]
    fn framing_follows_rfc9112() {
        let get = Method::GET;
        let f = |raw: &str, m: &Method| framing(m, &head(raw));
        assert!(matches!(
            f("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", &get),
            Ok(Framing::Length(5))
        ));
        assert!(matches!(
            f(
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
                &Method::HEAD
            ),
            Ok(Framing::Length(0))
        ));
        assert!(matches!(
            f(
                "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
                &get
            ),
            Ok(Framing::Length(0))
        ));
        assert!(matches!(
            f(
                "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n",
                &get
            ),
            Ok(Framing::Length(5))
        ));
        assert!(matches!(
            f(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                &get
            ),
            Ok(Framing::Chunked(_))
        ));
        assert!(matches!(
            f(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
                &get
            ),
            Ok(Framing::Close)
        ));
        assert!(matches!(
            f("HTTP/1.1 200 OK\r\n\r\n", &get),
            Ok(Framing::Close)
        ));
        for bad in [
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
        ] {
            assert!(matches!(f(bad, &get), Err(H1Error::Framing)), "{bad}");
        }
    }

    #[test]
    fn chunked_bodies_decode_with_extensions_and_trailers() {
        let mut f = Framing::Chunked(Chunk::Size);
        let (data, trailers) = decode_all(
            &mut f,
            b"5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\ngrpc-status: 0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(data, b"hello world");
        assert_eq!(trailers.unwrap()["grpc-status"], "0");
        let mut f = Framing::Chunked(Chunk::Size);
        assert_eq!(
            decode_all(&mut f, b"3\r\nabc\r\n0\r\n\r\n").unwrap().0,
            b"abc"
        );
        assert!(matches!(f, Framing::Done));
    }

    #[test]
    fn malformed_chunks_are_errors() {
        for bad in [
            &b"zz\r\n"[..],
            b"3\r\nabcXY0\r\n\r\n",
            b"10000000000000000\r\n",
        ] {
            let mut f = Framing::Chunked(Chunk::Size);
            assert!(
                matches!(decode_all(&mut f, bad), Err(H1Error::Chunk)),
                "{bad:?}"
            );
        }
        // A chunk-size line that never ends is cut off rather than buffered forever.
        let mut f = Framing::Chunked(Chunk::Size);
        let long = [b"1;".as_slice(), &[b'x'; MAX_CHUNK_LINE]].concat();
        assert!(matches!(decode_all(&mut f, &long), Err(H1Error::Chunk)));
    }
}
