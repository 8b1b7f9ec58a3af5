//! DNS discovery against a name server run by the test: addresses follow the records, a failing
//! server leaves the last good set in use, and re-resolution follows the (clamped) TTL.

mod ops_support;
mod support;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use meridian::origin::Origin;
use ops_support::{start_text, status_addresses};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{ProxyBuilder, TestClient, bounded, eventually, metric};
use tokio::net::UdpSocket;

const WAIT: Duration = Duration::from_secs(5);
const NAME: &str = "svc.meridian.test";

/// How the test name server answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Behaviour {
    Answer,
    ServFail,
    Silent,
}

struct Zone {
    /// A records of every name asked, and their TTL.
    addrs: Vec<Ipv4Addr>,
    ttl: u32,
    behaviour: Behaviour,
}

/// A UDP name server on 127.0.0.1 answering A queries from a table the test controls.
struct NameServer {
    addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    a_queries: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl NameServer {
    async fn start(addrs: &[Ipv4Addr], ttl: u32) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let zone = Arc::new(Mutex::new(Zone {
            addrs: addrs.to_vec(),
            ttl,
            behaviour: Behaviour::Answer,
        }));
        let a_queries = Arc::new(AtomicU64::new(0));
        let (z, q) = (zone.clone(), a_queries.clone());
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                    continue;
                };
                let Ok(query) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let Some(reply) = answer(&query, &z.lock().unwrap(), &q) else {
                    continue;
                };
                let _ = socket.send_to(&reply.to_vec().unwrap(), peer).await;
            }
        });
        Self {
            addr,
            zone,
            a_queries,
            task,
        }
    }

    fn set(&self, addrs: &[Ipv4Addr]) {
        self.zone.lock().unwrap().addrs = addrs.to_vec();
    }

    fn behave(&self, behaviour: Behaviour) {
        self.zone.lock().unwrap().behaviour = behaviour;
    }

    fn a_queries(&self) -> u64 {
        self.a_queries.load(Relaxed)
    }
}

impl Drop for NameServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn answer(query: &Message, zone: &Zone, a_queries: &AtomicU64) -> Option<Message> {
    let q = query.queries.first()?;
    if q.query_type() == RecordType::A {
        a_queries.fetch_add(1, Relaxed);
    }
    let id = query.metadata.id;
    let mut reply = match zone.behaviour {
        Behaviour::Silent => return None,
        Behaviour::ServFail => Message::error_msg(id, OpCode::Query, ResponseCode::ServFail),
        Behaviour::Answer => Message::new(id, MessageType::Response, OpCode::Query),
    };
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.metadata.authoritative = true;
    reply.add_query(q.clone());
    if zone.behaviour == Behaviour::Answer && q.query_type() == RecordType::A {
        for ip in &zone.addrs {
            reply.add_answer(Record::from_rdata(
                q.name().clone(),
                zone.ttl,
                RData::A(A(*ip)),
            ));
        }
    }
    Some(reply)
}

/// A config whose only region is `http://svc.meridian.test:<port>`, resolved by `ns`.
fn named_config(ns: &NameServer, port: u16, dns: &[(&str, &str)]) -> String {
    let placeholder = SocketAddr::from(([127, 0, 0, 1], port));
    let mut builder = ProxyBuilder::new()
        .region("local", &[placeholder], &[])
        .set("dns.nameservers", &format!("[\"{}\"]", ns.addr));
    for (k, v) in dns {
        builder = builder.set(&format!("dns.{k}"), &format!("{v:?}"));
    }
    builder.render().replace(
        &format!("endpoints = [\"{placeholder}\"]"),
        &format!("endpoints = [\"http://{NAME}:{port}\"]"),
    )
}

const FAST: &[(&str, &str)] = &[
    ("min_ttl", "100ms"),
    ("max_ttl", "60s"),
    ("error_retry", "100ms"),
];

async fn body(client: &TestClient, url: &str) -> String {
    let a = client.get(url).await;
    assert_eq!(a.status, 200, "{}", a.text());
    a.text()
}

async fn addresses(client: &TestClient, admin: SocketAddr) -> Vec<String> {
    status_addresses(&client.get(&format!("http://{admin}/status")).await.json())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_follow_the_records() {
    bounded(async {
        let a = Origin::start("origin-a", "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let port = a.addr().port();
        let b = Origin::start("origin-b", SocketAddr::from(([127, 0, 0, 2], port)))
            .await
            .unwrap();
        let ns = NameServer::start(&[Ipv4Addr::new(127, 0, 0, 1)], 1).await;
        let server = start_text(&named_config(&ns, port, FAST)).await;
        let (url, admin) = (format!("http://{}/", server.addr()), server.admin_addr());
        let client = TestClient::new();
        assert!(body(&client, &url).await.contains("origin-a"));
        assert_eq!(addresses(&client, admin).await, [a.addr().to_string()]);

        ns.set(&[Ipv4Addr::new(127, 0, 0, 2)]);
        eventually(
            WAIT,
            "traffic moves to B and /status lists only B",
            || async {
                body(&client, &url).await.contains("origin-b")
                    && addresses(&client, admin).await == [b.addr().to_string()]
            },
        )
        .await;
        let a_served = a.served();
        for _ in 0..10 {
            assert!(body(&client, &url).await.contains("origin-b"));
        }
        assert_eq!(a.served(), a_served, "the vanished address gets no request");

        ns.set(&[Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(127, 0, 0, 2)]);
        eventually(WAIT, "both addresses listed", || async {
            addresses(&client, admin).await.len() == 2
        })
        .await;
        let (a0, b0) = (a.served(), b.served());
        eventually(WAIT, "both origins get traffic", || async {
            body(&client, &url).await;
            a.served() > a0 && b.served() > b0
        })
        .await;
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_failure_keeps_the_last_good_addresses() {
    bounded(async {
        let a = Origin::start("origin-a", "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let ns = NameServer::start(&[Ipv4Addr::new(127, 0, 0, 1)], 1).await;
        let server = start_text(&named_config(&ns, a.addr().port(), FAST)).await;
        let (url, admin) = (format!("http://{}/", server.addr()), server.admin_addr());
        let client = TestClient::new();
        assert!(body(&client, &url).await.contains("origin-a"));

        let stale = || {
            metric(
                "meridian_dns_resolutions_total",
                &[("result", "error_stale_kept")],
            )
        };
        for behaviour in [Behaviour::ServFail, Behaviour::Silent] {
            let before = stale();
            ns.behave(behaviour);
            let what = format!("a failed resolution is counted ({behaviour:?})");
            eventually(Duration::from_secs(12), &what, || async {
                stale() > before
            })
            .await;
            assert!(body(&client, &url).await.contains("origin-a"));
            assert_eq!(addresses(&client, admin).await, [a.addr().to_string()]);
        }
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_resolution_follows_the_ttl() {
    bounded(async {
        let a = Origin::start("origin-a", "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let long = NameServer::start(&[Ipv4Addr::new(127, 0, 0, 1)], 30).await;
        let short = NameServer::start(&[Ipv4Addr::new(127, 0, 0, 1)], 1).await;
        let port = a.addr().port();
        let with_long = start_text(&named_config(&long, port, FAST)).await;
        let with_short = start_text(&named_config(&short, port, FAST)).await;
        let (long0, short0) = (long.a_queries(), short.a_queries());
        assert!(long0 >= 1 && short0 >= 1);
        eventually(WAIT, "TTL 1 s: re-queried twice", || async {
            short.a_queries() >= short0 + 2
        })
        .await;
        // The same window (over 2 s) saw no re-query under a 30 s TTL.
        assert_eq!(
            long.a_queries(),
            long0,
            "re-queried before the 30 s TTL ran out"
        );
        with_long.stop().await;
        with_short.stop().await;
    })
    .await;
}
