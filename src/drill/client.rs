//! The drill's HTTP/1.1 client toward one target (a region's front door): keep-alive
//! connections, TLS for https targets, and a clean line between "sent" and "never sent".
//!
//! A pooled connection the server closed while idle is not a failure of the system under test,
//! so a request hyper hands back unsent goes out again on a fresh connection, as a browser or
//! Go's `net/http` would do. Everything else is an outcome the drill records.

use crate::tls::UpstreamTls;
use crate::upstream::RegionConnector;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::sync::Mutex;
use std::time::Duration;

/// Largest response body the drill reads (ledger answers are tiny).
const MAX_BODY: usize = 64 * 1024;

/// Connect (TCP + TLS) time limit; the request's own timeout still bounds the whole exchange.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a target URL was refused.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Not an absolute http(s) URL.
    #[error("{0}: not an http:// or https:// URL")]
    BadUrl(String),
    /// The host cannot be a TLS server name.
    #[error("{0}: the host is not a valid TLS server name")]
    BadHost(String),
    /// The system's TLS roots could not be loaded.
    #[error("TLS set-up: {0}")]
    Tls(String),
}

/// An answer, read to its end.
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// Body (at most [`MAX_BODY`] bytes).
    pub body: Bytes,
}

/// One region's front door: base URL and its keep-alive connections.
pub struct Target {
    /// The URL as given, without a trailing slash (paths are appended to it).
    pub url: String,
    /// `Host` header value.
    host: HeaderValue,
    /// `host:port` to dial.
    dial: String,
    /// Path prefix of the URL (empty or `/prefix`).
    prefix: String,
    /// TCP + TLS opener.
    connector: RegionConnector,
    /// Ready connections, most recently used last.
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
}

impl Target {
    /// Parses `http(s)://host[:port][/prefix]`.
    pub fn new(url: &str, tls: &UpstreamTls) -> Result<Self, TargetError> {
        let trimmed = url.trim_end_matches('/');
        let uri: Uri = trimmed
            .parse()
            .map_err(|_| TargetError::BadUrl(url.to_string()))?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(TargetError::BadUrl(url.to_string()));
        };
        let https = match scheme {
            "http" => false,
            "https" => true,
            _ => return Err(TargetError::BadUrl(url.to_string())),
        };
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tls_target = if https {
            let target = tls
                .target(host, crate::config::Protocol::Http1)
                .ok_or_else(|| TargetError::BadHost(url.to_string()))?;
            Some(target)
        } else {
            None
        };
        let dial = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        Ok(Self {
            url: trimmed.to_string(),
            host: HeaderValue::from_str(authority.as_str())
                .map_err(|_| TargetError::BadUrl(url.to_string()))?,
            dial,
            prefix: uri.path().trim_end_matches('/').to_string(),
            connector: RegionConnector::new(false, CONNECT_TIMEOUT, tls_target),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Sends one request and reads the whole answer. `extra` headers go on every request.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Bytes,
        headers: &[(header::HeaderName, HeaderValue)],
    ) -> Result<Answer, String> {
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = method;
        *req.uri_mut() = format!("{}{path}", self.prefix)
            .parse()
            .map_err(|e| format!("bad path {path:?}: {e}"))?;
        let h = req.headers_mut();
        h.insert(header::HOST, self.host.clone());
        for (name, value) in headers {
            h.append(name.clone(), value.clone());
        }
        let (resp, sender) = self.exchange(req).await?;
        let status = resp.status().as_u16();
        let (parts, body) = resp.into_parts();
        let body = http_body_util::Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|e| format!("reading the body: {e}"))?
            .to_bytes();
        if sender.is_ready()
            && let Ok(mut idle) = self.idle.lock()
        {
            idle.push(sender);
        }
        Ok(Answer {
            status,
            headers: parts.headers,
            body,
        })
    }

    async fn exchange(
        &self,
        mut req: Request<Full<Bytes>>,
    ) -> Result<(Response<hyper::body::Incoming>, SendRequest<Full<Bytes>>), String> {
        loop {
            let pooled = self.idle.lock().ok().and_then(|mut idle| idle.pop());
            let Some(mut sender) = pooled else { break };
            if !sender.is_ready() {
                continue;
            }
            match sender.try_send_request(req).await {
                Ok(resp) => return Ok((resp, sender)),
                Err(mut e) => match e.take_message() {
                    Some(unsent) => req = unsent,
                    None => return Err(e.into_error().to_string()),
                },
            }
        }
        let stream = self
            .connector
            .connect(self.dial.as_str())
            .await
            .map_err(|e| format!("connect {}: {e}", self.dial))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(conn);
        let resp = sender.send_request(req).await.map_err(|e| error_text(&e))?;
        Ok((resp, sender))
    }
}

/// hyper's error with its cause (e.g. "connection closed before message completed").
fn error_text(e: &hyper::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// TLS roots for https targets, loaded once.
pub fn tls() -> Result<UpstreamTls, TargetError> {
    UpstreamTls::system_roots().map_err(|e| TargetError::Tls(e.to_string()))
}
