//! The data tier against real PostgreSQL servers: writes follow the writer, promotions, held
//! writes, the RPO guard, read-your-writes tokens (kept, forged, lost) and an idle writer.
//!
//! Each test starts its own lab (tests/support/data.rs): a primary and two streaming replicas,
//! a ledger app and a Meridian per region, on ephemeral loopback ports.

mod support;

use std::time::{Duration, Instant};
use support::data::{Lab, bounded, config};
use support::eventually;

/// Polls `check` until it holds (panics after `limit`); returns when that first success ended.
async fn poll<F, Fut>(limit: Duration, what: &str, mut check: F) -> Instant
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return Instant::now();
        }
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn id_of(answer: &support::Answer) -> i64 {
    answer.json()["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no id in {}", answer.text()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_sent_to_a_replica_region_is_served_by_the_writer_region() {
    bounded(async {
        let lab = Lab::start(&config("", "")).await;
        let answer = lab.write("eu-west-1", "first", &[]).await;
        assert_eq!(answer.status, 201, "{}", answer.text());
        assert_eq!(answer.json()["region"], "us-east-1");
        assert_eq!(answer.header("x-ledger-region"), "us-east-1");
        assert_eq!(answer.region(), "us-east-1");
        // The token comes back as a header and an HttpOnly cookie with the same value.
        let token = answer.header("x-meridian-consistency").to_string();
        assert!(token.starts_with("v1."), "{token:?}");
        let cookie = answer.header("set-cookie");
        assert!(
            cookie.starts_with(&format!("meridian_consistency={token};"))
                && cookie.contains("HttpOnly"),
            "{cookie}"
        );
        // PUT and DELETE write too (idempotent, not safe): they go to the writer's region; a GET
        // without a token stays in its own.
        let put = lab
            .client
            .send(support::request(
                http::Method::PUT,
                &lab.url("eu-west-1", "/ledger"),
                &[],
                bytes::Bytes::new(),
            ))
            .await;
        assert_eq!(put.header("x-ledger-region"), "us-east-1");
        // An answer without the app's commit position gets a token from the first writer
        // position sampled after it ended: at or past the earlier write's.
        let sampled = put.header("x-meridian-consistency").to_string();
        let position =
            |t: &str| u64::from_str_radix(t.split('.').nth(3).unwrap_or("0"), 16).unwrap();
        assert!(sampled.starts_with("v1."), "{:?}", put.headers);
        assert!(
            position(&sampled) >= position(&token),
            "{sampled} < {token}"
        );
        let get = lab.client.get(&lab.url("eu-west-1", "/")).await;
        assert_eq!(get.header("x-ledger-region"), "eu-west-1");
        // A read (no write) stays in its region.
        let id = id_of(&answer);
        let read = lab
            .read("eu-west-1", id, &[("x-meridian-consistency", &token)])
            .await;
        assert_eq!(read.status, 200, "{}", read.text());
        assert_eq!(read.json()["body"], "first");
        // /status and the page show the writer, the epoch and each region's role and lag.
        let admin = lab.lab.servers[1].admin_addr();
        let status = lab
            .client
            .get(&format!("http://{admin}/status"))
            .await
            .json();
        let db = &status["database"];
        assert_eq!(db["writer"], "us-east-1", "{db}");
        assert_eq!(db["epoch"]["timeline"], 1, "{db}");
        assert_eq!(db["guard"], "open", "{db}");
        assert_eq!(db["regions"][1]["role"], "replica", "{db}");
        assert!(db["regions"][1]["lag_s"].as_f64().is_some(), "{db}");
        let page = lab.client.get(&format!("http://{admin}/")).await.text();
        assert!(
            page.contains("<h2>Database</h2>") && page.contains("Lag vs budget"),
            "{page}"
        );
        // A write on a route marked `writes = "local"` is not moved: the replica refuses it.
        lab.stop().await;
        let lab = Lab::start(&config("", "writes = \"local\"")).await;
        let local = lab.write("eu-west-1", "stays", &[]).await;
        assert_eq!(local.status, 503);
        assert_eq!(local.json()["error"], "read_only");
        lab.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_promotion_writes_follow_and_none_reaches_the_old_primary() {
    bounded(async {
        let lab = Lab::start(&config("", "")).await;
        assert_eq!(lab.write("ap-southeast-1", "before", &[]).await.status, 201);
        // Two writers: eu-west-1 is promoted while us-east-1 keeps running and accepting
        // writes (a partition). Meridian fences the older timeline.
        lab.lab
            .cluster
            .lock()
            .await
            .promote_keeping_old_primary("eu-west-1")
            .await
            .expect("promote");
        let promoted = Instant::now();
        let followed = poll(
            Duration::from_secs(10),
            "a write lands on eu-west-1",
            || async {
                let answer = lab.write("ap-southeast-1", "probe", &[]).await;
                answer.status == 201 && answer.json()["region"] == "eu-west-1"
            },
        )
        .await;
        println!(
            "writes followed the promotion after {:?}",
            followed - promoted
        );
        lab.wait_writer("eu-west-1").await;
        let before_on_old: Vec<_> = lab.rows("us-east-1").await;
        for region in ["us-east-1", "eu-west-1", "ap-southeast-1"] {
            for n in 0..5 {
                let answer = lab.write(region, &format!("after-{region}-{n}"), &[]).await;
                assert_eq!(answer.status, 201, "{}", answer.text());
                assert_eq!(answer.json()["region"], "eu-west-1");
            }
        }
        // The old primary is still up and writable, and received none of them.
        let after_on_old = lab.rows("us-east-1").await;
        assert_eq!(before_on_old, after_on_old);
        assert!(
            after_on_old
                .iter()
                .all(|(_, body, _)| !body.starts_with("after-"))
        );
        let on_new = lab.rows("eu-west-1").await;
        assert_eq!(
            on_new
                .iter()
                .filter(|(_, b, _)| b.starts_with("after-"))
                .count(),
            15
        );
        // Every Meridian reports the old writer as fenced.
        for region in ["us-east-1", "eu-west-1", "ap-southeast-1"] {
            let view = lab.view(region);
            assert_eq!(
                view.regions[0].role,
                meridian::data::view::Role::Fenced,
                "{region}"
            );
        }
        lab.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_held_while_no_writer_is_known_and_released_by_a_promotion() {
    bounded(async {
        let lab = Lab::start(&config("writer_hold = \"20s\"", "")).await;
        lab.lab
            .cluster
            .lock()
            .await
            .kill("us-east-1")
            .await
            .expect("kill");
        eventually(Duration::from_secs(10), "no writer known", || async {
            lab.view("eu-west-1").writer.is_none()
        })
        .await;
        let url = lab.url("eu-west-1", "/ledger");
        let client = lab.client.clone();
        let held = tokio::spawn(async move { client.post(&url, &[], "held").await });
        let runtime = lab.lab.servers[1].runtime().clone();
        eventually(Duration::from_secs(5), "the write is held", || async {
            runtime
                .data
                .held_writes
                .load(std::sync::atomic::Ordering::Relaxed)
                == 1
        })
        .await;
        assert!(!held.is_finished());
        lab.lab
            .cluster
            .lock()
            .await
            .promote("eu-west-1")
            .await
            .expect("promote");
        let answer = held.await.expect("task");
        assert_eq!(answer.status, 201, "{}", answer.text());
        assert_eq!(answer.json()["region"], "eu-west-1");
        lab.stop().await;

        // With nothing to promote, a held write is refused after the window with Retry-After,
        // and beyond the cap a write is refused at once.
        let lab = Lab::start(&config("writer_hold = \"3s\"\nmax_held_writes = 1", "")).await;
        lab.lab
            .cluster
            .lock()
            .await
            .kill("us-east-1")
            .await
            .expect("kill");
        eventually(Duration::from_secs(10), "no writer known", || async {
            lab.view("eu-west-1").writer.is_none()
        })
        .await;
        let url = lab.url("eu-west-1", "/ledger");
        let client = lab.client.clone();
        let first = tokio::spawn(async move { client.post(&url, &[], "nowhere").await });
        let runtime = lab.lab.servers[1].runtime().clone();
        eventually(
            Duration::from_secs(5),
            "the first write is held",
            || async {
                runtime
                    .data
                    .held_writes
                    .load(std::sync::atomic::Ordering::Relaxed)
                    == 1
            },
        )
        .await;
        let second = lab.write("eu-west-1", "over the cap", &[]).await;
        assert_eq!(second.status, 503);
        assert_eq!(second.json()["error"], "no_writer");
        assert!(
            !first.is_finished(),
            "the cap answered while the first was still held"
        );
        let first = first.await.expect("task");
        assert_eq!(first.status, 503);
        assert_eq!(first.json()["error"], "no_writer");
        assert_eq!(first.header("retry-after"), "2");
        lab.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rpo_guard_refuses_writes_while_replication_is_paused_and_admits_after_resume() {
    bounded(async {
        let lab = Lab::start(&config("rpo_budget = \"1s\"\nrpo_hold = \"300ms\"", "")).await;
        assert_eq!(lab.write("us-east-1", "fine", &[]).await.status, 201);
        {
            let cluster = lab.lab.cluster.lock().await;
            cluster
                .set_replay_paused("eu-west-1", true)
                .await
                .expect("pause");
            cluster
                .set_replay_paused("ap-southeast-1", true)
                .await
                .expect("pause");
        }
        let paused = Instant::now();
        let refused = poll(
            Duration::from_secs(15),
            "the guard refuses a write",
            || async {
                let answer = lab.write("eu-west-1", "guarded", &[]).await;
                if answer.status == 503 {
                    assert_eq!(answer.json()["error"], "rpo_guard", "{}", answer.text());
                    assert_eq!(answer.header("retry-after"), "2");
                    return true;
                }
                assert_eq!(answer.status, 201, "{}", answer.text());
                false
            },
        )
        .await;
        println!(
            "guard tripped {:?} after replay paused (budget 1s, hold 300ms)",
            refused - paused
        );
        // A route with the "expose" policy admits it and says so.
        {
            let cluster = lab.lab.cluster.lock().await;
            cluster
                .set_replay_paused("ap-southeast-1", false)
                .await
                .expect("resume");
        }
        let resumed = Instant::now();
        let cleared = poll(
            Duration::from_secs(15),
            "the guard admits again",
            || async { lab.write("eu-west-1", "after", &[]).await.status == 201 },
        )
        .await;
        println!("guard cleared {:?} after replay resumed", cleared - resumed);
        let refusals = support::metric(
            "meridian_rpo_guard_decisions_total",
            &[("route", "ledger"), ("decision", "refused")],
        );
        assert!(refusals >= 1.0, "{refusals}");
        lab.stop().await;

        // Traced to a real OTLP receiver: the request span records the guard's verdict.
        let receiver = support::otlp::OtlpReceiver::start().await;
        let traced = format!(
            "rpo_policy = \"expose\"\n[tracing]\nenabled = true\nendpoint = {:?}\n\
             sampler = \"parentbased_always_on\"\nexport_interval = \"50ms\"\n",
            receiver.endpoint()
        );
        let lab = Lab::start(&config("rpo_budget = \"1s\"", &traced)).await;
        {
            let cluster = lab.lab.cluster.lock().await;
            cluster
                .set_replay_paused("eu-west-1", true)
                .await
                .expect("pause");
            cluster
                .set_replay_paused("ap-southeast-1", true)
                .await
                .expect("pause");
        }
        eventually(
            Duration::from_secs(15),
            "a write is admitted as exposed",
            || async {
                let answer = lab.write("us-east-1", "exposed", &[]).await;
                assert_eq!(answer.status, 201, "{}", answer.text());
                answer.header("x-meridian-rpo-exposed") == "1"
            },
        )
        .await;
        eventually(
            Duration::from_secs(10),
            "the exposed write's span says so",
            || async {
                receiver.spans().iter().any(|s| {
                    s.attr("meridian.rpo_guard") == "exposed"
                        && s.attr("meridian.data.write") == "true"
                })
            },
        )
        .await;
        lab.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_with_a_token_goes_to_the_writer_while_the_local_replica_lags_then_stays_local() {
    bounded(async {
        let lab = Lab::start(&config("read_wait = \"200ms\"", "")).await;
        lab.lab
            .cluster
            .lock()
            .await
            .set_replay_paused("eu-west-1", true)
            .await
            .expect("pause");
        let written = lab.write("eu-west-1", "mine", &[]).await;
        assert_eq!(written.status, 201);
        let id = id_of(&written);
        let token = written.header("x-meridian-consistency").to_string();
        // Without the token the local replica answers: it has not replayed the row.
        let plain = lab.read("eu-west-1", id, &[]).await;
        assert_eq!(
            (plain.status.as_u16(), plain.header("x-ledger-region")),
            (404, "eu-west-1")
        );
        // With it (header or cookie), the writer's region answers.
        let header = lab
            .read("eu-west-1", id, &[("x-meridian-consistency", &token)])
            .await;
        assert_eq!(header.status, 200, "{}", header.text());
        assert_eq!(header.header("x-ledger-region"), "us-east-1");
        let cookie = format!("meridian_consistency={token}");
        let by_cookie = lab.read("eu-west-1", id, &[("cookie", &cookie)]).await;
        assert_eq!(by_cookie.header("x-ledger-region"), "us-east-1");
        // Caught up, the replica serves it.
        lab.lab
            .cluster
            .lock()
            .await
            .set_replay_paused("eu-west-1", false)
            .await
            .expect("resume");
        eventually(
            Duration::from_secs(10),
            "the local replica serves the read",
            || async {
                let read = lab
                    .read("eu-west-1", id, &[("x-meridian-consistency", &token)])
                    .await;
                read.status == 200 && read.header("x-ledger-region") == "eu-west-1"
            },
        )
        .await;

        // Forged and tampered tokens are ignored: the read is served locally at once.
        lab.lab
            .cluster
            .lock()
            .await
            .set_replay_paused("eu-west-1", true)
            .await
            .expect("pause");
        let second = lab.write("us-east-1", "second", &[]).await;
        let id2 = id_of(&second);
        let real = second.header("x-meridian-consistency").to_string();
        let (body, tag) = real.rsplit_once('.').unwrap();
        let flipped = format!(
            "{body}.{}{}",
            if tag.starts_with('0') { "1" } else { "0" },
            &tag[1..]
        );
        let (head, lsn) = body.rsplit_once('.').unwrap();
        let moved = format!(
            "{head}.{:x}.{tag}",
            u64::from_str_radix(lsn, 16).unwrap() + 1
        );
        for bad in [
            flipped.as_str(),
            moved.as_str(),
            "v1.1.1.ffffffff.00000000000000000000000000000000",
            "garbage",
        ] {
            let read = lab
                .read("eu-west-1", id2, &[("x-meridian-consistency", bad)])
                .await;
            assert_eq!(read.header("x-ledger-region"), "eu-west-1", "{bad}");
            assert_eq!(read.status, 404, "{bad}");
        }
        // The genuine one still reaches the writer.
        let read = lab
            .read("eu-west-1", id2, &[("x-meridian-consistency", &real)])
            .await;
        assert_eq!(
            (read.status.as_u16(), read.header("x-ledger-region")),
            (200, "us-east-1")
        );
        lab.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_from_a_lost_timeline_is_reported_lost() {
    bounded(async {
        let lab = Lab::start(&config("read_wait = \"200ms\"\nrpo_budget = \"30s\"", "")).await;
        let kept = lab.write("us-east-1", "kept", &[]).await;
        let kept_token = kept.header("x-meridian-consistency").to_string();
        // eu-west-1 has the first row; then it is cut off its stream, and the next write
        // reaches only the primary.
        eventually(
            Duration::from_secs(10),
            "eu-west-1 has the first row",
            || async { lab.rows("eu-west-1").await.len() == 1 },
        )
        .await;
        {
            let cluster = lab.lab.cluster.lock().await;
            cluster.cut_replication("eu-west-1").await.expect("cut");
            cluster
                .cut_replication("ap-southeast-1")
                .await
                .expect("cut");
        }
        eventually(
            Duration::from_secs(10),
            "eu-west-1 stops receiving",
            || async {
                lab.view("us-east-1").regions[1]
                    .sample
                    .as_ref()
                    .is_some_and(|s| !s.receiving)
            },
        )
        .await;
        let lost = lab.write("us-east-1", "lost", &[]).await;
        assert_eq!(lost.status, 201);
        let lost_id = id_of(&lost);
        let lost_token = lost.header("x-meridian-consistency").to_string();
        // The writer dies; eu-west-1 is promoted without the last write.
        {
            let mut cluster = lab.lab.cluster.lock().await;
            cluster.kill("us-east-1").await.expect("kill");
            cluster.promote("eu-west-1").await.expect("promote");
        }
        lab.lab.servers[1].runtime().data.view();
        eventually(
            Duration::from_secs(10),
            "eu-west-1 is the writer",
            || async {
                lab.view("eu-west-1").writer == Some(1) && lab.view("eu-west-1").history.is_some()
            },
        )
        .await;
        let before = support::metric("meridian_consistency_lost_total", &[("route", "ledger")]);
        let read = lab
            .read(
                "eu-west-1",
                lost_id,
                &[("x-meridian-consistency", &lost_token)],
            )
            .await;
        assert_eq!(
            read.header("x-meridian-consistency-lost"),
            "1",
            "{:?}",
            read.headers
        );
        assert_eq!(read.status, 404);
        let after = support::metric("meridian_consistency_lost_total", &[("route", "ledger")]);
        assert!(after > before);
        // The token of the write that made it across is not lost.
        let read = lab
            .read(
                "eu-west-1",
                id_of(&kept),
                &[("x-meridian-consistency", &kept_token)],
            )
            .await;
        assert_eq!(read.status, 200);
        assert_eq!(read.header("x-meridian-consistency-lost"), "");
        lab.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_idle_writer_lag_stays_small_and_a_cut_replica_reads_ever_further_behind() {
    bounded(async {
        let lab = Lab::start(&config("", "")).await;
        // No application writes at all: the heartbeat keeps the lag measurable and small over
        // many probes.
        let first = lab.view("us-east-1").generation;
        eventually(Duration::from_secs(20), "40 more probe results", || async {
            lab.view("us-east-1").generation >= first + 40
        })
        .await;
        let view = lab.view("us-east-1");
        for i in [1, 2] {
            let region = &view.regions[i];
            assert_eq!(region.role, meridian::data::view::Role::Replica);
            let lag = region.lag.expect("lag measured");
            assert!(lag < Duration::from_secs(2), "idle replica {i} lag {lag:?}");
            assert!(region.sample.as_ref().unwrap().heartbeat_age.is_some());
        }
        // Cut off, a replica's lag grows with time instead of reading as zero.
        lab.lab
            .cluster
            .lock()
            .await
            .cut_replication("ap-southeast-1")
            .await
            .expect("cut");
        eventually(
            Duration::from_secs(20),
            "the cut replica's lag passes 3s",
            || async {
                lab.view("us-east-1").regions[2]
                    .lag
                    .is_some_and(|l| l > Duration::from_secs(3))
            },
        )
        .await;
        let a = lab.view("us-east-1").regions[2].lag.unwrap();
        eventually(Duration::from_secs(10), "and keeps growing", || async {
            lab.view("us-east-1").regions[2].lag.unwrap() > a + Duration::from_millis(500)
        })
        .await;
        let metrics = support::metric_in(
            &meridian::admin::metrics::recorder().render(),
            "meridian_db_replication_lag_seconds",
            &[("region", "ap-southeast-1")],
        );
        assert!(metrics.is_some());
        lab.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitoring_sessions_use_tls_verified_against_the_configured_ca() {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    bounded(async {
        let ca = |name: &str| {
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, name);
            CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
        };
        let (trusted, stranger) = (ca("trusted"), ca("stranger"));
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&key, &trusted)
            .unwrap();
        let trusted_file = support::tmp_path("trusted-ca.pem");
        std::fs::write(&trusted_file, trusted.pem()).unwrap();
        let stranger_file = support::tmp_path("stranger-ca.pem");
        std::fs::write(&stranger_file, stranger.pem()).unwrap();
        let tls = meridian::demo::postgres::ServerTls {
            cert_pem: leaf.pem(),
            key_pem: key.serialize_pem(),
        };
        let verify = |ca: &std::path::Path| {
            config(&format!("ca_file = {:?}", ca.display().to_string()), "")
                .replace("tls = \"disable\"", "tls = \"verify-full\"")
        };
        // Verified against the CA that signed the servers' certificate: the view builds, and
        // the servers see Meridian's sessions encrypted.
        let lab = Lab::start_with_tls(&verify(&trusted_file), Some(tls)).await;
        assert_eq!(lab.write("eu-west-1", "over tls", &[]).await.status, 201);
        let conninfo = lab.lab.cluster.lock().await.servers()[0].conninfo();
        let client = meridian::demo::postgres::connect(&conninfo).await.unwrap();
        let encrypted: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
                 WHERE ssl AND application_name = 'meridian-monitor'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert!(encrypted >= 3, "{encrypted} encrypted monitoring sessions");
        // Another CA: the certificate is refused, no writer is ever known, the error says why.
        let text = format!(
            "{}\n[database.regions]\n\"us-east-1\" = {conninfo:?}\n",
            verify(&stranger_file)
        );
        let base = meridian::config::parse_and_validate("stranger.toml", &text).unwrap();
        let any = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let settings = meridian::demo::region_settings(&base, 0, &[any; 3], &[any; 3], any);
        let stranger_meridian = meridian::server::Server::start(settings).await.unwrap();
        let runtime = stranger_meridian.runtime().clone();
        eventually(
            Duration::from_secs(10),
            "the probe reports the refused certificate",
            || async {
                let view = runtime.data.view();
                view.regions
                    .first()
                    .and_then(|r| r.error.clone())
                    .is_some_and(|e| {
                        e.to_lowercase().contains("certificate") || e.contains("UnknownIssuer")
                    })
            },
        )
        .await;
        assert_eq!(runtime.data.view().writer, None);
        stranger_meridian.stop().await;
        lab.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demoted_writer_that_rejoins_as_a_replica_is_seen_as_a_replica() {
    bounded(async {
        let lab = Lab::start(&config("", "")).await;
        // The failover engine's sequence: the writer stops, eu-west-1 is promoted, and the old
        // writer comes back as a replica of the new one. Every Meridian last saw it as the
        // writer; its first probe of the rejoined server must read it as what it is now.
        lab.lab
            .cluster
            .lock()
            .await
            .promote("eu-west-1")
            .await
            .expect("promote");
        lab.wait_writer("eu-west-1").await;
        lab.lab
            .cluster
            .lock()
            .await
            .rejoin_as_replica("us-east-1")
            .await
            .expect("rejoin");
        eventually(
            Duration::from_secs(20),
            "us-east-1 reads as a replica in every region",
            || async {
                support::data::REGIONS
                    .iter()
                    .all(|r| lab.view(r).regions[0].role == meridian::data::view::Role::Replica)
            },
        )
        .await;
        lab.stop().await;
    })
    .await;
}
