//! The in-task HTTP/1 exchange (requests without a body) against an origin that sends exact
//! bytes: every response framing of RFC 9112 section 6.3, connection reuse and its limits, the
//! keep-alive race, and responses that must not be trusted.

mod support;

use bytes::Bytes;
use http::Method;
use http_body_util::BodyExt;
use support::scripted::{Reply, ScriptedOrigin};
use support::{TestClient, TestOrigin, TestProxy, bounded, request};

const OK_HEAD: &str = "HTTP/1.1 200 OK\r\n";

/// The scripted origin as the local region, a sibling that answers normally, the proxy in
/// front of them, and a client.
struct Setup {
    origin: ScriptedOrigin,
    sibling: TestOrigin,
    proxy: TestProxy,
    client: TestClient,
}

/// No hedging: the scripted replies pause between parts, and a hedge would race them.
async fn setup() -> Setup {
    let origin = ScriptedOrigin::start(scripted).await;
    let sibling = TestOrigin::new("eu-west-1").start().await;
    let proxy = TestProxy::builder()
        .set("retry.hedge", "false")
        .region("us-east-1", &[origin.addr()], &[])
        .origin(&sibling)
        .local("us-east-1")
        .start()
        .await;
    Setup {
        origin,
        sibling,
        proxy,
        client: TestClient::new(),
    }
}

fn scripted(received: &support::scripted::Received) -> Reply {
    let path = received.path.split('?').next().unwrap_or_default();
    match path {
        "/s/chunked" => Reply::split(&[
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel",
            b"lo\r\n6;ext=1\r\n world\r\n0\r\nx-checksum: abc\r\n\r\n",
        ]),
        "/s/length" => Reply::split(&[
            b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\nhello",
            b" world",
        ]),
        "/s/to-close" => {
            Reply::split(&[b"HTTP/1.1 200 OK\r\n\r\nread to", b" the end"]).then_close()
        }
        // The origin announces it will close but keeps the socket open: the proxy must still
        // not reuse the connection.
        "/s/conn-close" => {
            Reply::bytes("HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok")
        }
        // Closes every connection after answering, without saying so.
        "/s/silent-close" => {
            Reply::bytes("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").then_close()
        }
        "/s/head" => Reply::bytes("HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n"),
        "/s/no-content" => Reply::bytes("HTTP/1.1 204 No Content\r\n\r\n"),
        "/s/early-hints" => Reply::split(&[
            b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfinal",
        ]),
        "/s/ambiguous" => Reply::bytes(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        ),
        "/s/two-lengths" => {
            Reply::bytes("HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nabc")
        }
        "/s/garbage" => Reply::bytes("SSH-2.0-OpenSSH_9.2\r\n\r\n").then_close(),
        "/s/huge-head" => Reply::bytes(format!(
            "{OK_HEAD}x-big: {}\r\ncontent-length: 0\r\n\r\n",
            "a".repeat(70_000)
        )),
        "/s/truncated" => {
            Reply::bytes("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten..").then_close()
        }
        "/s/bad-chunk" => {
            Reply::bytes("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n").then_close()
        }
        other => panic!("no script for {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_framing_arrives_whole_and_only_keep_alive_connections_are_reused() {
    bounded(async {
        let t = setup().await;
        let get = |path: &str| {
            let (client, url) = (t.client.clone(), t.proxy.url(path));
            async move { client.get(&url).await }
        };

        let chunked = get("/s/chunked").await;
        assert_eq!(
            (chunked.status.as_u16(), chunked.text()),
            (200, "hello world".into())
        );
        assert_eq!(chunked.region(), "us-east-1");
        assert_eq!(get("/s/length").await.text(), "hello world");
        assert_eq!(get("/s/early-hints").await.text(), "final");
        assert_eq!(get("/s/no-content").await.status, 204);
        let head = t
            .client
            .send(request(
                Method::HEAD,
                &t.proxy.url("/s/head"),
                &[],
                Bytes::new(),
            ))
            .await;
        assert_eq!(
            (head.status.as_u16(), head.header("content-length")),
            (200, "1000")
        );
        assert!(head.body.is_empty());
        // Five keep-alive responses in a row, sequentially: one connection carried them all,
        // so each was read to its exact end (a HEAD's body is not waited for).
        let got = t.origin.received();
        assert!(
            got.iter().all(|r| r.connection == got[0].connection),
            "keep-alive responses were not reused: {got:?}"
        );
        assert_eq!(got[4].method, "HEAD");

        // Read-to-close and `connection: close` end their connections; the next request
        // opens a new one and still succeeds.
        assert_eq!(get("/s/to-close").await.text(), "read to the end");
        assert_eq!(get("/s/conn-close").await.text(), "ok");
        assert_eq!(get("/s/length").await.text(), "hello world");
        let got = t.origin.received();
        let conns: Vec<u64> = got[5..].iter().map(|r| r.connection).collect();
        assert_eq!(
            conns[0], got[0].connection,
            "to-close reuses the idle connection"
        );
        assert_ne!(conns[1], conns[0], "a read-to-close connection was reused");
        assert_ne!(
            conns[2], conns[1],
            "a connection: close connection was reused"
        );
        assert_eq!(t.origin.received().len(), 8);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trailers_of_a_chunked_response_reach_an_h2_client() {
    bounded(async {
        let t = setup().await;
        let req = request(Method::GET, &t.proxy.url("/s/chunked"), &[], Bytes::new());
        let resp = support::client::h2_send(t.proxy.addr(), req).await;
        assert_eq!(resp.status(), 200);
        let collected = resp.into_body().collect().await.unwrap();
        let trailers = collected.trailers().cloned().expect("trailers");
        assert_eq!(trailers["x-checksum"], "abc");
        assert_eq!(collected.to_bytes(), "hello world");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_closing_idle_connections_costs_no_request_and_no_failover() {
    bounded(async {
        let t = setup().await;
        for i in 0..30 {
            let answer = t.client.get(&t.proxy.url("/s/silent-close")).await;
            assert_eq!(answer.status, 200, "request {i}: {answer:?}");
            // Whether the proxy saw the close before reusing the connection or only when the
            // request met it, the answer came from the local origin on the first attempt.
            assert_eq!(answer.region(), "us-east-1", "request {i} failed over");
            assert_eq!(answer.header("x-meridian-attempts"), "1");
        }
        assert_eq!(t.sibling.hits(), 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrustworthy_responses_are_refused_and_a_get_fails_over() {
    bounded(async {
        let t = setup().await;
        // Smuggling-shaped framing, a non-HTTP answer and a head past 64 KiB: none of them is
        // passed on; the sibling answers instead.
        for path in [
            "/s/ambiguous",
            "/s/two-lengths",
            "/s/garbage",
            "/s/huge-head",
        ] {
            let answer = t.client.get(&t.proxy.url(path)).await;
            assert_eq!(answer.status, 200, "{path}: {answer:?}");
            assert_eq!(answer.region(), "eu-west-1", "{path}");
            assert_eq!(answer.header("x-meridian-attempts"), "2", "{path}");
        }
        assert_eq!(t.sibling.hits(), 4);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_cut_short_fails_that_response_only() {
    bounded(async {
        let t = setup().await;
        // The head went out before the body failed, so the client sees the response break
        // (not a made-up 200 with a short body), and the next request is served normally.
        for path in ["/s/truncated", "/s/bad-chunk"] {
            let result = t.client.try_get(&t.proxy.url(path)).await;
            assert!(
                result.is_err(),
                "{path}: a broken body was delivered as whole: {result:?}"
            );
            assert_eq!(
                t.client.get(&t.proxy.url("/s/length")).await.text(),
                "hello world"
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_head_is_forwarded_as_written_with_zero_length_for_bodyless_post() {
    bounded(async {
        let t = setup().await;
        let answer = t
            .client
            .send(request(
                Method::POST,
                &t.proxy.url("/s/length?q=1"),
                &[("x-custom", "kept")],
                Bytes::new(),
            ))
            .await;
        assert_eq!(answer.text(), "hello world");
        let got = t.origin.received();
        let head = got[0].head.to_ascii_lowercase();
        assert!(
            head.starts_with("post /s/length?q=1 http/1.1\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nx-custom: kept\r\n"), "{head}");
        assert!(head.contains("\r\ncontent-length: 0\r\n"), "{head}");
        assert!(
            head.contains("\r\nx-forwarded-for: 127.0.0.1\r\n"),
            "{head}"
        );
    })
    .await;
}
