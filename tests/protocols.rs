//! Protocols beyond plain HTTP/1.1 request/response: WebSocket upgrades tunnelled through, and
//! HTTP/2 on both sides with trailers reaching the client (gRPC's `grpc-status`).

mod support;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{Request, Response, StatusCode, Version, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use support::client::h2_send;
use support::{BoxBody, TestOrigin, TestProxy, bounded, full};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

/// An origin that completes WebSocket handshakes and echoes every data message.
async fn websocket_echo() -> TestOrigin {
    TestOrigin::new("us-east-1")
        .handler(|mut req: Request<hyper::body::Incoming>| async move {
            let Some(key) = req.headers().get("sec-websocket-key").cloned() else {
                let mut resp = Response::new(full("not a websocket handshake\n"));
                *resp.status_mut() = StatusCode::BAD_REQUEST;
                return resp;
            };
            let on_upgrade = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                let Ok(upgraded) = on_upgrade.await else {
                    return;
                };
                let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    None,
                )
                .await;
                while let Some(Ok(msg)) = ws.next().await {
                    if msg.is_text() || msg.is_binary() {
                        if ws.send(msg).await.is_err() {
                            return;
                        }
                    } else if msg.is_close() {
                        return;
                    }
                }
            });
            Response::builder()
                .status(StatusCode::SWITCHING_PROTOCOLS)
                .header(header::CONNECTION, "upgrade")
                .header(header::UPGRADE, "websocket")
                .header("sec-websocket-accept", derive_accept_key(key.as_bytes()))
                .body(full(Bytes::new()))
                .unwrap()
        })
        .start()
        .await
}

#[tokio::test]
async fn websocket_upgrade_is_tunnelled_both_ways() {
    bounded(async {
        let origin = websocket_echo().await;
        let sibling = TestOrigin::new("eu-west-1").start().await;
        let proxy = TestProxy::builder()
            .origin(&origin)
            .origin(&sibling)
            .start()
            .await;
        let (mut ws, handshake) =
            tokio_tungstenite::connect_async(format!("ws://{}/ws", proxy.addr()))
                .await
                .expect("websocket handshake through the proxy");
        assert_eq!(handshake.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(handshake.headers()["x-meridian-region"], "us-east-1");

        for i in 0..5 {
            ws.send(Message::text(format!("hello {i}"))).await.unwrap();
            let echoed = ws.next().await.expect("an echo").unwrap();
            assert_eq!(echoed.into_text().unwrap().as_str(), format!("hello {i}"));
        }
        let blob: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
        ws.send(Message::binary(blob.clone())).await.unwrap();
        let echoed = ws.next().await.expect("an echo").unwrap();
        assert_eq!(echoed.into_data().as_ref(), &blob[..]);
        ws.close(None).await.unwrap();
        assert_eq!(origin.hits(), 1, "one handshake reached the origin");
        assert_eq!(sibling.hits(), 0);
        proxy.stop().await;
    })
    .await;
}

/// An h2c origin answering like a gRPC server: data, then trailers with `grpc-status: 0`.
async fn grpc_like_origin() -> TestOrigin {
    TestOrigin::new("eu-west-1")
        .handler(|req: Request<hyper::body::Incoming>| async move {
            let version = format!("{:?}", req.version());
            let received = req.into_body().collect().await.unwrap().to_bytes();
            let mut trailers = http::HeaderMap::new();
            trailers.insert("grpc-status", "0".parse().unwrap());
            trailers.insert("grpc-message", "ok".parse().unwrap());
            let frames = vec![
                Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"reply:"))),
                Ok(Frame::data(received)),
                Ok(Frame::trailers(trailers)),
            ];
            let body: BoxBody = StreamBody::new(futures_util::stream::iter(frames))
                .map_err(|never| match never {})
                .boxed();
            Response::builder()
                .header("content-type", "application/grpc")
                .header("x-origin-version", version)
                .body(body)
                .unwrap()
        })
        .start()
        .await
}

#[tokio::test]
async fn http2_end_to_end_carries_trailers() {
    bounded(async {
        let origin = grpc_like_origin().await;
        let other = TestOrigin::new("us-east-1").start().await;
        let proxy = TestProxy::builder()
            .region("eu-west-1", &[origin.addr()], &[("protocol", "\"h2\"")])
            .origin(&other)
            .start()
            .await;
        let req = Request::builder()
            .version(Version::HTTP_2)
            .method("POST")
            .uri(format!("http://{}/echo.Echo/Say", proxy.addr()))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(full("ping"))
            .unwrap();
        let resp = h2_send(proxy.addr(), req).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.version(), Version::HTTP_2);
        assert_eq!(resp.headers()["x-meridian-region"], "eu-west-1");
        assert_eq!(resp.headers()["x-origin-version"], "HTTP/2.0");
        let collected = resp.into_body().collect().await.expect("body");
        let trailers = collected
            .trailers()
            .cloned()
            .expect("trailers reached the client");
        assert_eq!(trailers["grpc-status"], "0");
        assert_eq!(trailers["grpc-message"], "ok");
        assert_eq!(collected.to_bytes(), Bytes::from_static(b"reply:ping"));

        let seen = origin.seen().pop().expect("origin saw the call");
        assert_eq!(seen.headers["te"], "trailers");
        assert_eq!(seen.path, "/echo.Echo/Say");
        proxy.stop().await;
    })
    .await;
}

#[tokio::test]
async fn http2_client_reaches_an_http1_origin_with_a_host_header() {
    bounded(async {
        let origin = TestOrigin::new("us-east-1").start().await;
        let sibling = TestOrigin::new("eu-west-1").start().await;
        let proxy = TestProxy::builder()
            .origin(&origin)
            .origin(&sibling)
            .start()
            .await;
        let req = Request::builder()
            .version(Version::HTTP_2)
            .uri(format!("http://app.test:{}/h2-to-h1", proxy.addr().port()))
            .body(full(Bytes::new()))
            .unwrap();
        let resp = h2_send(proxy.addr(), req).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["x-meridian-region"], "us-east-1");
        let seen = origin.seen().pop().expect("origin saw the request");
        let authority = format!("app.test:{}", proxy.addr().port());
        assert_eq!(seen.headers["host"], authority.as_str());
        assert_eq!(seen.headers["x-forwarded-host"], authority.as_str());
        proxy.stop().await;
    })
    .await;
}
