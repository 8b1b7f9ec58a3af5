//! Per-request failover: attempt regions in plan order, retry what is safe, hedge what is slow.
//!
//! The only place Meridian decides to send a request to another region. Rules:
//! - a connect failure (nothing sent) may always move on, if the body can still be sent;
//! - any later failure moves on only for idempotent methods or an Idempotency-Key, and only
//!   while the body is replayable;
//! - every retry and hedge draws from the retry budget; every attempt lives within the deadline;
//! - a hedge (second attempt while the first is still out) needs a complete body, and the first
//!   response to arrive wins; the loser is dropped, which cancels it.

use super::RequestCtx;
use super::attempt::{AttemptOutcome, Failure, attempt, record_failure};
use crate::error::ErrorKind;
use crate::routing::FailoverPlan;
use crate::runtime::{Runtime, Snapshot};
use crate::upstream::Endpoint;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use http::Response;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

/// Lower bound for the derived hedge delay: below this, hedging is mostly noise.
const MIN_HEDGE_DELAY: Duration = Duration::from_millis(10);
/// Hedge delay used before any latency sample exists.
const UNSAMPLED_HEDGE_DELAY: Duration = Duration::from_millis(100);

/// A successful exchange: the response and where it came from.
pub struct Served {
    /// Origin response (its status may still be a 5xx that was not retryable).
    pub response: Response<crate::upstream::UpstreamBody>,
    /// Region index that answered.
    pub region: usize,
    /// Attempts started, hedges included.
    pub attempts: u32,
}

/// Runs the plan. Errors carry the kind the client should see; a retryable status that was the
/// last word is returned as a response, not turned into a 502.
pub async fn execute(
    ctx: &RequestCtx,
    runtime: &Runtime,
    snapshot: &Snapshot,
    plan: &FailoverPlan,
) -> Result<Served, ErrorKind> {
    let settings = &snapshot.settings;
    let retry = &settings.retry;
    let max_attempts = retry.max_attempts as usize;
    let mut next = 0usize;
    let mut started = 0u32;
    let mut in_flight = FuturesUnordered::new();
    let mut last_failure: Option<Failure> = None;
    let mut previous_region: Option<usize> = None;
    // Attempts still out, with their start, so hedge losers can be told apart from winners.
    let mut outstanding: Vec<(Arc<Endpoint>, Instant)> = Vec::new();

    let launch = |region_idx: usize, outstanding: &mut Vec<(Arc<Endpoint>, Instant)>| {
        let region = &snapshot.regions[region_idx];
        let endpoint = region.pick().or_else(|| region.pick_any())?;
        outstanding.push((endpoint.clone(), Instant::now()));
        Some(attempt(ctx, snapshot, region, endpoint))
    };

    // First attempt: walk the plan until a region has an endpoint at all.
    while next < plan.regions.len() && in_flight.is_empty() {
        if let Some(fut) = launch(plan.regions[next], &mut outstanding) {
            in_flight.push(fut);
            started += 1;
            previous_region = Some(plan.regions[next]);
        }
        next += 1;
    }
    if in_flight.is_empty() {
        return Err(ErrorKind::NoEndpoint);
    }

    let hedge_allowed = retry.hedge && ctx.idempotent && ctx.body.is_complete();
    let hedge = tokio::time::sleep(hedge_delay(snapshot, plan, retry.hedge_delay));
    tokio::pin!(hedge);
    let mut hedge_armed = hedge_allowed && next < plan.regions.len() && max_attempts > 1;
    let deadline = tokio::time::sleep_until(tokio::time::Instant::from_std(ctx.deadline));
    tokio::pin!(deadline);

    loop {
        tokio::select! {
            biased;
            Some(outcome) = in_flight.next() => {
                let AttemptOutcome { region, endpoint, started: sent_at, result } = outcome;
                if let Some(pos) = outstanding.iter().position(|(e, _)| Arc::ptr_eq(e, &endpoint)) {
                    outstanding.swap_remove(pos);
                }
                match result {
                    Ok(response) => {
                        // Attempts still out are dropped (cancelled) on return. One that was
                        // sent before the winner lost to a hedge: count it against its endpoint
                        // like a failure, so a frozen origin is ejected after a few requests
                        // instead of every request paying the hedge delay until probes notice.
                        for (loser, loser_sent) in &outstanding {
                            if *loser_sent < sent_at {
                                record_failure(snapshot, loser);
                                metrics::counter!("meridian_hedges_won_total").increment(1);
                            }
                        }
                        return Ok(Served { response, region, attempts: started });
                    }
                    Err(failure) => {
                        let may_retry = !failure.may_have_reached_origin() || ctx.safe_to_replay();
                        let body_ok = ctx.body.is_replayable();
                        let more = next < plan.regions.len() && (started as usize) < max_attempts;
                        tracing::debug!(endpoint = %endpoint.label, failure = failure.label(),
                            may_retry, body_ok, more, "attempt failed");
                        if may_retry && body_ok && more {
                            if runtime.budget.try_withdraw(retry) {
                                let to = plan.regions[next];
                                if let Some(fut) = launch(to, &mut outstanding) {
                                    record_failover(snapshot, region, to, failure.label(), ctx);
                                    in_flight.push(fut);
                                    started += 1;
                                    previous_region = Some(to);
                                }
                                next += 1;
                                hedge_armed = false;
                            } else {
                                metrics::counter!("meridian_retry_budget_exhausted_total").increment(1);
                            }
                        }
                        if in_flight.is_empty() {
                            return match failure {
                                Failure::Status(response) => Ok(Served { response, region, attempts: started }),
                                other => Err(other.kind()),
                            };
                        }
                        last_failure = Some(failure);
                    }
                }
            }
            () = &mut hedge, if hedge_armed => {
                hedge_armed = false;
                if next < plan.regions.len() && (started as usize) < max_attempts {
                    if runtime.budget.try_withdraw(retry) {
                        let to = plan.regions[next];
                        if let Some(fut) = launch(to, &mut outstanding) {
                            let from = previous_region.unwrap_or(settings.local_region);
                            record_failover(snapshot, from, to, "hedge", ctx);
                            metrics::counter!("meridian_hedges_total").increment(1);
                            in_flight.push(fut);
                            started += 1;
                        }
                        next += 1;
                    } else {
                        metrics::counter!("meridian_retry_budget_exhausted_total").increment(1);
                    }
                }
            }
            () = &mut deadline => {
                let _ = last_failure;
                return Err(ErrorKind::DeadlineExceeded);
            }
        }
    }
}

/// Configured delay, or SRTT + 4 * RTTVAR of the first region's best endpoint, clamped.
fn hedge_delay(snapshot: &Snapshot, plan: &FailoverPlan, configured: Option<Duration>) -> Duration {
    if let Some(d) = configured {
        return d;
    }
    let ceiling = snapshot.settings.timeouts.per_try / 2;
    let observed = plan
        .regions
        .first()
        .and_then(|&i| {
            snapshot.regions[i]
                .endpoints()
                .iter()
                .filter_map(|e| e.health.latency_bound())
                .min()
        })
        .unwrap_or(UNSAMPLED_HEDGE_DELAY);
    observed.clamp(MIN_HEDGE_DELAY, ceiling.max(MIN_HEDGE_DELAY))
}

fn record_failover(
    snapshot: &Snapshot,
    from: usize,
    to: usize,
    reason: &'static str,
    ctx: &RequestCtx,
) {
    snapshot.regions[to]
        .failovers_in
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let from_name = snapshot.regions[from].name().to_string();
    let to_name = snapshot.regions[to].name().to_string();
    tracing::info!(event = "failover", from_region = %from_name, to_region = %to_name,
        reason, request_id = ctx.request_id_str(), "failover");
    metrics::counter!("meridian_failovers_total",
        "from" => from_name.clone(), "to" => to_name.clone(), "reason" => reason)
    .increment(1);
    if to != snapshot.settings.local_region {
        metrics::counter!("meridian_cross_region_bytes_total",
            "from" => from_name, "to" => to_name, "direction" => "request")
        .increment(ctx.body.bytes_read());
    }
}
