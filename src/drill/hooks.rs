//! Commands the drill runs at chosen seconds: the fault, the heal, and any other step, each
//! marked with the instant it started.

use serde::Serialize;
use std::time::Duration;
use tokio::time::Instant;

/// A hook command gets this long before it is killed and reported as failed.
const HOOK_LIMIT: Duration = Duration::from_secs(180);

/// Output kept per hook (the tail).
const OUTPUT_TAIL: usize = 2000;

/// What happens at a given second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// `fault`, `heal`, or `step`.
    pub label: String,
    /// Seconds into the drill.
    pub at: Duration,
    /// Shell command (`sh -c`); None marks an instant without running anything (a fault
    /// injected by someone else, e.g. an AWS FIS experiment started at that second).
    pub cmd: Option<String>,
}

/// How a hook went.
#[derive(Debug, Clone, Serialize)]
pub struct HookReport {
    /// `fault`, `heal`, or `step`.
    pub label: String,
    /// When it started, milliseconds since the drill started.
    pub at_ms: u64,
    /// The command, if any.
    pub cmd: Option<String>,
    /// How long the command ran.
    pub took_ms: Option<u64>,
    /// Its exit code (None: killed by a signal, timed out, or could not start).
    pub exit_code: Option<i32>,
    /// The command exited 0 (true when there is no command).
    pub ok: bool,
    /// The tail of its stdout and stderr.
    pub output: String,
}

impl Hook {
    /// Parses `--step` values: `AT=COMMAND`, e.g. `25s=drill/lab.sh fault db-kill writer`.
    pub fn parse_step(s: &str) -> Result<Self, String> {
        let (at, cmd) = s
            .split_once('=')
            .ok_or_else(|| format!("{s:?}: expected AT=COMMAND, e.g. 25s=./fault.sh"))?;
        let at = humantime::parse_duration(at.trim()).map_err(|e| format!("{at:?}: {e}"))?;
        Ok(Self {
            label: "step".into(),
            at,
            cmd: Some(cmd.trim().to_string()),
        })
    }
}

/// Waits for the hook's second, runs it, reports.
pub async fn run(epoch: Instant, hook: Hook) -> HookReport {
    tokio::time::sleep_until(epoch + hook.at).await;
    let started = Instant::now();
    let at_ms = started.saturating_duration_since(epoch).as_millis() as u64;
    let mut report = HookReport {
        label: hook.label,
        at_ms,
        cmd: hook.cmd.clone(),
        took_ms: None,
        exit_code: None,
        ok: true,
        output: String::new(),
    };
    let Some(cmd) = hook.cmd else {
        return report;
    };
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&cmd)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let result = tokio::time::timeout(HOOK_LIMIT, child).await;
    report.took_ms = Some(started.elapsed().as_millis() as u64);
    match result {
        Err(_) => {
            report.ok = false;
            report.output = format!("killed after {HOOK_LIMIT:?}");
        }
        Ok(Err(e)) => {
            report.ok = false;
            report.output = format!("cannot run sh: {e}");
        }
        Ok(Ok(out)) => {
            report.exit_code = out.status.code();
            report.ok = out.status.success();
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            report.output = tail(&text, OUTPUT_TAIL);
        }
    }
    report
}

/// The last `max` bytes of `s`, cut at a character boundary.
fn tail(s: &str, max: usize) -> String {
    let s = s.trim_end();
    let mut start = s.len().saturating_sub(max);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    s[start..].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_parse_as_at_equals_command() {
        let h = Hook::parse_step("25s=drill/lab.sh fault db-kill writer").unwrap();
        assert_eq!(h.at, Duration::from_secs(25));
        assert_eq!(h.cmd.as_deref(), Some("drill/lab.sh fault db-kill writer"));
        assert!(Hook::parse_step("no command").is_err());
        assert!(Hook::parse_step("soon=true").is_err());
    }

    #[test]
    fn the_tail_keeps_whole_characters() {
        assert_eq!(tail("abcdef\n", 3), "def");
        assert_eq!(tail("ééé", 3), "é");
        assert_eq!(tail("ab", 10), "ab");
    }

    #[tokio::test]
    async fn a_hook_reports_its_exit_code_and_output() {
        let epoch = Instant::now();
        let hook = Hook {
            label: "fault".into(),
            at: Duration::ZERO,
            cmd: Some("echo killed; exit 3".into()),
        };
        let r = run(epoch, hook).await;
        assert_eq!(r.exit_code, Some(3));
        assert!(!r.ok);
        assert_eq!(r.output, "killed");
        let mark = run(
            epoch,
            Hook {
                label: "fault".into(),
                at: Duration::ZERO,
                cmd: None,
            },
        )
        .await;
        assert!(mark.ok && mark.took_ms.is_none());
    }
}
