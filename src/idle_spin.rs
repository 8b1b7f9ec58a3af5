//! `--idle-spin`: a busy worker stays on its core for a short window before it sleeps.
//!
//! Why: a proxy that sleeps whenever it runs out of work gives its core up many thousand times
//! a second, and the kernel fills it with whatever wakes next: on a Fargate task the
//! application's threads (Meridian is a sidecar sharing the task's vCPUs), in the benchmark the
//! load generator. The next request then waits behind that thread. On the 2-core benchmark
//! machine Meridian's core hosted a load-generator thread 65-85 % of the time against 35-55 %
//! for nginx, and Meridian's p99 was the worse one (BENCHMARKS.md, sessions 6 and 7).
//!
//! How: tokio calls the park hook when a worker has no task left and is about to wait in
//! `epoll_wait`. If the worker's last sleep was shorter than the window (work is arriving
//! densely), the hook first stays runnable for the window, calling `sched_yield` in a loop:
//! the core is not idle, so the kernel does not put a newly woken thread there, but a thread
//! already waiting for this core (an origin sharing it) runs at once instead of waiting out
//! the window. Whatever arrived meanwhile is then picked up by `epoll_wait` at once, in one
//! batch. If the last sleep was longer (light load, idle), the worker sleeps straight away,
//! so a quiet proxy spends nothing. Costs, stated where users read them (README): events that
//! arrive during a window wait for its end, and the window counts as CPU time, which matters
//! to autoscaling on CPU. Off by default, like HAProxy's `busy-polling`.
//!
//! Tried and measured (session 7): a pure busy loop (`spin_loop`) kept the core as well and
//! gained more throughput when the core was contested by the load generator, but took the core
//! from an origin pinned to it (1.05x nginx's throughput against 1.10x for `sched_yield`);
//! a task yielding to tokio (zero-timeout polls) kept the worker busy yet did not keep the core.

use metrics::Counter;
use std::cell::Cell;
use std::time::{Duration, Instant};

/// The longest window accepted: a bound, so that a typo (`50ms` for `50us`) is refused rather
/// than turning a busy proxy into one that holds its core for whole scheduler slices.
pub const MAX_WINDOW: Duration = Duration::from_millis(1);

/// An `--idle-spin` value that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum IdleSpinError {
    /// Longer than [`MAX_WINDOW`].
    #[error("idle spin of {0:?} is longer than the maximum of {MAX_WINDOW:?}")]
    TooLong(Duration),
}

/// The window, and the counters that show what spinning costs.
#[derive(Clone)]
pub struct IdleSpin {
    /// How long a busy worker spins before it sleeps.
    window: Duration,
    /// `meridian_idle_spin_microseconds_total`.
    spun: Counter,
    /// `meridian_idle_spin_windows_total`.
    windows: Counter,
}

/// One worker's sleeps, which decide whether it spins.
#[derive(Clone, Copy, Default)]
struct Sleeps {
    /// When the current sleep began; None while the worker is awake.
    began: Option<Instant>,
    /// How long the last sleep lasted (zero for a fresh worker, which counts as busy).
    last: Duration,
}

thread_local! {
    static SLEEPS: Cell<Sleeps> = Cell::new(Sleeps::default());
}

// === impl Sleeps ===

impl Sleeps {
    fn woke(self, now: Instant) -> Self {
        match self.began {
            Some(began) => Self {
                began: None,
                last: now.saturating_duration_since(began),
            },
            None => self,
        }
    }

    /// Work arrived within a window of the last sleep starting: the worker counts as busy.
    fn busy(self, window: Duration) -> bool {
        self.last < window
    }

    fn sleeping(self, now: Instant) -> Self {
        Self {
            began: Some(now),
            ..self
        }
    }
}

// === impl IdleSpin ===

impl IdleSpin {
    /// Spinning for `window`; `None` for a zero window (off). Installs the metrics recorder,
    /// since the hooks run before the server would.
    pub fn new(window: Duration) -> Result<Option<Self>, IdleSpinError> {
        if window > MAX_WINDOW {
            return Err(IdleSpinError::TooLong(window));
        }
        if window.is_zero() {
            return Ok(None);
        }
        crate::admin::metrics::recorder();
        Ok(Some(Self {
            window,
            spun: metrics::counter!("meridian_idle_spin_microseconds_total"),
            windows: metrics::counter!("meridian_idle_spin_windows_total"),
        }))
    }

    /// For `tokio::runtime::Builder::on_thread_park`: spin first if the last sleep was short.
    pub fn park_hook(&self) -> impl Fn() + Send + Sync + 'static {
        let spin = self.clone();
        move || {
            spin.before_sleep();
        }
    }

    /// For `tokio::runtime::Builder::on_thread_unpark`: note how long the sleep lasted.
    pub fn unpark_hook(&self) -> impl Fn() + Send + Sync + 'static {
        || SLEEPS.with(|s| s.set(s.get().woke(Instant::now())))
    }

    /// Stays on the core for the window if this worker is busy; returns whether it did.
    fn before_sleep(&self) -> bool {
        let sleeps = SLEEPS.with(Cell::get);
        let mut now = Instant::now();
        let busy = sleeps.busy(self.window);
        if busy {
            let start = now;
            while now - start < self.window {
                // Not `spin_loop`: a thread waiting for this core gets it (see the module doc).
                std::thread::yield_now();
                now = Instant::now();
            }
            self.spun
                .increment(u64::try_from((now - start).as_micros()).unwrap_or(u64::MAX));
            self.windows.increment(1);
        }
        SLEEPS.with(|s| s.set(sleeps.sleeping(now)));
        busy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_off_and_past_the_maximum_is_an_error() {
        assert!(IdleSpin::new(Duration::ZERO).unwrap().is_none());
        assert!(IdleSpin::new(MAX_WINDOW).unwrap().is_some());
        let err = IdleSpin::new(MAX_WINDOW + Duration::from_micros(1))
            .err()
            .unwrap();
        assert!(err.to_string().contains("maximum of 1ms"), "{err}");
    }

    #[test]
    fn a_worker_is_busy_while_its_sleeps_are_shorter_than_the_window() {
        let window = Duration::from_micros(50);
        let t0 = Instant::now();
        let at = |us| t0 + Duration::from_micros(us);
        let fresh = Sleeps::default();
        assert!(fresh.busy(window), "a fresh worker spins");
        let short = fresh.sleeping(at(0)).woke(at(49));
        assert!(short.busy(window));
        let long = short.sleeping(at(100)).woke(at(2_100));
        assert!(!long.busy(window), "after a 2 ms sleep it sleeps at once");
        // A wake without a recorded sleep (the hook installed mid-run) changes nothing.
        assert!(!long.woke(at(2_200)).busy(window));
        let again = long.sleeping(at(2_200)).woke(at(2_210));
        assert!(again.busy(window), "busy again after a short sleep");
    }

    #[test]
    fn a_busy_worker_spins_for_the_whole_window_before_it_sleeps() {
        let window = Duration::from_micros(300);
        let spin = IdleSpin::new(window).unwrap().unwrap();
        // The test thread is fresh, so busy: the hook spins.
        let start = Instant::now();
        assert!(spin.before_sleep());
        assert!(start.elapsed() >= window);
        SLEEPS.with(|s| s.set(s.get().sleeping(start).woke(start + Duration::from_secs(1))));
        assert!(!spin.before_sleep(), "after a 1 s sleep: no spin");
    }
}
