//! rustls configuration: the client side toward origins and sibling regions.

use crate::config::Protocol;
use crate::upstream::TlsTarget;
use rustls::pki_types::ServerName;
use std::sync::Arc;

/// Why TLS material could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    #[error("{path}: {message}")]
    Pem {
        /// File path.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// rustls refused the material.
    #[error("tls: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Client configs for upstream TLS, one per ALPN offer.
#[derive(Clone)]
pub struct UpstreamTls {
    /// Offers http/1.1.
    http1: Arc<rustls::ClientConfig>,
    /// Offers h2.
    h2: Arc<rustls::ClientConfig>,
}

/// The crypto provider used everywhere (ring: no C toolchain beyond cc needed).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl UpstreamTls {
    /// Verifies against the system roots.
    pub fn system_roots() -> Result<Self, TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            // A single unparsable system certificate must not take the proxy down.
            let _ = roots.add(cert);
        }
        Self::with_roots(roots)
    }

    /// Verifies against the given roots.
    pub fn with_roots(roots: rustls::RootCertStore) -> Result<Self, TlsError> {
        let roots = Arc::new(roots);
        let make = |alpn: &[u8]| -> Result<Arc<rustls::ClientConfig>, TlsError> {
            let mut config = rustls::ClientConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots.clone())
                .with_no_client_auth();
            config.alpn_protocols = vec![alpn.to_vec()];
            Ok(Arc::new(config))
        };
        Ok(Self {
            http1: make(b"http/1.1")?,
            h2: make(b"h2")?,
        })
    }

    /// The TLS target for a host name, or None when the name is not a valid DNS name or IP.
    pub fn target(&self, host: &str, protocol: Protocol) -> Option<TlsTarget> {
        let server_name = ServerName::try_from(host.to_string()).ok()?;
        let config = match protocol {
            Protocol::Http1 => self.http1.clone(),
            Protocol::H2 => self.h2.clone(),
        };
        Some(TlsTarget {
            config,
            server_name,
        })
    }
}
