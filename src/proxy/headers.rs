//! Header rewriting between client and origin: hop-by-hop removal, X-Forwarded-*, request id.

use http::header::{self, Entry, HeaderMap, HeaderName, HeaderValue};
use std::net::IpAddr;

/// Request id header, generated when absent and passed on both ways.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Response header naming the region that answered.
pub const SERVED_BY: HeaderName = HeaderName::from_static("x-meridian-region");
/// Response header counting the attempts made (hedges included).
pub const ATTEMPTS: HeaderName = HeaderName::from_static("x-meridian-attempts");
/// Client-supplied key that makes a non-idempotent request safe to retry.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// Hop-by-hop headers per RFC 9110 section 7.6.1, plus the legacy ones proxies still see.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    PROXY_CONNECTION,
    KEEP_ALIVE,
    header::TE,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
];

/// Removes hop-by-hop headers, including every header the Connection header names.
///
/// `TE: trailers` survives (as exactly that) when asked: gRPC over HTTP/2 requires it end to end.
/// With `keep_upgrade`, Connection/Upgrade are rewritten to a bare upgrade handshake instead.
pub fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    // Most messages carry none of these: one pass over the names (cheap comparisons of standard
    // headers) is less work than eight hashed removals.
    if !headers.keys().any(|k| HOP_BY_HOP.contains(k)) {
        return;
    }
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    let wants_trailers = has_token(headers, &header::TE, "trailers");
    let upgrade = if keep_upgrade {
        headers.get(header::UPGRADE).cloned()
    } else {
        None
    };
    for name in named {
        headers.remove(name);
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
    if wants_trailers {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
    if let Some(upgrade) = upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, upgrade);
    }
}

/// Is this an HTTP/1.1 upgrade request (WebSocket and friends)?
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE) && has_token(headers, &header::CONNECTION, "upgrade")
}

/// Does any line of a comma-separated header list contain `token` (case-insensitive)?
fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .any(|v| crate::http1::has_token(v, token))
}

/// The client address as an X-Forwarded-For element. Built once per connection: formatting an
/// address per request cost ~1.5k instructions, a tenth of Meridian's own request path.
pub fn forwarded_for_value(client_ip: IpAddr) -> HeaderValue {
    HeaderValue::from_str(&client_ip.to_canonical().to_string())
        .expect("an IP address is a valid header value")
}

/// Sets X-Forwarded-For (appended), X-Forwarded-Proto and X-Forwarded-Host (kept when an
/// upstream hop such as the ALB already set them, since it saw the client's scheme and host).
/// `client_ip` comes from [`forwarded_for_value`].
pub fn set_forwarded(
    headers: &mut HeaderMap,
    client_ip: &HeaderValue,
    tls: bool,
    host: &HeaderValue,
) {
    // One hashed lookup per header (the entry API), not a lookup and then an insert.
    match headers.entry(X_FORWARDED_FOR) {
        Entry::Vacant(e) => {
            e.insert(client_ip.clone());
        }
        Entry::Occupied(mut e) => {
            // Several X-Forwarded-For lines are one list (RFC 9110 5.3): keep every hop, in order.
            let prior: Vec<&str> = e
                .iter()
                .filter_map(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .collect();
            let ip = client_ip.to_str().unwrap_or_default();
            let xff = if prior.is_empty() {
                Ok(client_ip.clone())
            } else {
                HeaderValue::from_str(&format!("{}, {ip}", prior.join(", ")))
            };
            if let Ok(v) = xff {
                e.insert(v);
            }
        }
    }
    headers
        .entry(X_FORWARDED_PROTO)
        .or_insert_with(|| HeaderValue::from_static(if tls { "https" } else { "http" }));
    headers
        .entry(X_FORWARDED_HOST)
        .or_insert_with(|| host.clone());
}

/// The client's request id if it is sane (visible ASCII, at most 128 bytes), else a new one.
pub fn request_id(headers: &HeaderMap) -> HeaderValue {
    if let Some(v) = headers.get(&REQUEST_ID) {
        let b = v.as_bytes();
        if !b.is_empty() && b.len() <= 128 && b.iter().all(|c| c.is_ascii_graphic()) {
            return v.clone();
        }
    }
    let mut id = [0u8; 32];
    hex::encode_to_slice(fastrand::u128(..).to_be_bytes(), &mut id)
        .expect("16 bytes fill 32 hex digits");
    HeaderValue::from_bytes(&id).expect("hex is a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_listed_and_named_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("close, x-secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert(KEEP_ALIVE, HeaderValue::from_static("timeout=5"));
        h.insert(header::TE, HeaderValue::from_static("gzip, trailers"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h, false);
        assert!(!h.contains_key("x-secret"));
        assert!(!h.contains_key(header::CONNECTION));
        assert!(!h.contains_key(KEEP_ALIVE));
        assert_eq!(h.get(header::TE).unwrap(), "trailers");
        assert!(h.contains_key("x-kept"));
    }

    #[test]
    fn forwarded_for_appends() {
        let mut h = HeaderMap::new();
        h.insert(X_FORWARDED_FOR, HeaderValue::from_static("203.0.113.7"));
        let client = forwarded_for_value("10.0.0.1".parse().unwrap());
        set_forwarded(
            &mut h,
            &client,
            false,
            &HeaderValue::from_static("api.example.com"),
        );
        assert_eq!(h.get(X_FORWARDED_FOR).unwrap(), "203.0.113.7, 10.0.0.1");
        let mut fresh = HeaderMap::new();
        let mapped = forwarded_for_value("::ffff:192.0.2.1".parse().unwrap());
        set_forwarded(
            &mut fresh,
            &mapped,
            true,
            &HeaderValue::from_static("api.example.com"),
        );
        assert_eq!(fresh.get(X_FORWARDED_FOR).unwrap(), "192.0.2.1");
        assert_eq!(fresh.get(X_FORWARDED_PROTO).unwrap(), "https");
        assert_eq!(h.get(X_FORWARDED_PROTO).unwrap(), "http");
        assert_eq!(h.get(X_FORWARDED_HOST).unwrap(), "api.example.com");
    }

    #[test]
    fn forwarded_headers_keep_earlier_hops() {
        let client = forwarded_for_value("10.0.0.1".parse().unwrap());
        let host = HeaderValue::from_static("api.example.com");
        let mut h = HeaderMap::new();
        h.append(X_FORWARDED_FOR, HeaderValue::from_static("198.51.100.1"));
        h.append(X_FORWARDED_FOR, HeaderValue::from_static(" 203.0.113.7 "));
        h.insert(X_FORWARDED_PROTO, HeaderValue::from_static("https"));
        h.insert(
            X_FORWARDED_HOST,
            HeaderValue::from_static("www.example.com"),
        );
        set_forwarded(&mut h, &client, false, &host);
        let xff: Vec<_> = h.get_all(X_FORWARDED_FOR).iter().collect();
        assert_eq!(xff, ["198.51.100.1, 203.0.113.7, 10.0.0.1"]);
        assert_eq!(h.get(X_FORWARDED_PROTO).unwrap(), "https");
        assert_eq!(h.get(X_FORWARDED_HOST).unwrap(), "www.example.com");

        // An empty X-Forwarded-For names no hop: the client's address replaces it.
        let mut empty = HeaderMap::new();
        empty.insert(X_FORWARDED_FOR, HeaderValue::from_static(""));
        set_forwarded(&mut empty, &client, false, &host);
        assert_eq!(empty.get(X_FORWARDED_FOR).unwrap(), "10.0.0.1");
    }

    #[test]
    fn request_id_kept_or_generated() {
        let mut h = HeaderMap::new();
        assert_eq!(request_id(&h).len(), 32);
        h.insert(REQUEST_ID, HeaderValue::from_static("abc-123"));
        assert_eq!(request_id(&h), "abc-123");
        h.insert(REQUEST_ID, HeaderValue::from_static("has space"));
        assert_ne!(request_id(&h), "has space");
    }
}
