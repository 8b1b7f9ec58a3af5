//! `[tracing]`, `[access_log]` and `[status]`: what Meridian tells operators, as written and as
//! validated, with the standard `OTEL_*` environment variables folded in.
//!
//! Precedence for every tracing key: the config file, then the `OTEL_*` variable, then the
//! default. Without a `[tracing]` table (or without `enabled`), tracing is on exactly when an
//! OTLP endpoint variable is set and `OTEL_SDK_DISABLED` / `OTEL_TRACES_EXPORTER=none` do not say
//! otherwise, which is how the ECS task definition turns it on.

use super::file::HumanDuration;
use super::validate::Validator;
use http::{HeaderName, HeaderValue, Uri};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;
use toml::Spanned;

/// Where OTLP/HTTP goes when nothing says otherwise (the collector sidecar).
const DEFAULT_ENDPOINT: &str = "http://localhost:4318";
/// The OTLP/HTTP path for traces, appended to a base endpoint.
const TRACES_PATH: &str = "/v1/traces";

/// `[tracing]`
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TracingFile {
    /// On or off; absent = on when an `OTEL_EXPORTER_OTLP_*ENDPOINT` variable is set.
    pub enabled: Option<bool>,
    /// Full OTLP/HTTP traces URL, e.g. `http://127.0.0.1:4318/v1/traces`.
    pub endpoint: Option<Spanned<String>>,
    /// Extra request headers for the collector (e.g. an API key).
    pub headers: BTreeMap<String, Spanned<String>>,
    /// Limit for one export request.
    pub timeout: Option<Spanned<HumanDuration>>,
    /// Sampler name, as `OTEL_TRACES_SAMPLER` spells it.
    pub sampler: Option<Spanned<String>>,
    /// Share of new traces recorded (ratio samplers), 0.0 to 1.0.
    pub sample_ratio: Option<Spanned<f64>>,
    /// `service.name` of the resource.
    pub service_name: Option<String>,
    /// Extra resource attributes.
    pub resource: BTreeMap<String, String>,
    /// Finished spans waiting for export; more are dropped (and counted).
    pub queue_size: Option<Spanned<usize>>,
    /// Spans per export request.
    pub batch_size: Option<Spanned<usize>>,
    /// Longest a finished span waits before it is exported.
    pub export_interval: Option<Spanned<HumanDuration>>,
}

/// `[access_log]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessLogFile {
    /// One JSON line per request on stdout.
    pub enabled: bool,
    /// Share of requests logged, 0.0 to 1.0.
    pub sample_ratio: Spanned<f64>,
    /// Responses with a 5xx status are logged whatever the sample says.
    pub always_log_errors: bool,
    /// Lines waiting for the writer; more are dropped (and counted).
    pub queue_size: Spanned<usize>,
}

impl Default for AccessLogFile {
    fn default() -> Self {
        Self {
            enabled: false,
            sample_ratio: Spanned::new(0..0, 1.0),
            always_log_errors: true,
            queue_size: Spanned::new(0..0, 8192),
        }
    }
}

/// `[status]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatusFile {
    /// How often the status page's history is sampled.
    pub history_interval: Spanned<HumanDuration>,
    /// How far back the history reaches.
    pub history_window: Spanned<HumanDuration>,
}

impl Default for StatusFile {
    fn default() -> Self {
        Self {
            history_interval: Spanned::new(0..0, HumanDuration(Duration::from_secs(5))),
            history_window: Spanned::new(0..0, HumanDuration(Duration::from_secs(600))),
        }
    }
}

/// How a trace without a sampled parent is decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampling {
    /// Every new trace.
    AlwaysOn,
    /// No new trace.
    AlwaysOff,
    /// This share of new traces, by trace id.
    Ratio(f64),
}

/// Validated tracing settings (present = tracing on).
#[derive(Debug, Clone, PartialEq)]
pub struct TracingSettings {
    /// OTLP/HTTP traces URL.
    pub endpoint: Uri,
    /// Headers sent with every export.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// One export request's limit.
    pub timeout: Duration,
    /// Root sampling.
    pub sampling: Sampling,
    /// Follow the parent's decision when there is a parent (the `parentbased_*` samplers).
    pub parent_based: bool,
    /// `service.name`.
    pub service_name: String,
    /// Extra resource attributes (`OTEL_RESOURCE_ATTRIBUTES`, then the file's).
    pub resource: Vec<(String, String)>,
    /// Span queue capacity.
    pub queue_size: usize,
    /// Spans per export.
    pub batch_size: usize,
    /// Longest wait before export.
    pub export_interval: Duration,
}

/// Validated access-log settings (present = on).
#[derive(Debug, Clone, PartialEq)]
pub struct AccessLogSettings {
    /// Share of requests logged.
    pub sample_ratio: f64,
    /// 5xx always logged.
    pub always_log_errors: bool,
    /// Line queue capacity.
    pub queue_size: usize,
}

/// Validated status-page settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSettings {
    /// History sample period.
    pub history_interval: Duration,
    /// Samples kept (window / interval).
    pub history_points: usize,
}

/// Most history samples kept, whatever the window: bounds the page's memory and size.
pub const MAX_HISTORY_POINTS: usize = 720;

impl Validator<'_> {
    /// `[tracing]` with the `OTEL_*` variables from `env`; None = tracing off.
    pub(super) fn tracing(
        &self,
        f: &TracingFile,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<TracingSettings>, super::ConfigError> {
        let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let traces_endpoint = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
        let base_endpoint = var("OTEL_EXPORTER_OTLP_ENDPOINT");
        let enabled = match f.enabled {
            Some(on) => on,
            None => {
                let disabled = var("OTEL_SDK_DISABLED")
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
                    || var("OTEL_TRACES_EXPORTER")
                        .is_some_and(|v| v.trim().eq_ignore_ascii_case("none"));
                f.endpoint.is_some()
                    || (!disabled && (traces_endpoint.is_some() || base_endpoint.is_some()))
            }
        };
        if !enabled {
            return Ok(None);
        }
        let env_error = |name: &str, message: String| {
            self.error(None, format!("environment variable {name}: {message}"))
        };
        for name in [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ] {
            if let Some(p) = var(name)
                && p.trim() != "http/protobuf"
            {
                return Err(env_error(
                    name,
                    format!("{p:?}: Meridian exports OTLP over http/protobuf only"),
                ));
            }
        }
        let endpoint_text = match (&f.endpoint, traces_endpoint, base_endpoint) {
            (Some(e), _, _) => e.get_ref().clone(),
            (None, Some(e), _) => e,
            (None, None, Some(base)) => format!("{}{TRACES_PATH}", base.trim_end_matches('/')),
            (None, None, None) => format!("{DEFAULT_ENDPOINT}{TRACES_PATH}"),
        };
        let endpoint: Uri = endpoint_text
            .trim()
            .parse()
            .ok()
            .filter(|u: &Uri| {
                matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some()
            })
            .ok_or_else(|| {
                let message =
                    format!("tracing endpoint {endpoint_text:?} is not an http(s):// URL");
                match &f.endpoint {
                    Some(e) => self.at(e, message),
                    None => self.error(None, message),
                }
            })?;

        let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::new();
        let mut put = |name: &str, value: &str| -> Result<(), String> {
            let name = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| format!("{name:?} is not a header name"))?;
            let value = HeaderValue::from_str(value.trim())
                .map_err(|_| format!("the value of {name} is not valid header text"))?;
            headers.retain(|(n, _)| n != name);
            headers.push((name, value));
            Ok(())
        };
        for name in [
            "OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        ] {
            for (k, v) in var(name).iter().flat_map(|list| key_values(list)) {
                put(&k, &v).map_err(|m| env_error(name, m))?;
            }
        }
        for (k, v) in &f.headers {
            put(k, v.get_ref()).map_err(|m| self.at(v, m))?;
        }

        let env_millis = |names: &[&str]| -> Result<Option<Duration>, super::ConfigError> {
            for &name in names {
                if let Some(v) = var(name) {
                    let ms: u64 = v
                        .trim()
                        .parse()
                        .map_err(|_| env_error(name, format!("{v:?} is not milliseconds")))?;
                    return Ok(Some(Duration::from_millis(ms)));
                }
            }
            Ok(None)
        };
        let timeout = match &f.timeout {
            Some(t) => t.get_ref().0,
            None => env_millis(&[
                "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
                "OTEL_EXPORTER_OTLP_TIMEOUT",
            ])?
            .unwrap_or(Duration::from_secs(10)),
        };
        if timeout.is_zero() || timeout > Duration::from_secs(60) {
            return Err(self.error(
                f.timeout.as_ref().map(|t| t.span()),
                "tracing timeout must be between 1ms and 60s",
            ));
        }

        let sampler_text = match &f.sampler {
            Some(s) => s.get_ref().clone(),
            None => var("OTEL_TRACES_SAMPLER").unwrap_or("parentbased_traceidratio".into()),
        };
        let (parent_based, root) = match sampler_text.trim() {
            "always_on" => (false, "on"),
            "always_off" => (false, "off"),
            "traceidratio" => (false, "ratio"),
            "parentbased_always_on" => (true, "on"),
            "parentbased_always_off" => (true, "off"),
            "parentbased_traceidratio" => (true, "ratio"),
            other => {
                let message = format!(
                    "sampler {other:?}: one of always_on, always_off, traceidratio, \
                     parentbased_always_on, parentbased_always_off, parentbased_traceidratio"
                );
                return Err(match &f.sampler {
                    Some(s) => self.at(s, message),
                    None => env_error("OTEL_TRACES_SAMPLER", message),
                });
            }
        };
        let ratio = match &f.sample_ratio {
            Some(r) => *r.get_ref(),
            None => match var("OTEL_TRACES_SAMPLER_ARG") {
                Some(v) => v.trim().parse().map_err(|_| {
                    env_error("OTEL_TRACES_SAMPLER_ARG", format!("{v:?} is not a number"))
                })?,
                None => DEFAULT_SAMPLE_RATIO,
            },
        };
        if !(0.0..=1.0).contains(&ratio) {
            return Err(self.error(
                f.sample_ratio.as_ref().map(|r| r.span()),
                "sample_ratio must be between 0.0 and 1.0",
            ));
        }
        let sampling = match root {
            "on" => Sampling::AlwaysOn,
            "off" => Sampling::AlwaysOff,
            _ => Sampling::Ratio(ratio),
        };

        let mut resource: Vec<(String, String)> = var("OTEL_RESOURCE_ATTRIBUTES")
            .iter()
            .flat_map(|list| key_values(list))
            .collect();
        for (k, v) in &f.resource {
            resource.retain(|(n, _)| n != k);
            resource.push((k.clone(), v.clone()));
        }
        let service_name = f
            .service_name
            .clone()
            .or_else(|| var("OTEL_SERVICE_NAME"))
            .or_else(|| {
                resource
                    .iter()
                    .find(|(k, _)| k == "service.name")
                    .map(|(_, v)| v.clone())
            })
            .unwrap_or_else(|| "meridian".into());

        let count = |file: &Option<Spanned<usize>>,
                     name: &str,
                     default: usize|
         -> Result<usize, super::ConfigError> {
            let n = match file {
                Some(n) => *n.get_ref(),
                None => match var(name) {
                    Some(v) => v
                        .trim()
                        .parse()
                        .map_err(|_| env_error(name, format!("{v:?} is not a count")))?,
                    None => default,
                },
            };
            if !(1..=1_000_000).contains(&n) {
                return Err(self.error(
                    file.as_ref().map(|n| n.span()),
                    format!("{name}: must be between 1 and 1000000"),
                ));
            }
            Ok(n)
        };
        let queue_size = count(&f.queue_size, "OTEL_BSP_MAX_QUEUE_SIZE", 2048)?;
        let batch_size = count(&f.batch_size, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512)?;
        if batch_size > queue_size {
            return Err(self.error(
                f.batch_size.as_ref().map(|n| n.span()),
                "tracing batch_size must not exceed queue_size",
            ));
        }
        let export_interval = match &f.export_interval {
            Some(d) => d.get_ref().0,
            None => env_millis(&["OTEL_BSP_SCHEDULE_DELAY"])?.unwrap_or(Duration::from_secs(1)),
        };
        if export_interval < Duration::from_millis(10) || export_interval > Duration::from_secs(60)
        {
            return Err(self.error(
                f.export_interval.as_ref().map(|d| d.span()),
                "tracing export_interval must be between 10ms and 60s",
            ));
        }
        Ok(Some(TracingSettings {
            endpoint,
            headers,
            timeout,
            sampling,
            parent_based,
            service_name,
            resource,
            queue_size,
            batch_size,
            export_interval,
        }))
    }

    /// `[access_log]`; None = off.
    pub(super) fn access_log(
        &self,
        f: &AccessLogFile,
    ) -> Result<Option<AccessLogSettings>, super::ConfigError> {
        let ratio = *f.sample_ratio.get_ref();
        if !(0.0..=1.0).contains(&ratio) {
            return Err(self.at(&f.sample_ratio, "sample_ratio must be between 0.0 and 1.0"));
        }
        let queue_size = *f.queue_size.get_ref();
        if !(1..=1_000_000).contains(&queue_size) {
            return Err(self.at(&f.queue_size, "queue_size must be between 1 and 1000000"));
        }
        Ok(f.enabled.then_some(AccessLogSettings {
            sample_ratio: ratio,
            always_log_errors: f.always_log_errors,
            queue_size,
        }))
    }

    /// `[status]`.
    pub(super) fn status(&self, f: &StatusFile) -> Result<StatusSettings, super::ConfigError> {
        let interval = f.history_interval.get_ref().0;
        let window = f.history_window.get_ref().0;
        if interval < Duration::from_millis(100) || interval > Duration::from_secs(3600) {
            return Err(self.at(
                &f.history_interval,
                "history_interval must be between 100ms and 1h",
            ));
        }
        if window < interval {
            return Err(self.at(
                &f.history_window,
                "history_window must be at least history_interval",
            ));
        }
        let points = (window.as_nanos() / interval.as_nanos()) as usize + 1;
        if points > MAX_HISTORY_POINTS {
            return Err(self.at(
                &f.history_window,
                format!(
                    "history_window / history_interval gives {points} samples; at most {MAX_HISTORY_POINTS}"
                ),
            ));
        }
        Ok(StatusSettings {
            history_interval: interval,
            history_points: points,
        })
    }
}

/// New root traces recorded when no sampler argument is given: 5 %, the share X-Ray's default
/// rule records beyond its first request each second.
pub const DEFAULT_SAMPLE_RATIO: f64 = 0.05;

/// `k1=v1,k2=v2` as the OTel environment variables write lists (values percent-decoded).
fn key_values(list: &str) -> Vec<(String, String)> {
    list.split(',')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            let k = k.trim();
            (!k.is_empty()).then(|| (k.to_string(), percent_decode(v.trim())))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn tracing_with(
        toml_text: &str,
        env: &[(&str, &str)],
    ) -> Result<Option<TracingSettings>, super::super::ConfigError> {
        let f: TracingFile = toml::from_str(toml_text).unwrap();
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let v = Validator {
            origin: "t.toml",
            text: toml_text,
        };
        v.tracing(&f, &|name| env.get(name).cloned())
    }

    #[test]
    fn off_unless_configured_or_an_endpoint_variable_is_set() {
        assert!(tracing_with("", &[]).unwrap().is_none());
        let on = tracing_with(
            "",
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318/")],
        )
        .unwrap()
        .unwrap();
        assert_eq!(on.endpoint, "http://localhost:4318/v1/traces");
        assert_eq!(on.sampling, Sampling::Ratio(DEFAULT_SAMPLE_RATIO));
        assert!(on.parent_based);
        let disabled = tracing_with(
            "",
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318"),
                ("OTEL_SDK_DISABLED", "true"),
            ],
        )
        .unwrap();
        assert!(disabled.is_none());
        // The file wins over the environment.
        let off = tracing_with(
            "enabled = false",
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318")],
        )
        .unwrap();
        assert!(off.is_none());
    }

    #[test]
    fn file_keys_win_over_variables() {
        let t = tracing_with(
            "enabled = true\nendpoint = \"http://127.0.0.1:9/v1/traces\"\nsample_ratio = 1.0\n\
             headers = { x-key = \"file\" }\nresource = { \"deployment.environment\" = \"test\" }",
            &[
                (
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    "http://other:4318/v1/traces",
                ),
                ("OTEL_TRACES_SAMPLER_ARG", "0.5"),
                ("OTEL_EXPORTER_OTLP_HEADERS", "x-key=env,x-other=a%20b"),
                ("OTEL_SERVICE_NAME", "edge"),
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ],
        )
        .unwrap()
        .unwrap();
        assert_eq!(t.endpoint, "http://127.0.0.1:9/v1/traces");
        assert_eq!(t.sampling, Sampling::Ratio(1.0));
        assert_eq!(t.service_name, "edge");
        assert_eq!(t.timeout, Duration::from_millis(2500));
        let header = |n: &str| {
            t.headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(header("x-key").unwrap(), "file");
        assert_eq!(header("x-other").unwrap(), "a b");
        assert_eq!(
            t.resource,
            [("deployment.environment".into(), "test".into())]
        );
    }

    #[test]
    fn bad_values_are_errors() {
        let grpc =
            tracing_with("enabled = true", &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]).unwrap_err();
        assert!(grpc.to_string().contains("http/protobuf only"), "{grpc}");
        let ratio = tracing_with("enabled = true\nsample_ratio = 1.5", &[]).unwrap_err();
        assert!(
            ratio.to_string().starts_with("t.toml:2:16: sample_ratio"),
            "{ratio}"
        );
        let sampler = tracing_with("enabled = true\nsampler = \"sometimes\"", &[]).unwrap_err();
        assert!(
            sampler.to_string().contains("parentbased_traceidratio"),
            "{sampler}"
        );
        let url = tracing_with("endpoint = \"localhost:4318\"", &[]).unwrap_err();
        assert!(url.to_string().contains("not an http(s):// URL"), "{url}");
    }
}
