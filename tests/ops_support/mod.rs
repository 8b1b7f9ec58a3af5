//! Helpers for the operations suites (reload, DNS, TLS, drain): a Meridian started from a config
//! file with its reload source, admin calls, atomic file writes, and a gate that keeps tests
//! touching process-wide state (signals, gauges) apart from the rest of their binary.
//!
//! Built on `tests/support` (owned by the harness); nothing here changes it.
#![allow(dead_code)]

pub mod config_server;

use crate::support::{Answer, ProxyBuilder, TestClient, request, wait_probed};
use bytes::Bytes;
use http::Method;
use meridian::config::{ConfigSource, ReloadOutcome};
use meridian::server::Server;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Tests that send signals or read process-wide gauges take this exclusively; the others share it.
static PROCESS_STATE: RwLock<()> = RwLock::const_new(());

/// For a test that only touches its own Meridian.
pub async fn shared() -> RwLockReadGuard<'static, ()> {
    PROCESS_STATE.read().await
}

/// For a test that sends a signal to the process or reads a process-wide gauge.
pub async fn exclusive() -> RwLockWriteGuard<'static, ()> {
    PROCESS_STATE.write().await
}

/// Writes a file the way config agents do (temporary file, then rename), so a reader never
/// sees it half-written unless a test means it to.
pub fn write_atomic(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp-write");
    std::fs::write(&tmp, text).expect("write temporary file");
    std::fs::rename(&tmp, path).expect("rename into place");
}

/// A Meridian in this process, started with a reload source.
pub struct Managed {
    /// The server.
    pub server: Server,
    /// The file `rewrite` writes, when the source is a file.
    pub path: Option<PathBuf>,
    /// A client for the main and admin listeners.
    pub client: TestClient,
}

impl Managed {
    /// Writes the builder's config to a file and starts Meridian watching it.
    pub async fn from_file(builder: &ProxyBuilder) -> Self {
        let path = builder.write("meridian.toml");
        let settings = meridian::config::load_file(&path)
            .unwrap_or_else(|e| panic!("test config invalid: {e}"));
        let mut managed = Self::start(
            settings,
            ConfigSource::File(path.clone()),
            Duration::from_secs(3600),
        )
        .await;
        managed.path = Some(path);
        managed
    }

    /// Like `from_file`, but the watched path is a symlink into another directory and
    /// `rewrite` changes the target there, so the watcher never fires: only explicit reloads
    /// (handle, admin, SIGHUP) pick changes up, without the watcher's 200 ms debounce.
    pub async fn from_unwatched_file(builder: &ProxyBuilder) -> Self {
        let target = builder.write("target.toml");
        let link = crate::support::tmp_path("meridian.toml");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let settings = meridian::config::load_file(&link)
            .unwrap_or_else(|e| panic!("test config invalid: {e}"));
        let mut managed = Self::start(
            settings,
            ConfigSource::File(link),
            Duration::from_secs(3600),
        )
        .await;
        managed.path = Some(target);
        managed
    }

    /// Starts from a source; waits until every endpoint has been probed once and the reloader
    /// is running.
    pub async fn start(
        settings: meridian::config::Settings,
        source: ConfigSource,
        poll_interval: Duration,
    ) -> Self {
        let server = Server::start_with_source(settings, Some(source), poll_interval)
            .await
            .expect("meridian starts");
        wait_probed(&server).await;
        // The reloader installs its file watch and SIGHUP handler when its task first runs; a
        // reload answered from its loop proves both are in place. (A change written before that
        // would be missed until the next one: see the report on the startup window.)
        let outcome = server.reload_handle().expect("a source").reload().await;
        assert_eq!(outcome, Some(ReloadOutcome::Unchanged));
        Self {
            server,
            path: None,
            client: TestClient::new(),
        }
    }

    /// `http://<main listener><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.addr())
    }

    /// `http://<admin listener><path>`.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.admin_addr())
    }

    /// GET `path` on the main listener with this Host header.
    pub async fn get_host(&self, host: &str, path: &str) -> Answer {
        self.client
            .send(request(
                Method::GET,
                &self.url(path),
                &[("host", host)],
                Bytes::new(),
            ))
            .await
    }

    /// The admin `/config` document.
    pub async fn config(&self) -> serde_json::Value {
        self.client.get(&self.admin_url("/config")).await.json()
    }

    /// The admin `/status` document.
    pub async fn status(&self) -> serde_json::Value {
        self.client.get(&self.admin_url("/status")).await.json()
    }

    /// Replaces the config file atomically with this text.
    pub fn rewrite(&self, text: &str) {
        write_atomic(self.path.as_deref().expect("a file source"), text);
    }
}

/// Every `regions[].endpoints[].address` in an admin `/status` document.
pub fn status_addresses(status: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> = status["regions"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["endpoints"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["address"].as_str().map(str::to_string))
        .collect();
    out.sort();
    out
}

/// Starts Meridian without a reload source (so the test owns the `Server` and can drain it);
/// waits until every endpoint has been probed once.
pub async fn start_server(builder: &ProxyBuilder) -> Server {
    start_text(&builder.render()).await
}

/// Starts Meridian (no reload source) from config text, e.g. a rendered builder edited by the
/// test; waits until every endpoint has been probed once.
pub async fn start_text(text: &str) -> Server {
    let settings = meridian::config::parse_and_validate("test.toml", text)
        .unwrap_or_else(|e| panic!("test config invalid: {e}\n{text}"));
    let server = Server::start(settings).await.expect("meridian starts");
    wait_probed(&server).await;
    server
}
