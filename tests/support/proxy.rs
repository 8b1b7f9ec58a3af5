//! The Meridian under test: a config builder that renders TOML (so the real parser and validator
//! run) and an in-process [`TestProxy`]; `support::binary` runs the real binary.

use super::origin::TestOrigin;
use super::tmp_path;
use meridian::server::Server;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Secret shared by every Meridian a test starts (loop-prevention tests need two to agree).
pub const FORWARD_SECRET: &str = "test-forward-secret";

struct RegionEntry {
    name: String,
    endpoints: Vec<String>,
    /// Extra `key = value` lines (TOML literals), e.g. `protocol = "h2"`.
    extra: Vec<(String, String)>,
}

/// Builds a config. Defaults suit tests: loopback listeners on port 0, one health probe at
/// start (interval 1m) so health only moves when a test asks it to, generous budget floor.
pub struct ProxyBuilder {
    local: Option<String>,
    regions: Vec<RegionEntry>,
    /// section -> key -> TOML literal.
    sections: BTreeMap<String, BTreeMap<String, String>>,
    /// Raw `[[routes]]` blocks; a catch-all route when empty.
    routes: Vec<String>,
    /// Wait for every endpoint's first probe before returning from `start`.
    wait_probed: bool,
}

/// A Meridian running in this test process.
pub struct TestProxy {
    server: Server,
}

// === impl ProxyBuilder ===

impl Default for ProxyBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ProxyBuilder {
    /// An empty config with the test defaults.
    pub fn new() -> Self {
        let mut b = Self {
            local: None,
            regions: Vec::new(),
            sections: BTreeMap::new(),
            routes: Vec::new(),
            wait_probed: true,
        };
        b = b
            .set("server.listen", "\"127.0.0.1:0\"")
            .set("server.admin_listen", "\"127.0.0.1:0\"")
            .set("server.forward_secret", &format!("\"{FORWARD_SECRET}\""))
            .set("health.interval", "\"1m\"")
            .set("health.timeout", "\"500ms\"")
            .set("timeouts.connect", "\"200ms\"")
            .set("timeouts.per_try", "\"2s\"")
            .set("timeouts.request", "\"8s\"")
            .set("retry.budget_min_per_sec", "1000")
            .set("shutdown.grace", "\"1s\"")
            .set("log.level", "\"warn\"");
        b
    }

    /// Sets `section.key` to a TOML literal (strings need their quotes).
    pub fn set(mut self, dotted: &str, literal: &str) -> Self {
        let (section, key) = dotted.split_once('.').expect("section.key");
        self.sections
            .entry(section.to_string())
            .or_default()
            .insert(key.to_string(), literal.to_string());
        self
    }

    /// Adds a region served by this origin. The first region added is local unless `local` says.
    pub fn origin(self, origin: &TestOrigin) -> Self {
        let name = origin.region().to_string();
        self.region(&name, &[origin.addr()], &[])
    }

    /// Adds one region per origin, in order (the first is local unless `local` says).
    pub fn origins(self, origins: &[&TestOrigin]) -> Self {
        origins.iter().fold(self, |b, o| b.origin(o))
    }

    /// Adds a region with explicit endpoints and extra keys, e.g. `("protocol", "\"h2\"")`.
    pub fn region(mut self, name: &str, addrs: &[SocketAddr], extra: &[(&str, &str)]) -> Self {
        self.regions.push(RegionEntry {
            name: name.to_string(),
            endpoints: addrs.iter().map(|a| a.to_string()).collect(),
            extra: extra
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        });
        self
    }

    /// Names the local region (default: the first one added).
    pub fn local(mut self, name: &str) -> Self {
        self.local = Some(name.to_string());
        self
    }

    /// Adds a `[[routes]]` block from its body lines (default: one catch-all route).
    pub fn route(mut self, body: &str) -> Self {
        self.routes.push(body.to_string());
        self
    }

    /// Returns from `start` without waiting for the first probes.
    pub fn no_wait(mut self) -> Self {
        self.wait_probed = false;
        self
    }

    /// The config file text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let local = self
            .local
            .clone()
            .or_else(|| self.regions.first().map(|r| r.name.clone()))
            .expect("at least one region");
        let mut sections = self.sections.clone();
        sections
            .entry("server".into())
            .or_default()
            .insert("local_region".into(), format!("{local:?}"));
        for (section, keys) in &sections {
            out.push_str(&format!("[{section}]\n"));
            for (k, v) in keys {
                out.push_str(&format!("{k} = {v}\n"));
            }
            out.push('\n');
        }
        for r in &self.regions {
            out.push_str("[[regions]]\n");
            out.push_str(&format!("name = {:?}\n", r.name));
            out.push_str(&format!("endpoints = {:?}\n", r.endpoints));
            for (k, v) in &r.extra {
                out.push_str(&format!("{k} = {v}\n"));
            }
            out.push('\n');
        }
        if self.routes.is_empty() {
            out.push_str("[[routes]]\nname = \"all\"\n");
        }
        for r in &self.routes {
            out.push_str(&format!("[[routes]]\n{r}\n\n"));
        }
        out
    }

    /// Parses, validates and starts Meridian in this process.
    pub async fn start(self) -> TestProxy {
        let text = self.render();
        let settings = meridian::config::parse_and_validate("test.toml", &text)
            .unwrap_or_else(|e| panic!("test config invalid: {e}\n{text}"));
        let server = Server::start(settings).await.expect("meridian starts");
        let proxy = TestProxy { server };
        if self.wait_probed {
            super::wait_probed(&proxy.server).await;
        }
        proxy
    }

    /// Writes the config to a temporary file and returns its path.
    pub fn write(&self, name: &str) -> PathBuf {
        let path = tmp_path(name);
        std::fs::write(&path, self.render()).expect("write config");
        path
    }
}

// === impl TestProxy ===

impl TestProxy {
    /// A builder with the test defaults.
    pub fn builder() -> ProxyBuilder {
        ProxyBuilder::new()
    }

    /// Main listener.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://<main listener><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.addr())
    }

    /// `http://<admin listener><path>`.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.admin_addr())
    }

    /// Shared state (snapshot, readiness, in-flight count).
    pub fn runtime(&self) -> &std::sync::Arc<meridian::runtime::Runtime> {
        self.server.runtime()
    }

    /// Is the local region's first endpoint up by active checks?
    pub fn local_up(&self) -> bool {
        self.runtime().snapshot().local().endpoints()[0]
            .health
            .is_up()
    }

    /// Starts the SIGTERM timeline in a task: readiness 503 at once, listeners close after drain.
    pub fn drain(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.server.drain_and_stop())
    }

    /// Stops it (no drain).
    pub async fn stop(self) {
        self.server.stop().await;
    }
}
