//! The real `meridian` binary under `run --config`, with its `Child` at hand so tests can send
//! signals and read the exit status.

use super::{ProxyBuilder, tmp_path};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

/// A running `meridian run`; killed on drop.
pub struct Binary {
    /// The process.
    pub child: Child,
    /// Main listener, from the startup log line.
    pub addr: SocketAddr,
    /// Admin listener, from the same line.
    pub admin: SocketAddr,
    /// Its stderr (JSON logs).
    pub log: PathBuf,
    /// Its stdout (access logs).
    pub out: PathBuf,
    /// The config file it runs on.
    pub config: PathBuf,
}

impl Binary {
    /// Starts the binary on this config and waits for "meridian started".
    pub async fn start(config: &ProxyBuilder) -> Self {
        Self::start_with_workers(config, None).await
    }

    /// Like `start`, with `--workers` set (1 selects the current-thread scheduler).
    pub async fn start_with_workers(config: &ProxyBuilder, workers: Option<usize>) -> Self {
        match workers {
            Some(n) => Self::start_with_args(config, &["--workers", &n.to_string()]).await,
            None => Self::start_with_args(config, &[]).await,
        }
    }

    /// Like `start`, with global options before `run` (e.g. `--idle-spin 200us`).
    pub async fn start_with_args(config: &ProxyBuilder, args: &[&str]) -> Self {
        let path = config.write("meridian.toml");
        let log = tmp_path("meridian.log");
        let out = tmp_path("meridian.out");
        let child = Command::new(env!("CARGO_BIN_EXE_meridian"))
            .args(args)
            .args(["--log-format", "json", "run", "--config"])
            .arg(&path)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).expect("stdout file"))
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("spawn meridian");
        let mut binary = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
            out,
            config: path,
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let text = binary.log_text();
            if let Some((addr, admin)) = started_addrs(&text) {
                binary.addr = addr;
                binary.admin = admin;
                return binary;
            }
            if let Ok(Some(status)) = binary.child.try_wait() {
                panic!("meridian exited early ({status}):\n{text}");
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "meridian did not start:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends a signal by name (`TERM`, `HUP`) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the exit (at most `limit`); panics with the log if it does not come.
    pub async fn exit_within(&mut self, limit: Duration) -> ExitStatus {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "meridian still running after {limit:?}:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Its process id (for /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// How many threads the process has now (`/proc/<pid>/task`).
    pub fn threads(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/task", self.pid())).map_or(0, Iterator::count)
    }

    /// A `/proc/<pid>/status` field in kB, e.g. `VmHWM`.
    pub fn status_kb(&self, field: &str) -> u64 {
        let text = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"))
    }

    /// A metric from its admin /metrics, summed over all series; None if it has none.
    pub async fn metric(&self, name: &str) -> Option<f64> {
        let url = format!("http://{}/metrics", self.admin);
        let text = crate::support::TestClient::new().get(&url).await.text();
        crate::support::metric_in(&text, name, &[])
    }

    /// Its stdout so far.
    pub fn stdout_text(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Its stderr so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The main and admin listeners from the JSON startup line.
fn started_addrs(log: &str) -> Option<(SocketAddr, SocketAddr)> {
    log.lines()
        .filter(|l| l.contains("meridian started"))
        .find_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            let addr = v["fields"]["addr"].as_str()?.parse().ok()?;
            let admin = v["fields"]["admin_addr"].as_str()?.parse().ok()?;
            Some((addr, admin))
        })
}
