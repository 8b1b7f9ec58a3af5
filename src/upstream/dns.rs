//! DNS discovery of endpoint addresses (ALB names change their IPs): hickory-resolver, re-resolved
//! by the record TTL clamped to `[dns] min_ttl..=max_ttl`, the last good set kept when DNS fails.
//!
//! Each resolved address is its own [`Endpoint`] with its own health; requests spread across
//! them. An address that disappears is dropped from the list: no new request picks it, requests
//! in flight finish, and its idle pooled connections close with the pool's idle timeout.

use crate::config::{DnsSettings, EndpointSpec};
use crate::runtime::{Runtime, supervise_per_key};
use crate::upstream::Endpoint;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A resolver built from `[dns]`.
pub struct Dns {
    /// hickory's async resolver.
    resolver: TokioResolver,
    /// TTL clamp and retry settings.
    settings: DnsSettings,
}

/// One resolution: sorted addresses and how long they may be used.
pub struct Resolved {
    /// Addresses with the endpoint's port.
    pub addrs: Vec<SocketAddr>,
    /// TTL clamped to the configured bounds.
    pub ttl: Duration,
}

impl Dns {
    /// Builds the resolver: configured name servers, or the system's resolv.conf.
    pub fn new(settings: &DnsSettings) -> Result<Self, String> {
        let provider = TokioRuntimeProvider::default();
        let mut builder = if settings.nameservers.is_empty() {
            TokioResolver::builder(provider).map_err(|e| format!("system resolver: {e}"))?
        } else {
            let servers = settings
                .nameservers
                .iter()
                .map(|addr| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = addr.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = addr.port();
                    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
                })
                .collect();
            TokioResolver::builder_with_config(ResolverConfig::from_name_servers(servers), provider)
        };
        let mut opts = ResolverOpts::default();
        opts.timeout = settings.timeout;
        opts.attempts = 2;
        // Never cache beyond our own re-resolution bound.
        opts.positive_max_ttl = Some(settings.max_ttl);
        *builder.options_mut() = opts;
        let resolver = builder.build().map_err(|e| e.to_string())?;
        Ok(Self {
            resolver,
            settings: settings.clone(),
        })
    }

    /// Resolves one endpoint. IP literals resolve to themselves with the maximum TTL.
    pub async fn resolve(&self, spec: &EndpointSpec) -> Result<Resolved, String> {
        if let Ok(ip) = spec.host.parse::<IpAddr>() {
            return Ok(Resolved {
                addrs: vec![SocketAddr::new(ip, spec.port)],
                ttl: self.settings.max_ttl,
            });
        }
        let lookup = self
            .resolver
            .lookup_ip(spec.host.as_str())
            .await
            .map_err(|e| e.to_string())?;
        let mut addrs: Vec<SocketAddr> = lookup
            .iter()
            .map(|ip| SocketAddr::new(ip, spec.port))
            .collect();
        addrs.sort();
        addrs.dedup();
        if addrs.is_empty() {
            return Err(format!("{}: no addresses", spec.host));
        }
        let ttl = lookup
            .valid_until()
            .saturating_duration_since(Instant::now())
            .clamp(self.settings.min_ttl, self.settings.max_ttl);
        Ok(Resolved { addrs, ttl })
    }
}

/// Is this endpoint a name that needs discovery?
pub fn is_name(spec: &EndpointSpec) -> bool {
    spec.host.parse::<IpAddr>().is_err()
}

/// Keeps every named endpoint's address list fresh; one task per (region, endpoint name).
pub struct DnsDiscovery {
    /// Shared state: snapshot to read, topology to signal, shutdown.
    runtime: Arc<Runtime>,
}

impl DnsDiscovery {
    /// A discovery job for this runtime.
    pub fn new(runtime: Arc<Runtime>) -> Self {
        Self { runtime }
    }

    /// Runs until shutdown, starting and stopping per-name tasks as the config changes.
    pub async fn run(self) {
        let runtime = self.runtime.clone();
        supervise_per_key(
            &self.runtime,
            |snapshot| {
                let mut wanted = Vec::new();
                for r in &snapshot.regions {
                    for spec in r.spec.endpoints.iter().filter(|e| is_name(e)) {
                        let key = (r.name().to_string(), spec.clone());
                        wanted.push((key.clone(), key));
                    }
                }
                wanted
            },
            |(region, spec)| refresh_loop(runtime.clone(), region.clone(), spec.clone()),
            |_| {},
        )
        .await;
    }
}

/// Re-resolves one name every TTL; on failure keeps the last good set and retries sooner.
async fn refresh_loop(runtime: Arc<Runtime>, region: String, spec: EndpointSpec) {
    loop {
        let snapshot = runtime.snapshot();
        let wait = match snapshot.dns.resolve(&spec).await {
            Ok(resolved) => {
                let changed = snapshot
                    .regions
                    .iter()
                    .find(|r| r.name() == region)
                    .is_some_and(|r| r.replace_addresses(&spec, &resolved.addrs));
                let result = if changed { "changed" } else { "unchanged" };
                if changed {
                    tracing::info!(endpoint = %spec, addrs = ?resolved.addrs, ttl_s = resolved.ttl.as_secs(),
                        "endpoint addresses changed");
                    runtime.topology_changed();
                }
                metrics::counter!("meridian_dns_resolutions_total", "result" => result)
                    .increment(1);
                resolved.ttl
            }
            Err(error) => {
                tracing::warn!(endpoint = %spec, %error, "DNS failed; keeping the last good addresses");
                metrics::counter!("meridian_dns_resolutions_total", "result" => "error_stale_kept")
                    .increment(1);
                snapshot.settings.dns.error_retry
            }
        };
        drop(snapshot);
        tokio::time::sleep(wait).await;
    }
}

/// Resolves once for a snapshot build; empty when it fails (discovery retries).
pub async fn resolve_initial(dns: &Dns, region: &str, spec: &EndpointSpec) -> Vec<Arc<Endpoint>> {
    match dns.resolve(spec).await {
        Ok(resolved) => resolved
            .addrs
            .into_iter()
            .map(|addr| Arc::new(Endpoint::new(region, spec.clone(), addr)))
            .collect(),
        Err(error) => {
            tracing::warn!(endpoint = %spec, %error, "endpoint name did not resolve yet");
            Vec::new()
        }
    }
}
