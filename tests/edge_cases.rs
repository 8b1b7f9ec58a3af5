//! Edges of the failover contract that the headline tests do not reach: streamed bodies,
//! a health checker that is wrong, and list-valued headers.

mod support;

use bytes::Bytes;
use futures_util::stream;
use http::{Method, Request};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use std::time::Duration;
use support::{
    BoxBody, BoxError, Mode, TestClient, TestOrigin, TestProxy, bounded, eventually, metric,
    raw_exchange,
};

/// `chunks` chunks of `size` bytes, `gap` apart, without Content-Length (chunked).
fn slow_body(chunks: usize, size: usize, gap: Duration) -> BoxBody {
    let chunk = Bytes::from(vec![b'x'; size]);
    let frames = stream::unfold(0, move |i| {
        let chunk = chunk.clone();
        async move {
            if i == chunks {
                return None;
            }
            tokio::time::sleep(gap).await;
            Some((Ok::<_, BoxError>(Frame::data(chunk)), i + 1))
        }
    });
    StreamBody::new(frames).boxed()
}

#[tokio::test]
async fn slow_client_upload_does_not_time_out_or_make_the_origin_suspect() {
    bounded(async {
        let [local, eu, ap] = TestOrigin::three().await;
        let proxy = TestProxy::builder()
            .origins(&[&local, &eu, &ap])
            .set("timeouts.per_try", "\"500ms\"")
            .start()
            .await;
        // 1.2 s of upload from a slow client; the origin answers as soon as the body ends.
        let req = Request::builder()
            .method(Method::PUT)
            .uri(proxy.url("/upload"))
            .body(slow_body(6, 1024, Duration::from_millis(200)))
            .unwrap();
        let answer = TestClient::new().send(req).await;
        let endpoint = proxy.runtime().snapshot().local().endpoints()[0].clone();
        assert!(
            !endpoint.health.is_suspect(),
            "one slow client made the local origin suspect (client got {} after {:?})",
            answer.status,
            answer.elapsed
        );
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.header("x-origin-received-bytes"), "6144");
        proxy.stop().await;
    })
    .await;
}

#[tokio::test]
async fn upload_outlasting_the_request_deadline_is_a_504_deadline_exceeded() {
    bounded(async {
        let [local, eu, ap] = TestOrigin::three().await;
        let proxy = TestProxy::builder()
            .origins(&[&local, &eu, &ap])
            .set("timeouts.per_try", "\"300ms\"")
            .set("timeouts.request", "\"600ms\"")
            .start()
            .await;
        // 20 chunks 200 ms apart: the upload alone would take 4 s. No per-try timer runs while a
        // client uploads, so it is the overall deadline that must end the request.
        let req = Request::builder()
            .method(Method::PUT)
            .uri(proxy.url("/upload"))
            .body(slow_body(20, 1024, Duration::from_millis(200)))
            .unwrap();
        let answer = TestClient::new().send(req).await;
        assert_eq!(answer.status, 504, "{answer:?}");
        assert_eq!(answer.json()["error"], "deadline_exceeded", "{answer:?}");
        assert!(answer.elapsed < Duration::from_secs(3), "{answer:?}");
        // The origin was not at fault: a slow client must not eject or suspect it.
        let endpoint = proxy.runtime().snapshot().local().endpoints()[0].clone();
        assert!(!endpoint.health.is_suspect());
        proxy.stop().await;
    })
    .await;
}

#[tokio::test]
async fn large_post_whose_connect_was_refused_is_retried() {
    bounded(async {
        let [local, eu, ap] = TestOrigin::three().await;
        let proxy = TestProxy::builder()
            .origins(&[&local, &eu, &ap])
            .start()
            .await;
        local.kill().await;
        // 1 MiB: far past the 64 KiB replay buffer, but nothing was sent before the refusal.
        let req = Request::builder()
            .method(Method::POST)
            .uri(proxy.url("/big"))
            .header("content-length", 1024 * 1024)
            .body(slow_body(16, 64 * 1024, Duration::ZERO))
            .unwrap();
        let answer = TestClient::new().send(req).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_ne!(answer.region(), "us-east-1");
        assert_eq!(answer.header("x-origin-received-bytes"), "1048576");
        proxy.stop().await;
    })
    .await;
}

#[tokio::test]
async fn chunked_post_with_idempotency_key_is_replayed_whole() {
    bounded(async {
        let [local, eu, ap] = TestOrigin::three().await;
        let proxy = TestProxy::builder()
            .origins(&[&local, &eu, &ap])
            .start()
            .await;
        local.set_mode(Mode::Status(503));
        let req = Request::builder()
            .method(Method::POST)
            .uri(proxy.url("/orders"))
            .header("idempotency-key", "k-1")
            .body(slow_body(4, 1000, Duration::from_millis(5)))
            .unwrap();
        let answer = TestClient::new().send(req).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_ne!(answer.region(), "us-east-1");
        assert_eq!(answer.header("x-origin-received-bytes"), "4000");
        assert_eq!(local.hits(), 1);
        proxy.stop().await;
    })
    .await;
}

#[tokio::test]
async fn every_region_failing_probes_still_serves_fail_open() {
    bounded(async {
        let origins = TestOrigin::three().await;
        let proxy = TestProxy::builder()
            .origins(&[&origins[0], &origins[1], &origins[2]])
            .set("health.interval", "\"50ms\"")
            .set("health.fall", "1")
            .start()
            .await;
        for o in &origins {
            o.set_probe_status(500);
        }
        let runtime = proxy.runtime().clone();
        eventually(Duration::from_secs(3), "every endpoint down", || {
            let runtime = runtime.clone();
            async move {
                let snapshot = runtime.snapshot();
                snapshot.all_endpoints().iter().all(|e| !e.health.is_up())
            }
        })
        .await;
        let fail_open = metric("meridian_fail_open_total", &[]);
        let client = TestClient::new();
        let answer = client.get(&proxy.url("/")).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.region(), "us-east-1", "fail-open tries local first");
        assert!(metric("meridian_fail_open_total", &[]) > fail_open);
        let ready = client.get(&proxy.url("/.meridian/readyz")).await;
        assert_eq!(ready.status, 503);
        proxy.stop().await;
    })
    .await;
}

#[tokio::test]
async fn every_x_forwarded_for_line_is_kept() {
    bounded(async {
        let [local, eu, _ap] = TestOrigin::three().await;
        let proxy = TestProxy::builder()
            .origin(&local)
            .origin(&eu)
            .start()
            .await;
        let answer = raw_exchange(
            proxy.addr(),
            b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 198.51.100.1\r\n\
              X-Forwarded-For: 203.0.113.9\r\nConnection: close\r\n\r\n",
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(answer.status(), 200, "{}", answer.text);
        let seen = local.seen().pop().unwrap();
        let xff: Vec<_> = seen
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        assert_eq!(xff.join(", "), "198.51.100.1, 203.0.113.9, 127.0.0.1");
        proxy.stop().await;
    })
    .await;
}
