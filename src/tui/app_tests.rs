//! State transitions of the TUI: keys and engine events in, state out.
use super::*;
use crate::engine::{Counters, PauseReason};
use crate::engine::{Event, RowEvent};
use crate::journal::RowRecord;
use crate::wechat::{ErrorClass, Failure};
use std::path::Path;

fn app() -> App {
    let c = Campaign::load(Path::new("samples/campaign.toml"), None).unwrap();
    let n = c.recipients.len();
    let brief = Briefing::of(&c, 45);
    App::new(Arc::new(c), &vec![RowRecord::Pending; n], brief)
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn code(k: KeyCode) -> KeyEvent {
    KeyEvent::new(k, KeyModifiers::NONE)
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        app.on_key(key(c));
    }
}

#[test]
fn start_asks_first_and_only_yes_starts() {
    let mut a = app();
    assert_eq!(a.on_key(key('s')), Action::None);
    assert_eq!(a.overlay, Some(Overlay::Confirm));
    assert_eq!(a.on_key(key('n')), Action::None);
    assert_eq!(a.overlay, None);
    a.on_key(key('s'));
    assert_eq!(a.on_key(key('x')), Action::None, "other keys do nothing in the dialog");
    assert_eq!(a.on_key(key('y')), Action::Start);
}

#[test]
fn navigation_stays_in_bounds() {
    let mut a = app();
    a.on_key(key('k'));
    assert_eq!(a.nav.selected, 0);
    a.on_key(key('G'));
    assert_eq!(a.nav.selected, 49);
    a.on_key(code(KeyCode::Down));
    assert_eq!(a.nav.selected, 49);
    a.nav.page = 10;
    a.on_key(code(KeyCode::PageUp));
    assert_eq!(a.nav.selected, 39);
    a.on_key(key('g'));
    assert_eq!(a.nav.selected, 0);
}

#[test]
fn filter_and_invalid_only_narrow_the_view() {
    let mut a = app();
    a.on_key(key('/'));
    type_text(&mut a, "oREFUSE");
    assert_eq!(a.nav.view.len(), 50, "the filter applies on Enter");
    a.on_key(code(KeyCode::Enter));
    assert_eq!(a.nav.view.len(), 2);
    a.on_key(code(KeyCode::Esc));
    assert_eq!(a.nav.view.len(), 50, "Esc clears the filter");
    a.on_key(key('i'));
    assert_eq!(a.nav.view.len(), 5, "4 invalid + 1 duplicate");
    assert_eq!(a.nav.view[0], 20);
    a.on_key(key('i'));
    assert_eq!(a.nav.view.len(), 50);
}

#[test]
fn test_send_uses_test_openid_and_refuses_invalid_rows() {
    let mut a = app();
    assert_eq!(a.on_key(key('t')), Action::TestSend { row: 0, openid: "oWxOPERATORtestopenid0000001".into() });
    a.nav.selected = 20;
    assert_eq!(a.on_key(key('t')), Action::None);
    let Some(Overlay::Message(m)) = &a.overlay else { panic!("no message: {:?}", a.overlay) };
    assert_eq!(m, &Message::InvalidRow(20));
    assert!(super::super::popup::message_text(&a, m).contains("row 21 is invalid: openid is empty"));
}

#[test]
fn help_lists_and_closes() {
    let mut a = app();
    a.on_key(key('?'));
    assert_eq!(a.overlay, Some(Overlay::Help));
    assert_eq!(a.on_key(key('s')), Action::None, "help swallows keys");
    a.on_key(code(KeyCode::Esc));
    assert_eq!(a.overlay, None);
}

fn sending() -> App {
    let mut a = app();
    a.started();
    a
}

#[test]
fn pause_resume_and_stop_while_sending() {
    let mut a = sending();
    assert_eq!(a.on_key(key('p')), Action::Pause);
    a.on_event(&Event::Paused(PauseReason::Operator));
    assert_eq!(a.on_key(key('p')), Action::Resume);
    a.on_event(&Event::Resumed);
    assert_eq!(a.run.pause, None);
    assert_eq!(a.on_key(key('x')), Action::None);
    assert_eq!(a.overlay, Some(Overlay::ConfirmStop));
    assert_eq!(a.on_key(key('y')), Action::Stop);
    assert!(a.run.stopping);
    assert_eq!(a.on_key(key('p')), Action::None, "no pausing while stopping");
}

#[test]
fn quit_while_sending_asks_then_stops_and_ctrl_c_twice_quits() {
    let mut a = sending();
    assert_eq!(a.on_key(key('q')), Action::None);
    assert_eq!(a.on_key(key('y')), Action::Stop);
    assert!(a.run.quit_when_done);
    let mut a = sending();
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(a.on_key(ctrl_c), Action::Stop);
    assert_eq!(a.on_key(ctrl_c), Action::Quit);
}

#[test]
fn rate_changes_confirm_above_the_campaign_rate() {
    let mut a = sending();
    assert_eq!(a.on_key(key('-')), Action::SetRate(18));
    a.on_event(&Event::RateChanged(18));
    assert_eq!(a.on_key(key('+')), Action::SetRate(19));
    a.on_event(&Event::RateChanged(20));
    assert_eq!(a.on_key(key('+')), Action::None);
    assert_eq!(a.overlay, Some(Overlay::ConfirmRate(22)));
    assert_eq!(a.on_key(key('y')), Action::SetRate(22));
}

#[test]
fn engine_events_update_rows_counters_and_failures_view() {
    let mut a = sending();
    a.on_key(key('f'));
    assert!(a.nav.view.is_empty());
    let failure = Failure { errcode: Some(43101), errmsg: "refused".into(), class: ErrorClass::Row };
    a.on_event(&Event::Rows(vec![
        RowEvent::Started { row: 0, attempt: 1 },
        RowEvent::Started { row: 4, attempt: 1 },
        RowEvent::Delivered { row: 0, attempt: 1, msgid: None },
        RowEvent::Failed { row: 4, attempt: 1, failure },
    ]));
    assert_eq!(a.run.status[0], Status::Delivered);
    assert_eq!(a.run.status[4], Status::Failed);
    assert_eq!(a.nav.view, vec![4]);
    assert_eq!(a.run.failures[&4].code.to_string(), "43101");
    a.on_event(&Event::Progress(Counters {
        total: 45,
        delivered: 1,
        failed: 1,
        requests: 2,
        elapsed_ms: 1000,
        ..Default::default()
    }));
    assert_eq!(a.run.counters.done(), 2);
    assert_eq!(a.run.throughput, vec![2]);
    a.on_key(key('e'));
    assert_eq!(a.on_key(key('e')), Action::Export);
}

#[test]
fn engine_pause_banner_comes_and_goes() {
    let mut a = sending();
    a.on_event(&Event::Paused(PauseReason::FailureRate { failed: 60, of: 100, limit: 0.5 }));
    assert!(matches!(a.run.pause, Some(PauseReason::FailureRate { .. })));
    assert_eq!(a.on_key(key('p')), Action::Resume);
}

#[test]
fn following_tracks_the_newest_row_until_the_operator_scrolls() {
    let mut a = sending();
    a.on_event(&Event::Rows(vec![RowEvent::Started { row: 30, attempt: 1 }]));
    assert_eq!(a.nav.selected, 30);
    a.on_key(key('k'));
    assert!(!a.nav.follow);
    a.on_event(&Event::Rows(vec![RowEvent::Started { row: 40, attempt: 1 }]));
    assert_eq!(a.nav.selected, 29);
    a.on_key(key('G'));
    assert!(a.nav.follow);
}

#[test]
fn r_re_runs_only_from_the_done_screen_and_drops_need_a_failures_file() {
    let mut a = app();
    assert_eq!(a.on_key(key('r')), Action::None, "nothing to re-run before sending");
    assert_eq!(a.on_key(key('d')), Action::None);
    assert_eq!(a.overlay, Some(Overlay::Message(Message::NotARerun)));
    a.on_key(code(KeyCode::Esc));
    let mut a = sending();
    a.on_event(&Event::Done(Box::new(crate::engine::Summary {
        counters: Counters::default(),
        reason: crate::engine::EndReason::Completed,
        achieved_rate: 0.0,
        token: crate::wechat::TokenStatus {
            source: "stable",
            token: None,
            age_secs: None,
            expires_in_secs: None,
            requests: 0,
            refreshes: 0,
            from_disk: false,
        },
    })));
    assert_eq!(a.on_key(key('r')), Action::Rerun);
}
