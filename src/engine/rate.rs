//! The rate a campaign sends at: one [`Limiter`] the workers wait on before a request leaves,
//! either this process's ([`LocalRate`], governor's GCRA) or the account's across every sender
//! (`shared::SharedRate`, a GCRA in Redis).
//!
//! A waiter asks governor for a cell and, when refused, sleeps until the cell's instant and asks
//! again; a wake-up that comes late is lost for good when the bucket holds one cell (measured:
//! 0.89× the rate at 1,000/s). The local limiter therefore holds at least a twentieth of a
//! second's worth of cells ([`effective_burst`]): late wake-ups are made up from it, and no
//! one-second span holds more than `rate + burst` requests (BENCHMARKS.md, "network").

use std::fmt::Debug;
use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;

use arc_swap::ArcSwap;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::shared::SharedError;

/// A boxed future of a limiter (the trait is used as `dyn`).
pub type LimiterFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the engine waits on before each request: a permit at the campaign's rate.
pub trait Limiter: Send + Sync + Debug {
    /// Wait for the next permit. `Err`: the limiter itself failed (Redis lost; the local one
    /// never does).
    fn until_ready(&self) -> LimiterFuture<'_, Result<(), SharedError>>;

    /// Change the rate (messages a second) from the next permit on, with no catch-up burst.
    fn set_rate(&self, rate: u32) -> LimiterFuture<'_, Result<(), SharedError>>;

    /// Sending resumes after a pause: permits given up while halted are not owed.
    fn restart(&self) {}
}

/// The burst the local limiter holds: the campaign's `burst`, and at least a twentieth of a
/// second of messages (at least 2), so that timer lateness does not cost rate.
pub fn effective_burst(rate: u32, burst: u32) -> u32 {
    burst.max(rate.div_ceil(20)).max(2)
}

/// This process's rate: a governor limiter, swapped whole when the rate changes.
#[derive(Debug)]
pub struct LocalRate {
    limiter: ArcSwap<DefaultDirectRateLimiter>,
    /// One waiter at a time on the limiter, the others queued in order: governor wakes every
    /// waiter at the next cell's instant, and with hundreds of workers all but one would wake
    /// for nothing at every permit.
    turn: tokio::sync::Mutex<()>,
    burst: u32,
    rate: std::sync::atomic::AtomicU32,
}

impl LocalRate {
    /// A limiter of `rate` messages a second with the campaign's `burst`. Its bucket starts
    /// empty: the first second holds `rate` messages, not `rate + burst` (each of which would
    /// open a connection at once).
    pub fn new(rate: u32, burst: u32) -> Self {
        let rate = rate.max(1);
        Self {
            limiter: ArcSwap::from_pointee(limiter(rate, burst, true)),
            turn: tokio::sync::Mutex::new(()),
            burst,
            rate: std::sync::atomic::AtomicU32::new(rate),
        }
    }

    /// The rate in force.
    pub fn rate(&self) -> u32 {
        self.rate.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn install(&self, rate: u32) {
        let rate = rate.max(1);
        self.rate.store(rate, std::sync::atomic::Ordering::Relaxed);
        self.limiter.store(Arc::new(limiter(rate, self.burst, true)));
    }
}

/// A governor limiter at `rate` with [`effective_burst`]; `drained`: its bucket starts empty, so
/// the first permit is one interval away (a rate change or a resume sends no burst).
fn limiter(rate: u32, burst: u32, drained: bool) -> DefaultDirectRateLimiter {
    let rate_nz = NonZeroU32::new(rate.max(1)).unwrap_or(NonZeroU32::MIN);
    let cells = NonZeroU32::new(effective_burst(rate, burst)).unwrap_or(NonZeroU32::MIN);
    let limiter = RateLimiter::direct(Quota::per_second(rate_nz).allow_burst(cells));
    if drained {
        // The bucket holds exactly `cells`, so this cannot be refused as too large.
        let _ = limiter.check_n(cells);
    }
    limiter
}

impl Limiter for LocalRate {
    fn until_ready(&self) -> LimiterFuture<'_, Result<(), SharedError>> {
        Box::pin(async move {
            let _turn = self.turn.lock().await;
            loop {
                // Asked of the limiter in force each time: a rate change meanwhile applies.
                let current = self.limiter.load_full();
                match current.check() {
                    Ok(()) => return Ok(()),
                    // Slept on tokio's own timer, on this runtime: governor's `until_ready`
                    // sleeps on a timer thread of its own, a thread switch per permit
                    // (BENCHMARKS.md, "network").
                    Err(not_until) => {
                        let wait = not_until.wait_time_from(governor::clock::Clock::now(current.clock()));
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        })
    }

    fn set_rate(&self, rate: u32) -> LimiterFuture<'_, Result<(), SharedError>> {
        self.install(rate);
        Box::pin(async { Ok(()) })
    }

    fn restart(&self) {
        self.install(self.rate());
    }
}

impl Limiter for crate::shared::SharedRate {
    fn until_ready(&self) -> LimiterFuture<'_, Result<(), SharedError>> {
        Box::pin(self.permit())
    }

    fn set_rate(&self, rate: u32) -> LimiterFuture<'_, Result<(), SharedError>> {
        Box::pin(crate::shared::SharedRate::set_rate(self, rate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn the_burst_absorbs_a_twentieth_of_a_second() {
        assert_eq!(effective_burst(20, 1), 2);
        assert_eq!(effective_burst(1000, 1), 50);
        assert_eq!(effective_burst(5000, 1), 250);
        assert_eq!(effective_burst(1000, 80), 80);
    }

    #[tokio::test]
    async fn a_fresh_limiter_paces_from_the_start() {
        let rate = LocalRate::new(100, 1);
        assert!(rate.limiter.load_full().check().is_err(), "no burst at the start");
        let started = Instant::now();
        for _ in 0..5 {
            rate.until_ready().await.unwrap();
        }
        assert!(started.elapsed() >= Duration::from_millis(40), "five permits at 100/s take 50 ms");
    }

    #[tokio::test]
    async fn a_rate_change_sends_no_catch_up_burst() {
        let rate = LocalRate::new(10, 1);
        rate.set_rate(20).await.unwrap();
        assert_eq!(rate.rate(), 20);
        let limiter = rate.limiter.load_full();
        assert!(limiter.check().is_err(), "the new limiter starts empty");
        rate.restart();
        assert!(rate.limiter.load_full().check().is_err(), "a resume starts empty too");
    }
}
