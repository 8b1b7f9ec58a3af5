//! Three regions with a real data tier: a PostgreSQL server per region, the ledger app in front
//! of each, a Meridian per region watching all three databases. `meridian demo --with-database`
//! runs it on the demo's fixed ports; the integration tests run it on ephemeral ones.

use super::ledger::Ledger;
use super::postgres::PgCluster;
use crate::config::{self, Settings};
use crate::server::Server;
use anyhow::Context;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::Mutex;

/// The `[database]` keys the demo adds to `config/demo.toml` (regions are filled in at start).
pub const DEMO_DATABASE_TOML: &str = r#"
[database]
tls = "disable"            # loopback servers without TLS; production uses "verify-full"
probe_interval = "250ms"
rpo_budget = "5s"
rpo_hold = "2s"
writer_hold = "15s"
read_wait = "500ms"
"#;

/// Where each region's pieces listen, in config order.
#[derive(Debug, Clone)]
pub struct LabAddrs {
    /// Each region's Meridian (its "ALB").
    pub meridians: Vec<SocketAddr>,
    /// Each region's ledger app.
    pub ledgers: Vec<SocketAddr>,
    /// Each region's Meridian admin listener.
    pub admins: Vec<SocketAddr>,
}

/// The running lab.
pub struct DataLab {
    /// The databases (shared with the control listener).
    pub cluster: Arc<Mutex<PgCluster>>,
    /// The ledger apps, in region order.
    pub ledgers: Vec<Ledger>,
    /// The Meridians, in region order.
    pub servers: Vec<Server>,
    /// Region names, in config order.
    pub regions: Vec<String>,
}

impl DataLab {
    /// Starts the databases (the first region's is the primary), the ledgers and the
    /// Meridians. `config_toml` is a whole config (regions, routes, `[database]` keys) whose
    /// endpoints and `[database.regions]` are filled in here.
    pub async fn start(config_toml: &str, addrs: &LabAddrs) -> anyhow::Result<Self> {
        Self::start_with_tls(config_toml, addrs, None).await
    }

    /// Like [`DataLab::start`], with databases that also accept TLS with this certificate.
    pub async fn start_with_tls(
        config_toml: &str,
        addrs: &LabAddrs,
        tls: Option<super::postgres::ServerTls>,
    ) -> anyhow::Result<Self> {
        // Region names first (the file is validated once the databases are filled in).
        let table: toml::Table = toml::from_str(config_toml).context("lab config")?;
        let regions: Vec<String> = table
            .get("regions")
            .and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| r.get("name")?.as_str().map(str::to_string))
            .collect();
        let names: Vec<&str> = regions.iter().map(String::as_str).collect();
        let cluster = PgCluster::start_with_tls(&names, tls)
            .await
            .context("cannot start the PostgreSQL servers")?;
        let mut text = config_toml.to_string();
        text.push_str("\n[database.regions]\n");
        for server in cluster.servers() {
            text.push_str(&format!("{:?} = {:?}\n", server.name, server.conninfo()));
        }
        let base = config::parse_and_validate("lab.toml", &text)?;
        let mut ledgers = Vec::new();
        for (i, server) in cluster.servers().iter().enumerate() {
            let ledger = Ledger::start(&server.name, addrs.ledgers[i], &server.conninfo())
                .await
                .with_context(|| format!("cannot start the {} ledger", server.name))?;
            ledgers.push(ledger);
        }
        let ledger_addrs: Vec<SocketAddr> = ledgers.iter().map(Ledger::addr).collect();
        let mut servers = Vec::new();
        for (i, region) in regions.iter().enumerate() {
            let settings: Settings =
                super::region_settings(&base, i, &addrs.meridians, &ledger_addrs, addrs.admins[i]);
            let server = Server::start(settings)
                .await
                .with_context(|| format!("cannot start the {region} Meridian"))?;
            servers.push(server);
        }
        Ok(Self {
            cluster: Arc::new(Mutex::new(cluster)),
            ledgers,
            servers,
            regions,
        })
    }

    /// Stops the Meridians, the ledgers and the databases.
    pub async fn stop(self) {
        for server in self.servers {
            server.stop().await;
        }
        drop(self.ledgers);
        if let Ok(cluster) = Arc::try_unwrap(self.cluster) {
            cluster.into_inner().stop().await;
        }
    }
}

/// Runs `meridian demo --with-database` until Ctrl-C.
pub async fn run(listen: SocketAddr, admin: SocketAddr, control: SocketAddr) -> anyhow::Result<()> {
    let text = format!("{}\n{DEMO_DATABASE_TOML}", super::DEMO_TOML);
    let loopback = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let mut meridians: Vec<SocketAddr> =
        super::SIBLING_PORTS.iter().map(|&p| loopback(p)).collect();
    meridians[0] = listen;
    let addrs = LabAddrs {
        meridians,
        ledgers: super::ORIGIN_PORTS.iter().map(|&p| loopback(p)).collect(),
        admins: vec![admin, loopback(0), loopback(0)],
    };
    let control_listener = tokio::net::TcpListener::bind(control)
        .await
        .with_context(|| format!("cannot bind the demo control port {control}"))?;
    let lab = DataLab::start(&text, &addrs).await?;
    let control_task = tokio::spawn(serve_control(control_listener, lab.cluster.clone()));
    let entry = lab.servers[0].addr();
    let admin_addr = lab.servers[0].admin_addr();
    let eu = lab.servers[1].addr();
    println!(
        r#"
Meridian demo with a data tier: three regions on loopback, each with a Meridian, the ledger app
and a PostgreSQL server (us-east-1 primary, eu-west-1 and ap-southeast-1 streaming replicas).

  curl -i -X POST --data 'hello' http://{eu}/ledger     a write sent to eu-west-1 is served by
                                                         the writer region (x-ledger-region: us-east-1)
  curl -i http://{entry}/ledger/1                        read it back (404 if the row is not there)
  curl -s http://{admin_addr}/status                     writer, epoch, per-region role and lag (JSON)
  open http://{admin_addr}/                              the status page: lag against the RPO budget

Change the database, as a failover engine or a broken network would:
  curl -X POST http://{control}/database/eu-west-1/promote              eu-west-1 becomes the writer
  curl -X POST http://{control}/database/ap-southeast-1/replication/pause   that replica stops applying
  curl -X POST http://{control}/database/ap-southeast-1/replication/resume
  curl -X POST http://{control}/database/us-east-1/kill                 SIGKILL that region's server

Ctrl-C stops everything and removes the databases.
"#
    );
    // SIGTERM too: the databases and their directory must not outlive the demo.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    println!("stopping");
    control_task.abort();
    lab.stop().await;
    Ok(())
}

type Cluster = Arc<Mutex<PgCluster>>;

async fn serve_control(listener: tokio::net::TcpListener, cluster: Cluster) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let cluster = cluster.clone();
        let service = service_fn(move |req| {
            let cluster = cluster.clone();
            async move { Ok::<_, std::convert::Infallible>(control(req, &cluster).await) }
        });
        tokio::spawn(async move {
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The database switch: promote, pause/resume replay, kill; `GET /` lists the servers.
pub async fn control(
    req: Request<hyper::body::Incoming>,
    cluster: &Cluster,
) -> Response<Full<bytes::Bytes>> {
    let path: Vec<&str> = req.uri().path().trim_matches('/').split('/').collect();
    let reply = |status: StatusCode, text: String| {
        let mut r = Response::new(Full::new(bytes::Bytes::from(text + "\n")));
        *r.status_mut() = status;
        r
    };
    let done = |result: Result<(), super::postgres::PgError>, what: String| match result {
        Ok(()) => reply(StatusCode::OK, what),
        Err(e) => reply(StatusCode::CONFLICT, e.to_string()),
    };
    match (req.method(), path.as_slice()) {
        (&Method::POST, ["database", name, "promote"]) => {
            let mut cluster = cluster.lock().await;
            let result = cluster.promote(name).await;
            done(result, format!("{name} is now the writer"))
        }
        (&Method::POST, ["database", name, "replication", action @ ("pause" | "resume")]) => {
            let cluster = cluster.lock().await;
            let result = cluster.set_replay_paused(name, *action == "pause").await;
            done(result, format!("{name}: replay {action}d"))
        }
        (&Method::POST, ["database", name, "kill"]) => {
            let mut cluster = cluster.lock().await;
            let result = cluster.kill(name).await;
            done(result, format!("{name}'s database killed"))
        }
        (&Method::GET, [""]) => {
            let cluster = cluster.lock().await;
            let lines: Vec<String> = cluster
                .servers()
                .iter()
                .map(|s| {
                    let role = if s.name == cluster.primary() {
                        "primary"
                    } else {
                        "replica"
                    };
                    let state = if s.is_running() { "running" } else { "stopped" };
                    format!("{}: {role}, {state}, {}", s.name, s.conninfo())
                })
                .collect();
            reply(StatusCode::OK, lines.join("\n"))
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            "POST /database/<region>/promote | /database/<region>/replication/<pause|resume> | /database/<region>/kill"
                .into(),
        ),
    }
}
