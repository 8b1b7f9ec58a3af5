//! Clients the tests talk through: a pooled HTTP/1.1 client with a timeout on every exchange,
//! a raw TCP exchange for malformed requests, and an HTTP/2 prior-knowledge connection.

use super::{BoxBody, full};
use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A complete response, read whole.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
    /// From sending to the end of the body.
    pub elapsed: Duration,
}

impl Answer {
    /// A header as text ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The region Meridian says answered.
    pub fn region(&self) -> &str {
        self.header("x-meridian-region")
    }

    /// Body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }
}

/// A pooled HTTP/1.1 client; every exchange is bounded by its timeout.
#[derive(Clone)]
pub struct TestClient {
    inner: Client<HttpConnector, BoxBody>,
    timeout: Duration,
}

impl Default for TestClient {
    fn default() -> Self {
        Self::new()
    }
}

impl TestClient {
    /// A client with a 10 s timeout per exchange.
    pub fn new() -> Self {
        Self {
            inner: Client::builder(TokioExecutor::new()).build_http(),
            timeout: Duration::from_secs(10),
        }
    }

    /// The same client with another per-exchange timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends a request and reads the whole response; Err on failure or timeout.
    pub async fn try_send(&self, req: Request<BoxBody>) -> Result<Answer, String> {
        let started = Instant::now();
        let exchange = async {
            let resp = self
                .inner
                .request(req)
                .await
                .map_err(|e| format!("{e:?}"))?;
            let (parts, body) = resp.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| format!("body: {e}"))?
                .to_bytes();
            Ok(Answer {
                status: parts.status,
                headers: parts.headers,
                body,
                elapsed: started.elapsed(),
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| format!("no answer within {:?}", self.timeout))?
    }

    /// Sends a request; panics on failure.
    pub async fn send(&self, req: Request<BoxBody>) -> Answer {
        self.try_send(req).await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// GET; Err on failure.
    pub async fn try_get(&self, url: &str) -> Result<Answer, String> {
        self.try_send(request(Method::GET, url, &[], Bytes::new()))
            .await
    }

    /// GET; panics on failure.
    pub async fn get(&self, url: &str) -> Answer {
        self.send(request(Method::GET, url, &[], Bytes::new()))
            .await
    }

    /// POST a small body with extra headers; panics on failure.
    pub async fn post(&self, url: &str, headers: &[(&str, &str)], body: &'static str) -> Answer {
        self.send(request(
            Method::POST,
            url,
            headers,
            Bytes::from_static(body.as_bytes()),
        ))
        .await
    }
}

/// A request with a full body and extra headers.
pub fn request(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Request<BoxBody> {
    let mut b = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(full(body)).expect("valid request")
}

/// What a raw exchange saw.
#[derive(Debug)]
pub struct RawAnswer {
    /// Everything the server sent before closing (or before the timeout).
    pub text: String,
    /// The server closed the connection.
    pub closed: bool,
}

impl RawAnswer {
    /// Status code of the first response line, 0 if none.
    pub fn status(&self) -> u16 {
        self.text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }
}

/// Writes `bytes` on a fresh connection and reads until the server closes (at most `wait`).
pub async fn raw_exchange(addr: SocketAddr, bytes: &[u8], wait: Duration) -> RawAnswer {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    // The server may answer and close before it has read everything; that is fine.
    let _ = stream.write_all(bytes).await;
    let mut buf = Vec::new();
    let mut closed = false;
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => break,
        }
    }
    RawAnswer {
        text: String::from_utf8_lossy(&buf).into_owned(),
        closed,
    }
}

/// Opens an HTTP/2 prior-knowledge connection and sends one request.
pub async fn h2_send(addr: SocketAddr, req: Request<BoxBody>) -> Response<Incoming> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    send.send_request(req).await.expect("h2 response")
}
