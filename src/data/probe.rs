//! One region's database probe: a monitoring connection, a sample every probe interval (or at
//! once when the request path asks for a fresh writer position), the heartbeat row on the
//! writer, and the writer's timeline history.

use super::view::{Lsn, Sample, TimelineHistory};
use crate::config::database::{DatabaseKind, DatabaseSettings, DatabaseTls};
use crate::runtime::Runtime;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// The heartbeat table: one row per writing Meridian region, its newest heartbeat.
const HEARTBEAT_TABLE: &str = "CREATE TABLE IF NOT EXISTS meridian_heartbeat \
     (source text PRIMARY KEY, ts timestamptz NOT NULL)";
const HEARTBEAT_WRITE: &str = "INSERT INTO meridian_heartbeat (source, ts) \
     VALUES ($1, clock_timestamp()) ON CONFLICT (source) DO UPDATE SET ts = EXCLUDED.ts";
/// Age of the newest heartbeat visible here, by this server's clock (seconds).
const HEARTBEAT_AGE: &str = "SELECT EXTRACT(EPOCH FROM clock_timestamp() - max(ts))::float8 \
     FROM meridian_heartbeat";
/// Role, epoch and positions in one round trip, on a writer or a replica alike.
const STATUS: &str = "SELECT pg_is_in_recovery(), \
     (SELECT system_identifier FROM pg_control_system())::text, \
     CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_insert_lsn()::text END, \
     CASE WHEN pg_is_in_recovery() THEN NULL \
          ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END, \
     pg_last_wal_replay_lsn()::text, \
     (SELECT received_tli FROM pg_stat_wal_receiver LIMIT 1), \
     (SELECT status = 'streaming' FROM pg_stat_wal_receiver LIMIT 1), \
     CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END, \
     EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8";

/// Shortest time between two probes of one region, however often it is nudged.
const MIN_GAP: Duration = Duration::from_millis(10);

/// Probes one region's database until aborted or shut down.
pub struct RegionProbe {
    /// Where samples go, and the shutdown signal.
    pub runtime: Arc<Runtime>,
    /// The region's index in the config.
    pub region: usize,
    /// Its name (Aurora rows are matched by it).
    pub name: String,
    /// Its connection string.
    pub conninfo: String,
    /// `[database]` as it was when the task started (a change restarts the task).
    pub settings: DatabaseSettings,
    /// The region this Meridian runs in: the key of the heartbeat row it writes.
    pub heartbeat_source: String,
    /// Pulled by the request path when it needs a writer position sampled after a moment.
    pub nudge: Arc<Notify>,
}

/// The connection and what the task remembers between probes.
struct Conn {
    /// The monitoring session.
    client: tokio_postgres::Client,
    /// The heartbeat table is known to exist (created or seen) on this session.
    heartbeat_ready: bool,
}

impl RegionProbe {
    /// Samples every interval; a nudge samples at once.
    pub async fn run(self) {
        let interval = self.settings.probe_interval;
        // One probe may take this long before it counts as failed (and the session is dropped).
        let limit = (interval * 4).max(Duration::from_secs(1)) + self.settings.connect_timeout;
        let mut conn: Option<Conn> = None;
        let mut last_writer = false;
        let mut history: Option<Arc<TimelineHistory>> = None;
        let shutdown = self.runtime.shutdown.clone();
        loop {
            let started = Instant::now();
            let probed = tokio::time::timeout(
                limit,
                self.probe(&mut conn, started, last_writer, &mut history),
            )
            .await;
            let result = match probed {
                Ok(Ok(sample)) => Ok(sample),
                // A refused query keeps its session (a closed one is replaced next time):
                // reconnecting on every SQL error would only add load to a struggling server.
                Ok(Err(e)) => Err(e),
                Err(_) => {
                    // A session that hangs is dropped.
                    conn = None;
                    Err(format!("probe took longer than {limit:?}"))
                }
            };
            if let Ok(s) = &result {
                last_writer = s.writer;
            }
            let snapshot = self.runtime.snapshot();
            self.runtime
                .data
                .record(&snapshot.settings, self.region, result);
            drop(snapshot);
            let next = tokio::time::Instant::from_std(started + interval);
            tokio::select! {
                () = tokio::time::sleep_until(next) => {}
                () = self.nudge.notified() => {
                    // Nudges (tokens, a session that ended) are answered at once, but never
                    // faster than this: a server that accepts and drops sessions in a loop
                    // must not turn the probe into a busy loop.
                    let gap = tokio::time::Instant::from_std(started + MIN_GAP.min(interval));
                    tokio::time::sleep_until(gap).await;
                }
                () = shutdown.cancelled() => return,
            }
        }
    }

    async fn probe(
        &self,
        conn: &mut Option<Conn>,
        started: Instant,
        last_writer: bool,
        history: &mut Option<Arc<TimelineHistory>>,
    ) -> Result<Sample, String> {
        if conn.as_ref().is_none_or(|c| c.client.is_closed()) {
            *conn = Some(Conn {
                client: self.connect().await?,
                heartbeat_ready: false,
            });
        }
        let Some(conn) = conn.as_mut() else {
            return Err("no connection".into());
        };
        match self.settings.kind {
            DatabaseKind::Postgres => {
                self.probe_postgres(conn, started, last_writer, history)
                    .await
            }
            DatabaseKind::Aurora => self.probe_aurora(&conn.client, started).await,
        }
    }

    async fn connect(&self) -> Result<tokio_postgres::Client, String> {
        let mut config: tokio_postgres::Config = self
            .conninfo
            .parse()
            .map_err(|e| format!("connection string: {e}"))?;
        config
            .connect_timeout(self.settings.connect_timeout)
            .application_name("meridian-monitor");
        match self.settings.password() {
            Ok(Some(p)) => {
                config.password(p);
            }
            Ok(None) => {}
            Err(e) => return Err(format!("password file: {e}")),
        }
        let tls = super::tls::connector(self.settings.tls, self.settings.ca_file.as_deref())
            .map_err(|e| e.to_string())?;
        // When the session ends (the server shut down or died), probe again at once: a writer
        // that is gone must stop receiving writes now, not at the next interval.
        let nudge = self.nudge.clone();
        let watch = move |connection: tokio::task::JoinHandle<()>| {
            tokio::spawn(async move {
                let _ = connection.await;
                nudge.notify_one();
            });
        };
        let connect = async {
            match tls {
                None => {
                    config.ssl_mode(tokio_postgres::config::SslMode::Disable);
                    let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
                    watch(tokio::spawn(async move {
                        let _ = connection.await;
                    }));
                    Ok(client)
                }
                Some(tls) => {
                    config.ssl_mode(tokio_postgres::config::SslMode::Require);
                    let (client, connection) = config.connect(tls).await?;
                    watch(tokio::spawn(async move {
                        let _ = connection.await;
                    }));
                    Ok(client)
                }
            }
        };
        let connected: Result<_, tokio_postgres::Error> =
            tokio::time::timeout(self.settings.connect_timeout, connect)
                .await
                .map_err(|_| {
                    format!(
                        "connect took longer than {:?}",
                        self.settings.connect_timeout
                    )
                })?;
        connected.map_err(|e| error_text(&e))
    }

    async fn probe_postgres(
        &self,
        conn: &mut Conn,
        started: Instant,
        last_writer: bool,
        history: &mut Option<Arc<TimelineHistory>>,
    ) -> Result<Sample, String> {
        let heartbeat = self.settings.heartbeat;
        if heartbeat && last_writer && !conn.heartbeat_ready {
            conn.client
                .batch_execute(HEARTBEAT_TABLE)
                .await
                .map_err(|e| error_text(&e))?;
            conn.heartbeat_ready = true;
        }
        let client = &conn.client;
        // Pipelined on the one session: status, the heartbeat's age, and (on the writer) a new
        // heartbeat, in one round trip.
        let write = async {
            if heartbeat && last_writer {
                client
                    .execute(HEARTBEAT_WRITE, &[&self.heartbeat_source])
                    .await
                    .map(|_| ())
            } else {
                Ok(())
            }
        };
        let age = async {
            if heartbeat {
                client.query_opt(HEARTBEAT_AGE, &[]).await.ok().flatten()
            } else {
                None
            }
        };
        let (status, age, written) = tokio::join!(client.query_one(STATUS, &[]), age, write);
        let row = status.map_err(|e| error_text(&e))?;
        if let Err(e) = written {
            // Refused (no privilege, or the writer just became a replica): lag falls back to
            // positions and replay timestamps.
            tracing::debug!(region = %self.name, error = %error_text(&e), "heartbeat write failed");
        }
        let in_recovery: bool = row.try_get(0).map_err(|e| e.to_string())?;
        let system: Option<String> = row.try_get(1).map_err(|e| e.to_string())?;
        let system = system
            .and_then(|s| s.parse::<i64>().ok())
            .map_or(0, |s| s as u64);
        let lsn = |i: usize| -> Result<Option<Lsn>, String> {
            let text: Option<String> = row.try_get(i).map_err(|e| e.to_string())?;
            Ok(text.as_deref().and_then(Lsn::parse))
        };
        let writer_lsn = lsn(2)?;
        let writer_timeline: Option<i32> = row.try_get(3).map_err(|e| e.to_string())?;
        let replay_lsn = lsn(4)?;
        let received_tli: Option<i32> = row.try_get(5).map_err(|e| e.to_string())?;
        let receiving: Option<bool> = row.try_get(6).map_err(|e| e.to_string())?;
        let replay_paused: bool = row.try_get(7).map_err(|e| e.to_string())?;
        let replay_age: Option<f64> = row.try_get(8).map_err(|e| e.to_string())?;
        let seconds = |s: f64| Duration::try_from_secs_f64(s.max(0.0)).ok();
        let heartbeat_age = age
            .and_then(|r| r.try_get::<_, Option<f64>>(0).ok().flatten())
            .and_then(seconds);
        let writer = !in_recovery;
        let timeline = if writer {
            writer_timeline.unwrap_or(0).max(0) as u32
        } else {
            received_tli.unwrap_or(0).max(0) as u32
        };
        if writer && timeline > 1 && history.as_ref().is_none_or(|h| h.timeline != timeline) {
            // Read once per timeline; an unreadable file leaves an empty history (no
            // switchpoints: older tokens go to the writer) rather than a retry every probe.
            let read = read_history(client, timeline).await;
            *history = Some(Arc::new(read.unwrap_or(TimelineHistory {
                timeline,
                switchpoints: Vec::new(),
            })));
        }
        Ok(Sample {
            started,
            writer,
            system,
            timeline,
            writer_lsn,
            replay_lsn,
            receiving: receiving.unwrap_or(false),
            replay_paused,
            heartbeat_age,
            replay_age: replay_age.and_then(seconds),
            reported_lag: None,
            history: if writer { history.clone() } else { None },
        })
    }

    async fn probe_aurora(
        &self,
        client: &tokio_postgres::Client,
        started: Instant,
    ) -> Result<Sample, String> {
        use super::aurora::{GLOBAL_STATUS, GlobalStatusRow, INSTANCE_STATUS, InstanceStatusRow};
        let (global, instances) = tokio::join!(
            client.query(GLOBAL_STATUS, &[]),
            client.query(INSTANCE_STATUS, &[])
        );
        let global: Vec<GlobalStatusRow> = global
            .map_err(|e| error_text(&e))?
            .iter()
            .map(|r| GlobalStatusRow {
                aws_region: r.try_get(0).unwrap_or_default(),
                highest_lsn_written: r.try_get(1).ok().flatten(),
                durability_lag_in_msec: r.try_get(2).ok().flatten(),
                rpo_lag_in_msec: r.try_get(3).ok().flatten(),
            })
            .collect();
        let instances: Vec<InstanceStatusRow> = instances
            .map_err(|e| error_text(&e))?
            .iter()
            .map(|r| InstanceStatusRow {
                server_id: r.try_get(0).unwrap_or_default(),
                session_id: r.try_get(1).unwrap_or_default(),
                aws_region: r.try_get(2).unwrap_or_default(),
                durable_lsn: r.try_get(3).ok().flatten(),
            })
            .collect();
        super::aurora::sample(&self.name, &global, &instances, started)
    }
}

/// The writer's timeline history file, read through SQL (needs `EXECUTE` on
/// `pg_read_file(text)`: the file is inside the data directory). None when it cannot be read:
/// lost writes then cannot be told from kept ones.
async fn read_history(client: &tokio_postgres::Client, timeline: u32) -> Option<TimelineHistory> {
    let path = format!("pg_wal/{timeline:08X}.history");
    match client.query_one("SELECT pg_read_file($1)", &[&path]).await {
        Ok(row) => {
            let text: String = row.try_get(0).ok()?;
            Some(TimelineHistory::parse(timeline, &text))
        }
        Err(e) => {
            tracing::warn!(timeline, error = %error_text(&e),
                "cannot read the writer's timeline history (GRANT EXECUTE ON FUNCTION \
                 pg_read_file(text)): \
                 tokens from before the last promotion are sent to the writer");
            None
        }
    }
}

/// The server's message when there is one (the driver's Display says only "db error").
pub(crate) fn error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}

/// The TLS mode's label (status page).
pub fn tls_label(tls: DatabaseTls) -> &'static str {
    match tls {
        DatabaseTls::Disable => "disable",
        DatabaseTls::Require => "require",
        DatabaseTls::VerifyFull => "verify-full",
    }
}
