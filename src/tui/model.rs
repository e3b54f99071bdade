//! The run model of the TUI: what the engine's events do to the rows, counters, throughput and
//! token shown while sending. Pure state, no I/O.

use super::app::App;
use super::keys::Screen;
use super::status::{Status, THROUGHPUT_SAMPLES};
use crate::engine::{Event, RowEvent};
use crate::wechat::external_refresh_hint;

impl App {
    /// The engine started: switch to the sending screen.
    pub fn started(&mut self) {
        self.screen = Screen::Sending;
        self.follow = true;
        self.invalid_only = false;
        self.rebuild_view();
    }

    /// The send decision asks before anything leaves (`--yes` with a template that could not be
    /// checked): open the confirm popup now, showing the template's question first.
    pub fn ask_to_start(&mut self, questions: &[crate::app::Question]) {
        if questions.iter().any(|q| matches!(q, crate::app::Question::Template(_))) {
            self.template_unverified = true;
        }
        self.overlay = Some(super::app::Overlay::Confirm);
    }

    /// An engine event.
    pub fn on_event(&mut self, ev: &Event) {
        match ev {
            Event::Rows(rows) => {
                for r in rows {
                    self.on_row(r);
                }
            }
            Event::Progress(c) => {
                self.counters = c.clone();
                self.sample_throughput();
            }
            Event::TokenRefreshed { external, status } => {
                self.token = Some(status.clone());
                if *external {
                    self.token_note = Some(external_refresh_hint(status.source).to_string());
                }
            }
            Event::Paused(reason) => self.pause = Some(reason.clone()),
            Event::Resumed => self.pause = None,
            Event::RateChanged(r) => self.rate = *r,
            Event::Done(summary) => {
                self.counters = summary.counters.clone();
                self.token = Some(summary.token.clone());
                self.summary = Some((**summary).clone());
                self.screen = Screen::Done;
                self.pause = None;
                self.overlay = None;
            }
        }
    }

    fn on_row(&mut self, ev: &RowEvent) {
        let (row, status) = match ev {
            RowEvent::Started { row, attempt } => (*row, Status::InFlight(*attempt)),
            RowEvent::Retrying { row, attempt, .. } => (*row, Status::Retrying(*attempt)),
            RowEvent::Delivered { row, .. } => (*row, Status::Delivered),
            RowEvent::Failed { row, failure, .. } => {
                self.failures.insert(*row, (failure.code(), failure.errmsg.clone()));
                if self.failures_only && self.view.binary_search(row).is_err() {
                    let at = self.view.partition_point(|r| r < row);
                    self.view.insert(at, *row);
                }
                (*row, Status::Failed)
            }
            RowEvent::Unanswered { row, .. } => (*row, Status::Pending),
            RowEvent::Released { row } => (*row, Status::Pending),
            RowEvent::Elsewhere { row, unknown } => (*row, Status::Elsewhere { unknown: *unknown }),
            RowEvent::RetryLater { row, failure, .. } => {
                self.failures.insert(*row, (failure.code(), format!("retry later: {}", failure.errmsg)));
                (*row, Status::Pending)
            }
        };
        if let RowEvent::Started { attempt, .. } = ev {
            if let Some(a) = self.attempts.get_mut(row) {
                *a = u8::try_from(*attempt).unwrap_or(u8::MAX);
            }
            if self.follow {
                if let Ok(at) = self.view.binary_search(&row) {
                    self.selected = self.selected.max(at);
                }
            }
        }
        if let Some(s) = self.status.get_mut(row) {
            *s = status;
        }
    }

    fn sample_throughput(&mut self) {
        let (at, requests) = self.last_sample;
        let now = self.counters.elapsed_ms;
        if now >= at + 1000 {
            let seconds = ((now - at) / 1000).max(1);
            let per_second = (self.counters.requests.saturating_sub(requests)) / seconds;
            for _ in 0..seconds.min(THROUGHPUT_SAMPLES as u64) {
                self.throughput.push(per_second);
            }
            if self.throughput.len() > THROUGHPUT_SAMPLES {
                let extra = self.throughput.len() - THROUGHPUT_SAMPLES;
                self.throughput.drain(..extra);
            }
            self.last_sample = (now, self.counters.requests);
        }
    }
}
