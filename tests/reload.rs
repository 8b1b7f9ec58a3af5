//! Hot reload: file watch, SIGHUP, admin POST /reload, URL polling with ETag; bad configs change
//! nothing; a storm of reloads under load drops no request and leaks no task or connection.

mod ops_support;
mod support;

use meridian::config::{ConfigSource, ReloadOutcome, parse_and_validate};
use ops_support::Managed;
use ops_support::config_server::ConfigServer;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use support::{ProxyBuilder, TestClient, TestOrigin, bounded, eventually, metric};

const WAIT: Duration = Duration::from_secs(5);

/// A config with one region on `origin` and one route for `host`.
fn routed(origin: &TestOrigin, host: &str) -> ProxyBuilder {
    ProxyBuilder::new()
        .origin(origin)
        .route(&format!("name = \"r\"\nhost = {host:?}"))
}

fn failed_reloads() -> f64 {
    metric("meridian_config_reloads_total", &[("result", "failed")])
}

/// Polls until a request for `host` gets `status`.
async fn until_status(m: &Managed, host: &str, status: u16) {
    eventually(WAIT, &format!("{host} answers {status}"), || async {
        m.get_host(host, "/").await.status.as_u16() == status
    })
    .await;
}

/// Polls until `/config` shows this last reload result. The new snapshot serves a moment before
/// the reload status is recorded (two separate stores), so a request can see it first.
async fn until_reload_result(m: &Managed, result: &str) {
    eventually(
        WAIT,
        &format!("/config last_reload.result == {result}"),
        || async { m.config().await["last_reload"]["result"] == result },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_change_applies_and_keeps_health() {
    bounded(async {
        let _gate = ops_support::shared().await;
        let origin = TestOrigin::new("local").start().await;
        let m = Managed::from_file(&routed(&origin, "old.test")).await;
        let before = m.config().await;
        let endpoint = m.server.runtime().snapshot().all_endpoints()[0].clone();
        assert_eq!(m.get_host("old.test", "/").await.status, 200);
        assert_eq!(m.get_host("new.test", "/").await.status, 404);

        m.rewrite(&routed(&origin, "new.test").render());
        until_status(&m, "new.test", 200).await;

        assert_eq!(m.get_host("old.test", "/").await.status, 404);
        until_reload_result(&m, "applied").await;
        let after = m.config().await;
        assert_ne!(after["version"], before["version"], "{after}");
        assert_eq!(after["last_reload"]["result"], "applied", "{after}");
        assert_eq!(after["last_reload"]["version"], after["version"], "{after}");
        let kept = m.server.runtime().snapshot().all_endpoints()[0].clone();
        assert!(
            Arc::ptr_eq(&endpoint, &kept),
            "an endpoint present in both configs keeps its health state"
        );
        m.server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_change_applies_to_the_next_request_on_a_kept_endpoint() {
    bounded(async {
        let _gate = ops_support::shared().await;
        let origin = TestOrigin::new("local")
            .handler(|req| async move {
                http::Response::new(support::full(format!("{:?}", req.version())))
            })
            .start()
            .await;
        let config = |protocol: &str| {
            ProxyBuilder::new()
                .region("local", &[origin.addr()], &[("protocol", protocol)])
                .render()
        };
        let m = Managed::from_file(&routed(&origin, "p.test")).await;
        let endpoint = m.server.runtime().snapshot().all_endpoints()[0].clone();
        assert_eq!(m.get_host("p.test", "/").await.text(), "HTTP/1.1");
        // The endpoint (and its pool, holding an idle HTTP/1 connection) survives the reload;
        // the next request must still speak the new protocol.
        m.rewrite(&config("\"h2\""));
        eventually(WAIT, "requests reach the origin over HTTP/2", || async {
            m.get_host("p.test", "/").await.text() == "HTTP/2.0"
        })
        .await;
        let kept = m.server.runtime().snapshot().all_endpoints()[0].clone();
        assert!(Arc::ptr_eq(&endpoint, &kept), "the endpoint was kept");
        m.server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_configs_change_nothing() {
    bounded(async {
        let _gate = ops_support::shared().await;
        let origin = TestOrigin::new("local").start().await;
        let good = routed(&origin, "a.test").render();
        let m = Managed::from_file(&routed(&origin, "a.test")).await;
        let path = m.path.clone().unwrap();
        let shown = path.display().to_string();
        let version = m.config().await["version"].clone();
        let handle = m.server.reload_handle().unwrap();
        let failed_before = failed_reloads();

        let lines = good.lines().count();
        let server_line = good.lines().position(|l| l == "[server]").unwrap() + 1;
        let unknown_key = good.replacen("[server]\n", "[server]\nbogus_key = 1\n", 1);
        let cases: Vec<(&str, String, String)> = vec![
            (
                "syntax error",
                format!("{good}\n[[routes]\nname = \"x\"\n"),
                format!("{shown}:{}:", lines + 2),
            ),
            (
                "unknown key",
                unknown_key,
                format!("{shown}:{}:1:", server_line + 1),
            ),
            (
                "half-written file",
                good[..good.len() / 2].to_string(),
                format!("{shown}:"),
            ),
        ];
        for (what, text, prefix) in cases {
            // Written in place, not renamed: the watcher sees the broken file too.
            std::fs::write(&path, &text).unwrap();
            let outcome = handle.reload().await.expect("reloader running");
            let ReloadOutcome::Failed { error } = outcome else {
                panic!("{what}: expected a failure, got {outcome:?}");
            };
            assert!(
                error.starts_with(&prefix),
                "{what}: {error:?} should start with {prefix:?}"
            );
            let config = m.config().await;
            assert_eq!(config["version"], version, "{what}: the old config stays");
            assert_eq!(
                config["last_reload"]["result"], "failed",
                "{what}: {config}"
            );
            let shown_error = config["last_reload"]["error"].as_str().unwrap_or("");
            assert!(
                shown_error.starts_with(&prefix),
                "{what}: /config shows {shown_error:?}"
            );
            assert_eq!(
                m.get_host("a.test", "/").await.status,
                200,
                "{what}: still serving"
            );
        }
        assert!(
            failed_reloads() > failed_before,
            "failed reloads are counted"
        );
        m.server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_a_url_source() {
    bounded(async {
        // SIGHUP reaches every reloader in this process: keep the other tests out.
        let _gate = ops_support::exclusive().await;
        let origin = TestOrigin::new("local").start().await;
        let first = routed(&origin, "a.test").render();
        let config = ConfigServer::start(&first).await;
        let settings = parse_and_validate(&config.url(), &first).unwrap();
        let source = ConfigSource::parse(&config.url()).unwrap();
        // No polling within the test: only the signal can bring the change in.
        let m = Managed::start(settings, source, Duration::from_secs(3600)).await;
        // `Managed::start` waited for the reloader's loop, so its SIGHUP handler is installed:
        // before that the signal's default action would kill the test process.

        config.set(&routed(&origin, "b.test").render());
        let status = std::process::Command::new("kill")
            .args(["-HUP", &std::process::id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        until_status(&m, "b.test", 200).await;
        let config_doc = m.config().await;
        assert_eq!(
            config_doc["last_reload"]["result"], "applied",
            "{config_doc}"
        );
        assert_eq!(m.get_host("a.test", "/").await.status, 404);
        m.server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_reload_needs_the_token() {
    bounded(async {
        let _gate = ops_support::shared().await;
        let origin = TestOrigin::new("local").start().await;
        let m =
            Managed::from_file(&routed(&origin, "a.test").set("server.admin_token", "\"s3cret\""))
                .await;
        let url = m.admin_url("/reload");
        let c = &m.client;
        let none = c.post(&url, &[], "").await;
        assert_eq!(none.status, 401);
        assert_eq!(none.header("www-authenticate"), "Bearer");
        let wrong = c
            .post(&url, &[("authorization", "Bearer s3cret-not")], "")
            .await;
        assert_eq!(wrong.status, 401);
        let not_bearer = c.post(&url, &[("authorization", "s3cret")], "").await;
        assert_eq!(not_bearer.status, 401);
        let right = c
            .post(&url, &[("authorization", "Bearer s3cret")], "")
            .await;
        assert_eq!(right.status, 200, "{}", right.text());
        assert_eq!(right.json()["result"], "unchanged");

        let path = m.path.clone().unwrap();
        std::fs::write(&path, "[server]\nlisten = \n").unwrap();
        let bad = c
            .post(&url, &[("authorization", "Bearer s3cret")], "")
            .await;
        assert_eq!(bad.status, 422, "{}", bad.text());
        let doc = bad.json();
        assert_eq!(doc["result"], "failed");
        let prefix = format!("{}:2:", path.display());
        assert!(doc["error"].as_str().unwrap().starts_with(&prefix), "{doc}");
        assert_eq!(m.get_host("a.test", "/").await.status, 200);
        m.server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_source_polls_with_etag() {
    bounded(async {
        let _gate = ops_support::shared().await;
        let origin = TestOrigin::new("local").start().await;
        let first = routed(&origin, "a.test").render();
        let config = ConfigServer::start(&first).await;
        let settings = parse_and_validate(&config.url(), &first).unwrap();
        let source = ConfigSource::parse(&config.url()).unwrap();
        let m = Managed::start(settings, source, Duration::from_millis(50)).await;

        eventually(WAIT, "conditional polls answered 304", || async {
            config.not_modified() >= 3
        })
        .await;
        let first_version = m.config().await["version"].clone();
        assert_eq!(m.config().await["last_reload"]["result"], "unchanged");
        let applied_before = metric("meridian_config_reloads_total", &[("result", "applied")]);

        config.set(&routed(&origin, "b.test").render());
        until_status(&m, "b.test", 200).await;
        let applied = m.config().await;
        assert_ne!(applied["version"], first_version, "{applied}");
        assert_eq!(applied["origin"], config.url());
        assert!(metric("meridian_config_reloads_total", &[("result", "applied")]) > applied_before);
        let seen_304 = config.not_modified();
        eventually(WAIT, "polling resumes with the new ETag", || async {
            config.not_modified() > seen_304
        })
        .await;

        let failed_before = failed_reloads();
        config.set("[server\nthis is not toml");
        eventually(WAIT, "the bad document is refused", || async {
            m.config().await["last_reload"]["result"] == "failed"
        })
        .await;
        let refused = m.config().await;
        assert_eq!(refused["version"], applied["version"], "{refused}");
        let prefix = format!("{}:1:", config.url());
        let error = refused["last_reload"]["error"].as_str().unwrap();
        assert!(error.starts_with(&prefix), "{error:?}");
        assert!(failed_reloads() > failed_before);
        assert_eq!(m.get_host("b.test", "/").await.status, 200);
        m.server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_address_change_is_refused() {
    bounded(async {
        let _gate = ops_support::shared().await;
        let origin = TestOrigin::new("local").start().await;
        let m = Managed::from_file(&routed(&origin, "a.test")).await;
        let version = m.config().await["version"].clone();
        m.rewrite(
            &routed(&origin, "a.test")
                .set("server.listen", "\"127.0.0.1:1\"")
                .render(),
        );
        let outcome = m.server.reload_handle().unwrap().reload().await.unwrap();
        let ReloadOutcome::Failed { error } = outcome else {
            panic!("a listener move must be refused, got {outcome:?}");
        };
        assert!(
            error.contains("listen") && error.contains("restart"),
            "{error}"
        );
        assert_eq!(m.config().await["version"], version);
        assert_eq!(m.get_host("a.test", "/").await.status, 200);
        m.server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_storm_under_load_loses_nothing_and_leaks_nothing() {
    bounded(async {
        // Reads the process-wide probe-task gauge: no other Meridian may run meanwhile.
        let _gate = ops_support::exclusive().await;
        let mut origins = Vec::new();
        for _ in 0..4 {
            origins.push(TestOrigin::new("local").start().await);
        }
        let addrs: Vec<_> = origins.iter().map(|o| o.addr()).collect();
        let set_a = ProxyBuilder::new().region("local", &addrs[..2], &[]);
        let set_b = ProxyBuilder::new()
            .region("local", &addrs[2..], &[])
            .route("name = \"api\"\npath_prefix = \"/api/\"")
            .route("name = \"rest\"");
        let texts = [set_a.render(), set_b.render()];
        let broken = [
            texts[0].replacen("[server]\n", "[server]\nbogus = true\n", 1),
            texts[1][..texts[1].len() / 3].to_string(),
        ];
        // Unwatched: the watcher's debounce would stretch 100 reloads to 20 s.
        let m = Managed::from_unwatched_file(&set_a).await;
        let handle = m.server.reload_handle().unwrap();
        let runtime = m.server.runtime().clone();
        let tasks_before = tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks();
        let connections_before = runtime.connections.load(Relaxed);

        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let mut clients = Vec::new();
        for i in 0..4 {
            let (stop, ok, url) = (stop.clone(), ok.clone(), m.url(&format!("/api/{i}")));
            clients.push(tokio::spawn(async move {
                let client = TestClient::new();
                let mut failures = Vec::new();
                while !stop.load(Relaxed) {
                    match client.try_get(&url).await {
                        Ok(a) if a.status == 200 => {
                            ok.fetch_add(1, Relaxed);
                        }
                        Ok(a) => failures.push(format!("{} {}", a.status, a.text())),
                        Err(e) => failures.push(e),
                    }
                }
                failures
            }));
        }
        eventually(WAIT, "load is flowing", || async { ok.load(Relaxed) > 20 }).await;

        let mut applied = 0;
        let mut valid = 0;
        for i in 0..100 {
            // Every fifth is broken; the valid ones alternate between the two origin sets.
            let text = if i % 5 == 4 {
                &broken[i % 2]
            } else {
                valid += 1;
                &texts[valid % 2]
            };
            m.rewrite(text);
            let outcome = handle.reload().await.expect("reloader running");
            match (i % 5 == 4, &outcome) {
                (true, ReloadOutcome::Failed { .. }) => {}
                (false, ReloadOutcome::Applied { .. }) => applied += 1,
                _ => panic!("reload {i}: unexpected {outcome:?}"),
            }
        }
        assert_eq!(applied, 80);
        // End on a known config.
        m.rewrite(&texts[0]);
        handle.reload().await;
        let served = ok.load(Relaxed);
        eventually(WAIT, "load still flowing after the storm", || async {
            ok.load(Relaxed) > served + 20
        })
        .await;
        stop.store(true, Relaxed);
        let mut failures = Vec::new();
        for c in clients {
            failures.extend(c.await.unwrap());
        }
        assert!(
            failures.is_empty(),
            "{} failed requests of {}, e.g. {:?}",
            failures.len(),
            ok.load(Relaxed),
            &failures[..failures.len().min(5)]
        );
        for o in &origins[..2] {
            assert!(o.hits() > 0);
        }

        let endpoints = runtime.snapshot().all_endpoints().len();
        assert_eq!(endpoints, 2);
        eventually(WAIT, "one probe task per endpoint", || async {
            metric("meridian_health_probe_tasks", &[]) == endpoints as f64
        })
        .await;
        eventually(WAIT, "connections back to their level before", || async {
            runtime.connections.load(Relaxed) == connections_before
        })
        .await;
        // The active config's idle pooled upstream connections (up to one per load client, a
        // task on each side) stay for the pool idle timeout; 80 leaked snapshots would not fit.
        let mut last = 0;
        eventually(WAIT, "task count back to its level before", || {
            last = tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks();
            async move { last <= tasks_before + 10 }
        })
        .await;
        m.server.stop().await;
    })
    .await;
}
