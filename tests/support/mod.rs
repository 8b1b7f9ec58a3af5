//! The integration harness: origins, the proxy under test, clients, a TCP relay, and
//! `eventually` for polling with a deadline instead of sleeping.
//!
//! Every test binary compiles this module and uses only part of it.
#![allow(dead_code)]

pub mod binary;
pub mod client;
pub mod data;
pub mod origin;
pub mod otlp;
pub mod proxy;
pub mod relay;
pub mod scripted;

#[allow(unused_imports)]
pub use client::{Answer, TestClient, raw_exchange, request};
#[allow(unused_imports)]
pub use origin::{Mode, TestOrigin};
#[allow(unused_imports)]
pub use proxy::{ProxyBuilder, TestProxy};
#[allow(unused_imports)]
pub use relay::Relay;

use bytes::Bytes;
use http_body_util::BodyExt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Error type of test bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Body type used by test origins and clients.
pub type BoxBody = http_body_util::combinators::BoxBody<Bytes, BoxError>;

/// Whole-test time limit: a hung test fails instead of stalling the suite.
pub const TEST_LIMIT: Duration = Duration::from_secs(30);

/// Waits until every endpoint of the server's current topology has been probed once.
pub async fn wait_probed(server: &meridian::server::Server) {
    let runtime = server.runtime().clone();
    eventually(Duration::from_secs(5), "every endpoint probed once", || {
        let runtime = runtime.clone();
        async move {
            runtime
                .snapshot()
                .all_endpoints()
                .iter()
                .all(|e| e.health.is_probed())
        }
    })
    .await;
}

/// `count` chunks of `chunk` bytes, streamed, all sharing one allocation: a body of any size
/// without holding it in memory.
pub fn repeated(chunk: usize, count: usize) -> BoxBody {
    let data = Bytes::from(vec![b'x'; chunk]);
    let frames = futures_util::stream::iter(
        (0..count).map(move |_| Ok(hyper::body::Frame::data(data.clone()))),
    );
    http_body_util::StreamBody::new(frames).boxed()
}

/// A complete body.
pub fn full(bytes: impl Into<Bytes>) -> BoxBody {
    http_body_util::Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// Runs a test body under [`TEST_LIMIT`], with logs when `RUST_LOG` is set.
pub async fn bounded<F: Future<Output = ()>>(body: F) {
    init_tracing();
    tokio::time::timeout(TEST_LIMIT, body)
        .await
        .unwrap_or_else(|_| panic!("test did not finish within {TEST_LIMIT:?}"));
}

fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .try_init();
    }
}

/// Polls `check` every 10 ms until it is true; panics naming `what` after `limit`.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {limit:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A fresh path under Cargo's per-target temporary directory.
pub fn tmp_path(name: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "meridian-{}-{}",
        std::process::id(),
        N.fetch_add(1, Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    dir.join(name)
}

/// Sum of a Prometheus counter over the series whose labels include all of `labels`.
/// The recorder is process-wide: compare before/after values, or use labels no other test uses.
pub fn metric(name: &str, labels: &[(&str, &str)]) -> f64 {
    metric_in(&meridian::admin::metrics::recorder().render(), name, labels).unwrap_or(0.0)
}

/// The same sum over a Prometheus text exposition; None when no series matches.
pub fn metric_in(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let values: Vec<f64> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (metric, rest) = match series.split_once('{') {
                Some((m, rest)) => (m, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            if metric != name {
                return None;
            }
            let ok = labels
                .iter()
                .all(|(k, v)| rest.split(',').any(|kv| kv == format!("{k}=\"{v}\"")));
            ok.then(|| value.parse::<f64>().ok()).flatten()
        })
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}
