//! A throwaway PostgreSQL cluster on loopback: one primary and streaming replicas, from the
//! machine's own binaries, in a temporary directory removed on drop.
//!
//! Used by `meridian demo --with-database` and by the integration tests, so both run against
//! real servers. Each server listens on an ephemeral 127.0.0.1 port with its own socket
//! directory. PostgreSQL refuses to run as root: as root, every server command runs as the
//! `postgres` user through `setpriv`, which execs in place (the recorded PID is the server's).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::process::{Child, Command};

/// The superuser every demo server is initialised with (trust authentication on loopback).
pub const SUPERUSER: &str = "postgres";

/// How long a server may take to accept connections after it is started.
const START_LIMIT: Duration = Duration::from_secs(30);
/// How long a fast shutdown may take before the server is killed.
const STOP_LIMIT: Duration = Duration::from_secs(10);

/// Why the cluster could not be started or changed.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The binaries are not on PATH nor under /usr/lib/postgresql.
    #[error(
        "PostgreSQL server binaries (initdb, postgres, pg_basebackup) not found on PATH or under \
         /usr/lib/postgresql/*/bin; install Debian's `postgresql` package (apt-get install postgresql)"
    )]
    NotInstalled,
    /// Running as root, but there is no `postgres` user to run the servers as.
    #[error(
        "running as root, and PostgreSQL refuses to run as root: no `postgres` user to run it as \
         (Debian's `postgresql` package creates one)"
    )]
    NoPostgresUser,
    /// A command failed.
    #[error("{what}: {detail}")]
    Command {
        /// Which step.
        what: String,
        /// Its output or error.
        detail: String,
    },
    /// A SQL statement failed.
    #[error("{what}: {source}")]
    Sql {
        /// Which step.
        what: String,
        /// The driver's error.
        source: tokio_postgres::Error,
    },
    /// Filesystem trouble.
    #[error("{what}: {source}")]
    Io {
        /// Which step.
        what: String,
        /// OS error.
        source: std::io::Error,
    },
    /// The index names no server, or the server is not in a state for the request.
    #[error("{0}")]
    State(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> PgError {
    let what = what.into();
    move |source| PgError::Io { what, source }
}

/// Where the server binaries live.
#[derive(Debug, Clone)]
pub struct PgBinaries {
    /// Directory holding initdb, postgres and pg_basebackup.
    dir: PathBuf,
}

impl PgBinaries {
    /// Finds a directory with all three binaries: beside a `postgres` on PATH (following a
    /// symlink such as /usr/local/bin/postgres), else the newest /usr/lib/postgresql/*/bin.
    pub fn find() -> Result<Self, PgError> {
        let complete = |dir: &Path| {
            ["initdb", "postgres", "pg_basebackup"]
                .iter()
                .all(|b| dir.join(b).is_file())
        };
        let on_path = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .unwrap_or_default();
        for dir in on_path {
            let candidate = dir.join("postgres");
            if candidate.is_file()
                && let Ok(real) = std::fs::canonicalize(&candidate)
                && let Some(real_dir) = real.parent()
                && complete(real_dir)
            {
                return Ok(Self {
                    dir: real_dir.to_path_buf(),
                });
            }
        }
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let version = e.file_name().to_str()?.parse::<u32>().ok()?;
                Some((version, e.path().join("bin")))
            })
            .filter(|(_, dir)| complete(dir))
            .collect();
        versions.sort();
        versions
            .pop()
            .map(|(_, dir)| Self { dir })
            .ok_or(PgError::NotInstalled)
    }

    fn bin(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// Runs server commands as the `postgres` user when this process is root.
#[derive(Debug, Clone, Copy)]
struct RunAs {
    /// (uid, gid) of `postgres` when running as root.
    user: Option<(u32, u32)>,
}

impl RunAs {
    fn detect() -> Result<Self, PgError> {
        let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        if !root {
            return Ok(Self { user: None });
        }
        let passwd = std::fs::read_to_string("/etc/passwd").map_err(io("read /etc/passwd"))?;
        let user = passwd
            .lines()
            .find_map(|line| {
                let fields: Vec<&str> = line.split(':').collect();
                (fields.first() == Some(&"postgres") && fields.len() > 3)
                    .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
                    .flatten()
            })
            .ok_or(PgError::NoPostgresUser)?;
        Ok(Self { user: Some(user) })
    }

    fn command(&self, program: &Path) -> Command {
        let mut cmd = match self.user {
            Some(_) => {
                let mut c = Command::new("setpriv");
                c.args([
                    "--reuid=postgres",
                    "--regid=postgres",
                    "--init-groups",
                    "--",
                ]);
                c.arg(program);
                c
            }
            None => Command::new(program),
        };
        cmd.env("LC_ALL", "C").stdin(Stdio::null());
        cmd
    }

    fn own(&self, path: &Path) -> Result<(), PgError> {
        if let Some((uid, gid)) = self.user {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .map_err(io(format!("chown {}", path.display())))?;
        }
        Ok(())
    }
}

/// One server of the cluster.
#[derive(Debug)]
pub struct PgServer {
    /// The region it belongs to (a label).
    pub name: String,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    /// Its data directory.
    data: PathBuf,
    /// The running postmaster; None once stopped or killed.
    child: Option<Child>,
}

impl PgServer {
    /// A libpq key=value connection string for the superuser.
    pub fn conninfo(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user={SUPERUSER} dbname=postgres",
            self.port
        )
    }

    /// Is the postmaster running (as far as this process knows)?
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }
}

/// A primary and its streaming replicas, each on its own port, in one temporary directory.
#[derive(Debug)]
pub struct PgCluster {
    /// The temporary directory (removed on drop).
    root: PathBuf,
    /// Where the binaries are.
    bins: PgBinaries,
    /// Who runs them.
    run_as: RunAs,
    /// The servers, in the order given to `start`.
    servers: Vec<PgServer>,
    /// Index of the server that is primary now.
    primary: usize,
    /// Extra `-c` settings for every server (TLS files).
    extra: Vec<String>,
}

/// A server certificate chain and its key, in PEM, for servers that accept TLS.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// Certificate chain, leaf first.
    pub cert_pem: String,
    /// The leaf's private key.
    pub key_pem: String,
}

impl PgCluster {
    /// Starts `names[0]` as the primary and the others as streaming replicas of it.
    pub async fn start(names: &[&str]) -> Result<Self, PgError> {
        Self::start_with_tls(names, None).await
    }

    /// Like [`PgCluster::start`]; with `tls`, every server also accepts TLS (`ssl=on`) with
    /// this certificate (plain connections stay allowed).
    pub async fn start_with_tls(names: &[&str], tls: Option<ServerTls>) -> Result<Self, PgError> {
        let bins = PgBinaries::find()?;
        let run_as = RunAs::detect()?;
        static N: AtomicU64 = AtomicU64::new(0);
        let root = std::env::temp_dir().join(format!(
            "meridian-pg-{}-{}",
            std::process::id(),
            N.fetch_add(1, Relaxed)
        ));
        std::fs::create_dir_all(&root).map_err(io(format!("create {}", root.display())))?;
        let mut cluster = Self {
            root,
            bins,
            run_as,
            servers: Vec::new(),
            primary: 0,
            extra: Vec::new(),
        };
        cluster.run_as.own(&cluster.root)?;
        if let Some(tls) = tls {
            use std::os::unix::fs::PermissionsExt;
            let cert = cluster.root.join("server.crt");
            let key = cluster.root.join("server.key");
            std::fs::write(&cert, tls.cert_pem).map_err(io("write server.crt"))?;
            std::fs::write(&key, tls.key_pem).map_err(io("write server.key"))?;
            // PostgreSQL refuses a key file others can read.
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
                .map_err(io("chmod server.key"))?;
            cluster.run_as.own(&cert)?;
            cluster.run_as.own(&key)?;
            cluster.extra = vec![
                "ssl=on".into(),
                format!("ssl_cert_file={}", cert.display()),
                format!("ssl_key_file={}", key.display()),
            ];
        }
        let Some((first, rest)) = names.split_first() else {
            return Ok(cluster);
        };
        let data = cluster.root.join(first);
        let mut initdb = cluster.run_as.command(&cluster.bins.bin("initdb"));
        initdb.arg("-D").arg(&data).args([
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "--data-checksums",
        ]);
        run(initdb, "initdb").await?;
        let mut primary = PgServer {
            name: first.to_string(),
            port: 0,
            data,
            child: None,
        };
        cluster.launch(&mut primary).await?;
        cluster.servers.push(primary);
        for name in rest {
            let data = cluster.root.join(name);
            let mut backup = cluster.run_as.command(&cluster.bins.bin("pg_basebackup"));
            backup
                .args(["-h", "127.0.0.1", "-p"])
                .arg(cluster.servers[0].port.to_string())
                .args(["-U", SUPERUSER, "-D"])
                .arg(&data)
                .args(["-R", "-X", "stream", "-c", "fast", "--no-sync"]);
            run(backup, &format!("pg_basebackup for {name}")).await?;
            let mut replica = PgServer {
                name: name.to_string(),
                port: 0,
                data,
                child: None,
            };
            cluster.launch(&mut replica).await?;
            cluster.servers.push(replica);
        }
        Ok(cluster)
    }

    /// Starts the postmaster of `server` on a fresh ephemeral port and waits until it answers.
    async fn launch(&self, server: &mut PgServer) -> Result<(), PgError> {
        let port = if server.port == 0 {
            free_port()?
        } else {
            server.port
        };
        let log = self.root.join(format!("{}.log", server.name));
        let log_file = std::fs::File::create(&log).map_err(io("create server log"))?;
        self.run_as.own(&log)?;
        let mut cmd = self.run_as.command(&self.bins.bin("postgres"));
        cmd.arg("-D").arg(&server.data);
        for setting in [
            format!("port={port}"),
            "listen_addresses=127.0.0.1".into(),
            format!("unix_socket_directories={}", self.root.display()),
            "fsync=off".into(),
            "full_page_writes=off".into(),
            "shared_buffers=16MB".into(),
            "max_connections=60".into(),
            "wal_level=replica".into(),
            "max_wal_senders=10".into(),
            "wal_keep_size=256MB".into(),
            "hot_standby=on".into(),
            // A replica re-pointed at a new primary reconnects within this, not the default 5 s.
            "wal_retrieve_retry_interval=100ms".into(),
            "wal_receiver_status_interval=1s".into(),
            "log_min_messages=warning".into(),
        ]
        .into_iter()
        .chain(self.extra.iter().cloned())
        {
            cmd.arg("-c").arg(setting);
        }
        cmd.stdout(Stdio::null())
            .stderr(log_file)
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(io("spawn postgres"))?;
        server.port = port;
        let conninfo = server.conninfo();
        let deadline = tokio::time::Instant::now() + START_LIMIT;
        loop {
            if connect(&conninfo).await.is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(PgError::Command {
                    what: format!("postgres for {} exited ({status})", server.name),
                    detail: text,
                });
            }
            if tokio::time::Instant::now() > deadline {
                let _ = child.start_kill();
                return Err(PgError::State(format!(
                    "postgres for {} did not accept connections within {START_LIMIT:?}",
                    server.name
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server.child = Some(child);
        Ok(())
    }

    /// The servers, in the order given to `start`.
    pub fn servers(&self) -> &[PgServer] {
        &self.servers
    }

    /// The server of region `name`.
    pub fn server(&self, name: &str) -> Option<&PgServer> {
        self.servers.iter().find(|s| s.name == name)
    }

    /// The region whose server is primary now.
    pub fn primary(&self) -> &str {
        &self.servers[self.primary].name
    }

    fn index(&self, name: &str) -> Result<usize, PgError> {
        self.servers
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| PgError::State(format!("no database for region {name:?}")))
    }

    /// Makes `name`'s server the primary, as a failover engine would: the old primary is
    /// stopped first (fast shutdown, so its last records reach the replicas), `name` is
    /// promoted, and every other running replica is re-pointed at it (it follows the new
    /// timeline). The old primary stays stopped.
    pub async fn promote(&mut self, name: &str) -> Result<(), PgError> {
        let target = self.index(name)?;
        if target == self.primary && self.servers[target].is_running() {
            return Err(PgError::State(format!("{name} is already the primary")));
        }
        if !self.servers[target].is_running() {
            return Err(PgError::State(format!("{name}'s database is not running")));
        }
        let old = self.primary;
        if old != target {
            stop(&mut self.servers[old]).await;
        }
        let client = connect(&self.servers[target].conninfo())
            .await
            .map_err(sql(format!("connect to {name}")))?;
        client
            .execute("SELECT pg_promote(true, 60)", &[])
            .await
            .map_err(sql(format!("promote {name}")))?;
        self.primary = target;
        let primary_port = self.servers[target].port;
        for (i, server) in self.servers.iter().enumerate() {
            if i == target || !server.is_running() {
                continue;
            }
            let client = connect(&server.conninfo())
                .await
                .map_err(sql(format!("connect to {}", server.name)))?;
            let conninfo = format!(
                "host=127.0.0.1 port={primary_port} user={SUPERUSER} application_name={}",
                server.name
            );
            // Two calls: ALTER SYSTEM cannot run inside the implicit transaction of a batch.
            client
                .batch_execute(&format!("ALTER SYSTEM SET primary_conninfo = '{conninfo}'"))
                .await
                .map_err(sql(format!("re-point {} at {name}", server.name)))?;
            client
                .batch_execute("SELECT pg_reload_conf()")
                .await
                .map_err(sql(format!("reload {}", server.name)))?;
        }
        Ok(())
    }

    /// Promotes `name` while the old primary keeps running and taking writes: two writers, as
    /// after a network partition (the old one's clients see no failure). Meridian must fence
    /// the one on the older timeline.
    pub async fn promote_keeping_old_primary(&mut self, name: &str) -> Result<(), PgError> {
        let target = self.index(name)?;
        let client = connect(&self.servers[target].conninfo())
            .await
            .map_err(sql(format!("connect to {name}")))?;
        client
            .execute("SELECT pg_promote(true, 60)", &[])
            .await
            .map_err(sql(format!("promote {name}")))?;
        self.primary = target;
        Ok(())
    }

    /// Cuts a replica off its stream (its `primary_conninfo` points at a closed port): it keeps
    /// serving reads of what it has and receives nothing more.
    pub async fn cut_replication(&self, name: &str) -> Result<(), PgError> {
        let i = self.index(name)?;
        let dead = free_port()?;
        let client = connect(&self.servers[i].conninfo())
            .await
            .map_err(sql(format!("connect to {name}")))?;
        client
            .batch_execute(&format!(
                "ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port={dead} user={SUPERUSER}'"
            ))
            .await
            .map_err(sql(format!("cut {name}")))?;
        client
            .batch_execute("SELECT pg_reload_conf()")
            .await
            .map_err(sql(format!("reload {name}")))
    }

    /// Pauses (true) or resumes (false) WAL replay on a replica: it keeps receiving, stops
    /// applying, so its data and its heartbeat fall behind.
    pub async fn set_replay_paused(&self, name: &str, paused: bool) -> Result<(), PgError> {
        let i = self.index(name)?;
        if i == self.primary {
            return Err(PgError::State(format!(
                "{name} is the primary: it has no replication to pause"
            )));
        }
        let client = connect(&self.servers[i].conninfo())
            .await
            .map_err(sql(format!("connect to {name}")))?;
        let call = if paused {
            "SELECT pg_wal_replay_pause()"
        } else {
            "SELECT pg_wal_replay_resume()"
        };
        client
            .batch_execute(call)
            .await
            .map_err(sql(format!("{call} on {name}")))
    }

    /// Kills `name`'s postmaster with SIGKILL (a crashed or lost database).
    pub async fn kill(&mut self, name: &str) -> Result<(), PgError> {
        let i = self.index(name)?;
        let server = &mut self.servers[i];
        let Some(mut child) = server.child.take() else {
            return Err(PgError::State(format!("{name}'s database is not running")));
        };
        let _ = child.start_kill();
        let _ = child.wait().await;
        Ok(())
    }

    /// Stops every server (fast shutdown) and removes the directory.
    pub async fn stop(mut self) {
        for server in &mut self.servers {
            stop(server).await;
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        for server in &mut self.servers {
            if let Some(child) = server.child.as_mut() {
                let _ = child.start_kill();
            }
            if let Some(pid) = server.child.as_ref().and_then(Child::id) {
                // Reap synchronously, so the directory is not removed under a live server.
                wait_gone(pid, Duration::from_secs(5));
            }
            server.child = None;
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Waits (blocking, bounded) until a process id no longer exists.
fn wait_gone(pid: u32, limit: Duration) {
    let started = std::time::Instant::now();
    let path = format!("/proc/{pid}/stat");
    while started.elapsed() < limit {
        match std::fs::read_to_string(&path) {
            // A zombie ('Z') is dead; tokio's orphan reaper collects it.
            Ok(stat) if !stat.contains(") Z ") => std::thread::sleep(Duration::from_millis(10)),
            _ => return,
        }
    }
}

/// Fast shutdown (SIGINT), then SIGKILL if it takes longer than `STOP_LIMIT`.
async fn stop(server: &mut PgServer) {
    let Some(mut child) = server.child.take() else {
        return;
    };
    if let Some(pid) = child.id() {
        let _ = Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .await;
    }
    if tokio::time::timeout(STOP_LIMIT, child.wait())
        .await
        .is_err()
    {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
}

fn sql(what: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> PgError {
    let what = what.into();
    move |source| PgError::Sql { what, source }
}

/// A plain connection (no TLS) whose driver task ends with the client.
pub async fn connect(conninfo: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(conninfo, tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// An ephemeral port on 127.0.0.1, free a moment ago.
fn free_port() -> Result<u16, PgError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(io("find a free port"))?;
    Ok(listener
        .local_addr()
        .map_err(io("find a free port"))?
        .port())
}

/// Runs a command to completion; its output becomes the error when it fails.
async fn run(mut cmd: Command, what: &str) -> Result<(), PgError> {
    let out = cmd.output().await.map_err(io(format!("run {what}")))?;
    if out.status.success() {
        return Ok(());
    }
    Err(PgError::Command {
        what: format!("{what} failed ({})", out.status),
        detail: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    })
}
