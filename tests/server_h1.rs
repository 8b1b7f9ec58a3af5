//! Meridian's own HTTP/1.1 server loop, seen from a client on a raw socket: keep-alive,
//! pipelining and the hand-over to hyper in the middle of a connection, response framing,
//! streaming, the header-read timeout, and a client leaving mid-request.

mod support;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body::{Body, Frame};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::task::{Context, Poll};
use std::time::Duration;
use support::scripted::{Reply, ScriptedOrigin};
use support::{BoxBody, BoxError, TestOrigin, TestProxy, bounded, eventually, full};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(5);

/// Reads from `stream` until `text` has arrived (or the stream ends, or WAIT passes).
async fn read_until(stream: &mut TcpStream, seen: &mut String, text: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !seen.contains(text) {
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => seen.push_str(&String::from_utf8_lossy(&chunk[..n])),
            _ => panic!("{text:?} never arrived; got {seen:?}"),
        }
    }
}

/// True if the server closes `stream` within WAIT; what it sent first goes into `seen`.
async fn closed_by_server(stream: &mut TcpStream, seen: &mut Vec<u8>) -> bool {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(n)) => seen.extend_from_slice(&chunk[..n]),
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn pipelined_requests_then_a_body_hand_the_connection_to_hyper_and_nothing_is_lost() {
    bounded(async {
        // The origin names each request it got, with the size of its body.
        let origin = TestOrigin::new("us-east-1")
            .handler(|req| async move {
                let line = format!("{} {}", req.method(), req.uri().path());
                let n = support::origin::drain(req.into_body()).await;
                Response::new(full(format!("{line} {n};")))
            })
            .start()
            .await;
        let proxy = TestProxy::builder().origin(&origin).start().await;
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        // Two GETs in one write (Meridian's loop), a POST with a body (handed to hyper with the
        // bytes already read), then a GET that hyper serves and that closes the connection.
        stream
            .write_all(
                b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n\
                  POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
                  GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            )
            .await
            .unwrap();
        let mut seen = Vec::new();
        assert!(closed_by_server(&mut stream, &mut seen).await, "not closed");
        let text = String::from_utf8_lossy(&seen);
        assert_eq!(text.matches("HTTP/1.1 200 OK\r\n").count(), 4, "{text}");
        let order: Vec<_> = ["GET /a 0;", "GET /b 0;", "POST /c 5;", "GET /d 0;"]
            .iter()
            .map(|body| {
                text.find(body)
                    .unwrap_or_else(|| panic!("{body} missing: {text}"))
            })
            .collect();
        assert!(order.is_sorted(), "answers out of order: {text}");
        // Every answer carries a Date and the serving region; the last says it closes.
        assert_eq!(text.matches("date: ").count(), 4, "{text}");
        assert_eq!(text.matches("x-meridian-region: us-east-1").count(), 4);
        assert!(text.ends_with("GET /d 0;"), "{text}");
        assert!(text.contains("connection: close"), "{text}");
        assert_eq!(origin.hits(), 4);

        // On a connection Meridian's own loop serves throughout, `Connection: close` is
        // answered in kind and honoured.
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        stream
            .write_all(b"GET /e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut seen = Vec::new();
        assert!(closed_by_server(&mut stream, &mut seen).await, "not closed");
        let text = String::from_utf8_lossy(&seen);
        assert!(text.contains("connection: close\r\n"), "{text}");
        assert!(text.ends_with("GET /e 0;"), "{text}");
        proxy.stop().await;
    })
    .await;
}

#[tokio::test]
async fn head_no_content_and_unknown_length_answers_are_framed_so_the_connection_stays_usable() {
    bounded(async {
        let origin = ScriptedOrigin::start(|r| match r.path.as_str() {
            // A HEAD answer keeps the length the GET would have had, and has no body.
            "/s/head" => Reply::bytes("HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n"),
            "/s/none" => Reply::bytes("HTTP/1.1 204 No Content\r\n\r\n"),
            // Read to close: the length is known only at the end, so the client gets chunks.
            _ => Reply::split(&[b"HTTP/1.1 200 OK\r\n\r\nto the ", b"end"]).then_close(),
        })
        .await;
        let sibling = TestOrigin::new("eu-west-1").start().await;
        let proxy = TestProxy::builder()
            .region("us-east-1", &[origin.addr()], &[])
            .region("eu-west-1", &[sibling.addr()], &[])
            .local("us-east-1")
            .start()
            .await;
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        let mut seen = String::new();
        stream
            .write_all(b"HEAD /s/head HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        read_until(&mut stream, &mut seen, "\r\n\r\n").await;
        assert!(seen.starts_with("HTTP/1.1 200 OK\r\n"), "{seen}");
        // The origin's spelling of the name is kept (HTTP/1 names are case-insensitive).
        assert!(seen.contains("Content-Length: 42\r\n"), "{seen}");

        seen.clear();
        stream
            .write_all(b"GET /s/none HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        read_until(&mut stream, &mut seen, "\r\n\r\n").await;
        assert!(seen.starts_with("HTTP/1.1 204 No Content\r\n"), "{seen}");
        assert!(!seen.contains("content-length"), "{seen}");
        assert!(!seen.contains("transfer-encoding"), "{seen}");

        seen.clear();
        stream
            .write_all(b"GET /s/stream HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        read_until(&mut stream, &mut seen, "\r\n0\r\n\r\n").await;
        assert!(seen.contains("transfer-encoding: chunked\r\n"), "{seen}");
        let body = &seen[seen.find("\r\n\r\n").unwrap() + 4..];
        let decoded: String = body
            .split("\r\n")
            .collect::<Vec<_>>()
            .chunks(2)
            .filter_map(|c| c.get(1).copied())
            .collect();
        assert_eq!(decoded, "to the end", "{body:?}");
        // Nothing was left over: no bytes beyond the answer, and the connection still works
        // (every head above arrived whole, not glued to a stray body).
        assert!(seen.ends_with("\r\n0\r\n\r\n"), "{seen:?}");
        seen.clear();
        stream
            .write_all(b"HEAD /s/head HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        read_until(&mut stream, &mut seen, "\r\n\r\n").await;
        assert!(seen.starts_with("HTTP/1.1 200 OK\r\n"), "{seen}");
        proxy.stop().await;
    })
    .await;
}

/// A body whose chunks the test releases one by one.
struct Released(tokio::sync::mpsc::Receiver<Bytes>);

impl Body for Released {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.0.poll_recv(cx).map(|c| c.map(|b| Ok(Frame::data(b))))
    }
}

#[tokio::test]
async fn a_streamed_answer_reaches_the_client_chunk_by_chunk() {
    bounded(async {
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
        let rx = Arc::new(std::sync::Mutex::new(Some(rx)));
        let origin = TestOrigin::new("us-east-1")
            .handler(move |_req| {
                let rx = rx.lock().unwrap().take().expect("one streamed request");
                async move {
                    let body: BoxBody = http_body_util::BodyExt::boxed(Released(rx));
                    Response::new(body)
                }
            })
            .start()
            .await;
        let proxy = TestProxy::builder().origin(&origin).start().await;
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        stream
            .write_all(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut seen = String::new();
        tx.send(Bytes::from_static(b"first")).await.unwrap();
        // The second chunk is not even produced until the first has reached the client.
        read_until(&mut stream, &mut seen, "first").await;
        tx.send(Bytes::from_static(b"second")).await.unwrap();
        read_until(&mut stream, &mut seen, "second").await;
        drop(tx);
        read_until(&mut stream, &mut seen, "\r\n0\r\n\r\n").await;
        assert!(seen.contains("transfer-encoding: chunked"), "{seen}");
        proxy.stop().await;
    })
    .await;
}

#[tokio::test]
async fn slow_and_idle_clients_are_cut_off_at_the_header_read_timeout() {
    bounded(async {
        let origin = TestOrigin::new("us-east-1").start().await;
        let proxy = TestProxy::builder()
            .origin(&origin)
            .set("timeouts.header_read", "\"300ms\"")
            .start()
            .await;

        // Trickling a head a byte at a time does not extend the time it is allowed.
        let mut slow = TcpStream::connect(proxy.addr()).await.unwrap();
        let head = b"GET /slow HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
        let mut sent = 0;
        for byte in head {
            if slow.write_all(&[*byte]).await.is_err() {
                break;
            }
            sent += 1;
            let mut probe = [0u8; 1];
            match tokio::time::timeout(Duration::from_millis(100), slow.read(&mut probe)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break, // closed
                Ok(Ok(_)) => panic!("answered a head that never finished"),
                Err(_) => {}
            }
        }
        assert!(
            sent < head.len(),
            "the whole head trickled in over {sent} x 100 ms"
        );

        // A kept-alive connection that goes quiet is closed too, after its answer.
        let mut idle = TcpStream::connect(proxy.addr()).await.unwrap();
        idle.write_all(b"GET /once HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut seen = Vec::new();
        assert!(
            closed_by_server(&mut idle, &mut seen).await,
            "idle not closed"
        );
        assert!(seen.starts_with(b"HTTP/1.1 200 OK\r\n"));

        // Everyone else is still served.
        let answer = support::TestClient::new().get(&proxy.url("/ok")).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(origin.hits(), 2, "the slow head never reached the origin");
        proxy.stop().await;
    })
    .await;
}

/// Sets its flag when dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}

#[tokio::test]
async fn a_client_that_leaves_cancels_its_request_upstream() {
    bounded(async {
        let started = Arc::new(AtomicBool::new(false));
        let cancelled = Arc::new(AtomicBool::new(false));
        let (s, c) = (started.clone(), cancelled.clone());
        // Never answers; the origin's server drops this future when Meridian closes the
        // upstream connection.
        let origin = TestOrigin::new("us-east-1")
            .handler(move |_req| {
                let guard = DropFlag(c.clone());
                s.store(true, SeqCst);
                async move {
                    let _guard = guard;
                    std::future::pending::<Response<BoxBody>>().await
                }
            })
            .start()
            .await;
        let proxy = TestProxy::builder()
            .origin(&origin)
            .set("timeouts.per_try", "\"30s\"")
            .set("timeouts.request", "\"30s\"")
            .start()
            .await;
        let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
        client
            .write_all(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        eventually(WAIT, "request reached the origin", || {
            let started = started.clone();
            async move { started.load(SeqCst) }
        })
        .await;
        assert!(!cancelled.load(SeqCst));
        drop(client);
        // Well inside the 30 s deadline: the request was dropped, not left to time out.
        eventually(WAIT, "upstream request cancelled", || {
            let cancelled = cancelled.clone();
            async move { cancelled.load(SeqCst) }
        })
        .await;
        proxy.stop().await;
    })
    .await;
}
