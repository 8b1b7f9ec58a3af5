//! Active health checks: an endpoint goes down on the `fall`-th failed probe, comes back on the
//! `rise`-th good one (probes an interval apart), and readiness on both listeners follows the
//! local region.

mod support;

use std::time::{Duration, Instant};
use support::{Mode, TestClient, TestOrigin, TestProxy, bounded, eventually};

const INTERVAL: Duration = Duration::from_millis(100);
const FALL: u32 = 2;
const RISE: u32 = 2;
const JITTER: f64 = 0.1;
const PROBE_TIMEOUT: Duration = Duration::from_millis(100);

async fn proxy_with_fast_probes(local: &TestOrigin, sibling: &TestOrigin) -> TestProxy {
    TestProxy::builder()
        .origin(local)
        .origin(sibling)
        .set(
            "health.interval",
            &format!("\"{}ms\"", INTERVAL.as_millis()),
        )
        .set(
            "health.timeout",
            &format!("\"{}ms\"", PROBE_TIMEOUT.as_millis()),
        )
        .set("health.fall", &FALL.to_string())
        .set("health.rise", &RISE.to_string())
        .set("health.jitter", &JITTER.to_string())
        .start()
        .await
}

/// Readiness on the main listener and on admin, as a pair of statuses.
async fn readiness(client: &TestClient, proxy: &TestProxy) -> (u16, u16) {
    let main = client.get(&proxy.url("/.meridian/readyz")).await;
    let admin = client.get(&proxy.admin_url("/readyz")).await;
    (main.status.as_u16(), admin.status.as_u16())
}

/// The local endpoint's verdict, probes recorded, and the number of the probe that changed the
/// verdict last. The verdict is read first: its number is then at least as new.
fn local_verdict(proxy: &TestProxy) -> (bool, u64, u64) {
    let snapshot = proxy.runtime().snapshot();
    let health = &snapshot.local().endpoints()[0].health;
    (health.is_up(), health.probes(), health.changed_at_probe())
}

/// Switches the origin to `mode` just after a probe was recorded, so that no probe is in
/// flight across the switch; returns the probe count at the switch and whether the switch
/// certainly fell between two probes. On a stalled machine it may not have: the next probe
/// starts an interval (less jitter) after the last was recorded.
async fn switch_between_probes(proxy: &TestProxy, origin: &TestOrigin, mode: Mode) -> (u64, bool) {
    let (_, last, _) = local_verdict(proxy);
    let mut not_yet = Instant::now();
    let before = loop {
        tokio::time::sleep(Duration::from_millis(1)).await;
        let polled = Instant::now();
        let (_, probes, _) = local_verdict(proxy);
        if probes > last {
            break probes;
        }
        // The probe that comes next is recorded after this instant.
        not_yet = polled;
    };
    origin.set_mode(mode);
    // The origin's accept loop applies Down and Serving in its own task: the switch counts as
    // done (for `clean`) once a connection attempt sees it.
    let addr = origin.addr();
    let refuses = mode == Mode::Down;
    if matches!(mode, Mode::Down | Mode::Serving) {
        eventually(Duration::from_secs(2), "origin switched", || async move {
            tokio::net::TcpStream::connect(addr).await.is_err() == refuses
        })
        .await;
    }
    let quiet = INTERVAL.mul_f64(1.0 - JITTER) - Duration::from_millis(10);
    (before, not_yet.elapsed() < quiet)
}

/// Checks that the verdict changed to `up` on the `threshold`-th probe after the switch (one
/// more is allowed only when the switch may have overlapped a probe). Counted in probes, not
/// wall time, so a loaded machine cannot make it flaky; probe timing is checked apart.
fn assert_changed_on(proxy: &TestProxy, (before, clean): (u64, bool), up: bool, threshold: u32) {
    let (now_up, probes, changed) = local_verdict(proxy);
    assert_eq!(now_up, up);
    let after = changed.saturating_sub(before);
    let allowed = u64::from(threshold)..=u64::from(threshold) + u64::from(!clean);
    assert!(
        allowed.contains(&after),
        "verdict changed on probe {after} after the switch (probe {changed} of {probes}), \
         expected {allowed:?}"
    );
}

/// The local endpoint's entry in admin /status, and the document's readiness.
async fn local_status(client: &TestClient, proxy: &TestProxy) -> (serde_json::Value, bool) {
    let status = client.get(&proxy.admin_url("/status")).await.json();
    let local = status["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["local"] == true)
        .expect("a local region in /status")
        .clone();
    (
        local["endpoints"][0].clone(),
        status["ready"].as_bool().unwrap(),
    )
}

async fn local_status_up(client: &TestClient, proxy: &TestProxy) -> (bool, bool) {
    let (endpoint, ready) = local_status(client, proxy).await;
    (endpoint["up"].as_bool().unwrap(), ready)
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
        let (endpoint, _) = local_status(&client, &proxy).await;
        assert_eq!(endpoint["up"], true);
        assert!(endpoint["probes"].as_u64().unwrap() >= 1, "{endpoint}");
        assert_eq!(endpoint["changed_at_probe"], 0, "{endpoint}");
        assert!(endpoint["verdict_age_s"].is_null(), "{endpoint}");

        let switch = switch_between_probes(&proxy, &local, Mode::Down).await;
        let t0 = Instant::now();
        eventually(Duration::from_secs(3), "local endpoint down", || async {
            !proxy.local_up()
        })
        .await;
        assert_changed_on(&proxy, switch, false, FALL);
        // Probes are an interval (less jitter) apart, so `fall` failures cannot come sooner.
        let soonest = INTERVAL.mul_f64(1.0 - JITTER) * (FALL - 1);
        assert!(t0.elapsed() >= soonest, "down after {:?}", t0.elapsed());
        assert_eq!(local_status_up(&client, &proxy).await, (false, false));
        let (endpoint, _) = local_status(&client, &proxy).await;
        let (_, _, changed) = local_verdict(&proxy);
        assert_eq!(endpoint["changed_at_probe"], changed, "{endpoint}");
        assert!(endpoint["verdict_age_s"].as_f64().is_some(), "{endpoint}");
        assert_eq!(readiness(&client, &proxy).await, (503, 503));
        // Not ready, but still serving from the sibling.
        let answer = client.get(&proxy.url("/")).await;
        assert_eq!(
            (answer.status.as_u16(), answer.region()),
            (200, "eu-west-1")
        );

        let switch = switch_between_probes(&proxy, &local, Mode::Serving).await;
        let t0 = Instant::now();
        eventually(Duration::from_secs(3), "local endpoint up", || async {
            proxy.local_up()
        })
        .await;
        assert_changed_on(&proxy, switch, true, RISE);
        let soonest = INTERVAL.mul_f64(1.0 - JITTER) * (RISE - 1);
        assert!(t0.elapsed() >= soonest, "up after {:?}", t0.elapsed());
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
        let switch = switch_between_probes(&proxy, &local, Mode::Hang).await;
        let t0 = Instant::now();
        eventually(Duration::from_secs(3), "local endpoint down", || async {
            !proxy.local_up()
        })
        .await;
        assert_changed_on(&proxy, switch, false, FALL);
        // Each failed probe waits out its timeout before the next interval starts.
        let soonest = (INTERVAL.mul_f64(1.0 - JITTER) + PROBE_TIMEOUT) * (FALL - 1);
        assert!(t0.elapsed() >= soonest, "down after {:?}", t0.elapsed());
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
            .set("shutdown.drain", "\"2s\"")
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
            t0.elapsed() < Duration::from_secs(2),
            "the requests above took the whole drain; this check needs them inside it"
        );
        stopped.await.unwrap();
        assert!(
            t0.elapsed() >= Duration::from_secs(2),
            "stopped before the drain ended"
        );
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "still accepting after the drain"
        );
    })
    .await;
}
