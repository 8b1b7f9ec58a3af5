//! The built `meridian run` binary, as ECS starts it: one worker (a current-thread runtime) and
//! two workers (multi-thread) both proxy, fail over and exit cleanly on SIGTERM.

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{Mode, ProxyBuilder, TestClient, TestOrigin, bounded, eventually, tmp_path};

/// Kills the process if the test fails before it exits on its own.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary and returns it with its main listener address (read from its first log
/// line, so the test needs no fixed port).
fn spawn(config: &std::path::Path, workers: &str) -> (Running, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["run", "--config"])
        .arg(config)
        .args(["--log-format", "json"])
        .env("MERIDIAN_WORKERS", workers)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start meridian");
    let stderr = child.stderr.take().expect("stderr");
    let child = Running(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !sent && line.contains("meridian started") {
                let v: serde_json::Value = serde_json::from_str(&line).expect("json log line");
                let addr = v["fields"]["addr"]
                    .as_str()
                    .expect("addr")
                    .parse()
                    .expect("addr");
                let _ = tx.send(addr);
                sent = true;
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("meridian logs its address");
    (child, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_serves_fails_over_and_stops_on_sigterm_with_one_and_two_workers() {
    bounded(async {
        for workers in ["1", "2"] {
            let local = TestOrigin::new("us-east-1").start().await;
            let sibling = TestOrigin::new("eu-west-1").start().await;
            let text = ProxyBuilder::new()
                .origins(&[&local, &sibling])
                .set("health.interval", "\"100ms\"")
                .set("shutdown.drain", "\"100ms\"")
                .set("shutdown.grace", "\"1s\"")
                .set("log.level", "\"info\"")
                .render();
            let path = tmp_path(&format!("binary-{workers}.toml"));
            std::fs::write(&path, text).expect("write config");
            let (mut child, addr) = spawn(&path, workers);
            let url = format!("http://{addr}/hello");
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
            local.set_mode(Mode::Down);
            for _ in 0..20 {
                let answer = client.get(&url).await;
                assert_eq!(answer.status, 200, "workers={workers}: {answer:?}");
                assert_eq!(answer.region(), "eu-west-1");
            }

            let pid = child.0.id().to_string();
            let killed = Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .expect("kill");
            assert!(killed.success());
            let deadline = Instant::now() + Duration::from_secs(10);
            let status = loop {
                if let Some(status) = child.0.try_wait().expect("wait") {
                    break status;
                }
                assert!(
                    Instant::now() < deadline,
                    "workers={workers}: no exit after SIGTERM"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            assert!(status.success(), "workers={workers}: exit {status:?}");
        }
    })
    .await;
}
