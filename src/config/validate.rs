//! Turns the parsed file into [`Settings`], rejecting impossible values with `file:line:column` errors.

use super::file::{ConfigFile, ListenerTlsFile, UpstreamTlsFile};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::time::Duration;
use toml::Spanned;

/// Why a config was refused. Display gives `origin:line:column: message`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or URL could not be read.
    #[error("{origin}: cannot read config: {message}")]
    Io {
        /// Path or URL.
        origin: String,
        /// OS or transport error.
        message: String,
    },
    /// Syntax error or impossible value, with its position when known.
    #[error("{}", format_invalid(.origin, .position, .message))]
    Invalid {
        /// Path or URL.
        origin: String,
        /// 1-based line and column, when the value came from the file.
        position: Option<(usize, usize)>,
        /// What is wrong, in words.
        message: String,
    },
}

fn format_invalid(origin: &str, position: &Option<(usize, usize)>, message: &str) -> String {
    match position {
        Some((line, col)) => format!("{origin}:{line}:{col}: {message}"),
        None => format!("{origin}: {message}"),
    }
}

/// Upstream URL scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain TCP.
    Http,
    /// TLS with SNI and certificate verification.
    Https,
}

/// Upstream HTTP version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1 with keep-alive pooling.
    Http1,
    /// HTTP/2 (prior knowledge on http, ALPN on https).
    H2,
}

/// One configured upstream target, before DNS.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EndpointSpec {
    /// http or https.
    pub scheme: Scheme,
    /// Host name or IP literal (no brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl fmt::Display for EndpointSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// A validated region.
#[derive(Debug, Clone)]
pub struct RegionSpec {
    /// Region name.
    pub name: String,
    /// Its targets.
    pub endpoints: Vec<EndpointSpec>,
    /// Upstream HTTP version.
    pub protocol: Protocol,
    /// Probe path for this region.
    pub health_path: String,
    /// Relative weight.
    pub weight: u32,
}

/// A validated route: host and path prefix to a set of regions (indices into `Settings::regions`).
#[derive(Debug, Clone)]
pub struct RouteSpec {
    /// Metrics label.
    pub name: String,
    /// Lower-case host without port; None = any.
    pub host: Option<String>,
    /// Path prefix.
    pub path_prefix: String,
    /// Allowed regions, in config order.
    pub regions: Vec<usize>,
    /// What the data tier does with this route's requests (inert without `[database]`).
    pub data: super::database::RouteDataPolicy,
}

/// Active health checking.
#[derive(Debug, Clone)]
pub struct HealthSettings {
    /// Default probe path.
    pub path: String,
    /// Healthy status range, inclusive.
    pub expect_status: (u16, u16),
    /// Probe period.
    pub interval: Duration,
    /// Jitter share of the interval.
    pub jitter: f64,
    /// Probe timeout.
    pub timeout: Duration,
    /// Successes to go up.
    pub rise: u32,
    /// Failures to go down.
    pub fall: u32,
}

/// Time limits.
#[derive(Debug, Clone)]
pub struct Timeouts {
    /// TCP+TLS connect.
    pub connect: Duration,
    /// One attempt to response headers.
    pub per_try: Duration,
    /// Whole request.
    pub request: Duration,
    /// Client head read.
    pub header_read: Duration,
    /// Longest a write to a client may make no progress (a client that stopped reading).
    pub send: Duration,
}

/// Failover and its guard rails.
#[derive(Debug, Clone)]
pub struct RetrySettings {
    /// Statuses that fail over.
    pub statuses: Vec<u16>,
    /// Attempts per request.
    pub max_attempts: u32,
    /// Replay buffer bytes.
    pub replay_buffer: usize,
    /// Budget ratio.
    pub budget_ratio: f64,
    /// Budget floor per second.
    pub budget_min_per_sec: u32,
    /// Budget window.
    pub budget_window: Duration,
    /// Hedging on.
    pub hedge: bool,
    /// None = derive from observed latency.
    pub hedge_delay: Option<Duration>,
}

/// Passive outlier detection.
#[derive(Debug, Clone)]
pub struct OutlierSettings {
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// First ejection.
    pub base_ejection: Duration,
    /// Longest ejection.
    pub max_ejection: Duration,
    /// Ejected share cap, percent.
    pub max_ejected_percent: u32,
}

/// Resource caps.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Head bytes.
    pub max_header_bytes: usize,
    /// Body bytes, None = unlimited.
    pub max_body_bytes: Option<u64>,
    /// Connections.
    pub max_connections: usize,
    /// Requests.
    pub max_in_flight: usize,
}

/// SIGTERM timeline.
#[derive(Debug, Clone)]
pub struct ShutdownSettings {
    /// Readiness 503 while still accepting.
    pub drain: Duration,
    /// In-flight deadline.
    pub grace: Duration,
}

/// DNS discovery.
#[derive(Debug, Clone)]
pub struct DnsSettings {
    /// Name servers; empty = system.
    pub nameservers: Vec<SocketAddr>,
    /// TTL floor.
    pub min_ttl: Duration,
    /// TTL ceiling.
    pub max_ttl: Duration,
    /// Retry after failure.
    pub error_retry: Duration,
    /// One query's time limit.
    pub timeout: Duration,
}

/// The validated, immutable configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Short SHA-256 of the source text.
    pub version: String,
    /// Where it came from.
    pub origin: String,
    /// Main listener.
    pub listen: SocketAddr,
    /// Admin listener.
    pub admin_listen: SocketAddr,
    /// Readiness path on the main listener.
    pub readiness_path: String,
    /// Index of the local region.
    pub local_region: usize,
    /// All regions, config order.
    pub regions: Vec<RegionSpec>,
    /// Routes, first match wins.
    pub routes: Vec<RouteSpec>,
    /// Health checks.
    pub health: HealthSettings,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Retry policy.
    pub retry: RetrySettings,
    /// Outlier detection.
    pub outlier: OutlierSettings,
    /// Limits.
    pub limits: Limits,
    /// Shutdown.
    pub shutdown: ShutdownSettings,
    /// JSON logs.
    pub log_json: bool,
    /// Log filter.
    pub log_level: String,
    /// Env var with the forwarding secret.
    pub forward_secret_env: String,
    /// Literal forwarding secret.
    pub forward_secret: Option<String>,
    /// Env var with the admin token.
    pub admin_token_env: String,
    /// Literal admin token.
    pub admin_token: Option<String>,
    /// DNS discovery.
    pub dns: DnsSettings,
    /// Listener TLS, if terminating.
    pub listener_tls: Option<ListenerTlsFile>,
    /// Upstream TLS options.
    pub upstream_tls: UpstreamTlsFile,
    /// The data tier (`[database]`), if configured.
    pub database: Option<super::database::DatabaseSettings>,
    /// OpenTelemetry tracing (`[tracing]` and `OTEL_*`); None = off.
    pub tracing: Option<super::telemetry::TracingSettings>,
    /// Access logs (`[access_log]`); None = off.
    pub access_log: Option<super::telemetry::AccessLogSettings>,
    /// The status page's history (`[status]`).
    pub status: super::telemetry::StatusSettings,
}

impl Settings {
    /// The local region's spec.
    pub fn local(&self) -> &RegionSpec {
        &self.regions[self.local_region]
    }

    /// Index of a region by name.
    pub fn region_index(&self, name: &str) -> Option<usize> {
        self.regions.iter().position(|r| r.name == name)
    }
}

/// Parses TOML text and validates it. `origin` names the source in errors.
pub fn parse_and_validate(origin: &str, text: &str) -> Result<Settings, ConfigError> {
    let v = Validator { origin, text };
    let file: ConfigFile = toml::from_str(text).map_err(|e| {
        let message = e.message().to_string();
        v.error(e.span(), message)
    })?;
    v.build(file)
}

pub(super) struct Validator<'a> {
    /// Names the source in errors.
    pub(super) origin: &'a str,
    /// The text, for line and column.
    pub(super) text: &'a str,
}

impl Validator<'_> {
    pub(super) fn error(
        &self,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> ConfigError {
        let position = span
            .filter(|s| !(s.start == 0 && s.end == 0))
            .map(|s| line_col(self.text, s.start));
        ConfigError::Invalid {
            origin: self.origin.to_string(),
            position,
            message: message.into(),
        }
    }

    pub(super) fn at<T>(
        &self,
        spanned: &toml::Spanned<T>,
        message: impl Into<String>,
    ) -> ConfigError {
        self.error(Some(spanned.span()), message)
    }

    fn build(&self, f: ConfigFile) -> Result<Settings, ConfigError> {
        let listen = self.addr(&f.server.listen)?;
        let admin_listen = self.addr(&f.server.admin_listen)?;
        if listen == admin_listen && listen.port() != 0 {
            return Err(self.at(
                &f.server.admin_listen,
                "admin_listen must differ from listen",
            ));
        }
        let readiness_path = f.server.readiness_path.get_ref().clone();
        if !readiness_path.starts_with('/') {
            return Err(self.at(
                &f.server.readiness_path,
                "readiness_path must start with '/'",
            ));
        }

        if f.regions.get_ref().is_empty() {
            return Err(self.at(&f.regions, "at least one region is required"));
        }
        let mut regions = Vec::new();
        let mut seen = HashSet::new();
        for r in f.regions.get_ref() {
            let name = r.name.get_ref().trim().to_string();
            // Names travel in headers (x-meridian-region, the forwarding mark) and metric labels.
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            {
                return Err(self.at(
                    &r.name,
                    "region name must be non-empty ASCII letters, digits, '-', '_' or '.'",
                ));
            }
            if !seen.insert(name.clone()) {
                return Err(self.at(&r.name, format!("region {name:?} is listed twice")));
            }
            if r.endpoints.get_ref().is_empty() {
                return Err(self.at(&r.endpoints, format!("region {name:?} has no endpoints")));
            }
            let mut endpoints = Vec::new();
            for e in r.endpoints.get_ref() {
                let spec = parse_endpoint(e.get_ref()).map_err(|m| self.at(e, m))?;
                if endpoints.contains(&spec) {
                    return Err(self.at(e, format!("endpoint {spec} is listed twice")));
                }
                endpoints.push(spec);
            }
            let mut tls_hosts = endpoints
                .iter()
                .filter(|e| e.scheme == Scheme::Https)
                .map(|e| &e.host);
            if let Some(first) = tls_hosts.next()
                && tls_hosts.any(|h| h != first)
            {
                return Err(self.at(
                    &r.endpoints,
                    format!("region {name:?}: https endpoints must share one host name (it is the TLS server name)"),
                ));
            }
            let protocol = match r.protocol.as_ref().map(|p| p.get_ref().as_str()) {
                None | Some("http1") => Protocol::Http1,
                Some("h2") => Protocol::H2,
                Some(other) => {
                    return Err(self.at(
                        r.protocol.as_ref().expect("matched Some"),
                        format!("protocol must be \"http1\" or \"h2\", not {other:?}"),
                    ));
                }
            };
            if *r.weight.get_ref() == 0 {
                return Err(self.at(&r.weight, "weight must be at least 1"));
            }
            let health_path = r
                .health_path
                .clone()
                .unwrap_or_else(|| f.health.path.clone());
            regions.push(RegionSpec {
                name,
                endpoints,
                protocol,
                health_path,
                weight: *r.weight.get_ref(),
            });
        }
        let local_name = f.server.local_region.get_ref();
        let local_region = regions
            .iter()
            .position(|r| &r.name == local_name)
            .ok_or_else(|| {
                self.at(
                    &f.server.local_region,
                    format!("local_region {local_name:?} is not one of the regions"),
                )
            })?;

        let health = self.health(&f)?;
        let timeouts = self.timeouts(&f)?;
        let retry = self.retry(&f, &timeouts)?;
        let outlier = &f.outlier;
        if *outlier.consecutive_failures.get_ref() == 0 {
            return Err(self.at(&outlier.consecutive_failures, "must be at least 1"));
        }
        if *outlier.max_ejected_percent.get_ref() > 100 {
            return Err(self.at(&outlier.max_ejected_percent, "a percentage is at most 100"));
        }
        let limits = &f.limits;
        if *limits.max_header_bytes.get_ref() < 8192 {
            return Err(self.at(&limits.max_header_bytes, "must be at least 8192"));
        }
        for field in [&limits.max_connections, &limits.max_in_flight] {
            if *field.get_ref() == 0 {
                return Err(self.at(field, "must be at least 1"));
            }
        }
        let log_json = match f.log.format.get_ref().as_str() {
            "text" => false,
            "json" => true,
            other => {
                return Err(self.at(
                    &f.log.format,
                    format!("log format must be \"text\" or \"json\", not {other:?}"),
                ));
            }
        };
        let routes = self.routes(&f, &regions)?;
        let database = self.database(&f, &regions, local_region)?;
        let tracing = self.tracing(&f.tracing, &|name| std::env::var(name).ok())?;
        let access_log = self.access_log(&f.access_log)?;
        let status = self.status(&f.status)?;
        let dns = self.dns(&f)?;
        let listener_tls = f.server.tls.clone();
        if let Some(tls) = &listener_tls
            && tls.certificates.get_ref().is_empty()
        {
            return Err(self.at(
                &tls.certificates,
                "[server.tls] needs at least one certificate",
            ));
        }
        let u = &f.upstream_tls;
        if u.client_cert.is_some() != u.client_key.is_some() {
            return Err(self.error(
                None,
                "[upstream_tls] client_cert and client_key go together",
            ));
        }

        let version = hex::encode(&Sha256::digest(self.text.as_bytes())[..6]);
        Ok(Settings {
            version,
            origin: self.origin.to_string(),
            listen,
            admin_listen,
            readiness_path,
            local_region,
            regions,
            routes,
            health,
            timeouts,
            retry,
            outlier: OutlierSettings {
                consecutive_failures: *outlier.consecutive_failures.get_ref(),
                base_ejection: outlier.base_ejection,
                max_ejection: outlier.max_ejection.max(outlier.base_ejection),
                max_ejected_percent: *outlier.max_ejected_percent.get_ref(),
            },
            limits: Limits {
                max_header_bytes: *limits.max_header_bytes.get_ref(),
                max_body_bytes: (limits.max_body_bytes > 0).then_some(limits.max_body_bytes),
                max_connections: *limits.max_connections.get_ref(),
                max_in_flight: *limits.max_in_flight.get_ref(),
            },
            shutdown: ShutdownSettings {
                drain: f.shutdown.drain,
                grace: f.shutdown.grace,
            },
            log_json,
            log_level: f.log.level.clone(),
            forward_secret_env: f.server.forward_secret_env.clone(),
            forward_secret: f.server.forward_secret.clone(),
            admin_token_env: f.server.admin_token_env.clone(),
            admin_token: f.server.admin_token.clone(),
            dns,
            listener_tls,
            upstream_tls: f.upstream_tls.clone(),
            database,
            tracing,
            access_log,
            status,
        })
    }

    fn addr(&self, s: &toml::Spanned<String>) -> Result<SocketAddr, ConfigError> {
        s.get_ref()
            .parse()
            .map_err(|_| self.at(s, format!("{:?} is not an ip:port address", s.get_ref())))
    }

    fn dns(&self, f: &ConfigFile) -> Result<DnsSettings, ConfigError> {
        let d = &f.dns;
        let nameservers = d
            .nameservers
            .iter()
            .map(|s| self.addr(s))
            .collect::<Result<_, _>>()?;
        if d.min_ttl.is_zero() || d.min_ttl > d.max_ttl {
            return Err(self.error(None, "[dns] needs 0 < min_ttl <= max_ttl"));
        }
        if d.error_retry.is_zero() || d.timeout.is_zero() {
            return Err(self.error(None, "[dns] error_retry and timeout must be positive"));
        }
        Ok(DnsSettings {
            nameservers,
            min_ttl: d.min_ttl,
            max_ttl: d.max_ttl,
            error_retry: d.error_retry,
            timeout: d.timeout,
        })
    }

    fn health(&self, f: &ConfigFile) -> Result<HealthSettings, ConfigError> {
        let h = &f.health;
        let [lo, hi] = *h.expect_status.get_ref();
        if !(100..=599).contains(&lo) || !(100..=599).contains(&hi) || lo > hi {
            return Err(self.at(
                &h.expect_status,
                "expect_status must be [low, high] within 100..=599",
            ));
        }
        let jitter = *h.jitter.get_ref();
        if !(0.0..=0.5).contains(&jitter) {
            return Err(self.at(&h.jitter, "jitter must be between 0.0 and 0.5"));
        }
        for field in [&h.rise, &h.fall] {
            if *field.get_ref() == 0 {
                return Err(self.at(field, "must be at least 1"));
            }
        }
        let hour = Duration::from_secs(3600);
        if h.interval.is_zero() || h.timeout.is_zero() || h.interval > hour || h.timeout > hour {
            return Err(self.error(
                None,
                "[health] interval and timeout must be between 1ms and 1h",
            ));
        }
        Ok(HealthSettings {
            path: h.path.clone(),
            expect_status: (lo, hi),
            interval: h.interval,
            jitter,
            timeout: h.timeout,
            rise: *h.rise.get_ref(),
            fall: *h.fall.get_ref(),
        })
    }

    fn timeouts(&self, f: &ConfigFile) -> Result<Timeouts, ConfigError> {
        let t = f.timeouts.get_ref();
        let (connect, per_try, request, header_read, send) = (
            t.connect.get_ref().0,
            t.per_try.get_ref().0,
            t.request.get_ref().0,
            t.header_read.get_ref().0,
            t.send.get_ref().0,
        );
        for (value, key) in [
            (connect, &t.connect),
            (per_try, &t.per_try),
            (request, &t.request),
            (header_read, &t.header_read),
            (send, &t.send),
        ] {
            if value.is_zero() {
                return Err(self.at(key, "timeouts must be positive"));
            }
        }
        if request < per_try {
            return Err(self.at(
                written(&t.request, &t.per_try),
                format!(
                    "request deadline ({}) is shorter than the per-try timeout ({})",
                    humantime::format_duration(request),
                    humantime::format_duration(per_try)
                ),
            ));
        }
        if per_try < connect {
            return Err(self.at(
                written(&t.per_try, &t.connect),
                format!(
                    "per_try ({}) must be at least the connect timeout ({})",
                    humantime::format_duration(per_try),
                    humantime::format_duration(connect)
                ),
            ));
        }
        Ok(Timeouts {
            connect,
            per_try,
            request,
            header_read,
            send,
        })
    }

    fn retry(&self, f: &ConfigFile, timeouts: &Timeouts) -> Result<RetrySettings, ConfigError> {
        let r = &f.retry;
        for s in r.statuses.get_ref() {
            if !(100..=599).contains(s) {
                return Err(self.at(&r.statuses, format!("{s} is not an HTTP status")));
            }
        }
        if *r.max_attempts.get_ref() == 0 {
            return Err(self.at(&r.max_attempts, "max_attempts must be at least 1"));
        }
        let ratio = *r.budget_ratio.get_ref();
        if !(0.0..=1.0).contains(&ratio) {
            return Err(self.at(&r.budget_ratio, "budget_ratio must be between 0.0 and 1.0"));
        }
        let hedge_delay = match r.hedge_delay.get_ref().as_str() {
            "auto" => None,
            text => {
                let d = humantime::parse_duration(text).map_err(|e| {
                    self.at(
                        &r.hedge_delay,
                        format!("hedge_delay must be \"auto\" or a duration: {e}"),
                    )
                })?;
                if d >= timeouts.per_try {
                    return Err(self.at(&r.hedge_delay, "hedge_delay must be shorter than per_try"));
                }
                Some(d)
            }
        };
        Ok(RetrySettings {
            statuses: r.statuses.get_ref().clone(),
            max_attempts: *r.max_attempts.get_ref(),
            replay_buffer: r.replay_buffer,
            budget_ratio: ratio,
            budget_min_per_sec: r.budget_min_per_sec,
            budget_window: r.budget_window.max(Duration::from_secs(1)),
            hedge: r.hedge,
            hedge_delay,
        })
    }

    fn routes(
        &self,
        f: &ConfigFile,
        regions: &[RegionSpec],
    ) -> Result<Vec<RouteSpec>, ConfigError> {
        if f.routes.get_ref().is_empty() {
            return Err(self.at(&f.routes, "at least one route is required"));
        }
        let mut out = Vec::new();
        for r in f.routes.get_ref() {
            let path_prefix = match &r.path_prefix {
                None => "/".to_string(),
                Some(p) if p.get_ref().starts_with('/') => p.get_ref().clone(),
                Some(p) => return Err(self.at(p, "path_prefix must start with '/'")),
            };
            let regions_idx = match &r.regions {
                None => (0..regions.len()).collect(),
                Some(list) => {
                    let mut idx = Vec::new();
                    for name in list {
                        let i = regions
                            .iter()
                            .position(|reg| reg.name == *name.get_ref())
                            .ok_or_else(|| {
                                self.at(name, format!("unknown region {:?}", name.get_ref()))
                            })?;
                        if idx.contains(&i) {
                            return Err(self.at(name, "region listed twice in this route"));
                        }
                        idx.push(i);
                    }
                    if idx.is_empty() {
                        return Err(self.at(&r.name, "route lists no regions"));
                    }
                    idx
                }
            };
            let data = self.route_data(r)?;
            out.push(RouteSpec {
                data,
                name: r.name.get_ref().clone(),
                host: r.host.as_ref().map(|h| h.to_ascii_lowercase()),
                path_prefix,
                regions: regions_idx,
            });
        }
        Ok(out)
    }
}

/// Parses `host:port`, `http://host[:port]` or `https://host[:port]`.
pub(crate) fn parse_endpoint(text: &str) -> Result<EndpointSpec, String> {
    let (scheme, rest) = if let Some(rest) = text.strip_prefix("https://") {
        (Scheme::Https, rest)
    } else if let Some(rest) = text.strip_prefix("http://") {
        (Scheme::Http, rest)
    } else if text.contains("://") {
        return Err(format!(
            "{text:?}: only http:// and https:// endpoints are supported"
        ));
    } else {
        (Scheme::Http, text)
    };
    let rest = rest.trim_end_matches('/');
    if rest.contains('/') || rest.contains('?') {
        return Err(format!(
            "{text:?}: an endpoint is host[:port], without a path"
        ));
    }
    let authority: http::uri::Authority = rest
        .parse()
        .map_err(|_| format!("{text:?} is not a valid host[:port]"))?;
    if authority.as_str().contains('@') {
        return Err(format!(
            "{text:?}: credentials in endpoints are not supported"
        ));
    }
    let default_port = if scheme == Scheme::Https { 443 } else { 80 };
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("{text:?} has no host"));
    }
    Ok(EndpointSpec {
        scheme,
        host: host.to_ascii_lowercase(),
        port: authority.port_u16().unwrap_or(default_port),
    })
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Of two keys in a comparison, the one the user wrote (a default has an empty span), so the
/// error points at text that exists.
fn written<'a, T>(preferred: &'a Spanned<T>, other: &'a Spanned<T>) -> &'a Spanned<T> {
    if preferred.span().is_empty() && !other.span().is_empty() {
        other
    } else {
        preferred
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_with_defaults() {
        let e = parse_endpoint("https://ingress.eu-west-1.example.com").unwrap();
        assert_eq!((e.scheme, e.port), (Scheme::Https, 443));
        let e = parse_endpoint("127.0.0.1:3000").unwrap();
        assert_eq!(
            (e.scheme, e.host.as_str(), e.port),
            (Scheme::Http, "127.0.0.1", 3000)
        );
        let e = parse_endpoint("http://[::1]:81").unwrap();
        assert_eq!(e.host, "::1");
        assert!(parse_endpoint("ftp://x").is_err());
        assert!(parse_endpoint("http://x/path").is_err());
    }

    fn check(extra_region: &str, extra: &str) -> Result<Settings, ConfigError> {
        let text = format!(
            "[server]\nlocal_region = \"a\"\n[[regions]]\nname = \"a\"\nendpoints = [\"127.0.0.1:1\"]\n{extra_region}\n{extra}\n[[routes]]\nname = \"r\"\n"
        );
        parse_and_validate("t.toml", &text)
    }

    #[test]
    fn impossible_values_are_errors_with_positions() {
        assert!(check("", "").is_ok());
        let dup = check(
            "[[regions]]\nname = \"a\"\nendpoints = [\"127.0.0.1:2\"]",
            "",
        )
        .unwrap_err();
        assert!(
            dup.to_string()
                .starts_with("t.toml:7:8: region \"a\" is listed twice"),
            "{dup}"
        );
        let bad = check(
            "[[regions]]\nname = \"b c\"\nendpoints = [\"127.0.0.1:2\"]",
            "",
        )
        .unwrap_err();
        assert!(bad.to_string().contains("region name must be"), "{bad}");
        let deadline = check("", "[timeouts]\nper_try = \"5s\"\nrequest = \"1s\"").unwrap_err();
        assert!(
            deadline
                .to_string()
                .contains("shorter than the per-try timeout"),
            "{deadline}"
        );
    }

    #[test]
    fn timeout_errors_point_at_the_key() {
        let err = check("", "[timeouts]\nper_try = \"5s\"\nrequest = \"1s\"").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("t.toml:9:11: request deadline (1s) is shorter"),
            "{err}"
        );
        // Only per_try written (request keeps its 10 s default): the error points at per_try.
        let err = check("", "[timeouts]\nper_try = \"20s\"").unwrap_err();
        assert!(
            err.to_string().starts_with("t.toml:8:11: request deadline"),
            "{err}"
        );
        let err = check("", "[timeouts]\nconnect = \"0s\"").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("t.toml:8:11: timeouts must be positive"),
            "{err}"
        );
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("a\nbc\nd", 3), (2, 2));
        assert_eq!(line_col("abc", 0), (1, 1));
    }
}
