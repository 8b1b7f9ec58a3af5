//! The status page in a real headless Chromium: its history charts render (the DOM after
//! rendering has the SVG lines, and the screenshot has the served-requests colour in it).
//!
//! Needs Debian's `chromium`; run-tests.sh installs it. Without it the test says so and passes,
//! unless MERIDIAN_REQUIRE_CHROMIUM=1 (set by run-tests.sh once the install succeeded).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use support::{Mode, TestClient, TestOrigin, TestProxy, bounded, eventually, tmp_path};

/// The served-requests line colour of the charts (admin::chart::SERVED_COLOR).
const SERVED: [u8; 3] = [0x1f, 0x6f, 0xeb];

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let out = Command::new("which").arg(name).output().ok()?;
            out.status
                .success()
                .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        })
}

/// Runs headless Chromium on `url` with `mode` (`--dump-dom` or `--screenshot=FILE`), bounded
/// by coreutils' timeout; returns its stdout.
fn run_chromium(binary: &Path, url: &str, mode: &str) -> String {
    let profile = tmp_path("chromium-profile");
    std::fs::create_dir_all(&profile).unwrap();
    let out = Command::new("timeout")
        .arg("60")
        .arg(binary)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--window-size=1280,2400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(mode)
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_charts_render_in_headless_chromium() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var("MERIDIAN_REQUIRE_CHROMIUM").is_err(),
            "MERIDIAN_REQUIRE_CHROMIUM is set but no chromium binary was found"
        );
        eprintln!(
            "SKIPPED history_charts_render_in_headless_chromium: no chromium binary (apt-get install chromium)"
        );
        return;
    };
    bounded(async {
        let [a, b, c] = TestOrigin::three().await;
        let proxy = TestProxy::builder()
            .origins(&[&a, &b, &c])
            .set("status.history_interval", "\"100ms\"")
            .set("status.history_window", "\"5s\"")
            .start()
            .await;
        // Traffic, then the local origin refuses and requests fail over to the siblings.
        let client = TestClient::new();
        for i in 0..40 {
            if i == 20 {
                a.set_mode(Mode::Down);
            }
            assert_eq!(client.get(&proxy.url("/")).await.status, 200);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let status_url = proxy.admin_url("/status");
        eventually(
            Duration::from_secs(10),
            "samples with requests served and failovers",
            || async {
                let doc = client.get(&status_url).await.json();
                let regions = doc["history"]["regions"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let any = |region: &serde_json::Value, key: &str| {
                    region[key]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|v| v.as_f64() > Some(0.0)))
                };
                regions.len() == 3
                    && any(&regions[0], "served_per_s")
                    && any(&regions[0], "failovers_out_per_s")
                    && regions.iter().skip(1).any(|r| any(r, "failovers_in_per_s"))
            },
        )
        .await;

        let url = proxy.admin_url("/");
        let dom = {
            let (browser, url) = (browser.clone(), url.clone());
            tokio::task::spawn_blocking(move || run_chromium(&browser, &url, "--dump-dom"))
                .await
                .unwrap()
        };
        assert!(dom.contains("<h2>Last 5s</h2>"), "{dom}");
        assert!(
            dom.matches("<svg").count() >= 9,
            "three charts per region: {dom}"
        );
        assert!(
            dom.contains(r#"<polyline class="series" points=""#),
            "chart lines after rendering: {dom}"
        );
        assert!(dom.contains(" UTC ("), "readable dates: {dom}");
        assert!(!dom.contains("unix"), "no Unix seconds on the page");

        let shot = tmp_path("status.png");
        {
            let (browser, url, arg) = (
                browser.clone(),
                url.clone(),
                format!("--screenshot={}", shot.display()),
            );
            tokio::task::spawn_blocking(move || run_chromium(&browser, &url, &arg))
                .await
                .unwrap();
        }
        let decoder = png::Decoder::new(std::io::BufReader::new(
            std::fs::File::open(&shot).expect("screenshot written"),
        ));
        let mut reader = decoder.read_info().expect("a PNG");
        let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
        let info = reader.next_frame(&mut pixels).expect("PNG frame");
        let channels = info.color_type.samples();
        let served = pixels[..info.buffer_size()]
            .chunks(channels)
            .filter(|p| p.len() >= 3 && (0..3).all(|i| p[i].abs_diff(SERVED[i]) <= 12))
            .count();
        assert!(
            served >= 100,
            "the served-requests lines are drawn: {served} pixels of their colour in {}",
            shot.display()
        );
        proxy.stop().await;
    })
    .await;
}
