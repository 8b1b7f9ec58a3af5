//! The built `meridian run` binary, as ECS starts it: one worker (a current-thread runtime) and
//! two workers (multi-thread) both proxy, fail over and exit cleanly on SIGTERM; with one worker
//! the process is back to a single thread soon after it starts and after each reload;
//! `--idle-spin` spins when busy, shows it in /metrics, and refuses a window past 1ms.

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

/// Under load a worker's sleeps are short, so it spins a whole window before each; the
/// counters show the windows (none without the option). A window past 1 ms is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_spin_spins_whole_windows_under_load_and_refuses_a_window_past_1ms() {
    bounded(async {
        let local = TestOrigin::new("us-east-1").start().await;
        let config = ProxyBuilder::new()
            .origins(&[&local])
            .set("log.level", "\"info\"");
        for workers in ["1", "2"] {
            let meridian =
                Binary::start_with_args(&config, &["--workers", workers, "--idle-spin", "200us"])
                    .await;
            let url = format!("http://{}/hello", meridian.addr);
            let load: Vec<_> = (0..8)
                .map(|_| {
                    let url = url.clone();
                    tokio::spawn(async move {
                        let client = TestClient::new();
                        for _ in 0..50 {
                            assert_eq!(client.get(&url).await.status, 200);
                        }
                    })
                })
                .collect();
            for task in load {
                task.await.unwrap();
            }
            let windows = meridian.metric("meridian_idle_spin_windows_total").await;
            let spun_us = meridian
                .metric("meridian_idle_spin_microseconds_total")
                .await;
            let (windows, spun_us) = (windows.unwrap(), spun_us.unwrap());
            assert!(windows > 0.0, "workers={workers}: no window under load");
            assert!(
                spun_us >= 200.0 * windows,
                "workers={workers}: {spun_us} us over {windows} windows, some cut short"
            );
        }

        let plain = Binary::start_with_workers(&config, Some(1)).await;
        let url = format!("http://{}/hello", plain.addr);
        assert_eq!(TestClient::new().get(&url).await.status, 200);
        assert_eq!(plain.metric("meridian_idle_spin_windows_total").await, None);

        let path = config.write("meridian.toml");
        // Refused while parsing arguments, before anything starts: a blocking wait is short.
        let refused = std::process::Command::new(env!("CARGO_BIN_EXE_meridian"))
            .args(["--idle-spin", "5ms", "run", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(refused.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains("--idle-spin") && stderr.contains("1ms"),
            "{stderr}"
        );
    })
    .await;
}
