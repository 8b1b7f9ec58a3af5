//! The drain timeline: readiness 503 at once, still serving (with `Connection: close`) for
//! `shutdown.drain`, in-flight requests finish, then the port closes; a rolling stop behind a
//! health-checking load balancer loses nothing; the binary does the same on SIGTERM.

mod ops_support;
mod support;

use ops_support::start_server;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use support::binary::Binary;
use support::{ProxyBuilder, TestClient, TestOrigin, bounded, eventually, full};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(5);

/// An origin that answers `/slow` after `delay`, everything else at once.
async fn slow_origin(delay: Duration) -> TestOrigin {
    TestOrigin::new("local")
        .handler(move |req| async move {
            if req.uri().path() == "/slow" {
                tokio::time::sleep(delay).await;
            }
            http::Response::new(full("done\n"))
        })
        .start()
        .await
}

async fn status_of(client: &TestClient, url: &str) -> Option<u16> {
    client.try_get(url).await.ok().map(|a| a.status.as_u16())
}

async fn refuses(addr: SocketAddr) -> bool {
    TcpStream::connect(addr).await.is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_timeline_in_process() {
    bounded(async {
        let origin = slow_origin(Duration::from_millis(800)).await;
        let builder = ProxyBuilder::new()
            .origin(&origin)
            .set("shutdown.drain", "\"500ms\"")
            .set("shutdown.grace", "\"3s\"");
        let server = start_server(&builder).await;
        let (addr, admin) = (server.addr(), server.admin_addr());
        let main_ready = format!("http://{addr}/.meridian/readyz");
        let admin_ready = format!("http://{admin}/readyz");
        let client = TestClient::new();
        assert_eq!(status_of(&client, &main_ready).await, Some(200));
        assert_eq!(status_of(&client, &admin_ready).await, Some(200));

        let slow_client = TestClient::new();
        let slow_url = format!("http://{addr}/slow");
        let slow = tokio::spawn(async move { slow_client.try_get(&slow_url).await });
        eventually(WAIT, "the slow request reached the origin", || async {
            origin.hits() >= 1
        })
        .await;

        let started = Instant::now();
        let drain = tokio::spawn(server.drain_and_stop());
        eventually(
            Duration::from_millis(200),
            "readiness 503 at once",
            || async {
                status_of(&client, &main_ready).await == Some(503)
                    && status_of(&client, &admin_ready).await == Some(503)
            },
        )
        .await;
        let during = TestClient::new()
            .try_get(&format!("http://{addr}/during"))
            .await
            .expect("a new connection is still accepted while draining");
        assert_eq!(during.status, 200);
        assert_eq!(during.header("connection"), "close");

        let slow = slow
            .await
            .unwrap()
            .expect("the in-flight request completes");
        assert_eq!(slow.status, 200);
        assert_eq!(slow.text(), "done\n");
        eventually(WAIT, "the port stops accepting", || refuses(addr)).await;
        tokio::time::timeout(WAIT, drain)
            .await
            .expect("drain_and_stop ends after grace")
            .unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(500),
            "connections were accepted for the whole drain period"
        );
    })
    .await;
}

/// A client-side load balancer: sends each request to a Meridian whose readiness answered 200 at
/// its last poll (every 50 ms), like an ALB target group health check.
struct Balancer {
    targets: Vec<SocketAddr>,
    ready: Vec<AtomicBool>,
    next: AtomicU64,
}

impl Balancer {
    fn pick(&self) -> Option<SocketAddr> {
        let n = self.targets.len();
        let start = self.next.fetch_add(1, Relaxed) as usize;
        (0..n)
            .map(|i| (start + i) % n)
            .find(|&i| self.ready[i].load(Relaxed))
            .map(|i| self.targets[i])
    }

    async fn poll_forever(self: Arc<Self>) {
        let client = TestClient::new();
        loop {
            for (i, addr) in self.targets.iter().enumerate() {
                let url = format!("http://{addr}/.meridian/readyz");
                let ok = status_of(&client, &url).await == Some(200);
                self.ready[i].store(ok, Relaxed);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_stop_under_load_loses_no_request() {
    bounded(async {
        let origins = [
            TestOrigin::new("local").start().await,
            TestOrigin::new("local").start().await,
        ];
        let addrs: Vec<_> = origins.iter().map(|o| o.addr()).collect();
        let builder = ProxyBuilder::new()
            .region("local", &addrs, &[])
            .set("shutdown.drain", "\"500ms\"")
            .set("shutdown.grace", "\"2s\"");
        let a = start_server(&builder).await;
        let b = start_server(&builder).await;
        let a_addr = a.addr();
        let lb = Arc::new(Balancer {
            targets: vec![a_addr, b.addr()],
            ready: vec![AtomicBool::new(false), AtomicBool::new(false)],
            next: AtomicU64::new(0),
        });
        let poller = tokio::spawn(lb.clone().poll_forever());
        eventually(WAIT, "both registered", || async {
            lb.ready.iter().all(|r| r.load(Relaxed))
        })
        .await;

        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
        let client = TestClient::new();
        let mut load = Vec::new();
        for _ in 0..3 {
            let (lb, stop, sent, client) = (lb.clone(), stop.clone(), sent.clone(), client.clone());
            load.push(tokio::spawn(async move {
                let mut failures = Vec::new();
                while !stop.load(Relaxed) {
                    let Some(target) = lb.pick() else {
                        failures.push("no target registered".to_string());
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    };
                    let i = usize::from(target != lb.targets[0]);
                    sent[i].fetch_add(1, Relaxed);
                    match client.try_get(&format!("http://{target}/x")).await {
                        Ok(a) if a.status == 200 => {}
                        Ok(a) => failures.push(format!("{target}: {}", a.status)),
                        Err(e) => failures.push(format!("{target}: {e}")),
                    }
                }
                failures
            }));
        }
        eventually(WAIT, "load on both", || async {
            sent.iter().all(|s| s.load(Relaxed) > 20)
        })
        .await;

        tokio::time::timeout(WAIT, a.drain_and_stop())
            .await
            .expect("A drains and stops");
        assert!(refuses(a_addr).await);
        let after = sent[1].load(Relaxed);
        eventually(WAIT, "B keeps serving after A is gone", || async {
            sent[1].load(Relaxed) > after + 50
        })
        .await;
        stop.store(true, Relaxed);
        let mut failures = Vec::new();
        for l in load {
            failures.extend(l.await.unwrap());
        }
        poller.abort();
        assert!(
            failures.is_empty(),
            "{} failed requests, e.g. {:?}",
            failures.len(),
            &failures[..failures.len().min(5)]
        );
        b.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_drains_on_sigterm_and_exits_zero() {
    bounded(async {
        let origin = TestOrigin::new("local").start().await;
        let builder = ProxyBuilder::new()
            .origin(&origin)
            .set("shutdown.drain", "\"700ms\"")
            .set("shutdown.grace", "\"1s\"");
        let mut meridian = Binary::start(&builder).await;
        let client = TestClient::new();
        let ready = format!("http://{}/.meridian/readyz", meridian.addr);
        eventually(WAIT, "ready", || async {
            status_of(&client, &ready).await == Some(200)
        })
        .await;
        let started = Instant::now();
        meridian.signal("TERM");
        eventually(WAIT, "readiness 503 after SIGTERM", || async {
            status_of(&client, &ready).await == Some(503)
        })
        .await;
        let status = meridian.exit_within(WAIT).await;
        assert!(status.success(), "{status}\n{}", meridian.log_text());
        assert!(
            started.elapsed() >= Duration::from_millis(700),
            "exited before the drain ended"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_second_sigterm_forces_exit() {
    bounded(async {
        let origin = TestOrigin::new("local").start().await;
        let builder = ProxyBuilder::new()
            .origin(&origin)
            .set("shutdown.drain", "\"30s\"")
            .set("shutdown.grace", "\"30s\"");
        let mut meridian = Binary::start(&builder).await;
        let client = TestClient::new();
        let ready = format!("http://{}/.meridian/readyz", meridian.addr);
        eventually(WAIT, "ready", || async {
            status_of(&client, &ready).await == Some(200)
        })
        .await;
        meridian.signal("TERM");
        eventually(WAIT, "draining", || async {
            status_of(&client, &ready).await == Some(503)
        })
        .await;
        let started = Instant::now();
        meridian.signal("TERM");
        // Well inside the 30 s drain: the second signal cut it short.
        let status = meridian.exit_within(Duration::from_secs(10)).await;
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(status.success(), "{status}\n{}", meridian.log_text());
    })
    .await;
}
