//! A launched run as the front ends see it: the control handle and the engine's events, with an
//! engine that died without saying goodbye turned into a `crashed` ending.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::engine::{Counters, EndReason, Event, Handle, Summary};
use crate::wechat::TokenCache;

/// A running campaign.
#[derive(Debug)]
pub struct Run {
    /// Pause, resume, stop, change the rate.
    pub handle: Handle,
    events: mpsc::Receiver<Event>,
    tokens: Arc<TokenCache>,
    last: Counters,
    done: bool,
    /// The other senders on Redis, when scaled out.
    pub shared: Option<tokio::sync::watch::Receiver<super::shared::SharedView>>,
}

impl Run {
    /// Wrap a started engine.
    pub fn new(handle: Handle, events: mpsc::Receiver<Event>, tokens: Arc<TokenCache>) -> Self {
        Self { handle, events, tokens, last: Counters::default(), done: false, shared: None }
    }

    /// The other senders on Redis and their rate together (when the campaign is shared and
    /// any has spoken).
    pub fn shared_view(&self) -> Option<super::shared::SharedView> {
        let view = *self.shared.as_ref()?.borrow();
        (view.senders > 0).then_some(view)
    }

    /// The next event; always ends with exactly one [`Event::Done`], then `None`. If the engine
    /// went away without one (its task failed), the `Done` says `crashed`, never "stopped".
    pub async fn next(&mut self) -> Option<Event> {
        match self.events.recv().await {
            Some(e) => {
                match &e {
                    Event::Progress(c) => self.last = c.clone(),
                    Event::Done(_) => self.done = true,
                    _ => {}
                }
                Some(e)
            }
            None if !self.done => {
                self.done = true;
                let mut counters = self.last.clone();
                counters.in_flight = 0;
                Some(Event::Done(Box::new(Summary {
                    counters,
                    reason: EndReason::Crashed { message: "the sending engine ended without a summary".into() },
                    achieved_rate: 0.0,
                    token: self.tokens.status(),
                })))
            }
            None => None,
        }
    }
}
