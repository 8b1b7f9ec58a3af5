//! Where the config comes from: a file, or an HTTP(S) URL polled with ETag / If-None-Match
//! (the AWS AppConfig agent serves config to a Fargate task this way, on localhost:2772).

use super::{ConfigError, Settings, parse_and_validate};
use crate::config::Protocol;
use crate::tls::UpstreamTls;
use crate::upstream::{RegionConnector, ReplayBody};
use http::{HeaderValue, Request, StatusCode, header};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use std::path::PathBuf;
use std::time::Duration;

/// Largest config document accepted over HTTP.
const MAX_CONFIG_BYTES: usize = 1024 * 1024;
/// Connect + response limit for one config fetch.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// A config location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// A TOML file, watched for changes.
    File(PathBuf),
    /// An http:// or https:// URL, polled.
    Url(http::Uri),
}

/// What a fetch found.
pub enum Fetched {
    /// A new document, validated, with its ETag if the server sent one.
    Changed(Box<Settings>, Option<HeaderValue>),
    /// 304 Not Modified: the server says nothing changed.
    NotModified,
}

impl ConfigSource {
    /// `http://` and `https://` are URLs; anything else is a path.
    pub fn parse(arg: &str) -> Result<Self, ConfigError> {
        if arg.starts_with("http://") || arg.starts_with("https://") {
            let uri: http::Uri = arg.parse().map_err(|e| ConfigError::Io {
                origin: arg.to_string(),
                message: format!("not a valid URL: {e}"),
            })?;
            Ok(ConfigSource::Url(uri))
        } else {
            Ok(ConfigSource::File(PathBuf::from(arg)))
        }
    }

    /// How errors name this source.
    pub fn describe(&self) -> String {
        match self {
            ConfigSource::File(p) => p.display().to_string(),
            ConfigSource::Url(u) => u.to_string(),
        }
    }

    /// Reads and validates the config. For URLs, `etag` makes the request conditional.
    pub async fn fetch(
        &self,
        etag: Option<&HeaderValue>,
        tls: &UpstreamTls,
    ) -> Result<Fetched, ConfigError> {
        match self {
            ConfigSource::File(path) => {
                let text = tokio::fs::read_to_string(path)
                    .await
                    .map_err(|e| ConfigError::Io {
                        origin: self.describe(),
                        message: e.to_string(),
                    })?;
                let settings = parse_and_validate(&self.describe(), &text)?;
                Ok(Fetched::Changed(Box::new(settings), None))
            }
            ConfigSource::Url(uri) => fetch_url(uri, etag, tls).await,
        }
    }
}

async fn fetch_url(
    uri: &http::Uri,
    etag: Option<&HeaderValue>,
    tls: &UpstreamTls,
) -> Result<Fetched, ConfigError> {
    let origin = uri.to_string();
    let io_error = |message: String| ConfigError::Io {
        origin: origin.clone(),
        message,
    };
    let host = uri.host().unwrap_or_default().to_string();
    let connector = RegionConnector::new(
        false,
        FETCH_TIMEOUT,
        if uri.scheme_str() == Some("https") {
            tls.target(&host, Protocol::Http1)
        } else {
            None
        },
    );
    // Dial the URI authority as given; add the scheme's port when it is implicit.
    let authority = match uri.port_u16() {
        Some(_) => uri.authority().map(|a| a.to_string()).unwrap_or_default(),
        None if uri.scheme_str() == Some("https") => format!("{host}:443"),
        None => format!("{host}:80"),
    };
    let target = http::Uri::from(
        uri.path_and_query()
            .cloned()
            .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/")),
    );
    let mut req = Request::new(ReplayBody::empty());
    *req.uri_mut() = target;
    if let Ok(h) = HeaderValue::from_str(uri.authority().map_or("", |a| a.as_str())) {
        req.headers_mut().insert(header::HOST, h);
    }
    if let Some(etag) = etag {
        req.headers_mut()
            .insert(header::IF_NONE_MATCH, etag.clone());
    }
    let exchange = async {
        let stream = connector
            .connect(authority.as_str())
            .await
            .map_err(|e| io_error(e.to_string()))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| io_error(e.to_string()))?;
        tokio::spawn(conn);
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| io_error(e.to_string()))?;
        let status = resp.status();
        let new_etag = resp.headers().get(header::ETAG).cloned();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(None);
        }
        let body = http_body_util::Limited::new(resp.into_body(), MAX_CONFIG_BYTES)
            .collect()
            .await
            .map_err(|e| io_error(format!("reading body: {e}")))?
            .to_bytes();
        if status != StatusCode::OK {
            return Err(io_error(format!("server answered {status}")));
        }
        let text =
            String::from_utf8(body.to_vec()).map_err(|_| io_error("config is not UTF-8".into()))?;
        Ok(Some((text, new_etag)))
    };
    match tokio::time::timeout(FETCH_TIMEOUT, exchange).await {
        Err(_) => Err(io_error("timed out".into())),
        Ok(Err(e)) => Err(e),
        Ok(Ok(None)) => Ok(Fetched::NotModified),
        Ok(Ok(Some((text, new_etag)))) => {
            let settings = parse_and_validate(&origin, &text)?;
            Ok(Fetched::Changed(Box::new(settings), new_etag))
        }
    }
}
