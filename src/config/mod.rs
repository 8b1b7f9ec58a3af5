//! The configuration file: serde types as written, and the validated runtime snapshot built from them.
//!
//! Flow: TOML text -> [`ConfigFile`] (serde, unknown keys rejected) -> [`validate`] -> [`Settings`],
//! an immutable value the proxy reads through one `ArcSwap` load per request.

pub mod database;
mod file;
pub mod reload;
pub mod source;
pub mod telemetry;
mod validate;

pub use file::{
    CertFile, ConfigFile, DnsFile, HealthFile, LimitsFile, ListenerTlsFile, LogFile, OutlierFile,
    RegionFile, RetryFile, RouteFile, ServerFile, ShutdownFile, TimeoutsFile, UpstreamTlsFile,
};
pub use reload::{ReloadHandle, ReloadOutcome, ReloadStatus, Reloader};
pub use source::ConfigSource;
pub use validate::{
    ConfigError, DnsSettings, EndpointSpec, HealthSettings, Limits, OutlierSettings, Protocol,
    RegionSpec, RetrySettings, RouteSpec, Scheme, Settings, ShutdownSettings, Timeouts,
    parse_and_validate,
};

use std::path::Path;

/// Reads, parses and validates a config file; errors name `file:line:column`.
pub fn load_file(path: &Path) -> Result<Settings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
        origin: path.display().to_string(),
        message: e.to_string(),
    })?;
    parse_and_validate(&path.display().to_string(), &text)
}
