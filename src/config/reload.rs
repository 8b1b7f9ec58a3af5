//! Hot reload: on a file change, SIGHUP, an admin call or a URL poll, validate the whole new
//! config, build a new snapshot (carrying health over), and swap it in with one store.
//!
//! Anything wrong (syntax, invalid value, unreadable or half-written file, fetch failure) changes
//! nothing: the old config keeps serving, the error is logged with `file:line:column`, counted,
//! and shown by the admin config endpoint.

use super::source::{ConfigSource, Fetched};
use crate::runtime::{Runtime, Snapshot};
use http::HeaderValue;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, oneshot};

/// A file change is acted on after writes have been quiet this long (editors write in bursts).
const DEBOUNCE: Duration = Duration::from_millis(200);

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// A new config is active.
    Applied {
        /// Its version.
        version: String,
    },
    /// The source has the config already active (same text, or 304).
    Unchanged,
    /// Refused; the old config stays.
    Failed {
        /// The error, with position when known.
        error: String,
    },
}

/// The last reload, for the admin config endpoint and the status page.
#[derive(Debug, Clone)]
pub struct ReloadStatus {
    /// When the last attempt ran.
    pub at: SystemTime,
    /// What it did.
    pub outcome: ReloadOutcome,
    /// Failed attempts since start.
    pub failures: u64,
}

/// Asks the reloader to reload now and waits for the outcome (admin POST /reload).
#[derive(Clone)]
pub struct ReloadHandle {
    /// Requests with a reply channel.
    tx: mpsc::Sender<oneshot::Sender<ReloadOutcome>>,
}

impl ReloadHandle {
    /// Reloads now; `None` if the reloader has stopped.
    pub async fn reload(&self) -> Option<ReloadOutcome> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(reply).await.ok()?;
        rx.await.ok()
    }
}

/// The reload background job.
pub struct Reloader {
    /// State to swap into.
    runtime: Arc<Runtime>,
    /// Where the config lives.
    source: ConfigSource,
    /// URL poll period.
    poll_interval: Duration,
    /// Admin requests.
    requests: mpsc::Receiver<oneshot::Sender<ReloadOutcome>>,
    /// Last ETag seen from a URL source.
    etag: Option<HeaderValue>,
    /// Failures so far.
    failures: u64,
    /// SIGHUP stream, installed at construction so an early SIGHUP never hits the default
    /// action (which would terminate the process).
    hangup: Option<tokio::signal::unix::Signal>,
    /// Changes to the config file; None for URL sources or when watching failed.
    file_watch: Option<FileWatch>,
}

impl Reloader {
    /// A reloader and the handle that triggers it.
    pub fn new(
        runtime: Arc<Runtime>,
        source: ConfigSource,
        poll_interval: Duration,
    ) -> (Self, ReloadHandle) {
        let (tx, requests) = mpsc::channel(8);
        let file_watch = match &source {
            ConfigSource::File(path) => FileWatch::new(path),
            ConfigSource::Url(_) => None,
        };
        let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .map_err(|e| tracing::warn!(error = %e, "cannot install the SIGHUP handler"))
            .ok();
        let reloader = Self {
            runtime,
            source,
            poll_interval,
            requests,
            etag: None,
            failures: 0,
            hangup,
            file_watch,
        };
        (reloader, ReloadHandle { tx })
    }

    /// Runs until shutdown.
    pub async fn run(mut self) {
        let mut poll = tokio::time::interval(self.poll_interval);
        poll.tick().await;
        // The file may have changed between the first read and the watch being set up.
        if matches!(self.source, ConfigSource::File(_)) {
            match self.try_reload().await {
                Ok((ReloadOutcome::Unchanged, _)) => {}
                Ok((outcome, snapshot)) => {
                    self.record(outcome, snapshot);
                }
                Err(error) => {
                    self.record_failure(error);
                }
            }
        }
        let shutdown = self.runtime.shutdown.clone();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                Some(reply) = self.requests.recv() => {
                    let outcome = self.reload_once().await;
                    let _ = reply.send(outcome);
                }
                () = FileWatch::changed(&mut self.file_watch) => {
                    // Debounce: wait until the events stop for a moment.
                    while tokio::time::timeout(DEBOUNCE, FileWatch::changed(&mut self.file_watch))
                        .await
                        .is_ok()
                    {}
                    self.reload_once().await;
                }
                Some(()) = recv_signal(&mut self.hangup) => {
                    tracing::info!("SIGHUP: reloading config");
                    self.reload_once().await;
                }
                _ = poll.tick(), if matches!(self.source, ConfigSource::Url(_)) => {
                    self.reload_once().await;
                }
            }
        }
    }

    /// One reload attempt: fetch, validate, build, swap. Never leaves a half-applied state.
    pub async fn reload_once(&mut self) -> ReloadOutcome {
        match self.try_reload().await {
            Ok((outcome, snapshot)) => self.record(outcome, snapshot),
            Err(error) => self.record_failure(error),
        }
    }

    fn record_failure(&mut self, error: String) -> ReloadOutcome {
        self.failures += 1;
        tracing::error!(%error, "config reload failed; keeping the active config");
        self.record(ReloadOutcome::Failed { error }, None)
    }

    /// Logs, counts and publishes an outcome, then stores the new snapshot if there is one.
    fn record(&mut self, outcome: ReloadOutcome, snapshot: Option<Snapshot>) -> ReloadOutcome {
        let result = match &outcome {
            ReloadOutcome::Applied { version } => {
                tracing::info!(%version, source = %self.source.describe(), "config reloaded");
                "applied"
            }
            ReloadOutcome::Unchanged => "unchanged",
            ReloadOutcome::Failed { .. } => "failed",
        };
        metrics::counter!("meridian_config_reloads_total", "result" => result).increment(1);
        // Status first, then the snapshot: a reader that sees the new version also sees why.
        self.runtime.set_reload_status(ReloadStatus {
            at: SystemTime::now(),
            outcome: outcome.clone(),
            failures: self.failures,
        });
        if let Some(snapshot) = snapshot {
            self.runtime.store(snapshot);
        }
        outcome
    }

    async fn try_reload(&mut self) -> Result<(ReloadOutcome, Option<Snapshot>), String> {
        let fetched = self
            .source
            .fetch(self.etag.as_ref(), &self.runtime.tls)
            .await
            .map_err(|e| e.to_string())?;
        let (settings, etag) = match fetched {
            Fetched::NotModified => return Ok((ReloadOutcome::Unchanged, None)),
            Fetched::Changed(settings, etag) => (*settings, etag),
        };
        let current = self.runtime.snapshot();
        if settings.version == current.settings.version {
            self.etag = etag;
            return Ok((ReloadOutcome::Unchanged, None));
        }
        if settings.listen != current.settings.listen
            || settings.admin_listen != current.settings.admin_listen
        {
            return Err(format!(
                "{}: listen/admin_listen changed ({} -> {}, {} -> {}); listener addresses are fixed for the life of the process: restart to move them",
                settings.origin,
                current.settings.listen,
                settings.listen,
                current.settings.admin_listen,
                settings.admin_listen
            ));
        }
        let version = settings.version.clone();
        let snapshot = Snapshot::build(settings, Some(&current))
            .await
            .map_err(|e| e.to_string())?;
        self.etag = etag;
        Ok((ReloadOutcome::Applied { version }, Some(snapshot)))
    }
}

async fn recv_signal(signal: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match signal {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

/// Watches the file's directory (editors and config agents replace files by rename, which a
/// watch on the file itself would miss) for events that touch the file.
///
/// inotify is read on the runtime's own event loop, not by a watcher thread (the `notify`
/// crate's way): a second thread in the process would make every socket call of the proxy take
/// the kernel's shared file-table path (an atomic reference count per call).
struct FileWatch {
    /// The file's name within the watched directory.
    file_name: std::ffi::OsString,
    /// inotify events for the directory.
    events: inotify::EventStream<[u8; 4096]>,
}

impl FileWatch {
    fn new(path: &std::path::Path) -> Option<Self> {
        use inotify::{Inotify, WatchMask};
        let file_name = path.file_name()?.to_owned();
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let watch = || -> std::io::Result<inotify::EventStream<[u8; 4096]>> {
            let inotify = Inotify::init()?;
            // Writes, renames into or out of the directory, creation, deletion, and metadata
            // changes; never reads.
            inotify.watches().add(
                &dir,
                WatchMask::MODIFY
                    | WatchMask::CLOSE_WRITE
                    | WatchMask::MOVED_TO
                    | WatchMask::MOVED_FROM
                    | WatchMask::CREATE
                    | WatchMask::DELETE
                    | WatchMask::ATTRIB,
            )?;
            inotify.into_event_stream([0u8; 4096])
        };
        match watch() {
            Ok(events) => Some(Self { file_name, events }),
            Err(e) => {
                tracing::warn!(error = %e, dir = %dir.display(),
                    "cannot watch the config directory; use SIGHUP or POST /reload");
                None
            }
        }
    }

    /// Resolves at the next event that names the file; never, without a watch (or once the
    /// watch has failed: SIGHUP and the admin call still work).
    async fn changed(watch: &mut Option<Self>) {
        use futures_util::StreamExt as _;
        let Some(this) = watch else {
            return std::future::pending().await;
        };
        loop {
            match this.events.next().await {
                Some(Ok(event)) if event.name.as_deref() == Some(this.file_name.as_os_str()) => {
                    return;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "config file watch failed; use SIGHUP or POST /reload");
                    break;
                }
                None => break,
            }
        }
        // The watch has ended: from here on only SIGHUP and the admin call reload.
        *watch = None;
        std::future::pending().await
    }
}
