//! The ledger: a small application that stores request bodies as rows in its region's database.
//!
//! The demo's and the drill's origin (contract in the project's CONTRACTS: `POST /ledger`,
//! `GET /ledger/{id}`, `GET /healthz`, `x-ledger-region` on every response). It talks only to
//! its own region's database, so a write it takes proves which database took it, and a replica
//! refuses writes (503) exactly as a real application on a read-only connection would.

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_postgres::error::SqlState;

/// The table, created on the writer if missing.
pub const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS ledger (id bigserial PRIMARY KEY, \
     body text NOT NULL, region text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())";

/// Header naming the region whose ledger answered.
pub const LEDGER_REGION: &str = "x-ledger-region";
/// Header with the commit's log position (read-your-writes tokens use it).
pub const COMMIT_LSN: &str = "x-meridian-commit-lsn";

/// Largest body `POST /ledger` accepts.
const MAX_BODY: usize = 1024 * 1024;
/// Connect time limit toward the database.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the ledger could not start.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The database URL does not parse.
    #[error("--database: {0}")]
    Database(#[from] tokio_postgres::Error),
    /// TLS set-up failed.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The listen address could not be bound.
    #[error("cannot bind {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
}

/// A running ledger; dropping it stops it.
pub struct Ledger {
    /// Where it listens.
    addr: SocketAddr,
    /// The accept loop.
    task: tokio::task::JoinHandle<()>,
}

impl Ledger {
    /// Starts a ledger for `region` on `listen`, on the database at `database` (a postgres://
    /// URL or key=value conninfo; several hosts allowed). The database may be down: requests
    /// then get 503 until it answers.
    pub async fn start(
        region: &str,
        listen: SocketAddr,
        database: &str,
    ) -> Result<Self, LedgerError> {
        let db = Arc::new(Db::new(database)?);
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| LedgerError::Bind(listen, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| LedgerError::Bind(listen, e))?;
        let region: Arc<str> = Arc::from(region);
        let task = tokio::spawn(accept_loop(listener, region, db));
        Ok(Self { addr, task })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, region: Arc<str>, db: Arc<Db>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (region, db) = (region.clone(), db.clone());
        let service = service_fn(move |req| {
            let (region, db) = (region.clone(), db.clone());
            async move { Ok::<_, std::convert::Infallible>(handle(req, &region, &db).await) }
        });
        // Owned by the set, so aborting the accept loop ends every connection too.
        connections.spawn(async move {
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The database connection, re-established on demand after it breaks.
struct Db {
    /// Parsed connection settings.
    config: tokio_postgres::Config,
    /// TLS for `sslmode=require`; None = plain.
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    /// The live connection; one is enough (tokio-postgres pipelines concurrent queries).
    client: tokio::sync::Mutex<Option<Arc<tokio_postgres::Client>>>,
}

impl Db {
    fn new(url: &str) -> Result<Self, LedgerError> {
        let mut config: tokio_postgres::Config = url.parse()?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let tls = match config.get_ssl_mode() {
            tokio_postgres::config::SslMode::Require => {
                crate::data::tls::connector(crate::config::database::DatabaseTls::Require, None)?
            }
            _ => None,
        };
        if tls.is_none() {
            config.ssl_mode(tokio_postgres::config::SslMode::Disable);
        }
        Ok(Self {
            config,
            tls,
            client: tokio::sync::Mutex::new(None),
        })
    }

    /// The live connection, connecting (and creating the table, if this is the writer) when
    /// there is none or the last one closed.
    async fn client(&self) -> Result<Arc<tokio_postgres::Client>, tokio_postgres::Error> {
        let mut slot = self.client.lock().await;
        if let Some(client) = slot.as_ref()
            && !client.is_closed()
        {
            return Ok(client.clone());
        }
        *slot = None;
        let client = match &self.tls {
            Some(tls) => {
                let (client, conn) = self.config.connect(tls.clone()).await?;
                tokio::spawn(conn);
                client
            }
            None => {
                let (client, conn) = self.config.connect(tokio_postgres::NoTls).await?;
                tokio::spawn(conn);
                client
            }
        };
        // On a replica this fails (read-only); the table arrives by replication instead.
        let _ = client.batch_execute(CREATE_TABLE).await;
        let client = Arc::new(client);
        *slot = Some(client.clone());
        Ok(client)
    }
}

type Reply = Response<Full<Bytes>>;

async fn handle(req: Request<Incoming>, region: &str, db: &Db) -> Reply {
    let path = req.uri().path().to_string();
    let mut resp = match (req.method().clone(), path.as_str()) {
        (Method::POST, "/ledger") => insert(req, region, db).await,
        (Method::GET, p) if p.starts_with("/ledger/") => read(&p["/ledger/".len()..], db).await,
        (Method::GET, "/healthz") => match healthy(db).await {
            Ok(()) => text(StatusCode::OK, "ok\n"),
            Err(e) => unavailable(&e),
        },
        (Method::GET, "/") => text(StatusCode::OK, &format!("{region}\n")),
        (_, "/ledger" | "/healthz" | "/") => {
            text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    };
    if let Ok(v) = HeaderValue::from_str(region) {
        resp.headers_mut().insert(LEDGER_REGION, v);
    }
    resp
}

async fn insert(req: Request<Incoming>, region: &str, db: &Db) -> Reply {
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "at most 1 MiB",
            );
        }
    };
    let Ok(body) = std::str::from_utf8(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "not_utf8",
            "the body must be UTF-8 text",
        );
    };
    let client = match db.client().await {
        Ok(client) => client,
        Err(e) => return unavailable(&e),
    };
    let inserted = client
        .query_one(
            "INSERT INTO ledger (body, region) VALUES ($1, $2) RETURNING id",
            &[&body, &region],
        )
        .await;
    let row = match inserted {
        Ok(row) => row,
        Err(e) => return unavailable(&e),
    };
    let id: i64 = row.get(0);
    // Sampled after the commit: at or past the commit record's end.
    let lsn = client
        .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
        .await
        .ok()
        .map(|row| row.get::<_, String>(0));
    let mut resp = json_reply(StatusCode::CREATED, json!({"id": id, "region": region}));
    if let Some(v) = lsn.and_then(|l| HeaderValue::from_str(&l).ok()) {
        resp.headers_mut().insert(COMMIT_LSN, v);
    }
    resp
}

async fn read(id: &str, db: &Db) -> Reply {
    let Ok(id) = id.parse::<i64>() else {
        return error(StatusCode::BAD_REQUEST, "bad_id", "the id is an integer");
    };
    let client = match db.client().await {
        Ok(client) => client,
        Err(e) => return unavailable(&e),
    };
    match client
        .query_opt("SELECT id, region, body FROM ledger WHERE id = $1", &[&id])
        .await
    {
        Ok(Some(row)) => json_reply(
            StatusCode::OK,
            json!({"id": row.get::<_, i64>(0), "region": row.get::<_, String>(1),
                   "body": row.get::<_, String>(2)}),
        ),
        Ok(None) => error(StatusCode::NOT_FOUND, "not_found", "no such row (yet)"),
        // A replica that has not received the table yet has no rows either.
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => {
            error(StatusCode::NOT_FOUND, "not_found", "no such row (yet)")
        }
        Err(e) => unavailable(&e),
    }
}

async fn healthy(db: &Db) -> Result<(), tokio_postgres::Error> {
    db.client().await?.batch_execute("SELECT 1").await
}

/// 503 naming why: a replica refusing a write, or the database being unreachable.
fn unavailable(e: &tokio_postgres::Error) -> Reply {
    if e.code() == Some(&SqlState::READ_ONLY_SQL_TRANSACTION) {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "read_only",
            "this region's database is a replica and refuses writes",
        );
    }
    let detail = e
        .as_db_error()
        .map_or_else(|| e.to_string(), |d| d.message().to_string());
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "database_unavailable",
        &detail,
    )
}

fn error(status: StatusCode, kind: &str, message: &str) -> Reply {
    json_reply(status, json!({"error": kind, "message": message}))
}

fn json_reply(status: StatusCode, value: serde_json::Value) -> Reply {
    let mut resp = Response::new(Full::new(Bytes::from(value.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn text(status: StatusCode, body: &str) -> Reply {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp
}
