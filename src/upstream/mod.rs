//! Per-region upstreams: endpoint addresses with their health and connection pools.
//!
//! A [`Region`] keeps its endpoint list behind an `ArcSwap` so DNS discovery can replace it
//! without touching anything else; the request path loads it once per attempt.

mod connector;
pub mod dns;
mod h1;
mod pool;
pub mod replay;

pub use connector::{RegionConnector, TlsTarget};
pub use pool::{BodyReadError, Pool, SendError, UpstreamBody};
pub use replay::{BodyError, ReplayBody};

use crate::config::{EndpointSpec, Protocol, RegionSpec, Scheme, Settings};
use crate::header_list::HeaderList;
use crate::health::EndpointHealth;
use arc_swap::ArcSwap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

/// One attempt's request: the client's rewritten headers are shared by every attempt and passed
/// beside it (see [`Region::send`]); this carries what differs per attempt.
pub struct UpstreamRequest {
    /// Request method.
    pub method: http::Method,
    /// Origin form for HTTP/1, absolute for HTTP/2 (see [`Region::request_uri`]).
    pub uri: http::Uri,
    /// Lines this attempt adds (the cross-region mark); they replace shared lines of their name.
    pub headers: HeaderList,
    /// The body (a replay of the client's).
    pub body: ReplayBody,
}

/// An origin's response head and body.
pub struct UpstreamResponse {
    /// Status code.
    pub status: http::StatusCode,
    /// The origin's header lines.
    pub headers: HeaderList,
    /// The body; an HTTP/1 connection goes back to its pool when it ends.
    pub body: UpstreamBody,
    /// The origin connection after a 101 (hyper's client only).
    pub on_upgrade: Option<hyper::upgrade::OnUpgrade>,
}

impl std::fmt::Debug for UpstreamResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

impl UpstreamResponse {
    /// A response read by hyper's client.
    fn from_hyper(resp: http::Response<UpstreamBody>) -> Self {
        let (mut parts, body) = resp.into_parts();
        Self {
            on_upgrade: parts.extensions.remove::<hyper::upgrade::OnUpgrade>(),
            status: parts.status,
            headers: HeaderList::from_map(parts.headers),
            body,
        }
    }
}

/// One resolved address of one configured endpoint, with its health.
#[derive(Debug)]
pub struct Endpoint {
    /// Region name, for labels.
    pub region: String,
    /// The configured target this address belongs to.
    pub spec: EndpointSpec,
    /// Where we connect.
    pub addr: SocketAddr,
    /// Stable label for metrics and status: the spec, plus the address when it came from DNS.
    pub label: String,
    /// Health state, shared by the checker and the request path.
    pub health: EndpointHealth,
    /// `addr` as a URI authority, built once (cloning it is a reference-count bump).
    authority: http::uri::Authority,
    /// Keep-alive connections to `addr`; they live and die with the endpoint.
    pub pool: Pool,
}

impl Endpoint {
    /// A new endpoint with fresh health.
    pub fn new(region: &str, spec: EndpointSpec, addr: SocketAddr) -> Self {
        let label = if spec.host.parse::<IpAddr>().is_ok() {
            spec.to_string()
        } else {
            format!("{spec}@{addr}")
        };
        let authority = addr
            .to_string()
            .parse()
            .expect("a socket address is a valid URI authority");
        Self {
            region: region.to_string(),
            spec,
            addr,
            label,
            health: EndpointHealth::default(),
            authority,
            pool: Pool::default(),
        }
    }

    /// The resolved address as a URI authority (HTTP/2 `:authority`, probe URIs).
    pub fn authority(&self) -> http::uri::Authority {
        self.authority.clone()
    }

    /// Scheme string for building upstream URIs.
    pub fn scheme(&self) -> &'static str {
        match self.spec.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// One region: its spec, its current endpoints, and how to connect to them.
pub struct Region {
    /// Position in `Settings::regions`.
    pub index: usize,
    /// The validated config of this region.
    pub spec: RegionSpec,
    /// Current addresses; replaced whole by DNS discovery.
    endpoints: ArcSwap<Vec<Arc<Endpoint>>>,
    /// Opens connections; carries the region's TLS name and protocol.
    pub connector: RegionConnector,
    /// Round-robin cursor for tie-breaks and fail-open picks.
    cursor: AtomicUsize,
    /// Requests this region answered (status page rates).
    pub served: AtomicU64,
    /// Requests failed over or hedged to this region.
    pub failovers_in: AtomicU64,
    /// Requests failed over or hedged from this region to another (status page history).
    pub failovers_out: AtomicU64,
    /// The region name as a header value (x-meridian-region), built once.
    pub name_header: http::HeaderValue,
    /// `meridian_upstream_attempts_total{outcome="ok"}`, registered once.
    pub attempts_ok: metrics::Counter,
}

impl std::fmt::Debug for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Region")
            .field("name", &self.spec.name)
            .finish()
    }
}

// === impl Region ===

impl Region {
    /// Builds a region with the given endpoints and a new connector.
    pub fn new(
        index: usize,
        spec: RegionSpec,
        endpoints: Vec<Arc<Endpoint>>,
        settings: &Settings,
        tls: &crate::tls::UpstreamTls,
    ) -> Self {
        let connector = build_connector(&spec, settings, tls);
        let attempts_ok = metrics::counter!("meridian_upstream_attempts_total",
            "region" => spec.name.clone(), "outcome" => "ok");
        let name_header = http::HeaderValue::from_str(&spec.name)
            .expect("validated region names are header-safe");
        Self {
            name_header,
            index,
            spec,
            endpoints: ArcSwap::from_pointee(endpoints),
            connector,
            cursor: AtomicUsize::new(0),
            served: AtomicU64::new(0),
            failovers_in: AtomicU64::new(0),
            failovers_out: AtomicU64::new(0),
            attempts_ok,
        }
    }

    /// Region name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The current endpoint list (one lock-free load).
    pub fn endpoints(&self) -> Arc<Vec<Arc<Endpoint>>> {
        self.endpoints.load_full()
    }

    /// Sends one request to `endpoint` over a pooled (or new) connection: the headers of
    /// `shared` followed by the request's own (which win where both name one header).
    /// `shared` is borrowed so that an attempt need not copy the client's headers; only
    /// hyper's client, which owns its request, gets a merged copy.
    /// (Not an `async fn`: returning the pool's future directly spares every request one more
    /// copy of it.)
    pub fn send<'a>(
        &'a self,
        endpoint: &'a Arc<Endpoint>,
        shared: &'a HeaderList,
        req: UpstreamRequest,
    ) -> impl Future<Output = Result<UpstreamResponse, SendError>> + 'a {
        pool::send(&self.connector, endpoint, shared, req)
    }

    /// The request URI for `endpoint`: origin-form for HTTP/1 (no allocation), absolute for
    /// HTTP/2, whose `:scheme` and `:authority` come from it.
    pub fn request_uri(&self, endpoint: &Endpoint, path: http::uri::PathAndQuery) -> http::Uri {
        if !self.connector.h2 {
            return http::Uri::from(path);
        }
        http::Uri::builder()
            .scheme(endpoint.scheme())
            .authority(endpoint.authority())
            .path_and_query(path)
            .build()
            .expect("scheme, socket address and a parsed path make a valid URI")
    }

    /// Replaces the endpoint list (DNS discovery).
    pub fn set_endpoints(&self, endpoints: Vec<Arc<Endpoint>>) {
        self.endpoints.store(Arc::new(endpoints));
    }

    /// Replaces the addresses of one endpoint spec, keeping the `Endpoint` (and its health) of
    /// every address that stays. Returns whether anything changed.
    pub fn replace_addresses(&self, spec: &EndpointSpec, addrs: &[SocketAddr]) -> bool {
        let mut changed = false;
        self.endpoints.rcu(|current| {
            let mine: Vec<&Arc<Endpoint>> = current.iter().filter(|e| &e.spec == spec).collect();
            let mut old: Vec<SocketAddr> = mine.iter().map(|e| e.addr).collect();
            old.sort();
            changed = old != addrs;
            if !changed {
                return current.clone();
            }
            let mut next: Vec<Arc<Endpoint>> = current
                .iter()
                .filter(|e| &e.spec != spec)
                .cloned()
                .collect();
            for addr in addrs {
                match mine.iter().find(|e| e.addr == *addr) {
                    Some(kept) => next.push((*kept).clone()),
                    None => next.push(Arc::new(Endpoint::new(
                        &self.spec.name,
                        spec.clone(),
                        *addr,
                    ))),
                }
            }
            Arc::new(next)
        });
        changed
    }

    /// Any endpoint usable?
    pub fn is_healthy(&self) -> bool {
        self.endpoints.load().iter().any(|e| e.health.is_usable())
    }

    /// Lowest smoothed probe RTT among usable endpoints.
    pub fn probe_latency(&self) -> Option<Duration> {
        self.endpoints
            .load()
            .iter()
            .filter(|e| e.health.is_usable())
            .filter_map(|e| e.health.probe_rtt())
            .min()
    }

    /// Picks a usable endpoint: the less loaded of two (power of two choices), else None.
    pub fn pick(&self) -> Option<Arc<Endpoint>> {
        let list = self.endpoints.load();
        let n = list.len();
        let start = self.cursor.fetch_add(1, Relaxed);
        let mut best: Option<&Arc<Endpoint>> = None;
        // Walk from the cursor so ties rotate; stop after two usable candidates.
        let mut seen = 0;
        for i in 0..n {
            let e = &list[(start + i) % n];
            if !e.health.is_usable() {
                continue;
            }
            best = match best {
                Some(b) if b.health.in_flight() <= e.health.in_flight() => Some(b),
                _ => Some(e),
            };
            seen += 1;
            if seen == 2 {
                break;
            }
        }
        best.cloned()
    }

    /// Any endpoint at all, round robin: used when every region looks down (fail-open).
    pub fn pick_any(&self) -> Option<Arc<Endpoint>> {
        let list = self.endpoints.load();
        if list.is_empty() {
            return None;
        }
        let i = self.cursor.fetch_add(1, Relaxed) % list.len();
        Some(list[i].clone())
    }
}

fn build_connector(
    spec: &RegionSpec,
    settings: &Settings,
    tls: &crate::tls::UpstreamTls,
) -> RegionConnector {
    let tls_target = spec
        .endpoints
        .iter()
        .find(|e| e.scheme == Scheme::Https)
        .and_then(|e| tls.target(&e.host, spec.protocol));
    RegionConnector::new(
        spec.protocol == Protocol::H2,
        settings.timeouts.connect,
        tls_target,
    )
}
