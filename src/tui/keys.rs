//! The one key table: it drives input handling and the help overlay, so help cannot drift.

use ratatui::crossterm::event::KeyCode;

/// The screens of the TUI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// Rows and rendered messages; nothing sent yet.
    Preview,
    /// The campaign is running.
    Sending,
    /// The run ended: summary and files.
    Done,
}

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Quit (asks while sending).
    Quit,
    /// Show the keys.
    Help,
    /// Select the row above.
    Up,
    /// Select the row below.
    Down,
    /// A page up.
    PageUp,
    /// A page down.
    PageDown,
    /// The first row.
    Top,
    /// The last row (while sending: follow the newest).
    Bottom,
    /// Filter the rows.
    Filter,
    /// Only rows that will not be sent.
    InvalidOnly,
    /// Start sending (asks first).
    Start,
    /// Test-send the selected row.
    TestSend,
    /// Pause or resume.
    Pause,
    /// Stop gracefully (asks first).
    Stop,
    /// Only failed rows.
    FailuresOnly,
    /// Write the failures file now.
    Export,
    /// Raise the rate.
    RateUp,
    /// Lower the rate.
    RateDown,
    /// Re-run the failures file just written, here.
    Rerun,
    /// Leave the selected row out of a re-run (again: take it back).
    DropRow,
    /// Leave every row with a code out of a re-run (asks which).
    DropCode,
    /// Leave the permanent classes out of a re-run, or take them back.
    DropPermanent,
}

/// One entry of the key table.
#[derive(Debug)]
pub struct Binding {
    /// The keys that run the command.
    pub keys: &'static [KeyCode],
    /// How the keys are written in help and the footer.
    pub label: &'static str,
    /// The screens where they work.
    pub screens: &'static [Screen],
    /// What they do.
    pub command: Command,
    /// The help text's catalogue key.
    pub help: &'static str,
    /// The catalogue key of the footer's word for it; `None`: only in the `?` help.
    pub footer: Option<&'static str>,
}

use Screen::{Done, Preview, Sending};

const ALL: &[Screen] = &[Preview, Sending, Done];

/// Every key of every screen.
pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[KeyCode::Char('s')],
        label: "s",
        screens: &[Preview],
        command: Command::Start,
        help: "keys.start",
        footer: Some("keys.start_word"),
    },
    Binding {
        keys: &[KeyCode::Char('t')],
        label: "t",
        screens: &[Preview],
        command: Command::TestSend,
        help: "keys.test",
        footer: Some("keys.test_word"),
    },
    Binding {
        keys: &[KeyCode::Char('/')],
        label: "/",
        screens: &[Preview, Sending],
        command: Command::Filter,
        help: "keys.filter",
        footer: Some("keys.filter_word"),
    },
    Binding {
        keys: &[KeyCode::Char('i')],
        label: "i",
        screens: &[Preview],
        command: Command::InvalidOnly,
        help: "keys.not_sent",
        footer: Some("keys.not_sent_word"),
    },
    Binding {
        keys: &[KeyCode::Char('p')],
        label: "p",
        screens: &[Sending],
        command: Command::Pause,
        help: "keys.pause",
        footer: Some("keys.pause_word"),
    },
    Binding {
        keys: &[KeyCode::Char('x')],
        label: "x",
        screens: &[Sending],
        command: Command::Stop,
        help: "keys.stop",
        footer: Some("keys.stop_word"),
    },
    Binding {
        keys: &[KeyCode::Char('f')],
        label: "f",
        screens: &[Sending, Done],
        command: Command::FailuresOnly,
        help: "keys.failures",
        footer: Some("keys.failures_word"),
    },
    Binding {
        keys: &[KeyCode::Char('e')],
        label: "e",
        screens: &[Sending, Done],
        command: Command::Export,
        help: "keys.export",
        footer: Some("keys.export_word"),
    },
    Binding {
        keys: &[KeyCode::Char('+'), KeyCode::Char('=')],
        label: "+/-",
        screens: &[Sending],
        command: Command::RateUp,
        help: "keys.rate_up",
        footer: Some("keys.rate_up_word"),
    },
    Binding {
        keys: &[KeyCode::Char('-')],
        label: "-",
        screens: &[Sending],
        command: Command::RateDown,
        help: "keys.rate_down",
        footer: None,
    },
    Binding {
        keys: &[KeyCode::Char('r')],
        label: "r",
        screens: &[Done],
        command: Command::Rerun,
        help: "keys.rerun",
        footer: Some("keys.rerun_word"),
    },
    Binding {
        keys: &[KeyCode::Char('d')],
        label: "d",
        screens: &[Preview],
        command: Command::DropRow,
        help: "keys.drop_row",
        footer: None,
    },
    Binding {
        keys: &[KeyCode::Char('D')],
        label: "D",
        screens: &[Preview],
        command: Command::DropCode,
        help: "keys.drop_code",
        footer: None,
    },
    Binding {
        keys: &[KeyCode::Char('P')],
        label: "P",
        screens: &[Preview],
        command: Command::DropPermanent,
        help: "keys.drop_permanent",
        footer: None,
    },
    Binding {
        keys: &[KeyCode::Up, KeyCode::Char('k')],
        label: "↑/k",
        screens: ALL,
        command: Command::Up,
        help: "keys.up",
        footer: None,
    },
    Binding {
        keys: &[KeyCode::Down, KeyCode::Char('j')],
        label: "↓/j",
        screens: ALL,
        command: Command::Down,
        help: "keys.down",
        footer: None,
    },
    Binding {
        keys: &[KeyCode::PageUp],
        label: "PgUp",
        screens: ALL,
        command: Command::PageUp,
        help: "keys.page_up",
        footer: None,
    },
    Binding {
        keys: &[KeyCode::PageDown],
        label: "PgDn",
        screens: ALL,
        command: Command::PageDown,
        help: "keys.page_down",
        footer: None,
    },
    Binding {
        keys: &[KeyCode::Char('g'), KeyCode::Home],
        label: "g",
        screens: ALL,
        command: Command::Top,
        help: "keys.top",
        footer: None,
    },
    Binding {
        keys: &[KeyCode::Char('G'), KeyCode::End],
        label: "G",
        screens: ALL,
        command: Command::Bottom,
        help: "keys.bottom",
        footer: None,
    },
    Binding {
        keys: &[KeyCode::Char('?')],
        label: "?",
        screens: ALL,
        command: Command::Help,
        help: "keys.help",
        footer: Some("keys.help_word"),
    },
    Binding {
        keys: &[KeyCode::Char('q')],
        label: "q",
        screens: ALL,
        command: Command::Quit,
        help: "keys.quit",
        footer: Some("keys.quit_word"),
    },
];

/// The command bound to `key` on `screen`, if any.
pub fn lookup(screen: Screen, key: KeyCode) -> Option<Command> {
    BINDINGS.iter().find(|b| b.screens.contains(&screen) && b.keys.contains(&key)).map(|b| b.command)
}

/// The bindings of one screen, in table order.
pub fn for_screen(screen: Screen) -> impl Iterator<Item = &'static Binding> {
    BINDINGS.iter().filter(move |b| b.screens.contains(&screen))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_means_two_things_on_one_screen() {
        for screen in [Preview, Sending, Done] {
            let mut seen = Vec::new();
            for b in for_screen(screen) {
                for k in b.keys {
                    assert!(!seen.contains(k), "{k:?} bound twice on {screen:?}");
                    seen.push(*k);
                }
            }
        }
    }

    #[test]
    fn every_help_text_and_footer_word_is_in_both_catalogues() {
        for lang in [crate::i18n::Lang::En, crate::i18n::Lang::ZhCn] {
            crate::i18n::with(lang, || {
                for b in BINDINGS {
                    for key in std::iter::once(b.help).chain(b.footer) {
                        assert_ne!(crate::tr!(key), key, "{key} missing in {lang:?}");
                    }
                }
            });
        }
    }

    #[test]
    fn lookup_respects_the_screen() {
        assert_eq!(lookup(Preview, KeyCode::Char('s')), Some(Command::Start));
        assert_eq!(lookup(Sending, KeyCode::Char('s')), None);
        assert_eq!(lookup(Sending, KeyCode::Char('=')), Some(Command::RateUp));
        assert_eq!(lookup(Done, KeyCode::Char('j')), Some(Command::Down));
    }
}
