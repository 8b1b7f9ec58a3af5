//! `meridian check`: a bad config names `file:line:column` and what is wrong; the shipped
//! configs pass.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use support::tmp_path;

fn check(path: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["check", "--config"])
        .arg(path)
        .output()
        .expect("run meridian check")
}

/// A valid config with two regions; `edit` returns the text to check.
const VALID: &str = r#"[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
local_region = "us-east-1"
forward_secret = "s"

[[regions]]
name = "us-east-1"
endpoints = ["127.0.0.1:3001"]

[[regions]]
name = "eu-west-1"
endpoints = ["127.0.0.1:3002"]

[timeouts]
per_try = "3s"
request = "10s"

[[routes]]
name = "all"
"#;

/// Runs `check` on `text` and asserts a failure at `line:col` whose message contains `message`.
fn assert_rejected(name: &str, text: &str, line: usize, col: usize, message: &str) {
    let path = tmp_path(name);
    std::fs::write(&path, text).unwrap();
    let out = check(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{name}: accepted\n{text}");
    let position = format!("{}:{line}:{col}: ", path.display());
    assert!(
        stderr.contains(&position),
        "{name}: expected {position:?} in {stderr:?}"
    );
    assert!(
        stderr.contains(message),
        "{name}: expected {message:?} in {stderr:?}"
    );
}

/// 1-based (line, column) of the first occurrence of `needle` in `text`.
fn position_of(text: &str, needle: &str) -> (usize, usize) {
    line_col(text, text.find(needle).expect("needle in text"))
}

/// 1-based (line, column) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = offset - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

#[test]
fn valid_config_passes() {
    let path = tmp_path("valid.toml");
    std::fs::write(&path, VALID).unwrap();
    let out = check(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok"));
}

#[test]
fn unknown_key_is_named_at_its_position() {
    let text = VALID.replace("local_region =", "lisen = \"x\"\nlocal_region =");
    let (line, col) = position_of(&text, "lisen");
    assert_rejected(
        "unknown-key.toml",
        &text,
        line,
        col,
        "unknown field `lisen`",
    );
}

#[test]
fn region_listed_twice_points_at_the_second() {
    let text = VALID.replace("name = \"eu-west-1\"", "name = \"us-east-1\"");
    let second = text.rfind("\"us-east-1\"\nendpoints").unwrap();
    let (line, col) = line_col(&text, second);
    assert!(line > position_of(&text, "\"us-east-1\"\nendpoints").0);
    assert_rejected(
        "twice.toml",
        &text,
        line,
        col,
        "region \"us-east-1\" is listed twice",
    );
}

#[test]
fn request_deadline_shorter_than_per_try_points_into_timeouts() {
    let text = VALID.replace("request = \"10s\"", "request = \"1s\"");
    let path = tmp_path("deadline.toml");
    std::fs::write(&path, &text).unwrap();
    let out = check(&path);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("request deadline (1s) is shorter than the per-try timeout (3s)"),
        "{stderr}"
    );
    // The timeouts' fields carry no spans of their own, so the error names the table: any
    // position from the `[timeouts]` header to the `request` key is an honest pointer.
    let rest = stderr
        .strip_prefix(&format!("{}:", path.display()))
        .unwrap_or_else(|| panic!("no file name first: {stderr}"));
    let mut fields = rest.splitn(3, ':');
    let line: usize = fields.next().unwrap().parse().expect("a line number");
    let _col: usize = fields.next().unwrap().parse().expect("a column number");
    let table = position_of(&text, "[timeouts]").0;
    let key = position_of(&text, "request = ").0;
    assert!(
        (table..=key).contains(&line),
        "line {line} is outside [timeouts] ({table}..={key}): {stderr}"
    );
}

#[test]
fn local_region_not_listed_points_at_it() {
    let text = VALID.replace("local_region = \"us-east-1\"", "local_region = \"mars-1\"");
    let (line, col) = position_of(&text, "\"mars-1\"");
    assert_rejected(
        "local.toml",
        &text,
        line,
        col,
        "local_region \"mars-1\" is not one of the regions",
    );
}

#[test]
fn shipped_configs_pass_check() {
    for file in ["config/example.toml", "config/demo.toml"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        let out = check(&path);
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
