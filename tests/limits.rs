//! Connection-level behaviour not covered elsewhere: the connection limit, and HTTP/2 clients
//! told to go away (GOAWAY) when the drain ends while their in-flight stream still completes.

mod ops_support;
mod support;

use bytes::Bytes;
use http::Method;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use ops_support::start_server;
use std::time::Duration;
use support::{
    ProxyBuilder, TestOrigin, TestProxy, bounded, eventually, full, raw_exchange, request,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn connections_past_the_limit_get_503_and_are_closed_while_others_are_served() {
    bounded(async {
        let origin = TestOrigin::new("us-east-1").start().await;
        let proxy = TestProxy::builder()
            .origin(&origin)
            .set("limits.max_connections", "2")
            .start()
            .await;
        // Two idle keep-alive connections hold both slots (a request each proves they are open).
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut s = TcpStream::connect(proxy.addr()).await.expect("connect");
            s.write_all(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n")
                .await
                .expect("write");
            held.push(s);
        }
        let runtime = proxy.runtime().clone();
        eventually(Duration::from_secs(5), "two connections counted", || {
            let runtime = runtime.clone();
            async move {
                runtime
                    .connections
                    .load(std::sync::atomic::Ordering::Relaxed)
                    == 2
            }
        })
        .await;

        let third = raw_exchange(
            proxy.addr(),
            b"GET / HTTP/1.1\r\nhost: a\r\n\r\n",
            Duration::from_secs(3),
        )
        .await;
        assert_eq!(third.status(), 503, "{}", third.text);
        assert!(
            third.text.to_ascii_lowercase().contains("retry-after: 1"),
            "{}",
            third.text
        );
        assert!(third.closed, "the refused connection is closed");

        // Freeing a slot lets the next connection through.
        drop(held.pop());
        eventually(Duration::from_secs(5), "a slot is free again", || async {
            raw_exchange(
                proxy.addr(),
                b"GET / HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n",
                Duration::from_secs(3),
            )
            .await
            .status()
                == 200
        })
        .await;
        proxy.stop().await;
    })
    .await;
}

#[tokio::test]
async fn http2_connection_gets_goaway_at_the_end_of_drain_and_its_stream_completes() {
    bounded(async {
        let origin = TestOrigin::new("us-east-1")
            .handler(|req| async move {
                if req.uri().path() == "/slow" {
                    tokio::time::sleep(Duration::from_millis(600)).await;
                }
                http::Response::new(full("done"))
            })
            .start()
            .await;
        let builder = ProxyBuilder::new()
            .origin(&origin)
            .set("shutdown.drain", "\"200ms\"")
            .set("shutdown.grace", "\"3s\"");
        let server = start_server(&builder).await;
        let stream = TcpStream::connect(server.addr()).await.expect("connect");
        let (mut send, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .expect("h2 handshake");
        let conn = tokio::spawn(conn);
        let url = format!("http://{}/slow", server.addr());
        let slow = send.send_request(request(Method::GET, &url, &[], Bytes::new()));
        let drain = tokio::spawn(server.drain_and_stop());
        let resp = slow
            .await
            .expect("the in-flight stream completes during the drain");
        assert_eq!(resp.status(), 200);
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        assert_eq!(&body[..], b"done");
        // After GOAWAY the connection ends cleanly and the server finishes stopping.
        tokio::time::timeout(Duration::from_secs(5), conn)
            .await
            .expect("the h2 connection was closed by the server")
            .expect("connection task")
            .expect("clean h2 shutdown");
        tokio::time::timeout(Duration::from_secs(5), drain)
            .await
            .expect("drain finished")
            .expect("drain task");
    })
    .await;
}
