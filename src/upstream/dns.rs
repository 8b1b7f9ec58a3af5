//! Resolution of endpoint host names to socket addresses.

use crate::config::EndpointSpec;
use std::net::{IpAddr, SocketAddr};

/// Resolves an endpoint once: IP literals directly, names through the system resolver.
/// An empty result means the name did not resolve; the caller keeps what it had.
pub async fn resolve_now(spec: &EndpointSpec) -> Vec<SocketAddr> {
    if let Ok(ip) = spec.host.parse::<IpAddr>() {
        return vec![SocketAddr::new(ip, spec.port)];
    }
    match tokio::net::lookup_host((spec.host.as_str(), spec.port)).await {
        Ok(addrs) => {
            let mut out: Vec<SocketAddr> = addrs.collect();
            out.sort();
            out.dedup();
            out
        }
        Err(e) => {
            tracing::warn!(endpoint = %spec, error = %e, "endpoint name did not resolve");
            Vec::new()
        }
    }
}
