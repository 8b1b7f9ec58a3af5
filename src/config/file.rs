//! Serde types that mirror the TOML file one to one; defaults live here, meaning lives in `validate`.

use serde::Deserialize;
use std::time::Duration;
use toml::Spanned;

/// The whole file. Every table rejects unknown keys so that a typo is an error, not a default.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Listeners, identity of the local region, secrets.
    pub server: ServerFile,
    /// The regions, local and siblings.
    pub regions: Spanned<Vec<RegionFile>>,
    /// Active health checking.
    #[serde(default)]
    pub health: HealthFile,
    /// Connect, per-try, overall deadline, header read.
    #[serde(default = "default_timeouts")]
    pub timeouts: Spanned<TimeoutsFile>,
    /// Failover, replay buffer, retry budget, hedging.
    #[serde(default)]
    pub retry: RetryFile,
    /// Passive outlier detection.
    #[serde(default)]
    pub outlier: OutlierFile,
    /// Resource caps.
    #[serde(default)]
    pub limits: LimitsFile,
    /// SIGTERM drain timeline.
    #[serde(default)]
    pub shutdown: ShutdownFile,
    /// Logging.
    #[serde(default)]
    pub log: LogFile,
    /// DNS discovery of endpoint names.
    #[serde(default)]
    pub dns: DnsFile,
    /// TLS toward origins and siblings.
    #[serde(default)]
    pub upstream_tls: UpstreamTlsFile,
    /// Which requests are proxied at all.
    pub routes: Spanned<Vec<RouteFile>>,
    /// The data tier: each region's database, watched for its writer and replication lag.
    #[serde(default)]
    pub database: Option<super::database::DatabaseFile>,
    /// OpenTelemetry traces exported over OTLP/HTTP.
    #[serde(default)]
    pub tracing: super::telemetry::TracingFile,
    /// One JSON line per request on stdout.
    #[serde(default)]
    pub access_log: super::telemetry::AccessLogFile,
    /// The status page's history.
    #[serde(default)]
    pub status: super::telemetry::StatusFile,
}

/// `[server]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerFile {
    /// Main listener address.
    #[serde(default = "default_listen")]
    pub listen: Spanned<String>,
    /// Admin listener address; loopback unless the operator says otherwise.
    #[serde(default = "default_admin_listen")]
    pub admin_listen: Spanned<String>,
    /// Readiness path served on the main listener for the ALB and Route 53.
    #[serde(default = "default_readiness_path")]
    pub readiness_path: Spanned<String>,
    /// Name of the region this process runs in.
    pub local_region: Spanned<String>,
    /// Environment variable holding the forwarding-mark secret.
    #[serde(default = "default_secret_env")]
    pub forward_secret_env: String,
    /// Literal forwarding-mark secret (tests and demos only).
    #[serde(default)]
    pub forward_secret: Option<String>,
    /// Environment variable holding the admin bearer token.
    #[serde(default = "default_admin_token_env")]
    pub admin_token_env: String,
    /// Literal admin bearer token (tests only; prefer the environment variable).
    #[serde(default)]
    pub admin_token: Option<String>,
    /// TLS termination on the main listener; absent = plain HTTP (behind an ALB that terminates).
    #[serde(default)]
    pub tls: Option<ListenerTlsFile>,
}

/// `[server.tls]`
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ListenerTlsFile {
    /// Certificates; SNI picks the one whose names match, the first is the default.
    pub certificates: Spanned<Vec<CertFile>>,
    /// How often the PEM files are checked for rotation.
    #[serde(default = "default_cert_check", with = "humantime_serde")]
    pub reload_interval: Duration,
}

/// One certificate chain and its key, as PEM files.
#[derive(Debug, Deserialize, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CertFile {
    /// Certificate chain, leaf first.
    pub cert: String,
    /// PKCS#8, PKCS#1 or SEC1 private key.
    pub key: String,
}

/// `[upstream_tls]`
#[derive(Debug, Deserialize, Clone, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamTlsFile {
    /// PEM bundle of CAs to trust instead of the system roots.
    pub ca_file: Option<String>,
    /// Client certificate chain for mTLS toward siblings.
    pub client_cert: Option<String>,
    /// Its key.
    pub client_key: Option<String>,
}

fn default_cert_check() -> Duration {
    Duration::from_secs(10)
}

/// One `[[regions]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionFile {
    /// Region name, e.g. `eu-west-1`.
    pub name: Spanned<String>,
    /// `host:port` or `http(s)://host[:port]` targets.
    pub endpoints: Spanned<Vec<Spanned<String>>>,
    /// Upstream HTTP version.
    #[serde(default)]
    pub protocol: Option<Spanned<String>>,
    /// Health-check path override.
    #[serde(default)]
    pub health_path: Option<String>,
    /// Relative share among endpoints of equal standing (reserved for weighted spreading).
    #[serde(default = "one")]
    pub weight: Spanned<u32>,
}

/// `[health]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthFile {
    /// Probe path.
    pub path: String,
    /// Inclusive range of healthy statuses.
    pub expect_status: Spanned<[u16; 2]>,
    /// Probe period.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Share of the interval used as random jitter.
    pub jitter: Spanned<f64>,
    /// Probe timeout.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Successes to go up.
    pub rise: Spanned<u32>,
    /// Failures to go down.
    pub fall: Spanned<u32>,
}

/// `[timeouts]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeoutsFile {
    /// TCP and TLS connect.
    pub connect: Spanned<HumanDuration>,
    /// One attempt, until response headers.
    pub per_try: Spanned<HumanDuration>,
    /// All attempts of one request.
    pub request: Spanned<HumanDuration>,
    /// Client request head must arrive within this.
    pub header_read: Spanned<HumanDuration>,
    /// A write to a client that makes no progress for this long closes the connection.
    pub send: Spanned<HumanDuration>,
}

/// A duration written for humans ("250ms", "5s"); a newtype so it can sit inside `Spanned` and
/// errors can point at the key that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        humantime_serde::deserialize(d).map(HumanDuration)
    }
}

/// `[retry]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryFile {
    /// Origin statuses that trigger failover.
    pub statuses: Spanned<Vec<u16>>,
    /// Attempts per request.
    pub max_attempts: Spanned<u32>,
    /// Replay buffer in bytes.
    pub replay_buffer: usize,
    /// Budget ratio.
    pub budget_ratio: Spanned<f64>,
    /// Budget floor per second.
    pub budget_min_per_sec: u32,
    /// Budget window.
    #[serde(with = "humantime_serde")]
    pub budget_window: Duration,
    /// Hedge idempotent requests.
    pub hedge: bool,
    /// "auto" or a duration.
    pub hedge_delay: Spanned<String>,
}

/// `[outlier]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutlierFile {
    /// Failures in a row before ejection.
    pub consecutive_failures: Spanned<u32>,
    /// First ejection length.
    #[serde(with = "humantime_serde")]
    pub base_ejection: Duration,
    /// Longest ejection.
    #[serde(with = "humantime_serde")]
    pub max_ejection: Duration,
    /// Cap on ejected share of endpoints.
    pub max_ejected_percent: Spanned<u32>,
}

/// `[limits]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsFile {
    /// Request head cap.
    pub max_header_bytes: Spanned<usize>,
    /// Request body cap, 0 = none.
    pub max_body_bytes: u64,
    /// Concurrent connections.
    pub max_connections: Spanned<usize>,
    /// Concurrent requests.
    pub max_in_flight: Spanned<usize>,
}

/// `[shutdown]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownFile {
    /// Keep accepting while readiness reports 503.
    #[serde(with = "humantime_serde")]
    pub drain: Duration,
    /// Deadline for in-flight requests after the drain.
    #[serde(with = "humantime_serde")]
    pub grace: Duration,
}

/// `[log]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogFile {
    /// "text" or "json".
    pub format: Spanned<String>,
    /// tracing filter directive.
    pub level: String,
}

/// `[dns]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsFile {
    /// `ip:port` name servers; empty = the system's resolv.conf.
    pub nameservers: Vec<Spanned<String>>,
    /// Shortest re-resolution period, whatever the TTL says.
    #[serde(with = "humantime_serde")]
    pub min_ttl: Duration,
    /// Longest re-resolution period.
    #[serde(with = "humantime_serde")]
    pub max_ttl: Duration,
    /// Retry period after a failed resolution (the last good addresses stay in use).
    #[serde(with = "humantime_serde")]
    pub error_retry: Duration,
    /// Time limit of one query to one name server (two attempts are made).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for DnsFile {
    fn default() -> Self {
        Self {
            nameservers: Vec::new(),
            min_ttl: Duration::from_secs(5),
            max_ttl: Duration::from_secs(300),
            error_retry: Duration::from_secs(5),
            timeout: Duration::from_secs(2),
        }
    }
}

/// One `[[routes]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteFile {
    /// Label used in metrics.
    pub name: Spanned<String>,
    /// Exact host (case-insensitive, port ignored); absent = any host.
    #[serde(default)]
    pub host: Option<String>,
    /// Path prefix, default "/".
    #[serde(default)]
    pub path_prefix: Option<Spanned<String>>,
    /// Region subset; absent = all.
    #[serde(default)]
    pub regions: Option<Vec<Spanned<String>>>,
    /// Where writes go when a database is configured: "writer" (default) or "local".
    #[serde(default)]
    pub writes: Option<Spanned<String>>,
    /// Every request on this route is a write, whatever its method (e.g. a GraphQL endpoint).
    #[serde(default)]
    pub treat_as_writes: bool,
    /// What the RPO guard does with a write while no replica is within budget: "hold"
    /// (default: wait briefly, then 503) or "expose" (send it, mark the response).
    #[serde(default)]
    pub rpo_policy: Option<Spanned<String>>,
}

fn default_listen() -> Spanned<String> {
    Spanned::new(0..0, "0.0.0.0:8080".into())
}
fn default_admin_listen() -> Spanned<String> {
    Spanned::new(0..0, "127.0.0.1:9901".into())
}
fn default_readiness_path() -> Spanned<String> {
    Spanned::new(0..0, "/.meridian/readyz".into())
}
fn default_secret_env() -> String {
    "MERIDIAN_FORWARD_SECRET".into()
}
fn default_admin_token_env() -> String {
    "MERIDIAN_ADMIN_TOKEN".into()
}
fn default_timeouts() -> Spanned<TimeoutsFile> {
    spanned(TimeoutsFile::default())
}
fn one() -> Spanned<u32> {
    Spanned::new(0..0, 1)
}
fn spanned<T>(value: T) -> Spanned<T> {
    Spanned::new(0..0, value)
}

impl Default for HealthFile {
    fn default() -> Self {
        Self {
            path: "/healthz".into(),
            expect_status: spanned([200, 299]),
            interval: Duration::from_secs(2),
            jitter: spanned(0.1),
            timeout: Duration::from_secs(1),
            rise: spanned(2),
            fall: spanned(2),
        }
    }
}

impl Default for TimeoutsFile {
    fn default() -> Self {
        Self {
            connect: spanned(HumanDuration(Duration::from_millis(500))),
            per_try: spanned(HumanDuration(Duration::from_secs(3))),
            request: spanned(HumanDuration(Duration::from_secs(10))),
            header_read: spanned(HumanDuration(Duration::from_secs(10))),
            send: spanned(HumanDuration(Duration::from_secs(60))),
        }
    }
}

impl Default for RetryFile {
    fn default() -> Self {
        Self {
            statuses: spanned(vec![502, 503, 504]),
            max_attempts: spanned(3),
            replay_buffer: 64 * 1024,
            budget_ratio: spanned(0.2),
            budget_min_per_sec: 10,
            budget_window: Duration::from_secs(10),
            hedge: true,
            hedge_delay: spanned("auto".into()),
        }
    }
}

impl Default for OutlierFile {
    fn default() -> Self {
        Self {
            consecutive_failures: spanned(5),
            base_ejection: Duration::from_secs(5),
            max_ejection: Duration::from_secs(120),
            max_ejected_percent: spanned(50),
        }
    }
}

impl Default for LimitsFile {
    fn default() -> Self {
        Self {
            max_header_bytes: spanned(16 * 1024),
            max_body_bytes: 0,
            max_connections: spanned(10_000),
            max_in_flight: spanned(4096),
        }
    }
}

impl Default for ShutdownFile {
    fn default() -> Self {
        Self {
            drain: Duration::from_secs(15),
            grace: Duration::from_secs(30),
        }
    }
}

impl Default for LogFile {
    fn default() -> Self {
        Self {
            format: spanned("text".into()),
            level: "info".into(),
        }
    }
}
