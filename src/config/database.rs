//! `[database]` and the per-route data-tier keys: the file's types, their defaults and validation.
//!
//! Connection strings name hosts, ports, databases and users; credentials never live in the
//! file (a password in a connection string is an error): they come from an environment
//! variable or a file named here, read at each connect so a rotated secret is picked up.

use super::file::{HumanDuration, RouteFile};
use super::validate::{ConfigError, RegionSpec, Validator};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;
use toml::Spanned;

/// `[database]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseFile {
    /// "postgres" (vanilla streaming replication) or "aurora" (Aurora PostgreSQL Global Database).
    #[serde(default = "default_kind")]
    pub kind: Spanned<String>,
    /// Region name -> libpq-style connection string (URL or key=value), without a password.
    pub regions: Spanned<BTreeMap<String, Spanned<String>>>,
    /// Environment variable holding the monitoring role's password (unset or empty: none).
    #[serde(default = "default_password_env")]
    pub password_env: String,
    /// A file holding the password instead (e.g. a mounted secret); read at each connect.
    #[serde(default)]
    pub password_file: Option<String>,
    /// "disable", "require" (encrypted, any certificate) or "verify-full" (default).
    #[serde(default = "default_tls")]
    pub tls: Spanned<String>,
    /// CA bundle for "verify-full" instead of the system roots (e.g. the RDS bundle).
    #[serde(default)]
    pub ca_file: Option<String>,
    /// How often each region's database is probed.
    #[serde(default = "default_probe_interval")]
    pub probe_interval: Spanned<HumanDuration>,
    /// Connect (TCP + TLS + authentication) time limit of the monitoring connection.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: Spanned<HumanDuration>,
    /// Write a heartbeat row on the writer every probe, so lag stays measurable when the
    /// application is idle and grows when replication is cut.
    #[serde(default = "yes")]
    pub heartbeat: bool,
    /// Largest replication lag at which a write is still admitted (the RPO budget).
    #[serde(default = "default_rpo_budget")]
    pub rpo_budget: Spanned<HumanDuration>,
    /// How long a write waits for a replica to come within budget before the guard refuses it.
    #[serde(default = "default_rpo_hold")]
    pub rpo_hold: Spanned<HumanDuration>,
    /// How long writes are held while no writer is known (a failover in progress).
    #[serde(default = "default_writer_hold")]
    pub writer_hold: Spanned<HumanDuration>,
    /// Most writes held at once (for either reason); beyond it a write gets 503 at once.
    #[serde(default = "default_max_held")]
    pub max_held_writes: Spanned<usize>,
    /// How long a read with a consistency token waits for the local replica to replay it
    /// before it is sent to the writer's region.
    #[serde(default = "default_read_wait")]
    pub read_wait: Spanned<HumanDuration>,
}

/// Which database flavour the probes speak to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    /// PostgreSQL with streaming replication (pg_is_in_recovery, timelines, heartbeat row).
    Postgres,
    /// Aurora PostgreSQL Global Database (aurora_global_db_*_status functions).
    Aurora,
}

/// TLS toward the databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseTls {
    /// Plain TCP (loopback, tests, the demo).
    Disable,
    /// Encrypted; the certificate is not checked (libpq's sslmode=require).
    Require,
    /// Encrypted; certificate and host name checked (libpq's sslmode=verify-full).
    VerifyFull,
}

/// The validated `[database]`.
#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseSettings {
    /// Flavour.
    pub kind: DatabaseKind,
    /// Connection string per region (index = region index); None = that region has none.
    pub regions: Vec<Option<String>>,
    /// Password variable.
    pub password_env: String,
    /// Password file.
    pub password_file: Option<String>,
    /// TLS mode.
    pub tls: DatabaseTls,
    /// CA bundle for verify-full.
    pub ca_file: Option<String>,
    /// Probe period.
    pub probe_interval: Duration,
    /// Connect limit.
    pub connect_timeout: Duration,
    /// Heartbeat row on.
    pub heartbeat: bool,
    /// RPO budget.
    pub rpo_budget: Duration,
    /// Guard's hold before refusing.
    pub rpo_hold: Duration,
    /// Hold while no writer is known.
    pub writer_hold: Duration,
    /// Cap on held writes.
    pub max_held_writes: usize,
    /// Token wait for the local replica.
    pub read_wait: Duration,
}

impl DatabaseSettings {
    /// The monitoring password, from the file or the environment variable (None: no password).
    pub fn password(&self) -> std::io::Result<Option<String>> {
        if let Some(path) = &self.password_file {
            let text = std::fs::read_to_string(path)?;
            return Ok(Some(text.trim_end_matches(['\n', '\r']).to_string()));
        }
        Ok(std::env::var(&self.password_env)
            .ok()
            .filter(|p| !p.is_empty()))
    }
}

/// What the data tier does with one route's requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteDataPolicy {
    /// Writes go to the writer's region (true, the default) or stay local.
    pub writes_to_writer: bool,
    /// Every request is a write, whatever its method.
    pub treat_as_writes: bool,
    /// RPO guard: admit and mark exposed (true) instead of hold then refuse.
    pub rpo_expose: bool,
}

impl Default for RouteDataPolicy {
    fn default() -> Self {
        Self {
            writes_to_writer: true,
            treat_as_writes: false,
            rpo_expose: false,
        }
    }
}

fn default_kind() -> Spanned<String> {
    Spanned::new(0..0, "postgres".into())
}
fn default_password_env() -> String {
    "MERIDIAN_DATABASE_PASSWORD".into()
}
fn default_tls() -> Spanned<String> {
    Spanned::new(0..0, "verify-full".into())
}
fn duration(ms: u64) -> Spanned<HumanDuration> {
    Spanned::new(0..0, HumanDuration(Duration::from_millis(ms)))
}
fn default_probe_interval() -> Spanned<HumanDuration> {
    duration(250)
}
fn default_connect_timeout() -> Spanned<HumanDuration> {
    duration(2000)
}
fn default_rpo_budget() -> Spanned<HumanDuration> {
    duration(5000)
}
fn default_rpo_hold() -> Spanned<HumanDuration> {
    duration(2000)
}
fn default_writer_hold() -> Spanned<HumanDuration> {
    duration(15_000)
}
fn default_max_held() -> Spanned<usize> {
    Spanned::new(0..0, 1000)
}
fn default_read_wait() -> Spanned<HumanDuration> {
    duration(500)
}
fn yes() -> bool {
    true
}

// === impl Validator ===

impl Validator<'_> {
    /// Validates `[database]` against the regions.
    pub(super) fn database(
        &self,
        f: &super::file::ConfigFile,
        regions: &[RegionSpec],
        _local: usize,
    ) -> Result<Option<DatabaseSettings>, ConfigError> {
        let Some(d) = &f.database else {
            return Ok(None);
        };
        let kind = match d.kind.get_ref().as_str() {
            "postgres" => DatabaseKind::Postgres,
            "aurora" => DatabaseKind::Aurora,
            other => {
                return Err(self.at(
                    &d.kind,
                    format!("kind must be \"postgres\" or \"aurora\", not {other:?}"),
                ));
            }
        };
        let tls = match d.tls.get_ref().as_str() {
            "disable" => DatabaseTls::Disable,
            "require" => DatabaseTls::Require,
            "verify-full" => DatabaseTls::VerifyFull,
            other => {
                return Err(self.at(
                    &d.tls,
                    format!(
                        "tls must be \"disable\", \"require\" or \"verify-full\", not {other:?}"
                    ),
                ));
            }
        };
        if d.regions.get_ref().is_empty() {
            return Err(self.at(&d.regions, "[database.regions] names no region"));
        }
        let mut per_region = vec![None; regions.len()];
        for (name, conninfo) in d.regions.get_ref() {
            let Some(index) = regions.iter().position(|r| &r.name == name) else {
                return Err(self.at(conninfo, format!("unknown region {name:?}")));
            };
            let parsed: tokio_postgres::Config = conninfo.get_ref().parse().map_err(|e| {
                self.at(conninfo, format!("not a PostgreSQL connection string: {e}"))
            })?;
            if parsed.get_password().is_some() {
                return Err(self.at(
                    conninfo,
                    format!(
                        "a password does not belong in the config file: set the environment variable {} or password_file",
                        d.password_env
                    ),
                ));
            }
            if parsed.get_hosts().is_empty() {
                return Err(self.at(conninfo, "the connection string names no host"));
            }
            per_region[index] = Some(conninfo.get_ref().clone());
        }
        let probe_interval = d.probe_interval.get_ref().0;
        if probe_interval < Duration::from_millis(10) || probe_interval > Duration::from_secs(60) {
            return Err(self.at(
                &d.probe_interval,
                "probe_interval must be between 10ms and 60s",
            ));
        }
        let rpo_budget = d.rpo_budget.get_ref().0;
        if rpo_budget < probe_interval {
            return Err(self.at(
                &d.rpo_budget,
                "rpo_budget must be at least probe_interval (lag is measured once per probe)",
            ));
        }
        let connect_timeout = d.connect_timeout.get_ref().0;
        if connect_timeout.is_zero() {
            return Err(self.at(&d.connect_timeout, "connect_timeout must be positive"));
        }
        if *d.max_held_writes.get_ref() == 0 {
            return Err(self.at(&d.max_held_writes, "max_held_writes must be at least 1"));
        }
        let hour = Duration::from_secs(3600);
        for field in [&d.rpo_hold, &d.writer_hold, &d.read_wait] {
            if field.get_ref().0 > hour {
                return Err(self.at(field, "at most 1h"));
            }
        }
        if tls != DatabaseTls::VerifyFull && d.ca_file.is_some() {
            return Err(self.error(None, "[database] ca_file needs tls = \"verify-full\""));
        }
        Ok(Some(DatabaseSettings {
            kind,
            regions: per_region,
            password_env: d.password_env.clone(),
            password_file: d.password_file.clone(),
            tls,
            ca_file: d.ca_file.clone(),
            probe_interval,
            connect_timeout,
            heartbeat: d.heartbeat,
            rpo_budget,
            rpo_hold: d.rpo_hold.get_ref().0,
            writer_hold: d.writer_hold.get_ref().0,
            max_held_writes: *d.max_held_writes.get_ref(),
            read_wait: d.read_wait.get_ref().0,
        }))
    }

    /// Validates a route's data-tier keys.
    pub(super) fn route_data(&self, r: &RouteFile) -> Result<RouteDataPolicy, ConfigError> {
        let writes_to_writer = match r.writes.as_ref().map(|w| (w, w.get_ref().as_str())) {
            None | Some((_, "writer")) => true,
            Some((_, "local")) => false,
            Some((w, other)) => {
                return Err(self.at(
                    w,
                    format!("writes must be \"writer\" or \"local\", not {other:?}"),
                ));
            }
        };
        let rpo_expose = match r.rpo_policy.as_ref().map(|p| (p, p.get_ref().as_str())) {
            None | Some((_, "hold")) => false,
            Some((_, "expose")) => true,
            Some((p, other)) => {
                return Err(self.at(
                    p,
                    format!("rpo_policy must be \"hold\" or \"expose\", not {other:?}"),
                ));
            }
        };
        Ok(RouteDataPolicy {
            writes_to_writer,
            treat_as_writes: r.treat_as_writes,
            rpo_expose,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::parse_and_validate;

    fn check(database: &str) -> Result<crate::config::Settings, crate::config::ConfigError> {
        let text = format!(
            "[server]\nlocal_region = \"a\"\n[[regions]]\nname = \"a\"\nendpoints = [\"127.0.0.1:1\"]\n[[regions]]\nname = \"b\"\nendpoints = [\"127.0.0.1:2\"]\n[[routes]]\nname = \"r\"\n{database}\n"
        );
        parse_and_validate("t.toml", &text)
    }

    #[test]
    fn database_section_validates() {
        assert!(check("").unwrap().database.is_none());
        let s = check(
            "[database]\ntls = \"disable\"\nrpo_budget = \"5s\"\n[database.regions]\na = \"host=127.0.0.1 port=5432 user=m dbname=app\"\nb = \"postgres://m@127.0.0.2:5432/app\"\n",
        )
        .unwrap();
        let d = s.database.unwrap();
        assert_eq!(d.regions.len(), 2);
        assert!(d.regions.iter().all(Option::is_some));
        assert_eq!(d.probe_interval, std::time::Duration::from_millis(250));
        assert_eq!(d.writer_hold, std::time::Duration::from_secs(15));
        assert!(s.routes[0].data.writes_to_writer);

        let err = check("[database.regions]\na = \"postgres://m:secret@127.0.0.1/app\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("t.toml:12:5: a password does not belong"),
            "{err}"
        );
        let err = check("[database.regions]\nz = \"host=127.0.0.1\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown region \"z\""), "{err}");
        let err = check("[database]\nkind = \"mysql\"\n[database.regions]\na = \"host=x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("kind must be"), "{err}");
        let err = check("[database]\nrpo_budget = \"10ms\"\n[database.regions]\na = \"host=x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("rpo_budget must be at least"), "{err}");
    }

    #[test]
    fn route_keys_validate() {
        let text = "[server]\nlocal_region = \"a\"\n[[regions]]\nname = \"a\"\nendpoints = [\"127.0.0.1:1\"]\n[[routes]]\nname = \"r\"\nwrites = \"local\"\ntreat_as_writes = true\nrpo_policy = \"expose\"\n";
        let s = parse_and_validate("t.toml", text).unwrap();
        let p = s.routes[0].data;
        assert!(!p.writes_to_writer && p.treat_as_writes && p.rpo_expose);
        let bad = text.replace("\"expose\"", "\"maybe\"");
        let err = parse_and_validate("t.toml", &bad).unwrap_err().to_string();
        assert!(err.contains("rpo_policy must be"), "{err}");
    }
}
