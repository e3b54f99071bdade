//! The rate limit: GCRA (the algorithm of governor) with reservations.
//!
//! governor's `until_ready` with `burst = 1` drops every wake-up delay for good: a request that
//! wakes 100 µs late pushes all later ones back by 100 µs, so a campaign at 1,000/s achieved
//! 0.89× its rate (BENCHMARKS.md). Here each request reserves its slot on the theoretical
//! schedule first and then sleeps until it: slots stay exactly `1/rate` apart whatever the
//! wake-up latency, and any one-second span holds at most `rate + burst` of them.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
struct State {
    interval: Duration,
    /// How far ahead of the schedule a request may go: `(burst - 1) × interval`.
    tolerance: Duration,
    /// The theoretical arrival time of the next request.
    next: Option<Instant>,
}

/// Hands out send times at most `rate` per second (plus `burst`).
#[derive(Debug)]
pub struct Pacer {
    state: Mutex<State>,
}

fn timing(rate: u32, burst: u32) -> (Duration, Duration) {
    let interval = Duration::from_secs(1) / rate.max(1);
    (interval, interval * burst.max(1).saturating_sub(1))
}

impl Pacer {
    pub fn new(rate: u32, burst: u32) -> Self {
        let (interval, tolerance) = timing(rate, burst);
        Self { state: Mutex::new(State { interval, tolerance, next: None }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Change the rate from the next reservation on.
    pub fn set_rate(&self, rate: u32, burst: u32) {
        let (interval, tolerance) = timing(rate, burst);
        let mut s = self.lock();
        s.interval = interval;
        s.tolerance = tolerance;
    }

    /// Reserve the next slot: the instant at which the caller may send (never before `now`).
    pub fn reserve(&self, now: Instant) -> Instant {
        let mut s = self.lock();
        let scheduled = s.next.unwrap_or(now);
        let at = now.max(scheduled.checked_sub(s.tolerance).unwrap_or(scheduled));
        s.next = Some(scheduled.max(at) + s.interval);
        at
    }

    /// Wait for a slot.
    pub async fn until_ready(&self) {
        let at = self.reserve(Instant::now());
        if at > Instant::now() {
            tokio::time::sleep_until(at.into()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(p: &Pacer, start: Instant, n: usize) -> Vec<Duration> {
        (0..n).map(|_| p.reserve(start) - start).collect()
    }

    #[test]
    fn slots_are_one_interval_apart_when_everyone_is_waiting() {
        let p = Pacer::new(50, 1);
        let t0 = Instant::now();
        let s = schedule(&p, t0, 4);
        assert_eq!(
            s,
            vec![Duration::ZERO, Duration::from_millis(20), Duration::from_millis(40), Duration::from_millis(60)]
        );
    }

    #[test]
    fn burst_lets_that_many_go_at_once() {
        let p = Pacer::new(10, 3);
        let t0 = Instant::now();
        let s = schedule(&p, t0, 5);
        assert_eq!(s[..3], [Duration::ZERO; 3]);
        assert_eq!(s[3], Duration::from_millis(100));
        assert_eq!(s[4], Duration::from_millis(200));
    }

    #[test]
    fn a_late_caller_does_not_push_the_schedule_back() {
        let p = Pacer::new(100, 1);
        let t0 = Instant::now();
        assert_eq!(p.reserve(t0), t0);
        assert_eq!(p.reserve(t0), t0 + Duration::from_millis(10));
        // Caller 3 wakes 3 ms after its slot opened: it goes now, and slot 4 stays where it was.
        let late = t0 + Duration::from_millis(23);
        assert_eq!(p.reserve(late), late);
        assert_eq!(p.reserve(late), t0 + Duration::from_millis(33));
    }

    #[test]
    fn an_idle_pacer_does_not_save_up_sends() {
        let p = Pacer::new(100, 1);
        let t0 = Instant::now();
        p.reserve(t0);
        let later = t0 + Duration::from_secs(5);
        assert_eq!(p.reserve(later), later);
        assert_eq!(p.reserve(later), later + Duration::from_millis(10));
    }

    #[test]
    fn no_second_holds_more_than_rate_plus_burst() {
        let p = Pacer::new(200, 2);
        let t0 = Instant::now();
        let s = schedule(&p, t0, 1000);
        for (i, a) in s.iter().enumerate() {
            let in_window = s[i..].iter().take_while(|b| **b < *a + Duration::from_secs(1)).count();
            assert!(in_window <= 202, "{in_window}");
        }
        assert_eq!(s[999], Duration::from_millis(5 * 998));
    }

    #[test]
    fn rate_changes_apply_to_the_next_slot() {
        let p = Pacer::new(10, 1);
        let t0 = Instant::now();
        p.reserve(t0);
        p.set_rate(100, 1);
        assert_eq!(p.reserve(t0), t0 + Duration::from_millis(100));
        assert_eq!(p.reserve(t0), t0 + Duration::from_millis(110));
    }
}
