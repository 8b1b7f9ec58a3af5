//! Issue 2's failover contract, end to end on loopback: what moves to a sibling region, what
//! does not, how fast, and what stops a retry storm.

mod support;

use http::Method;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use support::{Mode, TestClient, TestOrigin, TestProxy, bounded, eventually, metric, request};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_origin_killed_under_load_loses_no_request() {
    bounded(async {
        let [local, eu, ap] = TestOrigin::three().await;
        let proxy = TestProxy::builder()
            .origins(&[&local, &eu, &ap])
            .set("health.interval", "\"100ms\"")
            .start()
            .await;
        let client = TestClient::new();
        let url = proxy.url("/load");
        let sent = Arc::new(AtomicU64::new(0));
        let killed = Arc::new(AtomicBool::new(false));
        const TASKS: usize = 8;
        // Each task keeps sending until it has sent this many requests after the kill (the load
        // must straddle the kill however fast the proxy is), within a hard cap.
        const AFTER_PER_TASK: usize = 10;
        const CAP_PER_TASK: usize = 5_000;

        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..TASKS {
            let (client, url, sent, killed) =
                (client.clone(), url.clone(), sent.clone(), killed.clone());
            tasks.spawn(async move {
                let mut results = Vec::new();
                let mut after = 0;
                while after < AFTER_PER_TASK && results.len() < CAP_PER_TASK {
                    let after_kill = killed.load(Relaxed);
                    after += usize::from(after_kill);
                    sent.fetch_add(1, Relaxed);
                    results.push((after_kill, client.try_get(&url).await));
                }
                results
            });
        }
        let counter = sent.clone();
        eventually(Duration::from_secs(10), "load flowing", || {
            let counter = counter.clone();
            async move { counter.load(Relaxed) >= (TASKS * 5) as u64 }
        })
        .await;
        local.kill().await;
        killed.store(true, Relaxed);

        let (mut ok, mut after, mut from_local, mut total) = (0, 0, 0, 0);
        while let Some(results) = tasks.join_next().await {
            for (after_kill, result) in results.unwrap() {
                total += 1;
                let answer = result.unwrap_or_else(|e| panic!("request failed: {e}"));
                assert_eq!(answer.status, 200, "{answer:?}");
                assert_eq!(answer.text().trim(), answer.region(), "{answer:?}");
                ok += 1;
                if answer.region() == "us-east-1" {
                    from_local += 1;
                }
                if after_kill {
                    after += 1;
                    assert_ne!(answer.region(), "us-east-1", "served by a dead origin");
                }
            }
        }
        assert_eq!(ok, total);
        assert!(
            from_local > 0,
            "the local region served nothing before the kill"
        );
        assert_eq!(
            after,
            TASKS * AFTER_PER_TASK,
            "a task hit the cap before the kill"
        );
        proxy.stop().await;
    })
    .await;
}

#[tokio::test]
async fn hanging_local_without_hedging_fails_over_after_per_try_then_is_skipped() {
    bounded(async {
        let [local, eu, ap] = TestOrigin::three().await;
        let proxy = TestProxy::builder()
            .origins(&[&local, &eu, &ap])
            .set("retry.hedge", "false")
            .set("timeouts.per_try", "\"300ms\"")
            .start()
            .await;
        let client = TestClient::new();
        local.set_mode(Mode::Hang);

        let first = client.get(&proxy.url("/slow")).await;
        assert_eq!(first.status, 200);
        assert_ne!(first.region(), "us-east-1");
        assert_eq!(first.header("x-meridian-attempts"), "2");
        assert!(
            first.elapsed >= Duration::from_millis(300),
            "answered before the per-try timeout: {:?}",
            first.elapsed
        );
        assert_eq!(local.hits(), 1);
        let snapshot = proxy.runtime().snapshot();
        assert!(snapshot.local().endpoints()[0].health.is_suspect());

        // The suspect endpoint is skipped at once: one attempt, and the hanging origin never saw
        // the request, so there was no second wait for the per-try timeout.
        let second = client.get(&proxy.url("/slow")).await;
        assert_eq!(second.status, 200);
        assert_ne!(second.region(), "us-east-1");
        assert_eq!(second.header("x-meridian-attempts"), "1");
        assert_eq!(local.hits(), 1, "the suspect endpoint got another request");
        proxy.stop().await;
    })
    .await;
}

#[tokio::test]
async fn hanging_local_with_hedging_is_answered_quickly_by_the_hedge() {
    bounded(async {
        let [local, eu, ap] = TestOrigin::three().await;
        let proxy = TestProxy::builder()
            .origins(&[&local, &eu, &ap])
            .set("retry.hedge", "true")
            .set("retry.hedge_delay", "\"auto\"")
            // Far past the test's own limit: only a hedge can answer this test in time.
            .set("timeouts.per_try", "\"60s\"")
            .set("timeouts.request", "\"60s\"")
            .start()
            .await;
        let client = TestClient::new();
        local.set_mode(Mode::Hang);
        let hedges = metric("meridian_hedges_total", &[]);

        let answer = client.get(&proxy.url("/")).await;
        assert_eq!(answer.status, 200);
        assert_ne!(answer.region(), "us-east-1");
        assert_eq!(answer.header("x-meridian-attempts"), "2");
        assert_eq!(
            local.hits(),
            1,
            "the first attempt went to the local origin"
        );
        assert!(metric("meridian_hedges_total", &[]) > hedges);
        proxy.stop().await;
    })
    .await;
}

#[tokio::test]
async fn configured_5xx_fails_over_and_other_5xx_pass_through() {
    bounded(async {
        let [local, eu, ap] = TestOrigin::three().await;
        let proxy = TestProxy::builder()
            .origins(&[&local, &eu, &ap])
            .start()
            .await;
        let client = TestClient::new();

        local.set_mode(Mode::Status(503));
        let answer = client.get(&proxy.url("/")).await;
        assert_eq!(answer.status, 200);
        assert_ne!(answer.region(), "us-east-1");
        assert_eq!(answer.header("x-meridian-attempts"), "2");
        assert_eq!(local.hits(), 1);

        // 500 is not in retry.statuses: the origin's answer is the answer.
        local.set_mode(Mode::Status(500));
        let siblings = eu.hits() + ap.hits();
        let answer = client.get(&proxy.url("/")).await;
        assert_eq!(answer.status, 500);
        assert_eq!(answer.region(), "us-east-1");
        assert_eq!(answer.header("x-origin-region"), "us-east-1");
        assert_eq!(answer.header("x-meridian-attempts"), "1");
        assert_eq!(eu.hits() + ap.hits(), siblings, "a 500 was retried");
        proxy.stop().await;
    })
    .await;
}

#[tokio::test]
async fn post_that_reached_the_origin_is_not_retried() {
    bounded(async {
        let [local, eu, ap] = TestOrigin::three().await;
        let proxy = TestProxy::builder()
            .origins(&[&local, &eu, &ap])
            .set("timeouts.per_try", "\"300ms\"")
            .start()
            .await;
        let client = TestClient::new();

        local.set_mode(Mode::Status(503));
        let answer = client.post(&proxy.url("/orders"), &[], "one order").await;
        assert_eq!(answer.status, 503, "{answer:?}");
        assert_eq!(answer.header("x-origin-region"), "us-east-1");
        assert_eq!(local.hits(), 1);

        local.set_mode(Mode::Hang);
        let answer = client.post(&proxy.url("/orders"), &[], "one order").await;
        assert_eq!(answer.status, 504, "{answer:?}");
        assert!(answer.elapsed >= Duration::from_millis(300));
        assert_eq!(local.hits(), 2);
        assert_eq!(eu.hits() + ap.hits(), 0, "a POST was sent twice");
        proxy.stop().await;
    })
    .await;
}

#[tokio::test]
async fn post_with_idempotency_key_is_retried() {
    bounded(async {
        let [local, eu, ap] = TestOrigin::three().await;
        let proxy = TestProxy::builder()
            .origins(&[&local, &eu, &ap])
            .set("timeouts.per_try", "\"300ms\"")
            .start()
            .await;
        let client = TestClient::new();
        let key = [("idempotency-key", "order-42")];

        local.set_mode(Mode::Status(503));
        let answer = client.post(&proxy.url("/orders"), &key, "one order").await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_ne!(answer.region(), "us-east-1");
        // The replayed body arrived whole.
        assert_eq!(answer.header("x-origin-received-bytes"), "9");

        local.set_mode(Mode::Hang);
        let answer = client.post(&proxy.url("/orders"), &key, "one order").await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_ne!(answer.region(), "us-east-1");
        assert_eq!(answer.header("x-origin-received-bytes"), "9");
        assert_eq!(local.hits(), 2);
        assert_eq!(eu.hits() + ap.hits(), 2);
        proxy.stop().await;
    })
    .await;
}

#[tokio::test]
async fn post_whose_connect_was_refused_is_retried() {
    bounded(async {
        let [local, eu, ap] = TestOrigin::three().await;
        let proxy = TestProxy::builder()
            .origins(&[&local, &eu, &ap])
            .start()
            .await;
        let client = TestClient::new();
        local.kill().await;
        let answer = client.post(&proxy.url("/orders"), &[], "one order").await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_ne!(answer.region(), "us-east-1");
        assert_eq!(answer.header("x-origin-received-bytes"), "9");
        assert_eq!(eu.hits() + ap.hits(), 1);
        proxy.stop().await;
    })
    .await;
}

#[tokio::test]
async fn retry_budget_caps_retries_during_a_total_outage() {
    bounded(async {
        // Region names of their own: the metrics recorder is shared by every test here.
        let origins = [
            TestOrigin::new("budget-a").start().await,
            TestOrigin::new("budget-b").start().await,
            TestOrigin::new("budget-c").start().await,
        ];
        let (ratio, floor, window) = (0.1, 1.0, 10.0);
        let proxy = TestProxy::builder()
            .origins(&[&origins[0], &origins[1], &origins[2]])
            .set("retry.hedge", "false")
            .set("retry.budget_ratio", &ratio.to_string())
            .set("retry.budget_min_per_sec", "1")
            .set("retry.budget_window", "\"10s\"")
            .start()
            .await;
        for o in &origins {
            o.set_mode(Mode::Status(503));
        }
        let exhausted = metric("meridian_retry_budget_exhausted_total", &[]);
        let client = TestClient::new();
        const N: u64 = 100;
        for _ in 0..N {
            let answer = client.get(&proxy.url("/")).await;
            assert_eq!(answer.status, 503, "{answer:?}");
        }
        let attempts: u64 = origins.iter().map(|o| o.hits()).sum();
        let retries = attempts - N;
        let cap = ratio * N as f64 + floor * window;
        assert!(
            retries as f64 <= cap,
            "{retries} retries for {N} requests; the budget allows {cap}"
        );
        assert!(
            retries >= 10,
            "the floor should have allowed retries: {retries}"
        );
        let counted = metric(
            "meridian_upstream_attempts_total",
            &[("region", "budget-a")],
        ) + metric(
            "meridian_upstream_attempts_total",
            &[("region", "budget-b")],
        ) + metric(
            "meridian_upstream_attempts_total",
            &[("region", "budget-c")],
        );
        assert_eq!(
            counted as u64, attempts,
            "attempt metric disagrees with origins"
        );
        assert!(metric("meridian_retry_budget_exhausted_total", &[]) > exhausted);
        proxy.stop().await;
    })
    .await;
}

#[tokio::test]
async fn all_regions_down_is_a_prompt_502_with_a_json_body() {
    bounded(async {
        let origins = TestOrigin::three().await;
        let proxy = TestProxy::builder()
            .origins(&[&origins[0], &origins[1], &origins[2]])
            .start()
            .await;
        for o in &origins {
            o.kill().await;
        }
        let answer = TestClient::new().get(&proxy.url("/")).await;
        assert_eq!(answer.status, 502, "{answer:?}");
        assert_eq!(answer.header("content-type"), "application/json");
        let body = answer.json();
        assert_eq!(body["error"], "upstream_connect_failed");
        let id = answer.header("x-request-id");
        assert!(!id.is_empty());
        assert_eq!(body["request_id"], id);
        // Prompt: a 502 naming the refusals, not a 504 after waiting out the request deadline.
        proxy.stop().await;
    })
    .await;
}

#[tokio::test]
async fn max_in_flight_exceeded_is_503_with_retry_after() {
    bounded(async {
        let [local, eu, ap] = TestOrigin::three().await;
        let proxy = TestProxy::builder()
            .origins(&[&local, &eu, &ap])
            .set("retry.hedge", "false")
            .set("limits.max_in_flight", "2")
            .set("timeouts.per_try", "\"5s\"")
            .start()
            .await;
        local.set_mode(Mode::Hang);
        let client = TestClient::new();
        let held: Vec<_> = (0..2)
            .map(|_| {
                let (client, url) = (client.clone(), proxy.url("/held"));
                tokio::spawn(async move { client.get(&url).await })
            })
            .collect();
        let runtime = proxy.runtime().clone();
        eventually(Duration::from_secs(5), "two requests in flight", || {
            let runtime = runtime.clone();
            async move { runtime.in_flight.load(Relaxed) == 2 }
        })
        .await;
        eventually(
            Duration::from_secs(5),
            "both reached the origin",
            || async { local.hits() == 2 },
        )
        .await;

        let answer = client
            .send(request(
                Method::GET,
                &proxy.url("/third"),
                &[],
                Default::default(),
            ))
            .await;
        assert_eq!(answer.status, 503, "{answer:?}");
        assert_eq!(answer.header("retry-after"), "1");
        assert_eq!(answer.json()["error"], "overloaded");

        local.set_mode(Mode::Serving);
        for h in held {
            let answer = h.await.unwrap();
            assert_eq!(answer.status, 200);
            assert_eq!(answer.region(), "us-east-1");
        }
        assert_eq!(local.hits(), 2, "the rejected request reached the origin");
        proxy.stop().await;
    })
    .await;
}
