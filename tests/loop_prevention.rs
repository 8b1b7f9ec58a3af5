//! Two real Meridians that are each other's sibling: a forwarded request is served where it
//! lands and never bounces back, and a client cannot forge the forwarding mark.

mod support;

use bytes::Bytes;
use http::Method;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::proxy::FORWARD_SECRET;
use support::{Relay, TestClient, TestOrigin, TestProxy, bounded, eventually, request};

const MARK: &str = "x-meridian-forwarded";

/// us-east-1 (A) and eu-west-1 (B), each reaching the other through a relay, which lets the
/// two configs name each other before either is bound and shows every byte sent across.
struct TwoRegions {
    origin_a: TestOrigin,
    origin_b: TestOrigin,
    a: TestProxy,
    b: TestProxy,
    to_a: Relay,
    /// Kept alive: dropping a relay stops it.
    _to_b: Relay,
}

async fn two_regions() -> TwoRegions {
    let origin_a = TestOrigin::new("us-east-1").start().await;
    let origin_b = TestOrigin::new("eu-west-1").start().await;
    let (to_a, to_b) = (Relay::start().await, Relay::start().await);
    let readyz = [("health_path", "\"/.meridian/readyz\"")];
    let a = TestProxy::builder()
        .origin(&origin_a)
        .region("eu-west-1", &[to_b.addr()], &readyz)
        .no_wait()
        .start()
        .await;
    to_a.set_target(a.addr());
    let b = TestProxy::builder()
        .origin(&origin_b)
        .region("us-east-1", &[to_a.addr()], &readyz)
        .start()
        .await;
    to_b.set_target(b.addr());
    let runtime = a.runtime().clone();
    eventually(Duration::from_secs(3), "A probed everything once", || {
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
        to_a,
        _to_b: to_b,
    }
}

/// A well-formed mark for now with a wrong signature.
fn forged_mark() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    format!("v1;us-east-1;{now};{}", "0".repeat(64))
}

#[tokio::test]
async fn forwarded_request_is_served_locally_and_never_bounced() {
    bounded(async {
        let t = two_regions().await;
        let client = TestClient::new();

        // A's origin dies: A forwards to B with the mark; B serves it from its own origin.
        t.origin_a.kill().await;
        let answer = client.get(&t.a.url("/via-b")).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.header("x-origin-region"), "eu-west-1");
        let seen = t.origin_b.seen();
        let last = seen.last().expect("B's origin saw the request");
        assert!(
            !last.headers.contains_key(MARK),
            "the mark reached an origin"
        );
        assert_eq!(last.headers["x-request-id"], answer.header("x-request-id"));

        // Now B's origin is down too. B must answer the marked request itself (502), not send
        // it back to A, even though it sees A as a healthy sibling.
        t.origin_b.kill().await;
        let to_a_before = t.to_a.bytes_up();
        let answer = client.get(&t.a.url("/bounce")).await;
        assert_eq!(answer.status, 502, "{answer:?}");
        assert_eq!(answer.region(), "eu-west-1", "{answer:?}");
        assert_eq!(answer.json()["error"], "upstream_connect_failed");
        assert_eq!(
            t.to_a.bytes_up(),
            to_a_before,
            "B sent a forwarded request back to A"
        );
        // The same for a request with a body, which travels over hyper's client rather than
        // the bodyless in-task exchange: the mark must ride along there too.
        let answer = client
            .post(
                &t.a.url("/bounce-post"),
                &[("idempotency-key", "k-1")],
                "payload",
            )
            .await;
        assert_eq!(answer.status, 502, "{answer:?}");
        assert_eq!(answer.region(), "eu-west-1", "{answer:?}");
        assert_eq!(
            t.to_a.bytes_up(),
            to_a_before,
            "B sent a forwarded POST back to A"
        );
        assert!(
            t.b.runtime()
                .snapshot()
                .regions
                .iter()
                .all(|r| r.is_healthy())
        );
        t.a.stop().await;
        t.b.stop().await;
    })
    .await;
}

#[tokio::test]
async fn forged_mark_is_stripped_and_ignored() {
    bounded(async {
        let t = two_regions().await;
        let client = TestClient::new();
        let forged = forged_mark();
        let send = |path: &str| {
            request(
                Method::GET,
                &t.b.url(path),
                &[(MARK, forged.as_str())],
                Bytes::new(),
            )
        };

        // Served locally by B; its origin never sees the forged header.
        let answer = client.send(send("/forged")).await;
        assert_eq!(
            (answer.status.as_u16(), answer.region()),
            (200, "eu-west-1")
        );
        let last = t.origin_b.seen().pop().unwrap();
        assert_eq!(last.path, "/forged");
        assert!(
            !last.headers.contains_key(MARK),
            "forged mark passed through"
        );

        // B's origin down: the forged mark must not pin the request to B; B fails over to A.
        t.origin_b.kill().await;
        let answer = client.send(send("/forged-failover")).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.region(), "us-east-1");
        assert_eq!(answer.header("x-origin-region"), "us-east-1");
        let last = t.origin_a.seen().pop().unwrap();
        assert_eq!(last.path, "/forged-failover");
        assert!(!last.headers.contains_key(MARK), "A passed B's mark on");
        t.a.stop().await;
        t.b.stop().await;
    })
    .await;
}

#[test]
fn marks_from_a_sibling_verify_and_forged_ones_do_not() {
    use meridian::proxy::forward_mark::ForwardKey;
    let key = ForwardKey::new(FORWARD_SECRET.as_bytes());
    let mark = key.sign("us-east-1", "req-1");
    assert_eq!(key.verify(&mark, "req-1").as_deref(), Some("us-east-1"));
    let forged = http::HeaderValue::from_str(&forged_mark()).unwrap();
    assert_eq!(key.verify(&forged, "req-1"), None);
}
