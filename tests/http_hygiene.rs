//! What a well-behaved proxy does to HTTP itself: hop-by-hop headers stay on their hop,
//! X-Forwarded-* and the request id are set, malformed input is refused without harm, and
//! nothing but the configured routes is proxied (no open proxy).

mod support;

use http::{HeaderValue, Response};
use std::time::Duration;
use support::client::RawAnswer;
use support::{TestOrigin, TestProxy, bounded, full, raw_exchange};

const WAIT: Duration = Duration::from_secs(5);

async fn app_proxy(origin: &TestOrigin) -> TestProxy {
    let sibling = TestOrigin::new("eu-west-1").start().await;
    let proxy = TestProxy::builder()
        .origin(origin)
        .region("eu-west-1", &[sibling.addr()], &[])
        .set("limits.max_header_bytes", "8192")
        .route("name = \"app\"\nhost = \"app.test\"")
        .start()
        .await;
    // The sibling is never meant to be reached in these tests; keep it alive anyway.
    std::mem::forget(sibling);
    proxy
}

async fn raw(proxy: &TestProxy, bytes: &[u8]) -> RawAnswer {
    raw_exchange(proxy.addr(), bytes, WAIT).await
}

/// A plain request still works (on a fresh connection).
async fn still_serving(proxy: &TestProxy) {
    let answer = raw(
        proxy,
        b"GET /ok HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(answer.status(), 200, "{}", answer.text);
}

#[tokio::test]
async fn hop_by_hop_headers_are_stripped_and_forwarded_headers_set() {
    bounded(async {
        let origin = TestOrigin::new("us-east-1")
            .handler(|_req| async {
                let mut resp = Response::new(full("hi\n"));
                let h = resp.headers_mut();
                h.insert("connection", HeaderValue::from_static("x-resp-hop"));
                h.insert("x-resp-hop", HeaderValue::from_static("1"));
                h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
                h.insert("proxy-authenticate", HeaderValue::from_static("Basic"));
                h.insert("x-resp-kept", HeaderValue::from_static("1"));
                resp
            })
            .start()
            .await;
        let proxy = app_proxy(&origin).await;
        let answer = raw(
            &proxy,
            b"GET /headers HTTP/1.1\r\n\
              Host: app.test\r\n\
              Connection: close, X-Custom-Hop\r\n\
              X-Custom-Hop: secret\r\n\
              Keep-Alive: timeout=5\r\n\
              Proxy-Authorization: Basic Zm9vOmJhcg==\r\n\
              Proxy-Connection: keep-alive\r\n\
              TE: trailers, deflate\r\n\
              Upgrade: h2c\r\n\
              X-Forwarded-For: 203.0.113.9\r\n\
              X-End-To-End: kept\r\n\r\n",
        )
        .await;
        assert_eq!(answer.status(), 200, "{}", answer.text);
        let seen = origin.seen().pop().expect("origin saw the request");
        let h = &seen.headers;
        for gone in [
            "x-custom-hop",
            "keep-alive",
            "proxy-authorization",
            "proxy-connection",
            "upgrade",
        ] {
            assert!(!h.contains_key(gone), "{gone} reached the origin: {h:?}");
        }
        if let Some(c) = h.get("connection") {
            assert!(!c.to_str().unwrap().contains("x-custom-hop"), "{c:?}");
        }
        assert_eq!(h["te"], "trailers");
        assert_eq!(h["x-end-to-end"], "kept");
        assert_eq!(h["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
        assert_eq!(h["x-forwarded-host"], "app.test");
        assert_eq!(h["x-forwarded-proto"], "http");

        // Generated request id: the origin and the client see the same one.
        let id = h["x-request-id"].to_str().unwrap().to_string();
        assert_eq!(id.len(), 32, "{id}");
        let head = answer.text.to_ascii_lowercase();
        assert!(head.contains(&format!("x-request-id: {id}")), "{head}");

        // Response hop-by-hop headers stay on the origin's hop.
        assert!(!head.contains("x-resp-hop"), "{head}");
        assert!(!head.contains("keep-alive"), "{head}");
        assert!(!head.contains("proxy-authenticate"), "{head}");
        assert!(head.contains("x-resp-kept: 1"), "{head}");
        proxy.stop().await;
    })
    .await;
}

#[tokio::test]
async fn client_request_id_is_passed_through() {
    bounded(async {
        let origin = TestOrigin::new("us-east-1").start().await;
        let proxy = app_proxy(&origin).await;
        let answer = raw(
            &proxy,
            b"GET / HTTP/1.1\r\nHost: app.test\r\nX-Request-Id: client-id-123\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert_eq!(answer.status(), 200, "{}", answer.text);
        assert!(
            answer
                .text
                .to_ascii_lowercase()
                .contains("x-request-id: client-id-123"),
            "{}",
            answer.text
        );
        let seen = origin.seen().pop().unwrap();
        assert_eq!(seen.headers["x-request-id"], "client-id-123");
        assert_eq!(
            seen.headers.get_all("x-request-id").iter().count(),
            1,
            "the id was duplicated"
        );
        proxy.stop().await;
    })
    .await;
}

#[tokio::test]
async fn malformed_requests_get_400_or_431_and_the_proxy_keeps_serving() {
    bounded(async {
        let origin = TestOrigin::new("us-east-1").start().await;
        let proxy = app_proxy(&origin).await;

        let answer = raw(&proxy, b"GARBAGE\r\n\r\n").await;
        assert_eq!(answer.status(), 400, "{:?}", answer.text);
        assert!(answer.closed, "connection left open after garbage");
        still_serving(&proxy).await;

        let answer = raw(
            &proxy,
            b"GET / HTTP/1.1\r\nHost: app.test\r\nBad\x01Name: v\r\n\r\n",
        )
        .await;
        assert_eq!(answer.status(), 400, "{:?}", answer.text);
        assert!(answer.closed);
        still_serving(&proxy).await;

        let mut big = b"GET / HTTP/1.1\r\nHost: app.test\r\nX-Big: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', 20_000));
        big.extend_from_slice(b"\r\n\r\n");
        let answer = raw(&proxy, &big).await;
        assert_eq!(answer.status(), 431, "{:?}", answer.text);
        assert!(answer.closed);
        still_serving(&proxy).await;

        assert_eq!(
            origin.hits(),
            3,
            "only the three good requests reach the origin"
        );
        proxy.stop().await;
    })
    .await;
}

#[tokio::test]
async fn unknown_hosts_and_foreign_absolute_uris_are_not_proxied() {
    bounded(async {
        let origin = TestOrigin::new("us-east-1").start().await;
        let proxy = app_proxy(&origin).await;
        let answer = raw(
            &proxy,
            b"GET / HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert_eq!(answer.status(), 404, "{}", answer.text);
        assert!(answer.text.contains("no_route"), "{}", answer.text);

        for request in [
            // Absolute form naming a foreign host, Host agreeing with it.
            &b"GET http://evil.test/steal HTTP/1.1\r\nHost: evil.test\r\nConnection: close\r\n\r\n"
                [..],
            // Absolute form naming a foreign host, Host naming ours.
            b"GET http://evil.test/steal HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n",
            // A tunnel to anywhere.
            b"CONNECT evil.test:443 HTTP/1.1\r\nHost: evil.test:443\r\nConnection: close\r\n\r\n",
            b"CONNECT app.test:443 HTTP/1.1\r\nHost: app.test:443\r\nConnection: close\r\n\r\n",
        ] {
            let answer = raw(&proxy, request).await;
            let status = answer.status();
            assert!(
                (400..500).contains(&status),
                "{:?} -> {}",
                String::from_utf8_lossy(request),
                answer.text
            );
        }
        assert_eq!(origin.hits(), 0, "a foreign request reached the origin");
        // Our own host in absolute form is fine.
        let answer = raw(
            &proxy,
            b"GET http://app.test/own HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert_eq!(answer.status(), 200, "{}", answer.text);
        proxy.stop().await;
    })
    .await;
}
