//! The SVG picture of a drill: requests per 100 ms bucket, stacked by outcome, writes above
//! reads, with the fault, the heal and every step marked.

use super::record::{Kind, Record};
use std::collections::HashSet;
use std::fmt::Write as _;

/// Bucket width in microseconds.
const BUCKET_US: u64 = 100_000;
/// Left margin (y labels), right margin, top (title and marks), panel height, gap, bottom.
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 76.0;
const PANEL: f64 = 170.0;
const GAP: f64 = 40.0;
const BOTTOM: f64 = 64.0;

/// Outcome colours, stacked from the bottom in this order.
const SERIES: [(&str, &str); 4] = [
    ("ok", "#43a047"),
    ("slow", "#ffb300"),
    ("lost write / stale read", "#8e24aa"),
    ("error", "#e53935"),
];

/// A vertical mark: the fault, the heal, a step.
#[derive(Debug, Clone)]
pub struct Mark {
    /// Label drawn at its top.
    pub label: String,
    /// When, microseconds since the drill started.
    pub at_us: u64,
    /// Line colour.
    pub colour: &'static str,
}

/// What the picture needs besides the records.
pub struct PlotInput<'a> {
    /// Title line.
    pub title: String,
    /// Second line (the headline figures).
    pub subtitle: String,
    /// Every request.
    pub records: &'a [Record],
    /// `seq` of acknowledged writes the final read lacks.
    pub lost: &'a HashSet<u64>,
    /// `seq` of stale reads.
    pub stale: &'a HashSet<u64>,
    /// Answers slower than this are slow.
    pub slow_us: u64,
    /// Length of the schedule.
    pub end_us: u64,
    /// Vertical marks.
    pub marks: Vec<Mark>,
}

/// Renders the picture.
pub fn svg(input: &PlotInput<'_>) -> String {
    let end = input
        .records
        .iter()
        .map(|r| r.scheduled_us)
        .max()
        .unwrap_or(0)
        .max(input.end_us);
    let buckets = (end / BUCKET_US + 1) as usize;
    let bw = (1200.0 / buckets as f64).clamp(1.0, 8.0);
    let width = LEFT + bw * buckets as f64 + RIGHT;
    let height = TOP + 2.0 * PANEL + GAP + BOTTOM;
    let mut counts = [vec![[0u32; 4]; buckets], vec![[0u32; 4]; buckets]];
    for r in input.records {
        let panel = usize::from(r.kind == Kind::Read);
        let b = ((r.scheduled_us / BUCKET_US) as usize).min(buckets - 1);
        let series = if r.outcome.is_error() {
            3
        } else if input.lost.contains(&r.seq) || input.stale.contains(&r.seq) {
            2
        } else if r.latency_us() > input.slow_us {
            1
        } else {
            0
        };
        counts[panel][b][series] += 1;
    }
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{LEFT}" y="20" font-size="15" font-weight="bold">{}</text>
<text x="{LEFT}" y="38" fill="#444">{}</text>
"##,
        escape(&input.title),
        escape(&input.subtitle)
    );
    for (panel, name) in ["writes", "reads"].iter().enumerate() {
        let top = TOP + panel as f64 * (PANEL + GAP);
        let max = counts[panel]
            .iter()
            .map(|c| c.iter().sum::<u32>())
            .max()
            .unwrap_or(0)
            .max(1);
        let scale = (PANEL - 14.0) / f64::from(max);
        let base = top + PANEL;
        let _ = writeln!(
            s,
            r##"<text x="{:.0}" y="{:.0}" font-weight="bold">{name} per 100 ms</text><line x1="{LEFT}" y1="{base}" x2="{:.0}" y2="{base}" stroke="#999"/><text x="{:.0}" y="{:.0}" text-anchor="end" fill="#666">{max}</text><text x="{:.0}" y="{base}" text-anchor="end" fill="#666">0</text>"##,
            LEFT,
            top + 10.0,
            width - RIGHT,
            LEFT - 6.0,
            base - f64::from(max) * scale + 4.0,
            LEFT - 6.0,
        );
        for (i, c) in counts[panel].iter().enumerate() {
            let x = LEFT + i as f64 * bw;
            let mut y = base;
            for (k, n) in c.iter().enumerate() {
                if *n == 0 {
                    continue;
                }
                let h = f64::from(*n) * scale;
                y -= h;
                let _ = writeln!(
                    s,
                    r#"<rect x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{h:.1}" fill="{}"/>"#,
                    SERIES[k].1
                );
            }
        }
    }
    // Time axis under the reads panel, a tick every 5 s (10 s past two minutes).
    let axis = TOP + 2.0 * PANEL + GAP;
    let step_s = if end > 120_000_000 { 10 } else { 5 };
    let mut t = 0;
    while t * 1_000_000 <= end {
        let x = LEFT + (t * 1_000_000 / BUCKET_US) as f64 * bw;
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{axis}" x2="{x:.1}" y2="{:.0}" stroke="#999"/><text x="{x:.1}" y="{:.0}" text-anchor="middle" fill="#666">{t}s</text>"##,
            axis + 4.0,
            axis + 16.0
        );
        t += step_s;
    }
    // Labels of marks closer than a label's width stack upwards instead of overlapping.
    let mut marks: Vec<&Mark> = input.marks.iter().collect();
    marks.sort_by_key(|m| m.at_us);
    let mut last_x = f64::MIN;
    let mut row = 0.0;
    for m in marks {
        let x = LEFT + m.at_us as f64 / BUCKET_US as f64 * bw;
        row = if x - last_x < 48.0 { row + 1.0 } else { 0.0 };
        last_x = x;
        let _ = writeln!(
            s,
            r#"<line x1="{x:.1}" y1="{:.0}" x2="{x:.1}" y2="{axis}" stroke="{}" stroke-width="2" stroke-dasharray="6 3"/><text x="{:.1}" y="{:.0}" fill="{}">{}</text>"#,
            TOP - 8.0,
            m.colour,
            x + 3.0,
            TOP - 10.0 - 12.0 * row,
            m.colour,
            escape(&m.label)
        );
    }
    let mut x = LEFT;
    let y = axis + 40.0;
    for (name, colour) in SERIES {
        let _ = writeln!(
            s,
            r#"<rect x="{x:.0}" y="{:.0}" width="12" height="12" fill="{colour}"/><text x="{:.0}" y="{y:.0}">{}</text>"#,
            y - 10.0,
            x + 16.0,
            escape(name)
        );
        x += 40.0 + 7.0 * name.len() as f64;
    }
    s.push_str("</svg>\n");
    s
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drill::record::Outcome;

    #[test]
    fn buckets_are_stacked_by_outcome_and_marks_drawn() {
        let mut records = Vec::new();
        for i in 0..20u64 {
            let mut r = Record::new(i, Kind::Write, 0, i * 50_000, format!("c-{i}"));
            r.done_us = r.scheduled_us + 5_000;
            r.outcome = if i == 3 {
                Outcome::Status(503)
            } else {
                Outcome::Ok
            };
            records.push(r);
        }
        let lost: HashSet<u64> = [5].into();
        let stale = HashSet::new();
        let out = svg(&PlotInput {
            title: "writer-db-kill <sync>".into(),
            subtitle: "RTO 1 s".into(),
            records: &records,
            lost: &lost,
            stale: &stale,
            slow_us: 1_000_000,
            end_us: 1_000_000,
            marks: vec![Mark {
                label: "fault".into(),
                at_us: 500_000,
                colour: "#d32f2f",
            }],
        });
        assert!(out.starts_with("<svg") && out.trim_end().ends_with("</svg>"));
        assert!(out.contains("writer-db-kill &lt;sync&gt;"));
        assert_eq!(
            out.matches(SERIES[3].1).count(),
            2,
            "one error bar + legend"
        );
        assert_eq!(out.matches(SERIES[2].1).count(), 2, "one lost bar + legend");
        assert!(out.contains(">fault</text>"));
    }

    #[test]
    fn an_empty_drill_still_draws() {
        let out = svg(&PlotInput {
            title: "empty".into(),
            subtitle: String::new(),
            records: &[],
            lost: &HashSet::new(),
            stale: &HashSet::new(),
            slow_us: 1,
            end_us: 0,
            marks: Vec::new(),
        });
        assert!(out.contains("</svg>"));
    }
}
