//! This thread's small number, for the per-thread parts of structures that threads share (the
//! HTTP pool, the journal's group commit). Imports nothing: any layer may use it.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The next thread's number.
static NEXT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SLOT: usize = NEXT.fetch_add(1, Ordering::Relaxed);
}

/// This thread's number: given on first use, distinct from every other thread's in the process.
pub fn current() -> usize {
    SLOT.with(|s| *s)
}

#[cfg(test)]
mod tests {
    #[test]
    fn threads_have_distinct_numbers_that_stay() {
        let here = super::current();
        assert_eq!(super::current(), here);
        let there = std::thread::spawn(super::current).join().unwrap();
        assert_ne!(here, there);
    }
}
