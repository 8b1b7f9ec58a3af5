//! Starts a whole Meridian (listeners, admin, health checker) and stops it on the drain timeline.
//!
//! Used by `meridian run`, `meridian demo`, the tests and the benches alike, so that what is
//! tested is what runs.

use crate::admin::Admin;
use crate::config::{ConfigSource, ReloadHandle, Reloader, Settings};
use crate::health::checker::HealthChecker;
use crate::listener::Listener;
use crate::runtime::{BuildError, Runtime, Snapshot};
use crate::tls::{CertStore, CertWatcher, TlsError, UpstreamTls, server_config};
use crate::upstream::dns::DnsDiscovery;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// Why Meridian could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener address could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// OS error.
        source: std::io::Error,
    },
    /// The config is valid but cannot be put into service.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// TLS material could not be loaded.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// A running Meridian.
pub struct Server {
    /// Shared state.
    runtime: Arc<Runtime>,
    /// Where the main listener is bound (port 0 resolved).
    addr: SocketAddr,
    /// Where admin is bound.
    admin_addr: SocketAddr,
    /// Cancelled to stop accepting client connections.
    stop_accepting: CancellationToken,
    /// Cancelled to end the grace period early (second SIGTERM).
    force: CancellationToken,
    /// The main listener; it ends after stop_accepting, once connections are closed or grace ran out.
    listener_task: tokio::task::JoinHandle<()>,
    /// Admin, checker, DNS, certificate and reloader tasks; they end on `runtime.shutdown`.
    tasks: JoinSet<()>,
    /// Reload trigger, when a source was given.
    reload: Option<ReloadHandle>,
}

/// How often a URL config source is polled unless told otherwise.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(10);

impl Server {
    /// Binds both listeners and starts every task; the config is fixed (no reload source).
    pub async fn start(settings: Settings) -> Result<Self, StartError> {
        Self::start_with_source(settings, None, DEFAULT_POLL_INTERVAL).await
    }

    /// Like `start`, with a source to reload from (file watch, SIGHUP, admin, URL poll).
    pub async fn start_with_source(
        settings: Settings,
        source: Option<ConfigSource>,
        poll_interval: Duration,
    ) -> Result<Self, StartError> {
        // The recorder first: metric handles registered before it exists would be no-ops.
        crate::admin::metrics::recorder();
        let tls = UpstreamTls::system_roots()?;
        let snapshot = Snapshot::build(settings, None).await?;
        let settings = snapshot.settings.clone();
        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Bind { addr, source })
        };
        let main = bind(settings.listen).await?;
        let admin = bind(settings.admin_listen).await?;
        let addr = main.local_addr().map_err(|source| StartError::Bind {
            addr: settings.listen,
            source,
        })?;
        let admin_addr = admin.local_addr().map_err(|source| StartError::Bind {
            addr: settings.admin_listen,
            source,
        })?;
        crate::admin::metrics::recorder();
        let runtime = Runtime::new(snapshot, tls);
        let stop_accepting = CancellationToken::new();
        let force = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let grace_runtime = runtime.clone();
        let grace_force = force.clone();
        let grace = async move {
            let grace = grace_runtime.snapshot().settings.shutdown.grace;
            tokio::select! {
                () = tokio::time::sleep(grace) => {}
                () = grace_force.cancelled() => {}
            }
        };
        let listener_tls = match &settings.listener_tls {
            None => None,
            Some(tls) => {
                let store = Arc::new(CertStore::load(tls.certificates.get_ref())?);
                tasks.spawn(
                    CertWatcher::new(
                        store.clone(),
                        tls.certificates.get_ref().clone(),
                        tls.reload_interval,
                        runtime.shutdown.clone(),
                    )
                    .run(),
                );
                Some(TlsAcceptor::from(server_config(store)?))
            }
        };
        let listener_task = tokio::spawn(
            Listener::new(main, runtime.clone(), stop_accepting.clone(), listener_tls).run(grace),
        );
        let reload = source.map(|source| {
            let (reloader, handle) = Reloader::new(runtime.clone(), source, poll_interval);
            tasks.spawn(reloader.run());
            handle
        });
        let history = crate::admin::history::History::new();
        tasks.spawn(
            crate::admin::history::HistorySampler::new(runtime.clone(), history.clone()).run(),
        );
        tasks.spawn(Admin::new(admin, runtime.clone(), reload.clone(), history).run());
        tasks.spawn(HealthChecker::new(runtime.clone()).run());
        tasks.spawn(DnsDiscovery::new(runtime.clone()).run());
        tasks.spawn(crate::data::DataMonitor::new(runtime.clone()).run());
        tracing::info!(%addr, %admin_addr, local_region = %settings.local().name,
            config_version = %settings.version, "meridian started");
        Ok(Self {
            runtime,
            addr,
            admin_addr,
            stop_accepting,
            force,
            listener_task,
            tasks,
            reload,
        })
    }

    /// Triggers reloads (None when started without a source).
    pub fn reload_handle(&self) -> Option<ReloadHandle> {
        self.reload.clone()
    }

    /// Main listener address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Admin listener address.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// Shared state (for reload, tests and the demo).
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// A token that, when cancelled, ends the grace period at once (second SIGTERM).
    pub fn force_token(&self) -> CancellationToken {
        self.force.clone()
    }

    /// The SIGTERM timeline: readiness 503 at once; keep accepting for `drain` so the load
    /// balancer can deregister us; then stop accepting, close keep-alives after their current
    /// request and give in-flight requests until `grace`; then stop everything.
    pub async fn drain_and_stop(mut self) {
        let shutdown = self.runtime.snapshot().settings.shutdown.clone();
        self.runtime.draining.store(true, Relaxed);
        tracing::info!(
            drain_s = shutdown.drain.as_secs_f64(),
            "draining: readiness now 503"
        );
        tokio::select! {
            () = tokio::time::sleep(shutdown.drain) => {}
            () = self.force.cancelled() => {}
        }
        self.stop_now().await;
        while self.tasks.join_next().await.is_some() {}
    }

    /// Stops accepting, closes connections gracefully (bounded by grace), ends all tasks.
    async fn stop_now(&mut self) {
        self.stop_accepting.cancel();
        let _ = (&mut self.listener_task).await;
        // Every connection is closed, so every request span has ended: send them (and the
        // access-log lines) before the process goes.
        self.runtime.snapshot().telemetry.flush().await;
        self.runtime.shutdown.cancel();
    }

    /// Stops at once (tests, demo): no drain period, connections closed gracefully.
    pub async fn stop(mut self) {
        self.force.cancel();
        self.stop_now().await;
        while self.tasks.join_next().await.is_some() {}
    }
}
