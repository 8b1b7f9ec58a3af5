//! rustls configuration: the listener's certificates (chosen by SNI, rotated without restart)
//! and the client side toward origins and sibling regions (roots, ALPN, optional mTLS).

use crate::config::{CertFile, Protocol, UpstreamTlsFile};
use crate::upstream::TlsTarget;
use arc_swap::ArcSwap;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

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

/// The crypto provider used everywhere (ring: no C toolchain beyond cc needed).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn pem_error(path: &str, message: impl ToString) -> TlsError {
    TlsError::Pem {
        path: path.to_string(),
        message: message.to_string(),
    }
}

fn load_chain(path: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e))?;
    if chain.is_empty() {
        return Err(pem_error(path, "no certificate in file"));
    }
    Ok(chain)
}

fn load_key(path: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| pem_error(path, e))
}

// === Listener side ===

/// The listener's certificates; `ResolvesServerCert` picks by SNI. Swapped whole on rotation.
#[derive(Debug)]
pub struct CertStore {
    /// Current certificates, first = default.
    certs: ArcSwap<Vec<Arc<CertifiedKey>>>,
}

impl CertStore {
    /// Loads every certificate; any failure fails the whole load.
    pub fn load(files: &[CertFile]) -> Result<Self, TlsError> {
        Ok(Self {
            certs: ArcSwap::from_pointee(load_all(files)?),
        })
    }

    /// Re-reads the files; on error the old certificates stay and the error is returned.
    pub fn reload(&self, files: &[CertFile]) -> Result<(), TlsError> {
        self.certs.store(Arc::new(load_all(files)?));
        Ok(())
    }
}

fn load_all(files: &[CertFile]) -> Result<Vec<Arc<CertifiedKey>>, TlsError> {
    let provider = provider();
    files
        .iter()
        .map(|f| {
            let chain = load_chain(&f.cert)?;
            let key = provider
                .key_provider
                .load_private_key(load_key(&f.key)?)
                .map_err(|e| pem_error(&f.key, e))?;
            let certified = CertifiedKey::new(chain, key);
            // Refuse a key that does not belong to the certificate before it can serve.
            certified.keys_match().map_err(|e| pem_error(&f.key, e))?;
            Ok(Arc::new(certified))
        })
        .collect()
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let certs = self.certs.load();
        if let Some(name) = hello.server_name()
            && let Ok(server_name) = ServerName::try_from(name)
        {
            for cert in certs.iter() {
                let Some(leaf) = cert.cert.first() else {
                    continue;
                };
                if let Ok(ee) = webpki::EndEntityCert::try_from(leaf)
                    && ee.verify_is_valid_for_subject_name(&server_name).is_ok()
                {
                    return Some(cert.clone());
                }
            }
        }
        certs.first().cloned()
    }
}

/// The listener's rustls config: TLS 1.2 and 1.3 only, ALPN h2 then http/1.1.
pub fn server_config(store: Arc<CertStore>) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(store);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Watches the certificate files and reloads the store when one changes.
pub struct CertWatcher {
    /// Store to reload.
    store: Arc<CertStore>,
    /// Files to watch.
    files: Vec<CertFile>,
    /// Check period.
    interval: Duration,
    /// Stop signal.
    shutdown: tokio_util::sync::CancellationToken,
}

impl CertWatcher {
    /// A watcher over `files` for `store`.
    pub fn new(
        store: Arc<CertStore>,
        files: Vec<CertFile>,
        interval: Duration,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> Self {
        Self {
            store,
            files,
            interval,
            shutdown,
        }
    }

    fn stamps(&self) -> Vec<Option<SystemTime>> {
        self.files
            .iter()
            .flat_map(|f| [&f.cert, &f.key])
            .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .collect()
    }

    /// Polls modification times; a change triggers a reload, a broken file keeps the old certs.
    pub async fn run(self) {
        let mut seen = self.stamps();
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.interval) => {}
                () = self.shutdown.cancelled() => return,
            }
            let now = self.stamps();
            if now == seen {
                continue;
            }
            match self.store.reload(&self.files) {
                Ok(()) => {
                    seen = now;
                    tracing::info!("listener certificates reloaded");
                    metrics::counter!("meridian_tls_reloads_total", "result" => "applied")
                        .increment(1);
                }
                Err(e) => {
                    // Keep `seen` so a half-written file is retried on the next tick.
                    tracing::error!(error = %e, "certificate reload refused; the old certificates keep serving");
                    metrics::counter!("meridian_tls_reloads_total", "result" => "failed")
                        .increment(1);
                }
            }
        }
    }
}

// === Upstream side ===

/// Client configs for upstream TLS, one per ALPN offer.
#[derive(Clone)]
pub struct UpstreamTls {
    /// Offers http/1.1.
    http1: Arc<rustls::ClientConfig>,
    /// Offers h2.
    h2: Arc<rustls::ClientConfig>,
}

impl UpstreamTls {
    /// Verifies against the system roots, no client certificate.
    pub fn system_roots() -> Result<Self, TlsError> {
        Self::from_settings(&UpstreamTlsFile::default())
    }

    /// From `[upstream_tls]`: a CA bundle replaces the system roots; optional client cert.
    pub fn from_settings(settings: &UpstreamTlsFile) -> Result<Self, TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        match &settings.ca_file {
            Some(path) => {
                for cert in load_chain(path)? {
                    roots.add(cert).map_err(|e| pem_error(path, e))?;
                }
            }
            None => {
                for cert in rustls_native_certs::load_native_certs().certs {
                    // A single unparsable system certificate must not take the proxy down.
                    let _ = roots.add(cert);
                }
            }
        }
        let client_auth = match (&settings.client_cert, &settings.client_key) {
            (Some(cert), Some(key)) => Some((load_chain(cert)?, load_key(key)?)),
            _ => None,
        };
        let roots = Arc::new(roots);
        let make = |alpn: &[u8]| -> Result<Arc<rustls::ClientConfig>, TlsError> {
            let builder = rustls::ClientConfig::builder_with_provider(provider())
                .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
                .with_root_certificates(roots.clone());
            let mut config = match &client_auth {
                Some((chain, key)) => {
                    builder.with_client_auth_cert(chain.clone(), key.clone_key())?
                }
                None => builder.with_no_client_auth(),
            };
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
