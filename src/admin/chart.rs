//! Small line charts drawn by the server as inline SVG (no script, no external asset), and the
//! status page's history section built from them.

use serde_json::Value;
use std::fmt::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Chart size in CSS pixels.
const WIDTH: f64 = 260.0;
const HEIGHT: f64 = 64.0;

/// Served requests: the colour the browser test looks for.
pub const SERVED_COLOR: &str = "#1f6feb";
const IN_COLOR: &str = "#2da44e";
const OUT_COLOR: &str = "#e16f24";
const PROBE_COLOR: &str = "#8250df";
const LAG_COLOR: &str = "#0969da";
const BUDGET_COLOR: &str = "#cf222e";

/// One line of a chart.
pub struct Line<'a> {
    /// Legend text.
    pub label: &'a str,
    /// Stroke colour.
    pub color: &'a str,
    /// Values oldest first; None leaves a gap.
    pub values: Vec<Option<f64>>,
}

/// Appends a chart: `lines` over `slots` sample positions (right-aligned, so a history that is
/// still filling grows from the right), with an optional dashed limit such as the RPO budget.
pub fn chart(
    html: &mut String,
    title: &str,
    unit: &str,
    lines: &[Line],
    slots: usize,
    limit: Option<(&str, f64)>,
) {
    let peak = lines
        .iter()
        .flat_map(|l| l.values.iter().flatten())
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let top = peak.max(limit.map_or(0.0, |(_, v)| v)).max(f64::EPSILON) * 1.1;
    let top = if peak == 0.0 && limit.is_none() {
        1.0
    } else {
        top
    };
    let slots = slots.max(2);
    let x = |i: usize, n: usize| WIDTH * (slots - n + i) as f64 / (slots - 1) as f64;
    let y = |v: f64| HEIGHT - 2.0 - (v / top).clamp(0.0, 1.0) * (HEIGHT - 4.0);
    let legend: Vec<String> = lines
        .iter()
        .map(|l| {
            let last = l.values.iter().rev().flatten().next();
            format!(
                r#"<span style="color:{}">{} {}</span>"#,
                l.color,
                esc(l.label),
                last.map_or("-".into(), |v| format!("{}{unit}", num(*v)))
            )
        })
        .collect();
    let _ = write!(
        html,
        r##"<figure class="chart"><figcaption><b>{title}</b> {legend} <span class="muted">max {max}{unit}</span></figcaption><svg viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{title}"><rect width="{WIDTH}" height="{HEIGHT}" fill="#fafbfc" stroke="#d0d7de"/>"##,
        title = esc(title),
        legend = legend.join(" "),
        max = num(peak),
    );
    if let Some((label, v)) = limit {
        let _ = write!(
            html,
            r#"<line class="limit" x1="0" x2="{WIDTH}" y1="{y:.1}" y2="{y:.1}" stroke="{BUDGET_COLOR}" stroke-dasharray="4 3"><title>{label}</title></line>"#,
            y = y(v),
            label = esc(label),
        );
    }
    for (k, line) in lines.iter().enumerate() {
        let n = line.values.len();
        // Runs of known values become one polyline each (a gap stays a gap).
        let mut run: Vec<(f64, f64)> = Vec::new();
        let flush = |run: &mut Vec<(f64, f64)>, html: &mut String| {
            if run.is_empty() {
                return;
            }
            if run.len() == 1 {
                let (px, py) = run[0];
                let _ = write!(
                    html,
                    r#"<circle cx="{px:.1}" cy="{py:.1}" r="1.5" fill="{}"/>"#,
                    line.color
                );
            } else {
                let points: Vec<String> = run
                    .iter()
                    .map(|(px, py)| format!("{px:.1},{py:.1}"))
                    .collect();
                if k == 0 {
                    // The first line gets a light area under it.
                    let _ = write!(
                        html,
                        r#"<polygon points="{:.1},{HEIGHT} {} {:.1},{HEIGHT}" fill="{}" fill-opacity="0.12"/>"#,
                        run[0].0,
                        points.join(" "),
                        run[run.len() - 1].0,
                        line.color
                    );
                }
                let _ = write!(
                    html,
                    r#"<polyline class="series" points="{}" fill="none" stroke="{}" stroke-width="2" stroke-linejoin="round"/>"#,
                    points.join(" "),
                    line.color
                );
            }
            run.clear();
        };
        for (i, v) in line.values.iter().enumerate() {
            match v {
                Some(v) if v.is_finite() => run.push((x(i, n), y(*v))),
                _ => flush(&mut run, html),
            }
        }
        flush(&mut run, html);
    }
    html.push_str("</svg></figure>");
}

/// The history section of the status page, from the `history` member of /status.
pub fn history(doc: &Value, now: SystemTime, html: &mut String) {
    let at: Vec<f64> = doc["at_unix"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    let slots = doc["capacity"].as_u64().unwrap_or(0) as usize;
    let interval = doc["interval_s"].as_f64().unwrap_or(0.0);
    let window =
        Duration::try_from_secs_f64(interval * slots.saturating_sub(1) as f64).unwrap_or_default();
    let _ = write!(
        html,
        r#"<h2>Last {}</h2>"#,
        esc(&humantime::format_duration(window).to_string())
    );
    let (Some(first), Some(last)) = (at.first(), at.last()) else {
        html.push_str(r#"<p class="muted">No samples yet: the first arrives within one history interval.</p>"#);
        return;
    };
    let _ = write!(
        html,
        r#"<p class="muted">{n} samples every {every}, from {from} to {to} (last {age}). Chart width is the whole window; the right edge is the latest sample.</p>"#,
        n = at.len(),
        every = esc(
            &humantime::format_duration(Duration::from_secs_f64(interval.max(0.0))).to_string()
        ),
        from = date(*first),
        to = date(*last),
        age = age(now, *last),
    );
    let budget = doc["rpo_budget_s"].as_f64();
    let series = |r: &Value, key: &str| -> Vec<Option<f64>> {
        r[key]
            .as_array()
            .map(|a| a.iter().map(Value::as_f64).collect())
            .unwrap_or_default()
    };
    for r in doc["regions"].as_array().into_iter().flatten() {
        let _ = write!(
            html,
            r#"<div class="region-history"><h3>{}</h3><div class="charts">"#,
            esc(r["name"].as_str().unwrap_or(""))
        );
        chart(
            html,
            "Requests served",
            "/s",
            &[Line {
                label: "served",
                color: SERVED_COLOR,
                values: series(r, "served_per_s"),
            }],
            slots,
            None,
        );
        chart(
            html,
            "Failovers",
            "/s",
            &[
                Line {
                    label: "in",
                    color: IN_COLOR,
                    values: series(r, "failovers_in_per_s"),
                },
                Line {
                    label: "out",
                    color: OUT_COLOR,
                    values: series(r, "failovers_out_per_s"),
                },
            ],
            slots,
            None,
        );
        chart(
            html,
            "Probe latency",
            " ms",
            &[Line {
                label: "probe",
                color: PROBE_COLOR,
                values: series(r, "probe_latency_ms"),
            }],
            slots,
            None,
        );
        let lag = series(r, "replication_lag_s");
        if budget.is_some() || lag.iter().any(Option::is_some) {
            chart(
                html,
                "Replication lag",
                " s",
                &[Line {
                    label: "lag",
                    color: LAG_COLOR,
                    values: lag,
                }],
                slots,
                budget.map(|b| ("RPO budget", b)),
            );
        }
        html.push_str("</div></div>");
    }
}

/// A Unix time as a readable UTC date, e.g. `2026-12-02 16:03:46 UTC`.
pub fn date(unix: f64) -> String {
    let t = UNIX_EPOCH + Duration::try_from_secs_f64(unix).unwrap_or_default();
    let text = humantime::format_rfc3339_seconds(t).to_string();
    format!("{} UTC", text.replace('T', " ").trim_end_matches('Z'))
}

/// How long before `now` a Unix time was, e.g. `12 s ago`, `3 min ago`, `2 h 5 min ago`.
pub fn age(now: SystemTime, unix: f64) -> String {
    let now = now
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let s = (now - unix).max(0.0) as u64;
    match s {
        0..=59 => format!("{s} s ago"),
        60..=3599 => format!("{} min ago", s / 60),
        3600..=86_399 => format!("{} h {} min ago", s / 3600, s % 3600 / 60),
        _ => format!("{} d ago", s / 86_400),
    }
}

fn num(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_break_at_gaps_and_sit_right_aligned() {
        let mut html = String::new();
        chart(
            &mut html,
            "t",
            "/s",
            &[Line {
                label: "a",
                color: SERVED_COLOR,
                values: vec![Some(1.0), Some(2.0), None, Some(4.0), Some(4.0)],
            }],
            10,
            Some(("budget", 5.0)),
        );
        assert_eq!(html.matches("<polyline").count(), 2, "{html}");
        // Five values in ten slots: the first is drawn at slot 5 of 0..=9, the last at the edge.
        assert!(html.contains(r#"points="144.4,"#), "{html}");
        assert!(html.contains("260.0,"), "{html}");
        assert!(html.contains("stroke-dasharray"), "{html}");
        assert!(html.contains("a 4.00/s"), "{html}");
    }

    #[test]
    fn dates_and_ages_read_as_words() {
        assert_eq!(date(1_700_000_000.0), "2023-11-14 22:13:20 UTC");
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(age(now, 1_699_999_988.0), "12 s ago");
        assert_eq!(age(now, 1_699_999_700.0), "5 min ago");
        assert_eq!(age(now, 1_700_000_000.0 - 7_500.0), "2 h 5 min ago");
    }
}
