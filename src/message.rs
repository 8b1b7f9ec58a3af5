//! The client's request and Meridian's response as the proxy handles them, whichever server
//! (Meridian's own HTTP/1.1 loop or hyper's) read the request and will write the response.
//!
//! Heads keep their headers in a [`HeaderList`]; hyper's `Request`/`Response` are converted at
//! the hyper server's edge only (see `listener`).

use crate::body::{ClientBody, ProxyBody};
use crate::header_list::HeaderList;
use http::{Method, Request, Response, StatusCode, Uri, Version};
use hyper::upgrade::OnUpgrade;

/// A request from a client.
pub struct ClientRequest {
    /// Request method.
    pub method: Method,
    /// The target: origin form, or absolute form (HTTP/1 proxies, HTTP/2's `:authority`).
    pub uri: Uri,
    /// Protocol version the client spoke.
    pub version: Version,
    /// Header lines as received.
    pub headers: HeaderList,
    /// The body.
    pub body: ClientBody,
    /// The client connection, once upgraded (hyper's server only; None for other requests).
    pub on_upgrade: Option<OnUpgrade>,
}

impl ClientRequest {
    /// A request read by hyper's server.
    pub fn from_hyper(req: Request<ClientBody>) -> Self {
        let (mut parts, body) = req.into_parts();
        Self {
            on_upgrade: parts.extensions.remove::<OnUpgrade>(),
            method: parts.method,
            uri: parts.uri,
            version: parts.version,
            headers: HeaderList::from_map(parts.headers),
            body,
        }
    }
}

/// Meridian's answer to a client.
pub struct ProxyResponse {
    /// Status code.
    pub status: StatusCode,
    /// Header lines (an origin's, rewritten, or Meridian's own).
    pub headers: HeaderList,
    /// The body.
    pub body: ProxyBody,
}

impl ProxyResponse {
    /// A response with no headers yet.
    pub fn new(status: StatusCode, body: ProxyBody) -> Self {
        Self {
            status,
            headers: HeaderList::new(),
            body,
        }
    }

    /// The response for hyper's server.
    pub fn into_hyper(self) -> Response<ProxyBody> {
        let mut resp = Response::new(self.body);
        *resp.status_mut() = self.status;
        *resp.headers_mut() = self.headers.to_map();
        resp
    }
}
