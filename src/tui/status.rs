//! Where a row stands in the table (`Status`), and how many throughput samples the chart keeps.

/// Where a row stands, for the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Not sent yet.
    Pending,
    /// Not sent: a check failed.
    Invalid,
    /// Not sent: the openid came earlier.
    Duplicate,
    /// On its way (attempt number).
    InFlight(u32),
    /// Waiting for another attempt (attempt number).
    Retrying(u32),
    /// Delivered this run.
    Delivered,
    /// Failed for good this run.
    Failed,
    /// Sent by an earlier run without an answer; not resent.
    Unknown,
    /// Delivered by an earlier run.
    DeliveredBefore,
    /// Failed in an earlier run.
    FailedBefore,
    /// Held back by the account's delivery ledger (sent before, refused recently, do-not-send).
    Held,
    /// Another sender on Redis had it (`unknown`: it sent it without an answer).
    Elsewhere {
        /// Sent there without an answer.
        unknown: bool,
    },
}

impl Status {
    /// Whether the row failed, in this run or an earlier one.
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Failed | Status::FailedBefore)
    }
}

/// Samples of the throughput chart (one per second).
pub const THROUGHPUT_SAMPLES: usize = 180;
