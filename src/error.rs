//! Proxy errors, and the one place where an error becomes an HTTP response.
//!
//! Retryability is decided where a failure happens (see `proxy::attempt`) and travels on the
//! error as its [`ErrorKind`]; this module only maps kinds to statuses, exhaustively.

use crate::body::ProxyBody;
use crate::message::ProxyResponse;
use http::{HeaderValue, StatusCode};

/// Why a request was not proxied to completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// No route matches the request's host and path (never an open proxy).
    #[error("no_route")]
    NoRoute,
    /// The request is malformed (missing or conflicting host, bad URI).
    #[error("bad_request")]
    BadRequest,
    /// The request body is larger than `limits.max_body_bytes`.
    #[error("body_too_large")]
    BodyTooLarge,
    /// The client's body failed while we read it.
    #[error("client_body_error")]
    ClientBody,
    /// `limits.max_in_flight` or `limits.max_connections` reached.
    #[error("overloaded")]
    Overloaded,
    /// Every attempt failed to connect.
    #[error("upstream_connect_failed")]
    ConnectFailed,
    /// The last attempt hit the per-try timeout.
    #[error("upstream_timeout")]
    UpstreamTimeout,
    /// The connection failed after the request was (maybe) sent.
    #[error("upstream_reset")]
    UpstreamReset,
    /// The overall request deadline passed.
    #[error("deadline_exceeded")]
    DeadlineExceeded,
    /// No region has an endpoint to try (e.g. every name failed to resolve).
    #[error("no_endpoint")]
    NoEndpoint,
    /// A write was held while no database writer was known, and none appeared in time.
    #[error("no_writer")]
    NoWriter,
    /// The RPO guard refused a write: no replica in another region is within the budget.
    #[error("rpo_guard")]
    RpoGuard,
}

impl ErrorKind {
    /// The status code clients see.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::NoRoute => StatusCode::NOT_FOUND,
            ErrorKind::BadRequest | ErrorKind::ClientBody => StatusCode::BAD_REQUEST,
            ErrorKind::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::Overloaded | ErrorKind::NoWriter | ErrorKind::RpoGuard => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ErrorKind::ConnectFailed | ErrorKind::UpstreamReset | ErrorKind::NoEndpoint => {
                StatusCode::BAD_GATEWAY
            }
            ErrorKind::UpstreamTimeout | ErrorKind::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The error response: a small JSON body naming the kind and request id, nothing internal.
    pub fn into_response(self, request_id: &HeaderValue) -> ProxyResponse {
        let id = request_id.to_str().unwrap_or("");
        let body = serde_json::json!({ "error": self.to_string(), "request_id": id }).to_string();
        let mut resp = ProxyResponse::new(self.status(), ProxyBody::local(body));
        let h = &mut resp.headers;
        h.append("content-type", HeaderValue::from_static("application/json"));
        h.append(crate::proxy::headers::REQUEST_ID, request_id.clone());
        match self {
            ErrorKind::Overloaded => h.append("retry-after", HeaderValue::from_static("1")),
            // A database failover or a replication backlog: worth a few seconds.
            ErrorKind::NoWriter | ErrorKind::RpoGuard => {
                h.append("retry-after", HeaderValue::from_static("2"))
            }
            _ => {}
        }
        if self == ErrorKind::BadRequest || self == ErrorKind::ClientBody {
            h.append("connection", HeaderValue::from_static("close"));
        }
        resp
    }
}
