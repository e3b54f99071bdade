//! The pull of an audience on a terminal: one line at the cursor (ratatui's inline viewport on
//! standard error) with a gauge of the openids read against those expected and the progress in
//! words; the lines above stay as they were, and the gauge's line stays in the scrollback.

use ratatui::backend::CrosstermBackend;
use ratatui::widgets::Gauge;
use ratatui::{Terminal, TerminalOptions, Viewport};

use crate::app::audience::Progress;

/// The gauge's line.
pub struct PullGauge {
    terminal: Terminal<CrosstermBackend<std::io::Stderr>>,
}

impl PullGauge {
    /// A gauge one line tall at the cursor on standard error.
    pub fn open() -> std::io::Result<Self> {
        let backend = CrosstermBackend::new(std::io::stderr());
        let terminal = Terminal::with_options(backend, TerminalOptions { viewport: Viewport::Inline(1) })?;
        Ok(Self { terminal })
    }

    /// Draw `p` with `words` (the progress line of the command) as its label.
    pub fn show(&mut self, p: &Progress, words: &str) {
        let ratio = match p.expected {
            Some(e) if e > 0 => (p.openids as f64 / e as f64).clamp(0.0, 1.0),
            _ => 0.0,
        };
        let theme = super::theme::Theme { color: std::env::var_os("NO_COLOR").is_none() };
        let _ = self.terminal.draw(|f| {
            let gauge = Gauge::default().ratio(ratio).label(words.to_string()).gauge_style(theme.accent());
            f.render_widget(gauge, f.area());
        });
    }
}

impl Drop for PullGauge {
    fn drop(&mut self) {
        // The next output starts on the line below the gauge.
        eprintln!();
    }
}
