//! Sending threads ("lanes"): each a one-thread tokio runtime of its own, running its share of
//! the workers with its own connections. A worker's request, its connection and its answer stay
//! on one thread (no hand-off, no work stealing); what lanes share is what workers already
//! shared: the board, the pacer, the journal and the token cache.
//!
//! The control loop, the events and the front end stay on the caller's runtime.

use std::thread::JoinHandle;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// The lanes of one run; stopped (their threads joined) when dropped.
#[derive(Debug)]
pub(super) struct Lanes {
    lanes: Vec<Lane>,
}

#[derive(Debug)]
struct Lane {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Lanes {
    /// Start `n` lanes. `at_exit` runs on each lane's thread as it stops (to close the
    /// connections it opened, which only that thread's runtime can drive).
    pub(super) fn start(n: usize, at_exit: impl Fn() + Clone + Send + 'static) -> std::io::Result<Self> {
        let mut lanes = Vec::with_capacity(n);
        for i in 0..n {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let handle = runtime.handle().clone();
            let (stop, stopped) = oneshot::channel::<()>();
            let at_exit = at_exit.clone();
            let thread = std::thread::Builder::new().name(format!("wxsend-lane-{i}")).spawn(move || {
                // Runs the lane's tasks until told to stop (or the run's side is gone).
                runtime.block_on(async {
                    let _ = stopped.await;
                });
                at_exit();
                // Dropping the runtime ends whatever task is left (none, after a run).
            })?;
            lanes.push(Lane { handle, stop: Some(stop), thread: Some(thread) });
        }
        Ok(Self { lanes })
    }

    /// The runtime of lane `i` (modulo the number of lanes).
    pub(super) fn handle(&self, i: usize) -> &Handle {
        &self.lanes[i % self.lanes.len()].handle
    }
}

impl Drop for Lanes {
    fn drop(&mut self) {
        for lane in &mut self.lanes {
            if let Some(stop) = lane.stop.take() {
                let _ = stop.send(());
            }
        }
        for lane in &mut self.lanes {
            if let Some(thread) = lane.thread.take() {
                // The lane's tasks have ended before this: its thread exits at once.
                let _ = thread.join();
            }
        }
    }
}

/// Workers a lane needs before another lane pays: with fewer, answers reach a lane one or two at
/// a time, and its journal writes and wake-ups are no longer shared by a group (measured against
/// nginx: at concurrency 16 one lane sends 99–105k msg/s, two 76–91k; at 64 two lanes send
/// 114–117k, one 107k; BENCHMARKS.md).
pub const WORKERS_PER_LANE: u32 = 32;

/// The number of lanes for `concurrency` workers: `setting` (`WXSEND_SEND_THREADS=N`) when
/// given, else one per [`WORKERS_PER_LANE`] workers up to one per core this process may use;
/// never more than there are workers. One lane means the workers run on the caller's runtime
/// (no thread is started).
pub fn lanes_for(concurrency: u32, setting: Option<usize>) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let by_workers = (concurrency / WORKERS_PER_LANE).max(1) as usize;
    setting.unwrap_or(by_workers.min(cores)).clamp(1, concurrency.max(1) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn tasks_run_on_their_lane_and_every_lane_cleans_up_on_its_thread() {
        let exits = Arc::new(AtomicUsize::new(0));
        let counter = exits.clone();
        let lanes = Lanes::start(2, move || {
            assert!(std::thread::current().name().is_some_and(|n| n.starts_with("wxsend-lane-")));
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        let mut names = Vec::new();
        for i in 0..4 {
            let name = lanes.handle(i).spawn(async { std::thread::current().name().map(str::to_string) });
            names.push(name.await.unwrap().unwrap());
        }
        assert_eq!(names, ["wxsend-lane-0", "wxsend-lane-1", "wxsend-lane-0", "wxsend-lane-1"]);
        drop(lanes);
        assert_eq!(exits.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn lanes_are_bounded_by_the_workers() {
        assert_eq!(lanes_for(1, Some(8)), 1);
        assert_eq!(lanes_for(16, Some(2)), 2);
        assert_eq!(lanes_for(16, Some(0)), 1);
        assert_eq!(lanes_for(16, None), 1, "16 workers share one lane");
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(lanes_for(64, None), cores.min(2));
    }
}
