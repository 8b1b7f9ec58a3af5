//! The status page: one server-rendered HTML page, refreshed every few seconds, no build step;
//! the recent past drawn as inline SVG charts (`chart`).

use super::chart;
use serde_json::Value;
use std::fmt::Write;

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn ms(v: &Value) -> String {
    v.as_f64().map_or("-".into(), |f| format!("{f:.1} ms"))
}

/// Renders the page from the status document.
pub fn render(doc: &Value) -> String {
    let mut html = String::with_capacity(4096);
    let ready = doc["ready"].as_bool().unwrap_or(false);
    let _ = write!(
        html,
        r#"<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="3">
<title>Meridian {local}</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 10px;text-align:left}}th{{background:#f4f4f4}}
.ok{{color:#0a0;font-weight:bold}}.bad{{color:#c00;font-weight:bold}}.warn{{color:#c80}}.muted{{color:#666}}
.charts{{display:flex;flex-wrap:wrap;gap:12px}}.chart{{margin:0}}.chart figcaption{{font-size:12px;margin-bottom:2px}}
.chart figcaption span{{margin-left:6px}}.region-history h3{{margin:.8em 0 .3em}}</style></head><body>
<h1>Meridian &middot; {local}</h1>
<p>Readiness: <span class="{rc}">{rt}</span>{drain} &middot; in flight {inflight} &middot; connections {conns}</p>
<table><tr><th>Region</th><th>Health</th><th>Probe latency</th><th>Served/s</th><th>Failovers in/s</th><th>Endpoint</th><th>Up</th><th>Usable</th><th>Ejections</th><th>Probe RTT</th><th>In flight</th></tr>"#,
        local = esc(doc["local_region"].as_str().unwrap_or("")),
        rc = if ready { "ok" } else { "bad" },
        rt = if ready { "ready" } else { "not ready" },
        drain = if doc["draining"].as_bool().unwrap_or(false) {
            " (draining)"
        } else {
            ""
        },
        inflight = doc["in_flight"],
        conns = doc["connections"],
    );
    for region in doc["regions"].as_array().into_iter().flatten() {
        let endpoints = region["endpoints"].as_array().cloned().unwrap_or_default();
        let rows = endpoints.len().max(1);
        let healthy = region["healthy"].as_bool().unwrap_or(false);
        let name = format!(
            "{}{}",
            esc(region["name"].as_str().unwrap_or("")),
            if region["local"].as_bool().unwrap_or(false) {
                " (local)"
            } else {
                ""
            }
        );
        let _ = write!(
            html,
            r#"<tr><td rowspan="{rows}">{name}</td><td rowspan="{rows}" class="{hc}">{ht}</td><td rowspan="{rows}">{lat}</td><td rowspan="{rows}">{rps:.1}</td><td rowspan="{rows}">{fps:.1}</td>"#,
            hc = if healthy { "ok" } else { "bad" },
            ht = if healthy { "healthy" } else { "down" },
            lat = ms(&region["probe_latency_ms"]),
            rps = region["served_per_sec"].as_f64().unwrap_or(0.0),
            fps = region["failovers_in_per_sec"].as_f64().unwrap_or(0.0),
        );
        if endpoints.is_empty() {
            html.push_str(r#"<td colspan="6" class="warn">no addresses</td></tr>"#);
        }
        for (i, e) in endpoints.iter().enumerate() {
            if i > 0 {
                html.push_str("<tr>");
            }
            let flag = |k: &str| {
                if e[k].as_bool().unwrap_or(false) {
                    "yes"
                } else {
                    "no"
                }
            };
            let usable = e["usable"].as_bool().unwrap_or(false);
            let _ = write!(
                html,
                r#"<td>{label}</td><td>{up}{age}</td><td class="{uc}">{usable}{why}</td><td>{ej}</td><td>{rtt}</td><td>{inf}</td></tr>"#,
                label = esc(e["endpoint"].as_str().unwrap_or("")),
                up = flag("up"),
                age = e["verdict_age_s"]
                    .as_f64()
                    .map_or(String::new(), |s| format!(" for {s:.0} s")),
                uc = if usable { "ok" } else { "bad" },
                usable = flag("usable"),
                why = if e["suspect"].as_bool().unwrap_or(false) {
                    " (suspect)"
                } else if e["ejected"].as_bool().unwrap_or(false) {
                    " (ejected)"
                } else {
                    ""
                },
                ej = e["ejections"],
                rtt = ms(&e["probe_rtt_ms"]),
                inf = e["in_flight"],
            );
        }
    }
    html.push_str("</table>");
    super::database::render(&doc["database"], &mut html);
    let now = std::time::SystemTime::now();
    super::chart::history(&doc["history"], now, &mut html);
    let cfg = &doc["config"];
    let last = match cfg["last_reload"]["result"].as_str() {
        None => "none since start".to_string(),
        Some("failed") => format!(
            r#"<span class="bad">failed</span>: <code>{}</code>"#,
            esc(cfg["last_reload"]["error"].as_str().unwrap_or(""))
        ),
        Some(other) => format!(r#"<span class="ok">{}</span>"#, esc(other)),
    };
    let last = match cfg["last_reload"]["at_unix"].as_f64() {
        Some(at) => format!("{last} at {} ({})", chart::date(at), chart::age(now, at)),
        None => last,
    };
    let _ = write!(
        html,
        r#"<p>Config <code>{ver}</code> from <code>{origin}</code>, loaded {at}. Last reload: {last}</p>
<p><a href="/status">/status</a> &middot; <a href="/config">/config</a> &middot; <a href="/metrics">/metrics</a></p></body></html>"#,
        ver = esc(cfg["version"].as_str().unwrap_or("")),
        origin = esc(cfg["origin"].as_str().unwrap_or("")),
        at = cfg["loaded_at_unix"]
            .as_f64()
            .map_or("-".into(), |t| format!(
                "{} ({})",
                chart::date(t),
                chart::age(now, t)
            )),
    );
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_untrusted_text() {
        let doc = serde_json::json!({
            "local_region": "<script>",
            "regions": [],
            "config": {"last_reload": {"result": "failed", "error": "<b>x</b>"}},
        });
        let html = render(&doc);
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;b&gt;x&lt;/b&gt;"));
    }

    #[test]
    fn shows_how_long_a_verdict_has_held() {
        let endpoint = |label: &str, up: bool, age: Option<f64>| {
            let mut e = serde_json::json!({"endpoint": label, "up": up, "usable": up});
            e["verdict_age_s"] = serde_json::json!(age);
            e
        };
        let doc = serde_json::json!({
            "local_region": "a",
            "regions": [{"name": "a", "local": true, "endpoints": [
                endpoint("a1", false, Some(12.4)),
                endpoint("a2", true, None),
            ]}],
            "config": {},
        });
        let html = render(&doc);
        assert!(html.contains("<td>a1</td><td>no for 12 s</td>"), "{html}");
        assert!(html.contains("<td>a2</td><td>yes</td>"), "{html}");
    }
}
