//! `meridian demo`: three regions on loopback, a Meridian in each, and a switch to break them.
//!
//! With `--with-database`, each region also gets a real PostgreSQL server ([`postgres`]: a
//! primary for us-east-1, streaming replicas for the others) and its origin becomes the
//! [`ledger`] app on that region's database; the switch gains promote, pause/resume and kill.

pub mod data_lab;
pub mod ledger;
pub mod postgres;

use crate::config::{self, EndpointSpec, Scheme, Settings};
use crate::origin::{Origin, OriginMode};
use crate::server::Server;
use anyhow::Context;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::net::SocketAddr;
use std::sync::Arc;

/// The demo's us-east-1 config, also shipped as `config/demo.toml`.
pub const DEMO_TOML: &str = include_str!("../../config/demo.toml");

/// Origin and Meridian ports of each demo region, in config order.
const ORIGIN_PORTS: [u16; 3] = [3001, 3002, 3003];
const SIBLING_PORTS: [u16; 3] = [8080, 8081, 8082];

/// The settings of region `i`'s Meridian, derived from the us-east-1 file: its own origin is
/// local, the other regions are reached through their Meridians at `meridians[j]`.
pub fn region_settings(
    base: &Settings,
    i: usize,
    meridians: &[SocketAddr],
    origins: &[SocketAddr],
    admin: SocketAddr,
) -> Settings {
    let mut s = base.clone();
    s.local_region = i;
    s.listen = meridians[i];
    s.admin_listen = admin;
    for (j, region) in s.regions.iter_mut().enumerate() {
        let (addr, path) = if i == j {
            (origins[j], s.health.path.clone())
        } else {
            (meridians[j], s.readiness_path.clone())
        };
        region.endpoints = vec![EndpointSpec {
            scheme: Scheme::Http,
            host: addr.ip().to_string(),
            port: addr.port(),
        }];
        region.health_path = path;
    }
    s
}

/// Runs the demo until Ctrl-C.
pub async fn run(listen: SocketAddr, admin: SocketAddr, control: SocketAddr) -> anyhow::Result<()> {
    let base = config::parse_and_validate("config/demo.toml", DEMO_TOML)?;
    let mut origins = Vec::new();
    for (i, region) in base.regions.iter().enumerate() {
        let addr: SocketAddr = ([127, 0, 0, 1], ORIGIN_PORTS[i]).into();
        let origin = Origin::start(&region.name, addr)
            .await
            .with_context(|| format!("cannot start the {} origin on {addr}", region.name))?;
        origins.push((region.name.clone(), origin));
    }
    let origin_addrs: Vec<SocketAddr> = origins.iter().map(|(_, o)| o.addr()).collect();
    let mut meridians: Vec<SocketAddr> = SIBLING_PORTS
        .iter()
        .map(|&p| SocketAddr::from(([127, 0, 0, 1], p)))
        .collect();
    meridians[0] = listen;
    let mut servers = Vec::new();
    for i in 0..base.regions.len() {
        let admin_addr = if i == 0 {
            admin
        } else {
            SocketAddr::from(([127, 0, 0, 1], 0))
        };
        let settings = region_settings(&base, i, &meridians, &origin_addrs, admin_addr);
        let server = Server::start(settings)
            .await
            .with_context(|| format!("cannot start the {} Meridian", base.regions[i].name))?;
        servers.push(server);
    }
    let origins = Arc::new(origins);
    let control_listener = tokio::net::TcpListener::bind(control)
        .await
        .with_context(|| format!("cannot bind the demo control port {control}"))?;
    let control_task = tokio::spawn(serve_control(control_listener, origins.clone()));

    let entry = servers[0].addr();
    let admin_addr = servers[0].admin_addr();
    println!(
        r#"
Meridian demo: three regions on loopback, a Meridian in each; you talk to us-east-1.

  curl -i http://{entry}/                      answered by us-east-1 (see x-meridian-region)
  curl -s http://{admin_addr}/metrics | grep meridian_
  curl -s http://{admin_addr}/status           regions, endpoints, health (JSON)

Break the local region and watch requests fail over with no errors:
  curl -X POST http://{control}/regions/us-east-1/down    connections refused
  curl -X POST http://{control}/regions/us-east-1/hang    accepts, never answers
  curl -X POST http://{control}/regions/us-east-1/error   answers 503
  curl -X POST http://{control}/regions/us-east-1/up      back to normal
  (the same works for eu-west-1 and ap-southeast-1)

  for i in $(seq 20); do curl -s -o /dev/null -w '%{{http_code}} %header{{x-meridian-region}}\n' http://{entry}/; done

Ctrl-C stops everything.
"#
    );
    tokio::signal::ctrl_c().await?;
    println!("stopping");
    control_task.abort();
    for server in servers {
        server.stop().await;
    }
    Ok(())
}

type Origins = Arc<Vec<(String, Origin)>>;

async fn serve_control(listener: tokio::net::TcpListener, origins: Origins) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let origins = origins.clone();
        let service = service_fn(move |req| {
            let origins = origins.clone();
            async move { Ok::<_, std::convert::Infallible>(control(req, &origins)) }
        });
        tokio::spawn(async move {
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn control(req: Request<hyper::body::Incoming>, origins: &Origins) -> Response<Full<bytes::Bytes>> {
    let path: Vec<&str> = req.uri().path().trim_matches('/').split('/').collect();
    let reply = |status: StatusCode, text: String| {
        let mut r = Response::new(Full::new(bytes::Bytes::from(text + "\n")));
        *r.status_mut() = status;
        r
    };
    match (req.method(), path.as_slice()) {
        (&Method::POST, ["regions", name, mode]) => {
            let Some((_, origin)) = origins.iter().find(|(n, _)| n == name) else {
                return reply(StatusCode::NOT_FOUND, format!("no region {name}"));
            };
            match mode.parse::<OriginMode>() {
                Ok(m) => {
                    origin.set_mode(m);
                    reply(StatusCode::OK, format!("{name} origin is now {m:?}"))
                }
                Err(e) => reply(StatusCode::BAD_REQUEST, e),
            }
        }
        (&Method::GET, [""]) => reply(
            StatusCode::OK,
            origins
                .iter()
                .map(|(n, o)| format!("{n}: {:?} on {}", o.mode(), o.addr()))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        _ => reply(
            StatusCode::NOT_FOUND,
            "POST /regions/<region>/<up|down|hang|error>".into(),
        ),
    }
}
