//! Styles, with or without colour (`NO_COLOR`).

use ratatui::style::{Color, Modifier, Style};

/// The styles the screens use.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    /// Whether colours are allowed.
    pub color: bool,
}

impl Theme {
    fn fg(self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    /// Titles and keys.
    pub fn title(self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }

    /// Delivered, good news.
    pub fn ok(self) -> Style {
        self.fg(Color::Green)
    }

    /// Failures.
    pub fn bad(self) -> Style {
        self.fg(Color::Red)
    }

    /// Warnings.
    pub fn warn(self) -> Style {
        self.fg(Color::Yellow)
    }

    /// Secondary text.
    pub fn dim(self) -> Style {
        if self.color {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default().add_modifier(Modifier::DIM)
        }
    }

    /// Highlights.
    pub fn accent(self) -> Style {
        self.fg(Color::Cyan)
    }

    /// The selected row.
    pub fn selected(self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    /// The pause banner.
    pub fn banner(self) -> Style {
        if self.color {
            Style::default().fg(Color::Black).bg(Color::Yellow).add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }
}
