//! Connection-level behaviour not covered elsewhere: the connection limit, a client that stops
//! reading its response (the send timeout), and HTTP/2 clients told to go away (GOAWAY) when the
//! drain ends while their in-flight stream still completes.

mod ops_support;
mod support;

use bytes::Bytes;
use http::Method;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use ops_support::start_server;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use support::{
    ProxyBuilder, TestOrigin, TestProxy, bounded, eventually, full, raw_exchange, request,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

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

/// Sets its flag when dropped: tells the test that the origin let go of a response body.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// 64 MiB, streamed, that raises `dropped` when the origin stops sending it.
fn endless_enough(dropped: Arc<AtomicBool>) -> support::BoxBody {
    let guard = DropFlag(dropped);
    support::repeated(64 * 1024, 1024)
        .map_frame(move |frame| {
            let _held = &guard;
            frame
        })
        .boxed()
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_and_the_origin_released() {
    bounded(async {
        const TOTAL: usize = 64 * 1024 * 1024;
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = dropped.clone();
        let origin = TestOrigin::new("us-east-1")
            .handler(move |_req| {
                let flag = flag.clone();
                async move {
                    let mut resp = http::Response::new(endless_enough(flag));
                    resp.headers_mut()
                        .insert("content-length", TOTAL.to_string().parse().unwrap());
                    resp
                }
            })
            .start()
            .await;
        let proxy = TestProxy::builder()
            .origin(&origin)
            .set("timeouts.send", "\"300ms\"")
            .start()
            .await;

        // A bodyless GET (Meridian's own HTTP/1.1 loop) and a POST with a body (hyper's server).
        let requests: [&[u8]; 2] = [
            b"GET /big HTTP/1.1\r\nhost: a\r\n\r\n",
            b"POST /big HTTP/1.1\r\nhost: a\r\ncontent-length: 2\r\n\r\nhi",
        ];
        for raw in requests {
            dropped.store(false, Ordering::SeqCst);
            // A small receive buffer so that the proxy's writes stall soon.
            let socket = TcpSocket::new_v4().expect("socket");
            socket.set_recv_buffer_size(4096).expect("rcvbuf");
            let mut client = socket.connect(proxy.addr()).await.expect("connect");
            client.write_all(raw).await.expect("write");
            // Read nothing for well past the send timeout: the proxy must give up on us.
            tokio::time::sleep(Duration::from_secs(2)).await;
            let mut got = 0usize;
            let mut buf = vec![0u8; 256 * 1024];
            let ended = tokio::time::timeout(Duration::from_secs(10), async {
                loop {
                    match client.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got += n,
                    }
                }
            })
            .await;
            assert!(ended.is_ok(), "the connection was never closed");
            assert!(got > 0, "the response started");
            assert!(
                got < TOTAL,
                "a client that stopped reading still got all {got} bytes"
            );
            let released = dropped.clone();
            eventually(Duration::from_secs(5), "origin response dropped", || {
                let released = released.clone();
                async move { released.load(Ordering::SeqCst) }
            })
            .await;
        }

        // Everyone else is still served.
        let answer = raw_exchange(
            proxy.addr(),
            b"HEAD /big HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n",
            Duration::from_secs(3),
        )
        .await;
        assert_eq!(answer.status(), 200, "{}", answer.text);
    })
    .await;
}
