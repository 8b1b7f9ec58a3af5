//! Access logs from the real binary's stdout: one JSON line per request with the OpenTelemetry
//! HTTP field names, the regions tried and the trace id; sampling and the error rule applied
//! after a hot reload.

mod support;

use bytes::Bytes;
use http::Method;
use serde_json::Value;
use std::time::Duration;
use support::binary::Binary;
use support::{Mode, ProxyBuilder, TestClient, TestOrigin, bounded, eventually, request};

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

/// The logged line whose request id is `id`, once it is there.
async fn line(meridian: &Binary, id: &str) -> Value {
    let find = || {
        meridian.stdout_text().lines().find_map(|l| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l}"));
            (v["meridian.request_id"] == id).then_some(v)
        })
    };
    eventually(
        Duration::from_secs(10),
        &format!("a line for {id}"),
        || async { find().is_some() },
    )
    .await;
    find().unwrap()
}

#[tokio::test]
async fn one_json_line_per_request_with_semantic_convention_fields() {
    bounded(async {
        let local = TestOrigin::new("us-east-1").start().await;
        let sibling = TestOrigin::new("eu-west-1").start().await;
        // A collector nobody listens on: spans are dropped, the trace id is still logged.
        let dead = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let config = ProxyBuilder::new()
            .origins(&[&local, &sibling])
            .route("name = \"api\"\nhost = \"api.example.com\"")
            .set("access_log.enabled", "true")
            .set("tracing.enabled", "true")
            .set("tracing.endpoint", &format!("\"http://{dead}/v1/traces\""));
        let meridian = Binary::start(&config).await;
        let admin = TestClient::new();
        eventually(Duration::from_secs(5), "every endpoint probed", || async {
            let status = admin
                .get(&format!("http://{}/status", meridian.admin))
                .await
                .json();
            status["regions"].as_array().unwrap().iter().all(|r| {
                r["endpoints"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|e| e["probes"].as_u64() > Some(0))
            })
        })
        .await;
        local.set_mode(Mode::Down);
        let url = |path: &str| format!("http://{}{path}", meridian.addr);
        let client = TestClient::new();
        let traceparent = format!("00-{TRACE}-b7ad6b7169203331-01");
        let answer = client
            .send(request(
                Method::GET,
                &url("/orders/1?token=secret"),
                &[
                    ("host", "api.example.com"),
                    ("x-request-id", "failover-1"),
                    ("traceparent", &traceparent),
                    ("user-agent", "log-test/1"),
                    ("x-forwarded-for", "203.0.113.9"),
                ],
                Bytes::new(),
            ))
            .await;
        assert_eq!(answer.region(), "eu-west-1");
        let v = line(&meridian, "failover-1").await;
        assert_eq!(v["http.request.method"], "GET");
        assert_eq!(v["url.path"], "/orders/1", "no query string in the log");
        assert!(!v.to_string().contains("secret"));
        assert_eq!(v["server.address"], "api.example.com");
        assert_eq!(v["http.route"], "api");
        assert_eq!(v["network.protocol.version"], "1.1");
        assert_eq!(v["http.response.status_code"], 200);
        assert_eq!(v["client.address"], "127.0.0.1");
        assert!(v["client.port"].as_u64().is_some_and(|p| p > 0));
        assert_eq!(v["http.request.header.x-forwarded-for"], "203.0.113.9");
        assert_eq!(v["user_agent.original"], "log-test/1");
        assert_eq!(v["trace_id"], TRACE);
        assert_eq!(v["cloud.region"], "us-east-1");
        assert_eq!(v["meridian.region"], "eu-west-1");
        assert_eq!(
            v["meridian.regions_tried"],
            serde_json::json!(["us-east-1", "eu-west-1"])
        );
        assert_eq!(
            v["meridian.attempt_outcomes"],
            serde_json::json!(["connect_error", "ok"])
        );
        assert_eq!(v["http.response.body.size"], answer.body.len());
        assert_eq!(v["http.request.body.size"], 0);
        assert_eq!(v["meridian.response.complete"], true);
        assert!(
            v["http.server.request.duration"]
                .as_f64()
                .is_some_and(|d| d > 0.0)
        );
        assert!(
            v["meridian.response_headers.duration"].as_f64()
                <= v["http.server.request.duration"].as_f64()
        );
        assert!(v.get("error.type").is_none());
        humantime::parse_rfc3339(v["timestamp"].as_str().unwrap()).expect("RFC 3339 timestamp");

        // A body is counted; an unrouted host is Meridian's own 404.
        let posted = client
            .send(request(
                Method::POST,
                &url("/orders"),
                &[("host", "api.example.com"), ("x-request-id", "post-1")],
                Bytes::from_static(b"hello"),
            ))
            .await;
        assert_eq!(posted.status, 200);
        assert_eq!(line(&meridian, "post-1").await["http.request.body.size"], 5);
        let unrouted = client
            .send(request(
                Method::GET,
                &url("/"),
                &[
                    ("host", "other.example.com"),
                    ("x-request-id", "unrouted-1"),
                ],
                Bytes::new(),
            ))
            .await;
        assert_eq!(unrouted.status, 404);
        let v = line(&meridian, "unrouted-1").await;
        assert_eq!(v["http.response.status_code"], 404);
        assert_eq!(v["error.type"], "no_route");
        assert!(v.get("http.route").is_none());

        // Reloaded with a sample of 0: successes are not logged, a 502 still is.
        let sampled_out = config.set("access_log.sample_ratio", "0.0");
        std::fs::write(&meridian.config, sampled_out.render()).unwrap();
        eventually(
            Duration::from_secs(5),
            "the new sample is applied",
            || async { meridian.log_text().contains("config reloaded") },
        )
        .await;
        for i in 0..3 {
            let ok = client
                .send(request(
                    Method::GET,
                    &url("/"),
                    &[
                        ("host", "api.example.com"),
                        ("x-request-id", &format!("quiet-{i}")),
                    ],
                    Bytes::new(),
                ))
                .await;
            assert_eq!(ok.status, 200);
        }
        sibling.set_mode(Mode::Down);
        let failed = client
            .send(request(
                Method::GET,
                &url("/"),
                &[("host", "api.example.com"), ("x-request-id", "error-1")],
                Bytes::new(),
            ))
            .await;
        assert_eq!(failed.status, 502);
        let v = line(&meridian, "error-1").await;
        assert_eq!(v["error.type"], "upstream_connect_failed");
        assert_eq!(v["http.response.status_code"], 502);
        // One writer, in order: the earlier successes would be above it.
        assert!(!meridian.stdout_text().contains("quiet-"));
        // Nothing but access-log lines on stdout.
        for l in meridian.stdout_text().lines() {
            let v: Value = serde_json::from_str(l).unwrap();
            assert!(v["meridian.request_id"].is_string(), "{l}");
        }
    })
    .await;
}
