//! The data-tier lab for tests: real PostgreSQL servers (a primary and two streaming replicas
//! from the machine's binaries), a ledger app per region and a Meridian per region, all on
//! ephemeral loopback ports, torn down (directory removed) when the test ends.

use super::{Answer, TestClient, request};
use bytes::Bytes;
use http::Method;
use meridian::demo::data_lab::{DataLab, LabAddrs};
use std::net::SocketAddr;
use std::time::Duration;

/// The regions, in config order; the first one's database starts as the primary.
pub const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-1"];

/// Time limit of a whole data-tier test (PostgreSQL start-up included).
pub const DATA_TEST_LIMIT: Duration = Duration::from_secs(90);

/// A running lab and a client for it.
pub struct Lab {
    /// Databases, ledgers and Meridians.
    pub lab: DataLab,
    /// An HTTP client.
    pub client: TestClient,
}

/// The lab's config: fast probes; `database` and `routes` add keys to `[database]` and routes.
pub fn config(database: &str, route: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
local_region = "us-east-1"
forward_secret = "{secret}"

[[regions]]
name = "us-east-1"
endpoints = ["127.0.0.1:1"]
[[regions]]
name = "eu-west-1"
endpoints = ["127.0.0.1:1"]
[[regions]]
name = "ap-southeast-1"
endpoints = ["127.0.0.1:1"]

[health]
interval = "200ms"
timeout = "500ms"
rise = 1
fall = 2

[timeouts]
connect = "200ms"
per_try = "3s"
request = "8s"

[retry]
budget_min_per_sec = 1000

[shutdown]
grace = "1s"

[log]
level = "warn"

[database]
tls = "disable"
probe_interval = "100ms"
{database}

[[routes]]
name = "ledger"
{route}
"#,
        secret = super::proxy::FORWARD_SECRET
    )
}

/// An ephemeral loopback port that was free a moment ago (siblings must be named before
/// their Meridians start).
fn reserve() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

impl Lab {
    /// Starts the lab on this config text (see [`config`]) and waits until every Meridian sees
    /// the us-east-1 writer and every replica.
    pub async fn start(config: &str) -> Self {
        Self::start_with_tls(config, None).await
    }

    /// Like `start`, with databases that also accept TLS with this certificate.
    pub async fn start_with_tls(
        config: &str,
        tls: Option<meridian::demo::postgres::ServerTls>,
    ) -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        let addrs = LabAddrs {
            meridians: (0..3).map(|_| reserve()).collect(),
            ledgers: vec![any; 3],
            admins: vec![any; 3],
        };
        let lab = DataLab::start_with_tls(config, &addrs, tls)
            .await
            .unwrap_or_else(|e| panic!("lab: {e:#}"));
        let lab = Self {
            lab,
            client: TestClient::new(),
        };
        lab.wait_writer("us-east-1").await;
        lab
    }

    /// Region `name`'s Meridian URL for `path`.
    pub fn url(&self, region: &str, path: &str) -> String {
        let i = REGIONS.iter().position(|r| *r == region).expect("region");
        format!("http://{}{path}", self.lab.servers[i].addr())
    }

    /// The data view of region `name`'s Meridian.
    pub fn view(&self, region: &str) -> std::sync::Arc<meridian::data::view::DataView> {
        let i = REGIONS.iter().position(|r| *r == region).expect("region");
        self.lab.servers[i].runtime().data.view()
    }

    /// Waits until every Meridian's view has `writer` as the writer and the others as replicas
    /// (or, for a stopped database, unknown).
    pub async fn wait_writer(&self, writer: &str) {
        let w = REGIONS.iter().position(|r| *r == writer).expect("region");
        super::eventually(
            Duration::from_secs(20),
            &format!("{writer} is the writer everywhere"),
            || async {
                self.lab
                    .servers
                    .iter()
                    .all(|s| s.runtime().data.view().writer == Some(w))
            },
        )
        .await;
    }

    /// POST /ledger through `region`'s Meridian, with extra headers.
    pub async fn write(&self, region: &str, body: &str, headers: &[(&str, &str)]) -> Answer {
        self.client
            .send(request(
                Method::POST,
                &self.url(region, "/ledger"),
                headers,
                Bytes::from(body.to_string()),
            ))
            .await
    }

    /// GET /ledger/{id} through `region`'s Meridian, with extra headers.
    pub async fn read(&self, region: &str, id: i64, headers: &[(&str, &str)]) -> Answer {
        self.client
            .send(request(
                Method::GET,
                &self.url(region, &format!("/ledger/{id}")),
                headers,
                Bytes::new(),
            ))
            .await
    }

    /// Rows of `region`'s database (direct SQL): (id, body, region that wrote it).
    pub async fn rows(&self, region: &str) -> Vec<(i64, String, String)> {
        let cluster = self.lab.cluster.lock().await;
        let conninfo = cluster.server(region).expect("server").conninfo();
        drop(cluster);
        let client = meridian::demo::postgres::connect(&conninfo)
            .await
            .expect("connect");
        client
            .query("SELECT id, body, region FROM ledger ORDER BY id", &[])
            .await
            .map(|rows| {
                rows.iter()
                    .map(|r| (r.get(0), r.get(1), r.get(2)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Stops everything and removes the databases.
    pub async fn stop(self) {
        self.lab.stop().await;
    }
}

/// Runs a data-tier test body under [`DATA_TEST_LIMIT`].
pub async fn bounded<F: std::future::Future<Output = ()>>(body: F) {
    tokio::time::timeout(DATA_TEST_LIMIT, body)
        .await
        .unwrap_or_else(|_| panic!("test did not finish within {DATA_TEST_LIMIT:?}"));
}
