//! The data tier on /status and the status page: writer, epoch, per-region role and lag
//! against the RPO budget, the guard's state, held writes.

use crate::data::route::{Guard, guard};
use crate::data::stale_after;
use crate::runtime::Runtime;
use serde_json::{Value, json};
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

/// The `database` member of /status; null without `[database]`.
pub fn json(runtime: &Runtime) -> Value {
    let snapshot = runtime.snapshot();
    let settings = &snapshot.settings;
    let Some(db) = &settings.database else {
        return Value::Null;
    };
    let view = runtime.data.view();
    let now = Instant::now();
    let fresh = stale_after(db.probe_interval);
    let name = |i: usize| settings.regions.get(i).map(|r| r.name.clone());
    let guard_state = match view.writer.map(|w| guard(&view, db, w)) {
        None => "no_writer",
        Some(Guard::Open) => "open",
        Some(Guard::NoReplicas) => "open_no_replicas",
        Some(Guard::Tripped) => "tripped",
    };
    let regions: Vec<Value> = settings
        .regions
        .iter()
        .enumerate()
        .filter_map(|(i, spec)| {
            let r = view.regions.get(i)?;
            let s = r.sample.as_ref();
            let exposure = r.exposure(now, fresh);
            Some(json!({
                "name": spec.name,
                "role": r.role.label(),
                "lag_s": exposure.map(|d| d.as_secs_f64()),
                "lag_bytes": r.lag_bytes,
                "within_budget": exposure.map(|d| d <= db.rpo_budget),
                "timeline": s.map(|s| s.timeline),
                "writer_lsn": s.and_then(|s| s.writer_lsn).map(|l| l.to_string()),
                "replay_lsn": s.and_then(|s| s.replay_lsn).map(|l| l.to_string()),
                "receiving": s.map(|s| s.receiving),
                "replay_paused": s.map(|s| s.replay_paused),
                "sample_age_s": s.map(|s| now.saturating_duration_since(s.started).as_secs_f64()),
                "error": r.error,
            }))
        })
        .collect();
    json!({
        "kind": format!("{:?}", db.kind).to_lowercase(),
        "writer": view.writer.and_then(name),
        "epoch": view.epoch.map(|e| json!({"system": e.system.to_string(), "timeline": e.timeline})),
        "rpo_budget_s": db.rpo_budget.as_secs_f64(),
        "guard": guard_state,
        "held_writes": runtime.data.held_writes.load(Relaxed),
        "probe_interval_s": db.probe_interval.as_secs_f64(),
        "regions": regions,
    })
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page's database section: lag drawn against the budget, so exposure shows at a glance.
pub fn render(db: &Value, html: &mut String) {
    if db.is_null() {
        return;
    }
    let budget = db["rpo_budget_s"].as_f64().unwrap_or(0.0);
    let guard = db["guard"].as_str().unwrap_or("");
    let guard_class = if guard.starts_with("open") {
        "ok"
    } else {
        "bad"
    };
    let epoch = &db["epoch"];
    let _ = write!(
        html,
        r#"<h2>Database</h2><p>Writer: <b>{writer}</b> &middot; epoch {epoch} &middot; RPO guard: <span class="{guard_class}">{guard}</span> (budget {budget:.1} s) &middot; held writes {held}</p>
<table><tr><th>Region</th><th>Role</th><th>Lag</th><th>Lag vs budget</th><th>Lag bytes</th><th>Replayed</th><th>Note</th></tr>"#,
        writer = esc(db["writer"].as_str().unwrap_or("none known")),
        epoch = if epoch.is_null() {
            "-".to_string()
        } else {
            format!(
                "{}/{}",
                esc(epoch["system"].as_str().unwrap_or("")),
                epoch["timeline"]
            )
        },
        guard = esc(guard),
        held = db["held_writes"],
    );
    for r in db["regions"].as_array().into_iter().flatten() {
        let role = r["role"].as_str().unwrap_or("");
        if role == "none" {
            continue;
        }
        let lag = r["lag_s"].as_f64();
        let within = r["within_budget"].as_bool();
        // The bar fills at the budget; past it, it is full and red.
        let share = match (lag, budget > 0.0) {
            (Some(l), true) => (l / budget).min(1.0),
            _ => 0.0,
        };
        let color = match within {
            Some(true) if share < 0.5 => "#0a0",
            Some(true) => "#c80",
            _ => "#c00",
        };
        let note = if let Some(e) = r["error"].as_str() {
            esc(e)
        } else if r["replay_paused"].as_bool() == Some(true) {
            "replay paused".into()
        } else if role == "replica" && r["receiving"].as_bool() == Some(false) {
            "not receiving".into()
        } else {
            String::new()
        };
        let _ = write!(
            html,
            r#"<tr><td>{name}</td><td class="{rc}">{role}</td><td>{lag}</td><td><div style="width:160px;background:#eee"><div style="width:{pct:.0}%;height:10px;background:{color}"></div></div></td><td>{bytes}</td><td><code>{replay}</code></td><td class="warn">{note}</td></tr>"#,
            name = esc(r["name"].as_str().unwrap_or("")),
            rc = match role {
                "writer" | "replica" => "ok",
                _ => "bad",
            },
            role = esc(role),
            lag = lag.map_or("-".into(), |l| format!("{l:.2} s")),
            pct = share * 100.0,
            bytes = r["lag_bytes"],
            replay = esc(r["replay_lsn"]
                .as_str()
                .or(r["writer_lsn"].as_str())
                .unwrap_or("-")),
        );
    }
    html.push_str("</table>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_draws_lag_against_the_budget_and_escapes() {
        let doc = json!({
            "writer": "us-east-1", "epoch": {"system": "7", "timeline": 2},
            "rpo_budget_s": 5.0, "guard": "tripped", "held_writes": 1,
            "regions": [
                {"name": "us-east-1", "role": "writer", "lag_s": 0.0, "within_budget": true, "lag_bytes": 0, "writer_lsn": "0/3000000"},
                {"name": "eu-west-1", "role": "replica", "lag_s": 7.5, "within_budget": false, "lag_bytes": 4096, "replay_lsn": "0/2000000", "replay_paused": true},
                {"name": "ap", "role": "unknown", "error": "<refused>"},
            ],
        });
        let mut html = String::new();
        render(&doc, &mut html);
        assert!(html.contains("epoch 7/2"), "{html}");
        assert!(html.contains(r#"class="bad">tripped"#), "{html}");
        assert!(
            html.contains("width:100%;height:10px;background:#c00"),
            "{html}"
        );
        assert!(html.contains("7.50 s"), "{html}");
        assert!(html.contains("replay paused"), "{html}");
        assert!(html.contains("&lt;refused&gt;"), "{html}");
        let mut none = String::new();
        render(&Value::Null, &mut none);
        assert!(none.is_empty());
    }
}
