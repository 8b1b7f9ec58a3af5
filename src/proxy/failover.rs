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
use super::attempt::{AttemptOutcome, Failure, attempt, outcome_label, record_failure, timed_out};
use crate::error::ErrorKind;
use crate::routing::FailoverPlan;
use crate::runtime::{Runtime, Snapshot};
use crate::telemetry::AttemptSpan;
use crate::upstream::Endpoint;
use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
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
    pub response: crate::upstream::UpstreamResponse,
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
    mut plan: FailoverPlan<'_>,
) -> Result<Served, ErrorKind> {
    let settings = &snapshot.settings;
    let retry = &settings.retry;
    let max_attempts = retry.max_attempts as usize;
    let mut next = 0usize;
    let mut started = 0u32;
    let mut previous_region: Option<usize> = None;
    // Attempts still out, with their start, so hedge losers can be told apart from winners,
    // and their spans (telemetry).
    let mut outstanding: Vec<(Arc<Endpoint>, Instant, AttemptSpan)> = Vec::new();

    // The first attempt's per-try limit is kept by this function's one timer (with the hedge
    // delay and the deadline) instead of a timer of its own: a request that ends with its first
    // attempt, as most do, registers one timer, not two. A streamed body keeps the attempt's
    // own timer, which starts only when the upload ends.
    let delegate_first = ctx.body.is_complete();
    // Attempt futures are boxed: a few kilobytes each, they would otherwise be copied into
    // (and enlarge) every enclosing future, which callgrind showed as memcpy on each request.
    // `why`: "first", "hedge", or the failure label that made this a retry (for its span).
    let launch = |region_idx: usize,
                  sent_at: Instant,
                  outstanding: &mut Vec<_>,
                  own: bool,
                  why: &'static str| {
        let region = &snapshot.regions[region_idx];
        let endpoint = region.pick().or_else(|| region.pick_any())?;
        let span = ctx.observe.attempt(region, &endpoint, why);
        let trace = span.trace_headers();
        outstanding.push((endpoint.clone(), sent_at, span));
        Some(Box::pin(attempt(
            ctx, snapshot, region, endpoint, sent_at, own, trace,
        )))
    };

    // First attempt: walk the plan until a region has an endpoint at all.
    let mut first = None;
    while first.is_none()
        && let Some(region) = plan.region(next, snapshot)
    {
        // The first attempt starts as the request arrived (no second clock reading).
        first = launch(
            region,
            ctx.started,
            &mut outstanding,
            !delegate_first,
            "first",
        );
        if first.is_some() {
            started += 1;
            previous_region = Some(region);
        }
        next += 1;
    }
    let (Some(first), Some(first_region)) = (first, previous_region) else {
        return Err(ErrorKind::NoEndpoint);
    };
    // The only attempt out so far.
    let first_endpoint = outstanding[0].0.clone();
    // Dropped (cancelling the attempt) when its per-try limit passes.
    let mut first = Some(first);
    // Most requests end with their first attempt: it is polled on its own, and the set for
    // later attempts (retries, hedges) is only allocated when one starts.
    let mut later = None::<FuturesUnordered<_>>;

    let hedge_allowed = retry.hedge && ctx.idempotent && ctx.body.is_complete();
    // Armed without asking whether a sibling exists: that question reads every sibling's
    // health, and is only worth asking if the hedge delay passes (then it may find none).
    let mut hedge_armed = hedge_allowed && max_attempts > 1;
    // On tokio's clock, which the timer runs on (and which tests may pause).
    let deadline = tokio::time::Instant::from_std(ctx.deadline);
    let arrived = tokio::time::Instant::from_std(ctx.started);
    let hedge_at = if hedge_armed {
        arrived + hedge_delay(snapshot, &plan, retry.hedge_delay)
    } else {
        deadline
    };
    let first_limit = if delegate_first {
        (arrived + settings.timeouts.per_try).min(deadline)
    } else {
        deadline
    };
    // The earliest of what the one timer watches: the hedge delay while armed, the first
    // attempt's per-try limit while it runs, the deadline.
    let next_alarm = |hedge_armed: bool, first_live: bool| {
        let mut at = deadline;
        if hedge_armed {
            at = at.min(hedge_at);
        }
        if first_live {
            at = at.min(first_limit);
        }
        at
    };
    let mut timer = std::pin::pin!(tokio::time::sleep_until(next_alarm(hedge_armed, true)));

    loop {
        let later_next = std::future::poll_fn(|cx| match later.as_mut() {
            Some(set) if !set.is_empty() => set.poll_next_unpin(cx),
            _ => std::task::Poll::Pending,
        });
        let first_next = std::future::poll_fn(|cx| match first.as_mut() {
            Some(fut) => fut.as_mut().poll(cx),
            None => std::task::Poll::Pending,
        });
        let outcome = tokio::select! {
            biased;
            outcome = first_next => {
                first = None;
                outcome
            }
            Some(outcome) = later_next => outcome,
            () = &mut timer => {
                let now = tokio::time::Instant::now();
                if now >= deadline {
                    return Err(ErrorKind::DeadlineExceeded);
                }
                if first.is_some() && now >= first_limit {
                    // The first attempt's per-try limit: drop (cancel) it and report it as
                    // its own timer would have.
                    first = None;
                    timer.as_mut().reset(next_alarm(hedge_armed, false));
                    let region = &snapshot.regions[first_region];
                    timed_out(snapshot, region, first_endpoint.clone(), ctx.started)
                } else {
                    if hedge_armed && now >= hedge_at {
                        hedge_armed = false;
                        if (started as usize) < max_attempts
                            && let Some(to) = plan.region(next, snapshot)
                        {
                            if runtime.budget.try_withdraw(retry) {
                                if let Some(fut) =
                                    launch(to, Instant::now(), &mut outstanding, true, "hedge")
                                {
                                    let from = previous_region.unwrap_or(settings.local_region);
                                    record_failover(snapshot, from, to, "hedge", ctx);
                                    metrics::counter!("meridian_hedges_total").increment(1);
                                    later.get_or_insert_with(FuturesUnordered::new).push(fut);
                                    started += 1;
                                }
                                next += 1;
                            } else {
                                metrics::counter!("meridian_retry_budget_exhausted_total")
                                    .increment(1);
                            }
                        }
                    }
                    timer.as_mut().reset(next_alarm(hedge_armed, first.is_some()));
                    continue;
                }
            }
        };

        let AttemptOutcome {
            region,
            endpoint,
            started: sent_at,
            result,
        } = outcome;
        if let Some(pos) = outstanding
            .iter()
            .position(|(e, _, _)| Arc::ptr_eq(e, &endpoint))
        {
            let (outcome, status) = outcome_label(&result);
            outstanding.swap_remove(pos).2.finish(outcome, status);
        }
        let failure = match result {
            Ok(response) => {
                // Attempts still out are dropped (cancelled) on return. One that was sent
                // before the winner lost to a hedge: count it against its endpoint like a
                // failure, so a frozen origin is ejected after a few requests instead of every
                // request paying the hedge delay until probes notice.
                for (loser, loser_sent, span) in &mut outstanding {
                    if *loser_sent < sent_at {
                        span.lost();
                        record_failure(snapshot, loser);
                        metrics::counter!("meridian_hedges_won_total").increment(1);
                    }
                }
                return Ok(Served {
                    response,
                    region,
                    attempts: started,
                });
            }
            Err(failure) => failure,
        };
        let may_retry = !failure.may_have_reached_origin() || ctx.safe_to_replay();
        let body_ok = ctx.body.is_replayable();
        let more = (started as usize) < max_attempts && plan.region(next, snapshot).is_some();
        tracing::debug!(endpoint = %endpoint.label, failure = failure.label(),
            may_retry, body_ok, more, "attempt failed");
        if may_retry && body_ok && more {
            if runtime.budget.try_withdraw(retry) {
                let to = plan.regions[next];
                let why = failure.label();
                if let Some(fut) = launch(to, Instant::now(), &mut outstanding, true, why) {
                    record_failover(snapshot, region, to, failure.label(), ctx);
                    later.get_or_insert_with(FuturesUnordered::new).push(fut);
                    started += 1;
                    previous_region = Some(to);
                }
                next += 1;
                if hedge_armed {
                    hedge_armed = false;
                    timer
                        .as_mut()
                        .reset(next_alarm(hedge_armed, first.is_some()));
                }
            } else {
                metrics::counter!("meridian_retry_budget_exhausted_total").increment(1);
            }
        }
        let live = usize::from(first.is_some()) + later.as_ref().map_or(0, |set| set.len());
        if live == 0 {
            return match failure {
                Failure::Status(response) => Ok(Served {
                    response,
                    region,
                    attempts: started,
                }),
                other => Err(other.kind()),
            };
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
        .first()
        .and_then(|i| {
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
    snapshot.regions[from]
        .failovers_out
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let from_name = snapshot.regions[from].name().to_string();
    let to_name = snapshot.regions[to].name().to_string();
    tracing::info!(event = "failover", from_region = %from_name, to_region = %to_name,
        reason, request_id = ctx.request_id_str(), trace_id = ctx.observe.trace_id(), "failover");
    metrics::counter!("meridian_failovers_total",
        "from" => from_name.clone(), "to" => to_name.clone(), "reason" => reason)
    .increment(1);
    if to != snapshot.settings.local_region {
        metrics::counter!("meridian_cross_region_bytes_total",
            "from" => from_name, "to" => to_name, "direction" => "request")
        .increment(ctx.body.bytes_read());
    }
}
