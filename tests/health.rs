//! Active health checks: an endpoint goes down within interval * fall, comes back after rise,
//! and readiness on both listeners follows the local region.

mod support;

use std::time::{Duration, Instant};
use support::{Mode, TestClient, TestOrigin, TestProxy, bounded, eventually};

const INTERVAL: Duration = Duration::from_millis(100);
const FALL: u32 = 2;
const RISE: u32 = 2;
/// Jitter (0.1), the phase of the probe already scheduled, and a loaded 2-core machine.
const SLACK: Duration = Duration::from_millis(400);

async fn proxy_with_fast_probes(local: &TestOrigin, sibling: &TestOrigin) -> TestProxy {
    TestProxy::builder()
        .origin(local)
        .origin(sibling)
        .set(
            "health.interval",
            &format!("\"{}ms\"", INTERVAL.as_millis()),
        )
        .set("health.timeout", "\"100ms\"")
        .set("health.fall", &FALL.to_string())
        .set("health.rise", &RISE.to_string())
        .set("health.jitter", "0.1")
        .start()
        .await
}

/// Readiness on the main listener and on admin, as a pair of statuses.
async fn readiness(client: &TestClient, proxy: &TestProxy) -> (u16, u16) {
    let main = client.get(&proxy.url("/.meridian/readyz")).await;
    let admin = client.get(&proxy.admin_url("/readyz")).await;
    (main.status.as_u16(), admin.status.as_u16())
}

async fn local_status_up(client: &TestClient, proxy: &TestProxy) -> (bool, bool) {
    let status = client.get(&proxy.admin_url("/status")).await.json();
    let local = status["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["local"] == true)
        .expect("a local region in /status")
        .clone();
    (
        local["endpoints"][0]["up"].as_bool().unwrap(),
        status["ready"].as_bool().unwrap(),
    )
}

#[tokio::test]
async fn refused_endpoint_goes_down_within_fall_and_up_after_rise() {
    bounded(async {
        let local = TestOrigin::new("us-east-1").start().await;
        let eu = TestOrigin::new("eu-west-1").start().await;
        let proxy = proxy_with_fast_probes(&local, &eu).await;
        let client = TestClient::new();
        let runtime = proxy.runtime().clone();
        eventually(Duration::from_secs(2), "ready", || {
            let runtime = runtime.clone();
            async move { runtime.is_ready() }
        })
        .await;
        assert_eq!(readiness(&client, &proxy).await, (200, 200));
        assert_eq!(local_status_up(&client, &proxy).await, (true, true));

        local.set_mode(Mode::Down);
        let t0 = Instant::now();
        eventually(Duration::from_secs(3), "local endpoint down", || async {
            !proxy.local_up()
        })
        .await;
        let took = t0.elapsed();
        let bound = INTERVAL * (FALL + 1) + SLACK;
        assert!(
            took <= bound,
            "down after {took:?}, expected within {bound:?}"
        );
        assert_eq!(local_status_up(&client, &proxy).await, (false, false));
        assert_eq!(readiness(&client, &proxy).await, (503, 503));
        // Not ready, but still serving from the sibling.
        let answer = client.get(&proxy.url("/")).await;
        assert_eq!(
            (answer.status.as_u16(), answer.region()),
            (200, "eu-west-1")
        );

        local.set_mode(Mode::Serving);
        let t0 = Instant::now();
        eventually(Duration::from_secs(3), "local endpoint up", || async {
            proxy.local_up()
        })
        .await;
        let took = t0.elapsed();
        let bound = INTERVAL * (RISE + 1) + SLACK;
        assert!(
            took <= bound,
            "up after {took:?}, expected within {bound:?}"
        );
        assert_eq!(readiness(&client, &proxy).await, (200, 200));
        assert_eq!(local_status_up(&client, &proxy).await, (true, true));
        let answer = client.get(&proxy.url("/")).await;
        assert_eq!(answer.region(), "us-east-1");
        proxy.stop().await;
    })
    .await;
}

#[tokio::test]
async fn hanging_endpoint_goes_down_by_probe_timeout() {
    bounded(async {
        let local = TestOrigin::new("us-east-1").start().await;
        let eu = TestOrigin::new("eu-west-1").start().await;
        let proxy = proxy_with_fast_probes(&local, &eu).await;
        let client = TestClient::new();
        local.set_mode(Mode::Hang);
        let t0 = Instant::now();
        eventually(Duration::from_secs(3), "local endpoint down", || async {
            !proxy.local_up()
        })
        .await;
        // Each failed probe costs its timeout (100 ms) on top of the interval.
        let bound = (INTERVAL + Duration::from_millis(100)) * (FALL + 1) + SLACK;
        assert!(t0.elapsed() <= bound, "down after {:?}", t0.elapsed());
        assert_eq!(readiness(&client, &proxy).await, (503, 503));
        proxy.stop().await;
    })
    .await;
}

#[tokio::test]
async fn drain_reports_not_ready_while_still_serving_then_closes() {
    bounded(async {
        let local = TestOrigin::new("us-east-1").start().await;
        let eu = TestOrigin::new("eu-west-1").start().await;
        let proxy = TestProxy::builder()
            .origin(&local)
            .origin(&eu)
            .set("shutdown.drain", "\"700ms\"")
            .start()
            .await;
        let client = TestClient::new();
        assert!(proxy.runtime().is_ready());
        let (addr, ready, page) = (proxy.addr(), proxy.url("/.meridian/readyz"), proxy.url("/"));
        let t0 = Instant::now();
        let stopped = proxy.drain();
        // During the drain the load balancer sees 503 on readiness, but requests still work.
        assert_eq!(client.get(&ready).await.status, 503);
        let answer = client.get(&page).await;
        assert_eq!(
            (answer.status.as_u16(), answer.region()),
            (200, "us-east-1")
        );
        assert!(
            t0.elapsed() < Duration::from_millis(700),
            "drain test too slow"
        );
        stopped.await.unwrap();
        assert!(
            t0.elapsed() >= Duration::from_millis(700),
            "stopped before the drain ended"
        );
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "still accepting after the drain"
        );
    })
    .await;
}
