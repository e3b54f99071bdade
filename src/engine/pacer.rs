//! The rate limit: GCRA (the algorithm of governor) with reservations, and a one-second window
//! that holds the limit exactly.
//!
//! governor's `until_ready` with `burst = 1` drops every wake-up delay for good: a request that
//! wakes 100 µs late pushes all later ones back by 100 µs, so a campaign at 1,000/s achieved
//! 0.89× its rate (BENCHMARKS.md). Here each request reserves its slot on the theoretical
//! schedule first and then sleeps until it: slots stay exactly `1/rate` apart whatever the
//! wake-up latency, so the rate over a campaign is the configured one.
//!
//! Two things the schedule alone cannot do, because tokio's timer fires on whole milliseconds:
//! - a slot less than a millisecond ahead would cost a whole timer tick (at 100,000/s a slot is
//!   10 µs): the request goes at once instead;
//! - requests woken late (a stalled process) and the ones on time after them could crowd one
//!   second: the send times of the last `rate + burst` requests are kept, and a request waits
//!   while the one `rate + burst` sends ago is less than a second old. No one-second span ever
//!   holds more than `rate + burst` requests.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The resolution of tokio's timer.
const TIMER_TICK: Duration = Duration::from_millis(1);
const WINDOW: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct State {
    interval: Duration,
    /// How far ahead of the schedule a request may go: `(burst - 1) × interval`.
    tolerance: Duration,
    /// The theoretical arrival time of the next request.
    next: Option<Instant>,
    /// Requests allowed in any one second: `rate + burst`.
    limit: usize,
    /// When the last `limit` requests went, oldest first.
    sent: VecDeque<Instant>,
}

/// Hands out send times at most `rate` per second (plus `burst`).
#[derive(Debug)]
pub struct Pacer {
    state: Mutex<State>,
}

fn timing(rate: u32, burst: u32) -> (Duration, Duration, usize) {
    let interval = Duration::from_secs(1) / rate.max(1);
    let limit = rate.max(1) as usize + burst.max(1) as usize;
    (interval, interval * burst.max(1).saturating_sub(1), limit)
}

impl Pacer {
    /// A pacer for `rate` messages a second with `burst` extra at once.
    pub fn new(rate: u32, burst: u32) -> Self {
        let (interval, tolerance, limit) = timing(rate, burst);
        Self { state: Mutex::new(State { interval, tolerance, next: None, limit, sent: VecDeque::new() }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Change the rate from the next reservation on.
    pub fn set_rate(&self, rate: u32, burst: u32) {
        let (interval, tolerance, limit) = timing(rate, burst);
        let mut s = self.lock();
        s.interval = interval;
        s.tolerance = tolerance;
        s.limit = limit;
        while s.sent.len() > limit {
            s.sent.pop_front();
        }
    }

    /// Start the schedule afresh (after a pause): the slots given up by the requests that were
    /// waiting do not delay the next one. The one-second window is kept.
    pub fn restart(&self) {
        self.lock().next = None;
    }

    /// Reserve the next slot: the instant at which the caller may send (never before `now`).
    pub fn reserve(&self, now: Instant) -> Instant {
        let mut s = self.lock();
        let scheduled = s.next.unwrap_or(now);
        let at = now.max(scheduled.checked_sub(s.tolerance).unwrap_or(scheduled));
        s.next = Some(scheduled.max(at) + s.interval);
        at
    }

    /// Send at `now` if the last second allows it (and count it); otherwise the instant when it will.
    pub fn admit(&self, now: Instant) -> Result<(), Instant> {
        let mut s = self.lock();
        if s.sent.len() >= s.limit {
            let oldest = s.sent[s.sent.len() - s.limit];
            if now < oldest + WINDOW {
                return Err(oldest + WINDOW);
            }
        }
        s.sent.push_back(now);
        while s.sent.len() > s.limit {
            s.sent.pop_front();
        }
        Ok(())
    }

    /// Wait for a slot. Dropping the future gives up the wait (and the slot: see [`Pacer::restart`]).
    pub async fn until_ready(&self) {
        let at = self.reserve(Instant::now());
        if let Some(wake) = at.checked_sub(TIMER_TICK).filter(|w| *w > Instant::now()) {
            tokio::time::sleep_until(wake.into()).await;
        }
        while let Err(until) = self.admit(Instant::now()) {
            tokio::time::sleep_until(until.into()).await;
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

    #[test]
    fn a_restart_forgets_slots_given_up() {
        let p = Pacer::new(4, 1);
        let t0 = Instant::now();
        for _ in 0..8 {
            p.reserve(t0); // reserved, then abandoned by a pause
        }
        assert_eq!(p.reserve(t0), t0 + Duration::from_secs(2));
        p.restart();
        let later = t0 + Duration::from_millis(10);
        assert_eq!(p.reserve(later), later);
    }

    #[test]
    fn the_window_holds_rate_plus_burst_in_any_second() {
        let p = Pacer::new(10, 1);
        let t0 = Instant::now();
        for i in 0..11 {
            assert_eq!(p.admit(t0 + Duration::from_millis(i)), Ok(()), "request {i}");
        }
        // The 12th must wait until the first is a second old.
        assert_eq!(p.admit(t0 + Duration::from_millis(500)), Err(t0 + Duration::from_secs(1)));
        assert_eq!(p.admit(t0 + Duration::from_secs(1)), Ok(()));
        assert_eq!(p.admit(t0 + Duration::from_secs(1)), Err(t0 + Duration::from_millis(1001)));
    }

    #[test]
    fn late_wake_ups_never_crowd_a_second() {
        // 16 workers, in time order: each reserves a slot, wakes after it (now and then 20 ms
        // late, as in a stalled process), asks the window, sends, and reserves again. The
        // schedule keeps the rate; the window keeps every second within rate + burst.
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let (rate, burst) = (1000u32, 1u32);
        let p = Pacer::new(rate, burst);
        let t0 = Instant::now();
        // (time, sequence, is_admit): reservations and admissions of all workers in time order.
        let mut events: BinaryHeap<Reverse<(Instant, u64, bool)>> = (0..16).map(|w| Reverse((t0, w, false))).collect();
        let (mut seq, mut sent) = (16u64, Vec::new());
        while sent.len() < 5000 {
            let Some(Reverse((t, _, is_admit))) = events.pop() else { break };
            seq += 1;
            if !is_admit {
                let at = p.reserve(t).max(t);
                let late = if seq % 700 < 15 { Duration::from_millis(20) } else { Duration::from_micros(seq % 900) };
                events.push(Reverse((at + late, seq, true)));
            } else {
                match p.admit(t) {
                    Ok(()) => {
                        sent.push(t);
                        events.push(Reverse((t, seq, false)));
                    }
                    Err(until) => events.push(Reverse((until, seq, true))),
                }
            }
        }
        let limit = (rate + burst) as usize;
        for (i, a) in sent.iter().enumerate() {
            let in_window = sent[i..].iter().take_while(|b| **b < *a + WINDOW).count();
            assert!(in_window <= limit, "{in_window} in the second from request {i}");
        }
        let achieved = (sent.len() - 1) as f64 / (*sent.last().unwrap() - sent[0]).as_secs_f64();
        assert!((achieved / rate as f64 - 1.0).abs() < 0.01, "rate {achieved}");
    }

    #[test]
    fn a_lower_rate_shrinks_the_window() {
        let p = Pacer::new(100, 1);
        let t0 = Instant::now();
        for _ in 0..101 {
            assert!(p.admit(t0).is_ok());
        }
        p.set_rate(5, 1);
        assert_eq!(p.admit(t0), Err(t0 + WINDOW));
    }
}
