//! Meridian: a region-failover reverse proxy for multi-region active-active services.
//!
//! # Layout
//! - [`config`]: the TOML file's types, validation with `file:line:column` errors, the settings.
//! - [`runtime`]: the live snapshot (settings + regions) behind one `ArcSwap`, shared state.
//! - [`server`]: starts listeners, admin and health checker; the SIGTERM drain timeline.
//! - [`listener`]: accept loop, connection limit, TLS; its own HTTP/1.1 loop for bodyless
//!   requests (`listener::h1`), hyper's HTTP/1.1 + HTTP/2 server for everything else.
//! - [`proxy`]: the request path: route, plan regions, attempt, fail over, hedge, respond.
//! - [`routing`]: request -> route -> ordered candidate regions (the failover plan).
//! - [`upstream`]: endpoint addresses with their keep-alive pools, the in-task HTTP/1 exchange for
//!   bodyless requests, connector, replayable bodies.
//! - [`http1`]: HTTP/1.1 wire pieces the server and the upstream exchange share.
//! - [`header_list`]: header lines in order, the header storage of every message on the request
//!   path (`http::HeaderMap` only at hyper's edges).
//! - [`message`]: the client's request and Meridian's response, whichever server carried them.
//! - [`health`]: endpoint health atomics (write side: checker and passive outlier detection).
//! - [`idle_spin`]: `--idle-spin`, a busy worker stays on its core briefly before it sleeps.
//! - [`telemetry`]: OpenTelemetry traces (request and attempt spans, W3C propagation, OTLP
//!   export) and access logs; one empty `Option` per request when both are off.
//! - [`admin`]: /metrics, /healthz, /readyz, /status on the loopback admin listener.
//! - [`error`]: error kinds and the one place they become HTTP responses.
//! - [`body`]: the response body type sent to clients.
//! - [`tls`]: rustls configuration.
//! - [`origin`]: a small origin server with failure modes, for the demo, benches and tests.
//! - [`data`]: the data tier: database probes, the writer/lag view, writes to the writer, the
//!   RPO guard, read-your-writes tokens.
//! - [`demo`]: `meridian demo`, three regions on loopback (with `--with-database`: PostgreSQL
//!   and the ledger app).
//! - [`drill`]: `meridian drill`, measured RTO and RPO through a failover (load, checker, report).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod body;
pub mod config;
pub mod data;
pub mod demo;
pub mod drill;
pub mod error;
pub mod header_list;
pub mod health;
pub mod http1;
pub mod idle_spin;
pub mod listener;
pub mod message;
pub mod origin;
pub mod proxy;
pub mod routing;
pub mod runtime;
pub mod server;
pub mod telemetry;
pub mod tls;
pub mod upstream;
