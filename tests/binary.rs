//! The built `meridian run` binary, as ECS starts it: one worker (a current-thread runtime) and
//! two workers (multi-thread) both proxy, fail over and exit cleanly on SIGTERM; with one worker
//! the process is back to a single thread soon after it starts and after each reload.

mod ops_support;
mod support;

use std::time::Duration;
use support::binary::Binary;
use support::{ProxyBuilder, TestClient, TestOrigin, bounded, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_serves_fails_over_and_stops_on_sigterm_with_one_and_two_workers() {
    bounded(async {
        for workers in [1, 2] {
            let local = TestOrigin::new("us-east-1").start().await;
            let sibling = TestOrigin::new("eu-west-1").start().await;
            let config = ProxyBuilder::new()
                .origins(&[&local, &sibling])
                .set("health.interval", "\"100ms\"")
                .set("shutdown.drain", "\"100ms\"")
                .set("shutdown.grace", "\"1s\"")
                .set("log.level", "\"info\"");
            let mut meridian = Binary::start_with_workers(&config, Some(workers)).await;
            let url = format!("http://{}/hello", meridian.addr);
            let client = TestClient::new();

            eventually(
                Duration::from_secs(5),
                "the local region answers",
                || async {
                    client
                        .try_get(&url)
                        .await
                        .is_ok_and(|a| a.status == 200 && a.region() == "us-east-1")
                },
            )
            .await;
            for _ in 0..20 {
                assert_eq!(client.get(&url).await.region(), "us-east-1");
            }
            // kill() waits until the origin refuses: set_mode alone races the next request.
            local.kill().await;
            for _ in 0..20 {
                let answer = client.get(&url).await;
                assert_eq!(answer.status, 200, "workers={workers}: {answer:?}");
                assert_eq!(answer.region(), "eu-west-1");
            }

            meridian.signal("TERM");
            let status = meridian.exit_within(Duration::from_secs(10)).await;
            assert!(status.success(), "workers={workers}: exit {status:?}");
        }
    })
    .await;
}

/// The blocking pool reads the config file at start and on every reload; with one worker its
/// thread must leave soon after, since while a second thread exists every socket call of the
/// proxy takes the kernel's shared file-table path (tokio keeps it 10 s by default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_worker_is_back_to_one_thread_after_start_and_after_a_reload() {
    bounded(async {
        let local = TestOrigin::new("us-east-1").start().await;
        let config = ProxyBuilder::new()
            .origins(&[&local])
            .set("log.level", "\"info\"");
        let meridian = Binary::start_with_workers(&config, Some(1)).await;
        let one_thread = || async { meridian.threads() == 1 };
        eventually(Duration::from_secs(5), "one thread after start", one_thread).await;

        // A changed file is reloaded (the watch), read on the blocking pool again.
        let changed = config.set("health.interval", "\"3s\"");
        std::fs::write(&meridian.config, changed.render()).unwrap();
        eventually(Duration::from_secs(5), "the change is reloaded", || async {
            meridian.log_text().contains("config reloaded")
        })
        .await;
        eventually(
            Duration::from_secs(5),
            "one thread after the reload",
            one_thread,
        )
        .await;
        let url = format!("http://{}/hello", meridian.addr);
        assert_eq!(TestClient::new().get(&url).await.region(), "us-east-1");
    })
    .await;
}
