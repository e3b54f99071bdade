//! One attempt at one row: render, journal the dispatch, send, journal the answer, and the
//! verdict that tells the board what comes next.

use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::context::Context;
use crate::campaign::Rendered;
use crate::journal::{Line, Who};
use crate::shared::{Claim, RowState};
use crate::wechat::{ErrorClass, Failure, Outcome, TokenNote, TokenStatus};

/// A row on its way: which attempt this is and the body to send (rendered once).
#[derive(Debug, Clone)]
pub struct Job {
    pub row: usize,
    /// Dispatches so far (the journal's attempt number).
    pub attempt: u32,
    /// Transient failures so far (bounded by `max_attempts`).
    pub transient: u32,
    pub body: Option<Bytes>,
    /// The message's key, rendered with the body (the ledger's identity of the message).
    pub message_key: u64,
}

/// What an attempt came to, for the dispatcher.
#[derive(Debug)]
pub enum Verdict {
    Delivered {
        msgid: Option<String>,
    },
    /// Final failure of the row: WeChat refused it.
    Failed(Failure),
    /// Every attempt this run got a transient answer: the row stays pending (journal: `retry`)
    /// and the next run sends it again.
    RetryLater(Failure),
    /// Try again after `delay`.
    Retry {
        failure: Failure,
        delay: Duration,
    },
    /// 45011: pause everything; 43108: retry this row later.
    SlowDown(Failure),
    /// Stop the campaign; the row stays pending for a later run.
    Stop(Failure),
    /// No token: stop; the row stays pending.
    NoToken(String),
    /// The dispatch line could not be written (the file and OS error): the request was not sent.
    JournalFailed(String),
    /// No answer, and the request may have arrived: the row stays unknown (journal:
    /// `unanswered`) and is not sent again without `--resend-unknown`.
    Unknown(Failure),
    /// Another sender has (or had) the row: not sent here.
    Elsewhere {
        /// It sent it without an answer.
        unknown: bool,
    },
    /// Redis was lost before the request left: not sent; dispatching stops.
    SharedLost(String),
}

/// An attempt, done: the job (its attempt counted), what it came to, and what happened to the token.
#[derive(Debug)]
pub struct Finished {
    /// The row's job, to schedule again if it is retried.
    pub job: Job,
    /// The recipient's key, released now that the request is over.
    pub openid_key: Option<u64>,
    /// What the attempt came to.
    pub verdict: Verdict,
    /// Whether the token was replaced on the way.
    pub token: TokenNote,
    /// The token cache after a refresh, for the front ends.
    pub token_status: Option<TokenStatus>,
}

/// A worker's buffers, reused for every row it renders.
#[derive(Default)]
pub struct Scratch {
    rendered: Rendered,
    body: Vec<u8>,
    /// Bodies are cut from this block, so a worker allocates once per some hundred messages.
    bodies: BytesMut,
}

impl Scratch {
    /// Render the row's request body (its message key is left in `self.rendered`).
    pub fn render_body(&mut self, ctx: &Context, row: usize) -> Bytes {
        ctx.campaign.render_row(row, &mut self.rendered, &mut self.body);
        if self.bodies.capacity() < self.body.len() {
            self.bodies.reserve(self.body.len().max(64 * 1024));
        }
        self.bodies.extend_from_slice(&self.body);
        self.bodies.split().freeze()
    }
}

/// Exponential backoff with full jitter: 0.5–1 × base × 2^(n-1), at most `max`.
pub fn backoff(base: Duration, max: Duration, transient: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << transient.saturating_sub(1).min(16)).min(max);
    exp.mul_f64(0.5 + fastrand::f64() * 0.5)
}

/// Send one attempt of `job`: render (once), journal the dispatch, send, journal the answer.
pub async fn attempt(ctx: &Context, scratch: &mut Scratch, mut job: Job, openid_key: Option<u64>) -> Finished {
    // Test builds only: a worker that fails, to prove a crash is reported as one.
    #[cfg(feature = "failpoints")]
    if std::env::var("WXSEND_FAILPOINT_PANIC_AT_ROW").ok().and_then(|v| v.parse::<usize>().ok()) == Some(job.row) {
        panic!("failpoint: a worker failed at row {}", job.row);
    }
    let body = match &job.body {
        Some(b) => b.clone(),
        None => {
            let b = scratch.render_body(ctx, job.row);
            job.body = Some(b.clone());
            job.message_key = scratch.rendered.message_key;
            b
        }
    };
    let finished =
        |job, verdict| Finished { job, openid_key, verdict, token: TokenNote::default(), token_status: None };
    if let Some(c) = &ctx.shared {
        // Boxed here and below: Redis's futures are large, and a send without Redis should not
        // copy their room with every attempt.
        if let Err(verdict) = Box::pin(claim_shared(c, job.row)).await {
            return finished(job, verdict);
        }
    }
    job.attempt += 1;
    let (row, attempt) = (job.row, job.attempt);
    let openid = ctx.campaign.recipients.row(row).map(|r| r.openid().to_string()).unwrap_or_default();
    let who = Some(Box::new(Who { openid, key: format!("{:016x}", job.message_key) }));
    if !ctx.journal.append_written(Line::Dispatch { row, attempt, who }).await {
        let detail = ctx.journal.error().unwrap_or_else(|| "the journal cannot be written".into());
        if let Some(c) = &ctx.shared {
            let _ = Box::pin(c.rows.mark_outcome(row, &RowState::Retry)).await;
        }
        let verdict = Verdict::JournalFailed(detail);
        return finished(job, verdict);
    }
    let kind = ctx.campaign.template.kind;
    let (outcome, token) = match ctx.sender.send(kind, &body).await {
        Ok(r) => r,
        Err(e) => {
            let message = e.to_string();
            ctx.journal.append(Line::Retry { row, attempt, errcode: None, errmsg: message.clone() });
            let verdict = Verdict::NoToken(message);
            return Finished { job, openid_key, verdict, token: TokenNote::default(), token_status: None };
        }
    };
    let verdict = match outcome {
        Outcome::Delivered { msgid } => {
            ctx.journal.append(Line::Ok { row, attempt, msgid: msgid.clone() });
            Verdict::Delivered { msgid }
        }
        Outcome::Failed(f) => classify(ctx, &mut job, f),
    };
    let token_status = token.refreshed.then(|| ctx.sender.tokens.status());
    let verdict = match &ctx.shared {
        Some(c) => Box::pin(share_outcome(c, row, verdict)).await,
        None => verdict,
    };
    Finished { job, openid_key, verdict, token, token_status }
}

/// The row's claim across every sender, which marks it sent in Redis before the request leaves
/// (the write-ahead rule, shared); then the account's rate. Claimed first, so a row another
/// sender has costs no permit. `Err` is the verdict when the row is not to be sent here.
async fn claim_shared(c: &super::context::SharedPart, row: usize) -> Result<(), Verdict> {
    match c.rows.claim(row).await {
        Ok(Claim::Mine) => {}
        Ok(other) => return Err(Verdict::Elsewhere { unknown: other == Claim::Unknown }),
        Err(e) => return Err(Verdict::SharedLost(e.to_string())),
    }
    if let Err(e) = super::rate::Limiter::until_ready(&*c.rate).await {
        let _ = c.rows.mark_outcome(row, &RowState::Retry).await;
        return Err(Verdict::SharedLost(e.to_string()));
    }
    Ok(())
}

/// Write the row's outcome back to Redis. If that fails the outcome stands (it is in the
/// journal; other senders see the row as sent, not resendable) but dispatching stops.
async fn share_outcome(c: &super::context::SharedPart, row: usize, verdict: Verdict) -> Verdict {
    let outcome = match &verdict {
        Verdict::Delivered { .. } => RowState::Ok,
        Verdict::Failed(f) => RowState::Failed(f.code().to_string()),
        Verdict::RetryLater(_) | Verdict::Stop(_) | Verdict::NoToken(_) => RowState::Retry,
        // Left marked sent (by this sender, without an answer): no other sender sends it.
        Verdict::Unknown(_) => return verdict,
        // Retried by this sender in this run: it stays marked sent by this sender.
        _ => return verdict,
    };
    match c.rows.mark_outcome(row, &outcome).await {
        Ok(()) => verdict,
        Err(e) => {
            c.lost(e.to_string());
            verdict
        }
    }
}

fn classify(ctx: &Context, job: &mut Job, f: Failure) -> Verdict {
    let (row, attempt) = (job.row, job.attempt);
    let retry_line = |f: &Failure| Line::Retry { row, attempt, errcode: f.errcode, errmsg: f.errmsg.clone() };
    let failed_line = |f: &Failure| Line::Failed { row, attempt, errcode: f.errcode, errmsg: f.errmsg.clone() };
    // WeChat drops a repeated `client_msg_id` (template/send, 10 minutes): there an unanswered
    // request is retried like a transient failure; every other kind would deliver it twice.
    let dedupes = ctx.campaign.template.kind.has_client_msg_id();
    let class = match f.class {
        ErrorClass::Unanswered if dedupes => ErrorClass::Retry,
        class => class,
    };
    match class {
        ErrorClass::Unanswered => {
            ctx.journal.append(Line::Unanswered { row, attempt, errmsg: f.errmsg.clone() });
            Verdict::Unknown(f)
        }
        ErrorClass::Retry => {
            job.transient += 1;
            if job.transient >= ctx.config.max_attempts {
                // Out of attempts on a transient answer: not a refusal, so the row is not failed
                // for good; its last line is `retry` and the next run sends it.
                ctx.journal.append(retry_line(&f));
                Verdict::RetryLater(f)
            } else {
                ctx.journal.append(retry_line(&f));
                let delay = backoff(ctx.config.backoff_base, ctx.config.backoff_max, job.transient);
                Verdict::Retry { failure: f, delay }
            }
        }
        ErrorClass::SlowDown => {
            // Bounded too: a row that keeps hitting per-user limits is left for a later run.
            if attempt >= ctx.config.max_attempts.saturating_mul(4) {
                ctx.journal.append(retry_line(&f));
                Verdict::RetryLater(f)
            } else {
                ctx.journal.append(retry_line(&f));
                Verdict::SlowDown(f)
            }
        }
        ErrorClass::Row | ErrorClass::Ok => {
            ctx.journal.append(failed_line(&f));
            Verdict::Failed(f)
        }
        ErrorClass::Stop | ErrorClass::Token => {
            ctx.journal.append(retry_line(&f));
            Verdict::Stop(f)
        }
    }
}
