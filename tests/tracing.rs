//! OpenTelemetry traces received over real OTLP/HTTP from real Meridians: a request that fails
//! over is one trace across two regions, and a dead or hanging collector costs requests nothing.

mod support;

use bytes::Bytes;
use http::Method;
use std::time::Duration;
use support::otlp::{OtlpReceiver, ReceivedSpan};
use support::{
    Mode, Relay, TestClient, TestOrigin, TestProxy, bounded, eventually, metric, request,
};

const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_PARENT: &str = "00f067aa0ba902b7";

/// Tracing on, every trace sampled, exported every 50 ms to `endpoint`.
fn traced(builder: support::ProxyBuilder, endpoint: &str) -> support::ProxyBuilder {
    builder
        .set("tracing.enabled", "true")
        .set("tracing.endpoint", &format!("{endpoint:?}"))
        .set("tracing.sampler", "\"parentbased_always_on\"")
        .set("tracing.export_interval", "\"50ms\"")
        .set("tracing.headers", "{ x-test-key = \"secret\" }")
}

/// us-east-1 (A) and eu-west-1 (B), each the other's sibling through a relay, both tracing to
/// one receiver.
struct TwoRegions {
    origin_a: TestOrigin,
    origin_b: TestOrigin,
    a: TestProxy,
    b: TestProxy,
    _relays: (Relay, Relay),
}

async fn two_regions(endpoint: &str) -> TwoRegions {
    let origin_a = TestOrigin::new("us-east-1").start().await;
    let origin_b = TestOrigin::new("eu-west-1").start().await;
    let (to_a, to_b) = (Relay::start().await, Relay::start().await);
    let readyz = [("health_path", "\"/.meridian/readyz\"")];
    let a = traced(TestProxy::builder(), endpoint)
        .origin(&origin_a)
        .region("eu-west-1", &[to_b.addr()], &readyz)
        .no_wait()
        .start()
        .await;
    to_a.set_target(a.addr());
    let b = traced(TestProxy::builder(), endpoint)
        .origin(&origin_b)
        .region("us-east-1", &[to_a.addr()], &readyz)
        .start()
        .await;
    to_b.set_target(b.addr());
    let runtime = a.runtime().clone();
    eventually(Duration::from_secs(5), "A probed everything once", || {
        let runtime = runtime.clone();
        async move {
            let snapshot = runtime.snapshot();
            snapshot
                .all_endpoints()
                .iter()
                .all(|e| e.health.is_probed())
        }
    })
    .await;
    TwoRegions {
        origin_a,
        origin_b,
        a,
        b,
        _relays: (to_a, to_b),
    }
}

/// The spans of `trace` once `n` of them have arrived.
async fn trace_spans(receiver: &OtlpReceiver, trace: &str, n: usize) -> Vec<ReceivedSpan> {
    let what = format!("{n} spans of trace {trace}");
    eventually(Duration::from_secs(10), &what, || async {
        receiver
            .spans()
            .iter()
            .filter(|s| s.trace_id == trace)
            .count()
            >= n
    })
    .await;
    receiver
        .spans()
        .into_iter()
        .filter(|s| s.trace_id == trace)
        .collect()
}

fn one<'a>(
    spans: &'a [ReceivedSpan],
    what: &str,
    f: impl Fn(&ReceivedSpan) -> bool,
) -> &'a ReceivedSpan {
    let found: Vec<_> = spans.iter().filter(|s| f(s)).collect();
    assert_eq!(found.len(), 1, "exactly one {what} in {spans:#?}");
    found[0]
}

#[tokio::test]
async fn a_failed_over_request_is_one_trace_across_both_regions() {
    bounded(async {
        let receiver = OtlpReceiver::start().await;
        let t = two_regions(&receiver.endpoint()).await;
        // A's own origin refuses connections from now on; its probes have not noticed.
        t.origin_a.set_mode(Mode::Down);
        let traceparent = format!("00-{CLIENT_TRACE}-{CLIENT_PARENT}-01");
        let answer = TestClient::new()
            .send(request(
                Method::GET,
                &t.a.url("/orders/7?secret=1"),
                &[("traceparent", &traceparent), ("tracestate", "vendor=x")],
                Bytes::new(),
            ))
            .await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.region(), "eu-west-1");
        assert_eq!(answer.header("x-meridian-attempts"), "2");

        // A: request span + two attempts; B: request span + one attempt.
        let spans = trace_spans(&receiver, CLIENT_TRACE, 5).await;
        let region_of = |s: &ReceivedSpan| s.resource["cloud.region"].clone();
        let a_request = one(&spans, "request span in A", |s| {
            s.parent_span_id == CLIENT_PARENT && region_of(s) == "us-east-1"
        });
        assert_eq!(a_request.name, "GET all");
        assert_eq!(a_request.attr("http.request.method"), "GET");
        assert_eq!(a_request.attr("http.route"), "all");
        assert_eq!(a_request.attr("url.path"), "/orders/7");
        assert_eq!(a_request.attr("http.response.status_code"), "200");
        assert_eq!(a_request.attr("meridian.region"), "eu-west-1");
        assert_eq!(
            a_request.attr("meridian.regions_tried"),
            "us-east-1,eu-west-1"
        );
        assert_eq!(a_request.resource["service.name"], "meridian");
        let a_local = one(&spans, "A's attempt at us-east-1", |s| {
            s.name == "attempt"
                && region_of(s) == "us-east-1"
                && s.attr("meridian.region") == "us-east-1"
        });
        assert_eq!(a_local.parent_span_id, a_request.span_id);
        assert_eq!(a_local.attr("meridian.outcome"), "connect_error");
        assert_eq!(a_local.attr("meridian.attempt.reason"), "first");
        let a_sibling = one(&spans, "A's attempt at eu-west-1", |s| {
            s.name == "attempt"
                && region_of(s) == "us-east-1"
                && s.attr("meridian.region") == "eu-west-1"
        });
        assert_eq!(a_sibling.parent_span_id, a_request.span_id);
        assert_eq!(a_sibling.attr("meridian.outcome"), "ok");
        assert_eq!(a_sibling.attr("meridian.attempt.reason"), "retry");
        assert_eq!(a_sibling.attr("meridian.failover.reason"), "connect_error");
        assert_eq!(a_sibling.attr("meridian.cross_region"), "true");

        // B continues the trace under A's attempt span.
        let b_request = one(&spans, "request span in B", |s| {
            s.name != "attempt" && region_of(s) == "eu-west-1"
        });
        assert_eq!(b_request.parent_span_id, a_sibling.span_id);
        assert_eq!(b_request.attr("meridian.forwarded_from"), "us-east-1");
        let b_attempt = one(&spans, "B's attempt", |s| {
            s.name == "attempt" && region_of(s) == "eu-west-1"
        });
        assert_eq!(b_attempt.parent_span_id, b_request.span_id);
        assert_eq!(b_attempt.attr("meridian.region"), "eu-west-1");
        assert_eq!(b_attempt.attr("meridian.outcome"), "ok");

        // The origin saw B's attempt as its parent, and the client's vendor state.
        let seen = t.origin_b.seen();
        let last = seen.last().expect("origin B served the request");
        let tp = last.headers["traceparent"].to_str().unwrap();
        assert_eq!(tp, format!("00-{CLIENT_TRACE}-{}-01", b_attempt.span_id));
        assert_eq!(last.headers["tracestate"], "vendor=x");
        // Configured headers go to the collector.
        assert!(
            receiver
                .request_headers()
                .iter()
                .all(|h| h.get("x-test-key").is_some_and(|v| v == "secret"))
        );

        // Without a client traceparent, A starts a trace and B still continues it.
        let answer = TestClient::new().get(&t.a.url("/fresh")).await;
        assert_eq!(answer.region(), "eu-west-1");
        let fresh = eventually_root(&receiver, "/fresh").await;
        let spans = trace_spans(&receiver, &fresh.trace_id, 5).await;
        assert_eq!(
            spans.iter().filter(|s| region_of(s) == "eu-west-1").count(),
            2,
            "B's spans join A's new trace: {spans:#?}"
        );
        drop(t.origin_a);
        t.a.stop().await;
        t.b.stop().await;
    })
    .await;
}

/// The root request span of the request to `path`.
async fn eventually_root(receiver: &OtlpReceiver, path: &str) -> ReceivedSpan {
    eventually(Duration::from_secs(10), "a root span", || async {
        receiver
            .spans()
            .iter()
            .any(|s| s.parent_span_id.is_empty() && s.attr("url.path") == path)
    })
    .await;
    receiver
        .spans()
        .into_iter()
        .find(|s| s.parent_span_id.is_empty() && s.attr("url.path") == path)
        .unwrap()
}

#[tokio::test]
async fn a_dead_or_hanging_collector_leaves_requests_alone_and_drops_are_counted() {
    bounded(async {
        let origin = TestOrigin::new("us-east-1").start().await;
        // Dead: a port nobody listens on.
        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let failed = || {
            metric(
                "meridian_trace_spans_dropped_total",
                &[("reason", "export_failed")],
            )
        };
        let full = || {
            metric(
                "meridian_trace_spans_dropped_total",
                &[("reason", "queue_full")],
            )
        };
        let before = failed();
        let proxy = traced(TestProxy::builder(), &format!("http://{dead}/v1/traces"))
            .origin(&origin)
            .start()
            .await;
        let client = TestClient::new();
        for i in 0..20 {
            let answer = client.get(&proxy.url(&format!("/dead/{i}"))).await;
            assert_eq!(answer.status, 200);
        }
        // 20 requests, a request span and an attempt span each: all dropped, all counted.
        eventually(
            Duration::from_secs(10),
            "40 spans counted as failed exports",
            || async { failed() - before >= 40.0 },
        )
        .await;
        proxy.stop().await;

        // Hanging: accepts and never answers; the queue (4 spans) fills while an export waits.
        let hanging = Relay::start().await;
        hanging.set_hang(true);
        let before = full();
        let proxy = traced(
            TestProxy::builder(),
            &format!("http://{}/v1/traces", hanging.addr()),
        )
        .set("tracing.queue_size", "4")
        .set("tracing.batch_size", "1")
        .set("tracing.timeout", "\"5s\"")
        .origin(&origin)
        .start()
        .await;
        for i in 0..20 {
            let answer = client.get(&proxy.url(&format!("/hang/{i}"))).await;
            assert_eq!(answer.status, 200);
        }
        eventually(
            Duration::from_secs(10),
            "spans dropped at the full queue",
            || async { full() - before >= 30.0 },
        )
        .await;
        proxy.stop().await;
    })
    .await;
}
