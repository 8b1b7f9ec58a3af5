//! 100 MB each way through the real binary, streamed, with the proxy's peak memory measured.

mod support;

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;
use support::binary::Binary;
use support::origin::drain;
use support::{BoxBody, TestClient, TestOrigin, TestProxy, eventually, full, repeated};

const CHUNK: usize = 64 * 1024;
const CHUNKS: usize = 1600;
const TOTAL: u64 = (CHUNK * CHUNKS) as u64; // 100 MiB
/// Peak RSS allowed for the proxy process after both transfers.
const MAX_PEAK_KB: u64 = 64 * 1024;

/// 100 MiB made of one shared 64 KiB chunk: nothing this size is ever allocated.
fn hundred_mib() -> BoxBody {
    repeated(CHUNK, CHUNKS)
}

/// Counts an upload's bytes; serves a 100 MiB download.
async fn bulk_origin() -> TestOrigin {
    TestOrigin::new("us-east-1")
        .handler(|req: Request<hyper::body::Incoming>| async move {
            if req.uri().path() == "/download" {
                let mut resp = Response::new(hundred_mib());
                resp.headers_mut()
                    .insert("content-length", TOTAL.to_string().parse().unwrap());
                return resp;
            }
            let received = drain(req.into_body()).await;
            Response::new(full(received.to_string()))
        })
        .start()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_megabytes_stream_both_ways_in_bounded_memory() {
    tokio::time::timeout(Duration::from_secs(120), async {
        let origin = bulk_origin().await;
        let sibling = TestOrigin::new("eu-west-1").start().await;
        let config = TestProxy::builder()
            .origin(&origin)
            .origin(&sibling)
            .set("timeouts.per_try", "\"60s\"")
            .set("timeouts.request", "\"90s\"")
            .set("log.level", "\"info\"");
        let proxy = Binary::start(&config).await;
        let ready = format!("http://{}/.meridian/readyz", proxy.addr);
        let probe = TestClient::new();
        eventually(Duration::from_secs(10), "proxy ready", || {
            let (probe, ready) = (probe.clone(), ready.clone());
            async move { probe.try_get(&ready).await.is_ok_and(|a| a.status == 200) }
        })
        .await;
        let baseline_kb = proxy.status_kb("VmRSS");

        let client: Client<_, BoxBody> = Client::builder(TokioExecutor::new()).build_http();
        let upload = Request::builder()
            .method(Method::POST)
            .uri(format!("http://{}/upload", proxy.addr))
            .header("content-length", TOTAL)
            .body(hundred_mib())
            .unwrap();
        let resp = client.request(upload).await.expect("upload answered");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-meridian-region"], "us-east-1");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(String::from_utf8_lossy(&body), TOTAL.to_string());

        let download = Request::builder()
            .uri(format!("http://{}/download", proxy.addr))
            .body(full(Bytes::new()))
            .unwrap();
        let resp = client.request(download).await.expect("download answered");
        assert_eq!(resp.status(), 200);
        let mut body = resp.into_body();
        let mut received = 0u64;
        while let Some(frame) = body.frame().await {
            if let Some(data) = frame.expect("download frame").data_ref() {
                received += data.len() as u64;
            }
        }
        assert_eq!(received, TOTAL);

        let peak_kb = proxy.status_kb("VmHWM");
        eprintln!("proxy RSS: baseline {baseline_kb} kB, peak {peak_kb} kB");
        assert!(
            peak_kb < MAX_PEAK_KB,
            "proxy peak RSS {peak_kb} kB (baseline {baseline_kb} kB) for 100 MiB each way"
        );
    })
    .await
    .expect("large-body test finished within 120 s");
}
