//! Header rewriting between client and origin: hop-by-hop removal, X-Forwarded-*, request id.

use crate::header_list::HeaderList;
use http::HeaderValue;
use std::net::IpAddr;

/// Request id header, generated when absent and passed on both ways.
pub const REQUEST_ID: &str = "x-request-id";
/// Response header naming the region that answered.
pub const SERVED_BY: &str = "x-meridian-region";
/// Response header counting the attempts made (hedges included).
pub const ATTEMPTS: &str = "x-meridian-attempts";
/// Client-supplied key that makes a non-idempotent request safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

const X_FORWARDED_FOR: &str = "x-forwarded-for";
const X_FORWARDED_PROTO: &str = "x-forwarded-proto";
const X_FORWARDED_HOST: &str = "x-forwarded-host";
const CONNECTION: &str = "connection";
const TE: &str = "te";
const UPGRADE: &str = "upgrade";

/// Hop-by-hop headers per RFC 9110 section 7.6.1, plus the legacy ones proxies still see.
const HOP_BY_HOP: [&str; 8] = [
    CONNECTION,
    "proxy-connection",
    "keep-alive",
    TE,
    "transfer-encoding",
    UPGRADE,
    "proxy-authenticate",
    "proxy-authorization",
];

/// Removes hop-by-hop headers, including every header the Connection header names.
///
/// `TE: trailers` survives (as exactly that) when asked: gRPC over HTTP/2 requires it end to end.
/// With `keep_upgrade`, Connection/Upgrade are rewritten to a bare upgrade handshake instead.
pub fn strip_hop_by_hop(headers: &mut HeaderList, keep_upgrade: bool) {
    // Most messages carry none of these: one pass over the names is all they cost.
    if !headers.iter().any(|l| HOP_BY_HOP.iter().any(|h| l.is(h))) {
        return;
    }
    let named: Vec<Vec<u8>> = headers
        .get_all(CONNECTION)
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(|name| name.trim_ascii().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .collect();
    let wants_trailers = has_token(headers, TE, "trailers");
    let upgrade = if keep_upgrade {
        headers.get(UPGRADE).cloned()
    } else {
        None
    };
    headers.retain(|l| !HOP_BY_HOP.iter().any(|h| l.is(h)) && !named.iter().any(|n| l.is(n)));
    if wants_trailers {
        headers.append(TE, HeaderValue::from_static("trailers"));
    }
    if let Some(upgrade) = upgrade {
        headers.append(CONNECTION, HeaderValue::from_static("upgrade"));
        headers.append(UPGRADE, upgrade);
    }
}

/// Is this an HTTP/1.1 upgrade request (WebSocket and friends)?
pub fn is_upgrade(headers: &HeaderList) -> bool {
    headers.contains(UPGRADE) && has_token(headers, CONNECTION, "upgrade")
}

/// Does any line of a comma-separated header list contain `token` (case-insensitive)?
fn has_token(headers: &HeaderList, name: &str, token: &str) -> bool {
    headers
        .get_all(name)
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
    headers: &mut HeaderList,
    client_ip: &HeaderValue,
    tls: bool,
    host: &HeaderValue,
) {
    // One pass finds all three; most requests have none of them.
    let (mut xff, mut xfp, mut xfh) = (false, false, false);
    for line in headers.iter() {
        xff |= line.is(X_FORWARDED_FOR);
        xfp |= line.is(X_FORWARDED_PROTO);
        xfh |= line.is(X_FORWARDED_HOST);
    }
    if !xff {
        headers.append(X_FORWARDED_FOR, client_ip.clone());
    } else {
        // Several X-Forwarded-For lines are one list (RFC 9110 5.3): keep every hop, in order,
        // joined in one buffer (behind an ALB, which always sets it, this is every request).
        let mut joined = Vec::with_capacity(64);
        for value in headers.get_all(X_FORWARDED_FOR) {
            let Ok(value) = value.to_str() else { continue };
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            if !joined.is_empty() {
                joined.extend_from_slice(b", ");
            }
            joined.extend_from_slice(value.as_bytes());
        }
        let xff = if joined.is_empty() {
            Ok(client_ip.clone())
        } else {
            joined.extend_from_slice(b", ");
            joined.extend_from_slice(client_ip.as_bytes());
            HeaderValue::from_maybe_shared(bytes::Bytes::from(joined))
        };
        if let Ok(v) = xff {
            headers.insert(X_FORWARDED_FOR, v);
        }
    }
    if !xfp {
        headers.append(
            X_FORWARDED_PROTO,
            HeaderValue::from_static(if tls { "https" } else { "http" }),
        );
    }
    if !xfh {
        headers.append(X_FORWARDED_HOST, host.clone());
    }
}

/// The client's request id if it is sane (visible ASCII, at most 128 bytes), else a new one.
pub fn request_id(headers: &HeaderList) -> HeaderValue {
    if let Some(v) = headers.get(REQUEST_ID) {
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
    use bytes::Bytes;

    #[test]
    fn strips_listed_and_named_headers() {
        let mut h = HeaderList::new();
        // Names as an HTTP/1 peer may spell them: matching ignores case.
        h.append_line(
            Bytes::from_static(b"Connection"),
            HeaderValue::from_static("close, X-Secret"),
        );
        h.append("x-secret", HeaderValue::from_static("1"));
        h.append_line(
            Bytes::from_static(b"Keep-Alive"),
            HeaderValue::from_static("timeout=5"),
        );
        h.append(TE, HeaderValue::from_static("gzip, trailers"));
        h.append("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h, false);
        assert!(!h.contains("x-secret"));
        assert!(!h.contains(CONNECTION));
        assert!(!h.contains("keep-alive"));
        assert_eq!(h.get(TE).unwrap(), "trailers");
        assert!(h.contains("x-kept"));
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn upgrade_handshake_is_kept_bare_when_asked() {
        let mut h = HeaderList::new();
        h.append(CONNECTION, HeaderValue::from_static("keep-alive, Upgrade"));
        h.append(UPGRADE, HeaderValue::from_static("websocket"));
        h.append("keep-alive", HeaderValue::from_static("timeout=5"));
        assert!(is_upgrade(&h));
        strip_hop_by_hop(&mut h, true);
        assert_eq!(h.get(CONNECTION).unwrap(), "upgrade");
        assert_eq!(h.get(UPGRADE).unwrap(), "websocket");
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn forwarded_for_appends() {
        let mut h = HeaderList::new();
        h.append(X_FORWARDED_FOR, HeaderValue::from_static("203.0.113.7"));
        let client = forwarded_for_value("10.0.0.1".parse().unwrap());
        set_forwarded(
            &mut h,
            &client,
            false,
            &HeaderValue::from_static("api.example.com"),
        );
        assert_eq!(h.get(X_FORWARDED_FOR).unwrap(), "203.0.113.7, 10.0.0.1");
        let mut fresh = HeaderList::new();
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
        let mut h = HeaderList::new();
        h.append(X_FORWARDED_FOR, HeaderValue::from_static("198.51.100.1"));
        h.append_line(
            Bytes::from_static(b"X-Forwarded-For"),
            HeaderValue::from_static(" 203.0.113.7 "),
        );
        h.append(X_FORWARDED_PROTO, HeaderValue::from_static("https"));
        h.append(
            X_FORWARDED_HOST,
            HeaderValue::from_static("www.example.com"),
        );
        set_forwarded(&mut h, &client, false, &host);
        let xff: Vec<_> = h.get_all(X_FORWARDED_FOR).collect();
        assert_eq!(xff, ["198.51.100.1, 203.0.113.7, 10.0.0.1"]);
        assert_eq!(h.get(X_FORWARDED_PROTO).unwrap(), "https");
        assert_eq!(h.get(X_FORWARDED_HOST).unwrap(), "www.example.com");
        assert_eq!(h.len(), 3);

        // An empty X-Forwarded-For names no hop: the client's address replaces it.
        let mut empty = HeaderList::new();
        empty.append(X_FORWARDED_FOR, HeaderValue::from_static(""));
        set_forwarded(&mut empty, &client, false, &host);
        assert_eq!(empty.get(X_FORWARDED_FOR).unwrap(), "10.0.0.1");
    }

    #[test]
    fn request_id_kept_or_generated() {
        let mut h = HeaderList::new();
        assert_eq!(request_id(&h).len(), 32);
        h.insert(REQUEST_ID, HeaderValue::from_static("abc-123"));
        assert_eq!(request_id(&h), "abc-123");
        h.insert(REQUEST_ID, HeaderValue::from_static("has space"));
        assert_ne!(request_id(&h), "has space");
    }
}
