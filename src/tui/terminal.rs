//! The terminal while the UI owns it ([`Screen`]: restored on drop, panic included) and its
//! keys and mouse, read on a thread of their own ([`Input`]).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ratatui::crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event as TermEvent};
use ratatui::crossterm::execute;
use tokio::sync::mpsc;

/// The terminal while the UI owns it: the alternate screen and the mouse, given back when it is
/// dropped (ratatui's own panic hook restores the screen; ours gives the mouse back).
pub(super) struct Screen {
    pub(super) terminal: ratatui::DefaultTerminal,
}

impl Screen {
    pub(super) fn open() -> std::io::Result<Self> {
        let terminal = ratatui::try_init()?;
        let _ = execute!(std::io::stdout(), EnableMouseCapture);
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = execute!(std::io::stdout(), DisableMouseCapture);
            previous(info);
        }));
        Ok(Self { terminal })
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = execute!(std::io::stdout(), DisableMouseCapture);
        ratatui::restore();
        let _ = std::io::stdout().flush();
    }
}

/// The terminal's keys and mouse, read on a thread of their own (crossterm blocks) and handed
/// over on a channel; the thread ends when this is dropped.
pub(super) struct Input {
    pub(super) events: mpsc::Receiver<TermEvent>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Input {
    pub(super) fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, events) = mpsc::channel::<TermEvent>(64);
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                if event::poll(Duration::from_millis(100)).unwrap_or(false) {
                    let Ok(ev) = event::read() else { break };
                    if tx.blocking_send(ev).is_err() {
                        break;
                    }
                }
            }
        });
        Self { events, stop, thread: Some(thread) }
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
