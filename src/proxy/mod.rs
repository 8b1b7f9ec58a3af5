//! The request path: admit, route, plan regions, attempt and fail over, respond.
//!
//! One [`Proxy`] per listener; `handle` is called once per request with the connection's peer.
//! It loads the current snapshot once and uses it for the whole request, so a reload never
//! changes the rules under a request in flight.

mod attempt;
pub mod budget;
mod failover;
pub mod forward_mark;
pub mod headers;
mod upgrade;

use crate::body::{ClientBody, ProxyBody};
use crate::error::ErrorKind;
use crate::header_list::HeaderList;
use crate::message::{ClientRequest, ProxyResponse};
use crate::routing;
use crate::runtime::{Runtime, Snapshot};
use crate::telemetry::Observation;
use crate::upstream::{Region, ReplayBody};
use forward_mark::FORWARD_MARK;
use headers::{ATTEMPTS, IDEMPOTENCY_KEY, REQUEST_ID, SERVED_BY};
use http::uri::PathAndQuery;
use http::{HeaderValue, Method, StatusCode};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

/// Everything one request's attempts share.
pub struct RequestCtx {
    /// Request method.
    pub method: Method,
    /// Path and query, as received.
    pub path_and_query: PathAndQuery,
    /// Headers after hop-by-hop removal and X-Forwarded-* (sent on every attempt).
    pub headers: HeaderList,
    /// The request id (client's or ours).
    pub request_id: HeaderValue,
    /// Method is idempotent (RFC 9110 9.2.2).
    pub idempotent: bool,
    /// Client sent an Idempotency-Key: the origin deduplicates, so a replay is safe.
    pub has_idempotency_key: bool,
    /// The body, with its replay buffer.
    pub body: ReplayBody,
    /// When the request arrived: the first attempt's start, read once for the whole path.
    pub started: Instant,
    /// Overall deadline for all attempts.
    pub deadline: Instant,
    /// The sibling region whose Meridian forwarded this request (its mark verified).
    pub forwarded_from: Option<String>,
    /// Its trace spans and access-log record (empty when telemetry is off).
    pub observe: Observation,
}

impl RequestCtx {
    /// May a request that possibly reached an origin be sent again?
    pub fn safe_to_replay(&self) -> bool {
        self.idempotent || self.has_idempotency_key
    }

    /// The request id as text.
    pub fn request_id_str(&self) -> &str {
        self.request_id.to_str().unwrap_or("")
    }
}

/// A request ready for its attempts.
struct Prepared<'s> {
    /// What every attempt shares.
    ctx: RequestCtx,
    /// The regions to try, in order.
    plan: routing::FailoverPlan<'s>,
    /// The body is small enough to read whole before the first attempt (then it can be replayed).
    read_body_first: bool,
    /// The client's connection, for an upgrade the origin accepts.
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
}

/// The client end of a connection, prepared once per connection instead of once per request.
#[derive(Clone, Debug)]
pub struct Peer {
    /// Client socket address.
    pub addr: SocketAddr,
    /// The client IP as an X-Forwarded-For element.
    pub forwarded_for: HeaderValue,
}

impl Peer {
    /// Prepares a connection's peer.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            forwarded_for: headers::forwarded_for_value(addr.ip()),
        }
    }
}

/// The proxy service for one listener.
#[derive(Clone)]
pub struct Proxy {
    /// Shared process state.
    runtime: Arc<Runtime>,
    /// The listener terminates TLS (sets X-Forwarded-Proto when absent).
    tls: bool,
}

/// Decrements the in-flight count on drop.
struct InFlight<'a>(&'a Runtime);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

// === impl Proxy ===

impl Proxy {
    /// A proxy over the given runtime.
    pub fn new(runtime: Arc<Runtime>, tls: bool) -> Self {
        Self { runtime, tls }
    }

    /// Handles one request from `peer`. Never panics on input; every failure is a response.
    pub async fn handle(&self, mut req: ClientRequest, peer: &Peer) -> ProxyResponse {
        let started = Instant::now();
        let version = req.version;
        let snapshot = self.runtime.snapshot();
        let request_id = headers::request_id(&req.headers);
        let settings = &snapshot.settings;

        if req.uri.path() == settings.readiness_path
            && matches!(req.method, Method::GET | Method::HEAD)
        {
            return readiness_response(self.runtime.is_ready());
        }
        // Traces and access logs: empty (one flag tested) when both are off.
        let mut observe = snapshot
            .telemetry
            .begin(&mut req, peer, &request_id, started);

        let (host, route) = match route_of(&snapshot, &req) {
            Ok(found) => found,
            Err(kind) => {
                count_request("none", "none", kind.status());
                return observe.error(kind, kind.into_response(&request_id));
            }
        };
        observe.route(&route.name);
        let route_idx = snapshot
            .settings
            .routes
            .iter()
            .position(|r| std::ptr::eq(r, route))
            .unwrap_or(0);

        let in_flight = self.runtime.in_flight.fetch_add(1, Relaxed) + 1;
        let _guard = InFlight(&self.runtime);
        if in_flight > settings.limits.max_in_flight {
            metrics::counter!("meridian_rejected_total", "reason" => "max_in_flight").increment(1);
            let resp = ErrorKind::Overloaded.into_response(&request_id);
            return observe.error(ErrorKind::Overloaded, resp);
        }
        self.runtime.budget.record_request(started);
        // The data tier, only with [database] and only for writes and reads with a consistency
        // token: it may hold, refuse or re-target the request.
        let data = match settings.database {
            Some(_) if crate::data::route::involved(route, &req) => {
                match Box::pin(crate::data::route::admit(
                    &self.runtime,
                    &snapshot,
                    route,
                    &req,
                    &request_id,
                    self.tls,
                ))
                .await
                {
                    Ok(decision) => {
                        let target = decision.target.map(|i| snapshot.regions[i].name());
                        observe.data(&decision, target);
                        Some(Box::new(decision))
                    }
                    Err(kind) => {
                        // Refused (RPO guard, no writer, the hold cap): the error kind says why.
                        count_request(&route.name, "none", kind.status());
                        return observe.error(kind, kind.into_response(&request_id));
                    }
                }
            }
            _ => None,
        };
        let released = data.as_ref().map_or(started, |d| d.released);

        // The request's two waits (a small body read whole, then the attempts) are awaited here
        // and the steps around them are plain functions: each async layer would add a copy of
        // its whole state to every request (callgrind showed them as memcpy).
        let failed = |kind: ErrorKind, observe: Observation| {
            count_request(&route.name, "none", kind.status());
            observe.error(kind, kind.into_response(&request_id))
        };
        let prepared = match self.prepare(req, peer, &snapshot, route, host, &request_id, released)
        {
            Ok(prepared) => prepared,
            Err(kind) => return failed(kind, observe),
        };
        let Prepared {
            mut ctx,
            mut plan,
            read_body_first,
            client_upgrade,
        } = prepared;
        if let Some(target) = data.as_ref().and_then(|d| d.target) {
            plan = routing::FailoverPlan::only(target);
        }
        observe.forwarded_from(ctx.forwarded_from.as_deref());
        ctx.observe = observe;
        if read_body_first {
            // Small bodies are read whole first, so they can be retried and hedged.
            match tokio::time::timeout_at(ctx.deadline.into(), ctx.body.fill()).await {
                Ok(Ok(())) => {}
                Ok(Err(crate::upstream::BodyError::TooLarge)) => {
                    return failed(ErrorKind::BodyTooLarge, ctx.observe.take());
                }
                Ok(Err(_)) => return failed(ErrorKind::ClientBody, ctx.observe.take()),
                Err(_) => return failed(ErrorKind::DeadlineExceeded, ctx.observe.take()),
            }
        }
        let served = match failover::execute(&ctx, &self.runtime, &snapshot, plan).await {
            Ok(served) => served,
            Err(kind) => return failed(kind, ctx.observe.take()),
        };
        let attempts = served.attempts;
        let (mut resp, region_idx) = match self.respond(served, &ctx, &snapshot, client_upgrade) {
            Ok(answered) => answered,
            Err(kind) => return failed(kind, ctx.observe.take()),
        };
        if let Some(data) = data {
            Box::pin(data.finish(&mut resp, &self.runtime, &snapshot)).await;
        }
        if version < http::Version::HTTP_2
            && resp.status != StatusCode::SWITCHING_PROTOCOLS
            && self.runtime.draining.load(Relaxed)
        {
            // Draining: finish this request, then make the client reconnect (through the load
            // balancer, which no longer sends it here). HTTP/2 gets GOAWAY at the end of drain.
            resp.headers
                .insert("connection", HeaderValue::from_static("close"));
        }
        let region = snapshot.regions[region_idx].name();
        ctx.observe
            .take()
            .respond(&mut resp, region, attempts, ctx.body.bytes_read());
        // Handles for the common case are registered once per snapshot: no label strings or
        // registry lookups per request.
        let handles = &snapshot.route_metrics[route_idx][region_idx];
        if resp.status == StatusCode::OK {
            handles.ok.increment(1);
        } else {
            count_request(&route.name, region, resp.status);
        }
        let elapsed = started.elapsed();
        handles.duration.record(elapsed.as_secs_f64());
        tracing::debug!(request_id = ?resp.headers.get(REQUEST_ID), route = %route.name,
            region, status = resp.status.as_u16(), elapsed_ms = elapsed.as_secs_f64() * 1000.0,
            "request");
        resp
    }

    /// Checks the request against the limits, reads the forwarding mark, plans the regions and
    /// rewrites the headers every attempt will send.
    #[allow(clippy::too_many_arguments)]
    fn prepare<'s>(
        &self,
        req: ClientRequest,
        peer: &Peer,
        snapshot: &'s Arc<Snapshot>,
        route: &'s crate::config::RouteSpec,
        host: HeaderValue,
        request_id: &HeaderValue,
        started: Instant,
    ) -> Result<Prepared<'s>, ErrorKind> {
        let settings = &snapshot.settings;
        let ClientRequest {
            method,
            uri,
            headers: mut hdrs,
            body,
            on_upgrade,
            ..
        } = req;
        // A request known to have no body (most) skips the Content-Length lookup.
        let content_length = if matches!(body, ClientBody::Empty) {
            None
        } else {
            hdrs.get("content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
        };
        if let (Some(max), Some(len)) = (settings.limits.max_body_bytes, content_length)
            && len > max
        {
            return Err(ErrorKind::BodyTooLarge);
        }

        // A valid mark means a sibling Meridian forwarded this: serve it here, never send it on.
        let mark = hdrs.get(FORWARD_MARK);
        let marked = mark.is_some();
        let forwarded_from = mark.and_then(|v| {
            snapshot
                .forward_key
                .verify(v, request_id.to_str().unwrap_or(""))
        });
        let plan = routing::plan_lazily(snapshot, route, forwarded_from.is_some());
        if plan.fail_open {
            metrics::counter!("meridian_fail_open_total").increment(1);
        }

        let upgrade = headers::is_upgrade(&hdrs);
        let client_upgrade = if upgrade { on_upgrade } else { None };
        if marked {
            // Valid or not, the client's mark never travels on (an attempt sets its own).
            hdrs.remove(FORWARD_MARK);
        }
        headers::strip_hop_by_hop(&mut hdrs, upgrade);
        headers::set_forwarded(&mut hdrs, &peer.forwarded_for, self.tls, &host);
        hdrs.insert(REQUEST_ID, request_id.clone());
        if let Some(authority) = uri.authority()
            && !hdrs.contains("host")
            && let Ok(v) = HeaderValue::from_str(authority.as_str())
        {
            // HTTP/2 clients send :authority instead of Host; HTTP/1 origins need Host.
            hdrs.append("host", v);
        }
        let idempotent = method.is_idempotent() && !upgrade;
        // Consulted only for methods that are not idempotent anyway.
        let has_idempotency_key = !idempotent && hdrs.contains(IDEMPOTENCY_KEY);

        let body = ReplayBody::new(
            body,
            settings.retry.replay_buffer,
            settings.limits.max_body_bytes,
        );
        let deadline = started + settings.timeouts.request;
        let read_body_first =
            content_length.is_some_and(|len| len > 0 && len <= settings.retry.replay_buffer as u64);

        let ctx = RequestCtx {
            method,
            path_and_query: uri
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/")),
            headers: hdrs,
            request_id: request_id.clone(),
            idempotent,
            has_idempotency_key,
            body,
            started,
            deadline,
            forwarded_from,
            observe: Observation::default(),
        };

        Ok(Prepared {
            ctx,
            plan,
            read_body_first,
            client_upgrade,
        })
    }

    /// The client's response from the origin's: hop-by-hop headers out, Meridian's in, and an
    /// upgraded connection joined to the client's. Returns it with the serving region's index.
    fn respond(
        &self,
        served: failover::Served,
        ctx: &RequestCtx,
        snapshot: &Snapshot,
        client_upgrade: Option<hyper::upgrade::OnUpgrade>,
    ) -> Result<(ProxyResponse, usize), ErrorKind> {
        let settings = &snapshot.settings;
        let region = &snapshot.regions[served.region];
        region.served.fetch_add(1, Relaxed);
        let upstream = served.response;
        let upgraded = match client_upgrade {
            Some(client) if upstream.status == StatusCode::SWITCHING_PROTOCOLS => {
                // Only hyper's client completes an upgrade; it always hands the connection over.
                let origin = upstream.on_upgrade.ok_or(ErrorKind::UpstreamReset)?;
                upgrade::spawn_tunnel(client, origin, self.runtime.shutdown.clone());
                true
            }
            _ => false,
        };
        let mut resp_headers = upstream.headers;
        headers::strip_hop_by_hop(&mut resp_headers, upgraded);
        set_meridian_headers(&mut resp_headers, ctx, region, served.attempts);
        let body = if upgraded {
            // The bytes after the 101 travel through the tunnel.
            ProxyBody::empty()
        } else {
            let cross_region = served.region != settings.local_region;
            let bytes = cross_region.then(|| {
                metrics::counter!("meridian_cross_region_bytes_total",
                    "from" => settings.local().name.clone(), "to" => region.name().to_string(),
                    "direction" => "response")
            });
            ProxyBody::Upstream {
                inner: upstream.body,
                bytes,
                observe: Observation::default(),
            }
        };
        let resp = ProxyResponse {
            status: upstream.status,
            headers: resp_headers,
            body,
        };
        Ok((resp, served.region))
    }
}

/// Resolves the request's host and route. Absolute-form URIs must agree with Host.
/// Returns the authority as received (for X-Forwarded-Host) with the route.
fn route_of<'a>(
    snapshot: &'a Snapshot,
    req: &ClientRequest,
) -> Result<(HeaderValue, &'a crate::config::RouteSpec), ErrorKind> {
    let header_host = req.headers.get("host");
    let header_text = header_host
        .map(|v| v.to_str().map_err(|_| ErrorKind::BadRequest))
        .transpose()?;
    let uri_host = req.uri.authority().map(|a| a.as_str());
    let authority = match (uri_host, header_text) {
        (Some(u), Some(h)) if !u.eq_ignore_ascii_case(h) && req.version < http::Version::HTTP_2 => {
            return Err(ErrorKind::BadRequest);
        }
        (Some(u), _) => u,
        (None, Some(h)) => h,
        (None, None) => return Err(ErrorKind::BadRequest),
    };
    let parsed: http::uri::Authority = authority.parse().map_err(|_| ErrorKind::BadRequest)?;
    let host = parsed.host();
    // Route names are lower case; most clients already send a lower-case host (no copy then).
    let host = if host.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(host.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(host)
    };
    if req.method == Method::CONNECT {
        // Tunnels are a forward proxy's job; Meridian never opens one.
        return Err(ErrorKind::BadRequest);
    }
    let route = routing::match_route(&snapshot.settings, &host, req.uri.path())
        .ok_or(ErrorKind::NoRoute)?;
    // An HTTP/1 absolute-form target ("GET http://host/ ...") is what a forward-proxy client
    // sends. It is honoured only for a host a route names explicitly, never by a catch-all route,
    // so Meridian cannot be mistaken for (or probed as) an open proxy.
    if req.version < http::Version::HTTP_2 && uri_host.is_some() && route.host.is_none() {
        return Err(ErrorKind::NoRoute);
    }
    let received = match (uri_host, header_host) {
        // The Host header as received: cloning it is a reference-count bump, not a copy.
        (None, Some(h)) => h.clone(),
        _ => HeaderValue::from_str(authority).map_err(|_| ErrorKind::BadRequest)?,
    };
    Ok((received, route))
}

/// The request id, the serving region and the attempt count, replacing any an origin sent.
fn set_meridian_headers(h: &mut HeaderList, ctx: &RequestCtx, region: &Region, attempts: u32) {
    let attempts = match attempts {
        1 => HeaderValue::from_static("1"),
        2 => HeaderValue::from_static("2"),
        3 => HeaderValue::from_static("3"),
        n => HeaderValue::from(n),
    };
    h.insert_all([
        (SERVED_BY, region.name_header.clone()),
        (ATTEMPTS, attempts),
        (REQUEST_ID, ctx.request_id.clone()),
    ]);
}

fn count_request(route: &str, region: &str, status: StatusCode) {
    metrics::counter!("meridian_requests_total",
        "route" => route.to_string(), "region" => region.to_string(),
        "status" => status.as_str().to_string())
    .increment(1);
}

/// 200 "ready" or 503 "not ready"; used on the main listener and on admin.
pub fn readiness_response(ready: bool) -> ProxyResponse {
    let (status, text) = if ready {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    };
    let mut resp = ProxyResponse::new(status, ProxyBody::local(text));
    resp.headers
        .append("cache-control", HeaderValue::from_static("no-store"));
    resp
}
