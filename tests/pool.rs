//! Upstream keep-alive pool: connections are reused, a half-read response never lends its
//! connection to the next request, and a connection the origin closed is never written to.

mod support;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{Method, Response};
use http_body_util::{BodyExt, StreamBody};
use std::time::Duration;
use support::{BoxBody, TestClient, TestOrigin, TestProxy, bounded, full};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_requests_reuse_one_upstream_connection() {
    bounded(async {
        let origin = TestOrigin::new("us-east-1").start().await;
        let proxy = TestProxy::builder().origin(&origin).start().await;
        let client = TestClient::new();
        let before = origin.connections();
        for _ in 0..20 {
            assert_eq!(client.get(&proxy.url("/seq")).await.status, 200);
        }
        assert_eq!(origin.hits(), 20);
        // The first request may need a new connection (the probe's may still be busy); every
        // later one finds the previous one back in the pool.
        let opened = origin.connections() - before;
        assert!(
            opened <= 1,
            "20 sequential requests opened {opened} connections"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_dropped_mid_body_does_not_lend_its_connection() {
    bounded(async {
        // /stream sends one chunk and then nothing: its connection is mid-response for good.
        let origin = TestOrigin::new("us-east-1")
            .handler(|req| async move {
                if req.uri().path() == "/stream" {
                    let first: Result<_, support::BoxError> =
                        Ok(hyper::body::Frame::data(Bytes::from_static(b"first chunk")));
                    let frames =
                        futures_util::stream::iter([first]).chain(futures_util::stream::pending());
                    return Response::new(BodyExt::boxed(StreamBody::new(frames)));
                }
                Response::new(full("whole"))
            })
            .start()
            .await;
        let proxy = TestProxy::builder().origin(&origin).start().await;

        // Read the head and the first chunk of /stream, then hang up.
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(
                tokio::net::TcpStream::connect(proxy.addr()).await.unwrap(),
            ))
            .await
            .unwrap();
        let conn_task = tokio::spawn(conn);
        let req = http::Request::get("/stream")
            .header(http::header::HOST, proxy.addr().to_string())
            .body(full(""))
            .unwrap();
        let resp = sender.send_request(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        let mut body = resp.into_body();
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&first[..], b"first chunk");
        drop(body);
        drop(sender);
        conn_task.abort();

        // Every next request must get a fresh or idle connection, never the stuck one.
        let client = TestClient::new().with_timeout(Duration::from_secs(3));
        for _ in 0..5 {
            let answer = client.get(&proxy.url("/whole")).await;
            assert_eq!(answer.status, 200);
            assert_eq!(answer.text(), "whole");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_closed_by_origin_is_not_used_for_a_post() {
    bounded(async {
        // /close answers with `Connection: close`, so the origin hangs up after answering.
        let origin = TestOrigin::new("us-east-1")
            .handler(|req| async move {
                let mut resp: Response<BoxBody> = Response::new(full("bye"));
                if req.uri().path() == "/close" {
                    resp.headers_mut()
                        .insert(http::header::CONNECTION, "close".parse().unwrap());
                }
                resp
            })
            .start()
            .await;
        let proxy = TestProxy::builder().origin(&origin).start().await;
        let client = TestClient::new();
        for round in 0..10 {
            assert_eq!(client.get(&proxy.url("/close")).await.status, 200);
            // A POST without Idempotency-Key is never retried once it may have been sent; it
            // succeeds only if the pool skipped the closed connection.
            let answer = client.post(&proxy.url("/write"), &[], "payload").await;
            assert_eq!(answer.status, 200, "round {round}: {}", answer.text());
        }
        let posts = origin
            .seen()
            .iter()
            .filter(|s| s.method == Method::POST)
            .count();
        assert_eq!(posts, 10);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_to_a_new_h2_origin_opens_one_connection() {
    bounded(async {
        let origin = TestOrigin::new("us-east-1").start().await;
        let proxy = TestProxy::builder()
            .region("us-east-1", &[origin.addr()], &[("protocol", "\"h2\"")])
            .no_wait()
            .start()
            .await;
        // 20 requests at once, before any connection exists: they must share one.
        let client = TestClient::new();
        let mut burst = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let (client, url) = (client.clone(), proxy.url("/burst"));
            burst.spawn(async move { client.get(&url).await.status });
        }
        while let Some(status) = burst.join_next().await {
            assert_eq!(status.unwrap(), 200);
        }
        assert_eq!(origin.hits(), 20);
        assert_eq!(origin.connections(), 1, "one multiplexed HTTP/2 connection");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_to_a_refusing_h2_origin_fails_over_every_request() {
    bounded(async {
        let local = TestOrigin::new("us-east-1").start().await;
        let sibling = TestOrigin::new("eu-west-1").start().await;
        local.kill().await;
        let proxy = TestProxy::builder()
            .region("us-east-1", &[local.addr()], &[("protocol", "\"h2\"")])
            .origin(&sibling)
            .no_wait()
            .start()
            .await;
        // Requests queued behind a failing HTTP/2 connect fail over too (nothing was sent).
        let client = TestClient::new();
        let mut burst = tokio::task::JoinSet::new();
        for _ in 0..10 {
            let (client, url) = (client.clone(), proxy.url("/burst"));
            burst.spawn(async move { client.get(&url).await });
        }
        while let Some(answer) = burst.join_next().await {
            let answer = answer.unwrap();
            assert_eq!(answer.status, 200, "{answer:?}");
            assert_eq!(answer.region(), "eu-west-1");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_never_waits_behind_another_requests_upload() {
    bounded(async {
        // /early answers at once and reads the upload in the background, so its connection
        // stays busy (uploading) after the response is complete.
        let origin = TestOrigin::new("us-east-1")
            .handler(|req| async move {
                if req.uri().path() == "/early" {
                    tokio::spawn(support::origin::drain(req.into_body()));
                    return Response::new(full("early"));
                }
                Response::new(full("fast"))
            })
            .start()
            .await;
        let proxy = TestProxy::builder().origin(&origin).start().await;

        let upload_done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done = upload_done.clone();
        // 15 chunks 200 ms apart: a 3 s upload, without Content-Length.
        let chunks = futures_util::stream::unfold(0, move |i| {
            let done = done.clone();
            async move {
                if i == 15 {
                    done.store(true, std::sync::atomic::Ordering::SeqCst);
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                let chunk: Result<_, support::BoxError> =
                    Ok(hyper::body::Frame::data(Bytes::from_static(&[b'x'; 1024])));
                Some((chunk, i + 1))
            }
        });
        let put = http::Request::builder()
            .method(Method::PUT)
            .uri(proxy.url("/early"))
            .body(BodyExt::boxed(StreamBody::new(chunks)))
            .unwrap();
        let client = TestClient::new();
        let early = client.send(put).await;
        assert_eq!(early.text(), "early");
        assert!(!upload_done.load(std::sync::atomic::Ordering::SeqCst));

        // The upstream connection of /early is still uploading; this request must not wait
        // for it to become free.
        let fast = client.get(&proxy.url("/fast")).await;
        assert_eq!(fast.text(), "fast");
        assert!(
            !upload_done.load(std::sync::atomic::Ordering::SeqCst),
            "the GET waited for another request's upload to finish"
        );
    })
    .await;
}
