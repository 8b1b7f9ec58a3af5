//! The final read: this run's canaries as the surviving writer's database holds them.
//!
//! The writer is the ground truth after a failover, so the session must be read-write
//! (`pg_is_in_recovery()` false); a replica answering would hide a write still in flight to it.
//! The cluster may still be settling when the drill ends (a rejoin, a late promotion), so
//! connection failures and replicas are retried until `patience` runs out.

use super::check::DbRow;
use crate::config::database::DatabaseTls;
use std::time::Duration;
use tokio::time::Instant;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// Why the final read failed.
#[derive(Debug, thiserror::Error)]
pub enum FinalReadError {
    /// The URL does not parse.
    #[error("--check-database: {0}")]
    BadUrl(String),
    /// No writer answered in time; the last error seen.
    #[error("no writer answered within {patience:?}: {last}")]
    NoWriter {
        /// How long it tried.
        patience: Duration,
        /// The last failure.
        last: String,
    },
}

/// Reads every `ledger` row whose body starts with `prefix` from the writer at `url`.
/// TLS: `sslmode=require` in the URL encrypts without checking the certificate; a `ca_file`
/// (e.g. the RDS bundle) encrypts and verifies the certificate and host name; otherwise plain.
pub async fn final_read(
    url: &str,
    ca_file: Option<&str>,
    prefix: &str,
    patience: Duration,
) -> Result<Vec<DbRow>, FinalReadError> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e: tokio_postgres::Error| FinalReadError::BadUrl(e.to_string()))?;
    config.connect_timeout(Duration::from_secs(3));
    config.application_name("meridian-drill");
    let mode = match (ca_file, config.get_ssl_mode()) {
        (Some(_), _) => DatabaseTls::VerifyFull,
        (None, SslMode::Require) => DatabaseTls::Require,
        (None, _) => DatabaseTls::Disable,
    };
    let tls = crate::data::tls::connector(mode, ca_file)
        .map_err(|e| FinalReadError::BadUrl(format!("TLS: {e}")))?;
    if tls.is_none() {
        config.ssl_mode(SslMode::Disable);
    } else {
        config.ssl_mode(SslMode::Require);
    }
    let deadline = Instant::now() + patience;
    loop {
        let last = match attempt(&config, tls.as_ref(), prefix).await {
            Ok(rows) => return Ok(rows),
            Err(e) => e,
        };
        if Instant::now() + Duration::from_millis(500) > deadline {
            return Err(FinalReadError::NoWriter { patience, last });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn attempt(
    config: &tokio_postgres::Config,
    tls: Option<&MakeRustlsConnect>,
    prefix: &str,
) -> Result<Vec<DbRow>, String> {
    let (client, conn) = match tls {
        Some(tls) => {
            let (client, connection) = config
                .connect(tls.clone())
                .await
                .map_err(|e| error_text(&e))?;
            (client, tokio::spawn(connection))
        }
        None => {
            let (client, connection) = config
                .connect(tokio_postgres::NoTls)
                .await
                .map_err(|e| error_text(&e))?;
            (client, tokio::spawn(connection))
        }
    };
    let result = async {
        let replica: bool = client
            .query_one("SELECT pg_is_in_recovery()", &[])
            .await
            .map_err(|e| error_text(&e))?
            .get(0);
        if replica {
            return Err("the server is a replica, not the writer".to_string());
        }
        let rows = client
            .query(
                "SELECT id, body, region FROM ledger WHERE left(body, length($1)) = $1",
                &[&prefix],
            )
            .await
            .map_err(|e| error_text(&e))?;
        Ok(rows
            .iter()
            .map(|row| DbRow {
                id: row.get(0),
                body: row.get(1),
                region: row.get(2),
            })
            .collect())
    }
    .await;
    drop(client);
    conn.abort();
    result
}

/// tokio-postgres' error with the server's message, when there is one.
fn error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}
