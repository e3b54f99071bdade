//! The one place outcomes become exit codes (the README's table mirrors this; `main.rs` alone
//! exits the process with [`Exit::code`]).

use crate::engine::EndReason;

use super::export::Totals;

/// How a wxsend command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: every row was sent (or, for `check`, every row is ready).
    Success,
    /// 1: some rows failed, were invalid, unknown, or were left unsent.
    Partial,
    /// 2: usage or input error; nothing was sent.
    Input,
    /// 3: the campaign was stopped by WeChat (a `stop` errcode), the failure-rate guard or a
    /// token source that gave no token; run again once the cause is fixed.
    Stopped,
    /// 4: this machine could not write the campaign's state (disk full, read-only, I/O error):
    /// sending stopped at once; free space and run the same command again.
    LocalWrite,
    /// 5: wxsend itself failed (a crashed task); the journal is intact, run the same command
    /// again, and report the message.
    Crashed,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> i32 {
        match self {
            Exit::Success => 0,
            Exit::Partial => 1,
            Exit::Input => 2,
            Exit::Stopped => 3,
            Exit::LocalWrite => 4,
            Exit::Crashed => 5,
        }
    }

    /// The exit of a `send` run that ended for `reason`, with these totals over the ready rows
    /// and `invalid` rows that were never sendable.
    pub fn of_run(reason: &EndReason, totals: &Totals, invalid: usize) -> Exit {
        match reason {
            EndReason::Crashed { .. } => Exit::Crashed,
            EndReason::Journal { .. } => Exit::LocalWrite,
            r if r.is_fatal() => Exit::Stopped,
            _ if totals.pending == 0
                && totals.failed == 0
                && totals.unknown == 0
                && totals.elsewhere_unknown == 0
                && totals.earlier_unknown == 0
                && totals.suppressed == 0
                && invalid == 0 =>
            {
                Exit::Success
            }
            _ => Exit::Partial,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ending_has_its_code() {
        let clean = Totals::default();
        let pending = Totals { pending: 1, ..Default::default() };
        let fatal = EndReason::Fatal { errcode: Some(45009), errmsg: "quota".into(), hint: None };
        let cases = [
            (EndReason::Completed, clean, 0, 0),
            (EndReason::Completed, clean, 1, 1),
            (EndReason::Stopped, pending, 0, 1),
            (fatal, pending, 0, 3),
            (EndReason::Token { message: "no secret".into() }, pending, 0, 3),
            (EndReason::Journal { detail: "No space left on device".into(), unrecorded: Vec::new() }, pending, 0, 4),
            (EndReason::Crashed { message: "worker panicked".into() }, pending, 0, 5),
        ];
        for (reason, totals, invalid, code) in cases {
            assert_eq!(Exit::of_run(&reason, &totals, invalid).code(), code, "{reason:?}");
        }
    }
}
