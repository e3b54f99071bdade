//! Holding and releasing a run by its schedule (`send --at`, `[send] window`): the run starts
//! held when the gate is closed, and a task opens and closes it at the schedule's edges,
//! re-reading the wall clock each time it wakes (a clock that jumps is followed, not trusted).

use chrono::Utc;

use crate::campaign::schedule::{Gate, Schedule, Wait};
use crate::engine::{Control, Handle, PauseReason};

/// Why sending waits, for the pause banner and the headless countdown.
pub fn hold_reason(schedule: &Schedule, opens_at: chrono::DateTime<Utc>, why: Wait) -> PauseReason {
    let why = match (why, schedule.window) {
        (Wait::Start, _) => crate::tr!("pause.why_start"),
        (Wait::Window, Some(w)) => crate::tr!("pause.why_window", window = w, zone = schedule.zone.name()),
        (Wait::Window, None) => crate::tr!("pause.why_window_any"),
    };
    PauseReason::Scheduled { why, opens_at: schedule.show(opens_at), opens_at_unix: opens_at.timestamp() }
}

/// Whether the run must start held.
pub fn starts_held(schedule: &Schedule) -> bool {
    matches!(schedule.gate(Utc::now()), Gate::Closed { .. })
}

/// Open and close the run at the schedule's edges until the engine ends.
pub async fn drive(handle: Handle, schedule: Schedule) {
    loop {
        if handle.is_closed() {
            return;
        }
        let now = Utc::now();
        let until = match schedule.gate(now) {
            Gate::Open { closes_at } => {
                handle.send(Control::Schedule(None));
                match closes_at {
                    Some(t) => t,
                    None => return,
                }
            }
            Gate::Closed { opens_at, why } => {
                handle.send(Control::Schedule(Some(hold_reason(&schedule, opens_at, why))));
                opens_at
            }
        };
        // A little past the edge, so the gate has turned when it is read again; at most a
        // minute at a time, so the end of the engine is noticed.
        let wait = (until - now).to_std().unwrap_or_default() + std::time::Duration::from_millis(50);
        tokio::time::sleep(wait.min(std::time::Duration::from_secs(60))).await;
    }
}
