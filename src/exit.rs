//! The one place outcomes become exit codes (the README's table mirrors this).

/// How a wxsend command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: every row was sent (or, for `check`, every row is ready).
    Success,
    /// 1: some rows failed, were invalid, or were left unsent.
    Partial,
    /// 2: usage or input error; nothing was sent.
    Input,
    /// 3: the campaign was stopped by a fatal API condition (or the failure-rate guard).
    Stopped,
}

impl Exit {
    pub fn code(self) -> i32 {
        match self {
            Exit::Success => 0,
            Exit::Partial => 1,
            Exit::Input => 2,
            Exit::Stopped => 3,
        }
    }
}

/// The exit code of a `send` run: 3 when WeChat (or the failure guard) stopped it, 0 when every
/// ready row is delivered and no row was invalid, else 1.
pub fn after_send(reason: &crate::engine::EndReason, totals: &crate::export::Totals, invalid: usize) -> Exit {
    if reason.is_fatal() {
        Exit::Stopped
    } else if totals.pending == 0 && totals.failed == 0 && totals.unknown == 0 && invalid == 0 {
        Exit::Success
    } else {
        Exit::Partial
    }
}
