//! Every screen rendered into a TestBackend at 120x40 and 80x24, with deterministic data.

use std::path::Path;
use std::sync::Arc;

use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use wxsend::app::export::{Files, Totals};
use wxsend::app::{Exit, QuotaCheck, RunReport};
use wxsend::campaign::Campaign;
use wxsend::engine::{Counters, EndReason, Event, PauseReason, RowEvent, Summary};
use wxsend::i18n::{self, Lang};
use wxsend::journal::RowRecord;
use wxsend::tui::{ui, App, Briefing};
use wxsend::wechat::{Code, ErrorClass, Failure, Quota, TokenStatus};

const SIZES: [(u16, u16); 2] = [(120, 40), (80, 24)];

fn app() -> App {
    let c = Campaign::load(Path::new("samples/campaign.toml"), None).unwrap();
    let n = c.recipients.len();
    let mut brief = Briefing::of(&c, 45);
    brief.quota = Some(QuotaCheck::Known(Quota { daily_limit: 100_000, used: 45, remain: 99_955 }));
    App::new(Arc::new(c), &vec![RowRecord::Pending; n], brief).with_color(false)
}

fn render(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| ui::draw(f, app)).unwrap();
    t.backend().to_string()
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

/// Every screen in both languages: English as `{name}_{w}x{h}`, Chinese as `{name}_zh_{w}x{h}`,
/// with no English sentence left in the Chinese one.
fn snap(name: &str, app: &App) {
    for (w, h) in SIZES {
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), i18n::with(Lang::En, || render(app, w, h)));
        let zh = i18n::with(Lang::ZhCn, || render(app, w, h));
        let leaks = english_sentences(&zh);
        assert!(leaks.is_empty(), "{name} {w}x{h} in Chinese shows English: {leaks:?}\n{zh}");
        insta::assert_snapshot!(format!("{name}_zh_{w}x{h}"), zh);
    }
}

/// WeChat's own words, shown as WeChat sent them (the errmsg column): not wxsend's to translate.
const WECHATS_WORDS: &[&str] = &["user refuse to accept the msg"];

/// Runs of three or more plain English words (codes, openids, paths, JSON, key letters and
/// the campaign's own values are not plain words and pass).
fn english_sentences(screen: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in screen.lines() {
        let line = WECHATS_WORDS.iter().fold(line.to_string(), |l, w| l.replace(w, ""));
        let mut run: Vec<&str> = Vec::new();
        let words = line.split(|c: char| c.is_whitespace() || "│─┌┐└┘├┤".contains(c));
        for word in words.chain(std::iter::once("")) {
            let bare = word.trim_end_matches([',', ';', ':', '.', '?', ')']).trim_start_matches('(');
            if bare.len() >= 2 && bare.chars().all(|c| c.is_ascii_alphabetic()) {
                run.push(bare);
            } else if !word.is_empty() || run.len() >= 3 {
                if run.len() >= 3 {
                    found.push(run.join(" "));
                }
                run.clear();
            }
        }
    }
    found
}

fn token() -> TokenStatus {
    TokenStatus {
        source: "stable",
        token: Some("SoHO…".into()),
        age_secs: Some(754),
        expires_in_secs: Some(6446),
        requests: 2,
        refreshes: 1,
        from_disk: false,
    }
}

fn refused() -> Failure {
    Failure {
        errcode: Some(43101),
        errmsg: "user refuse to accept the msg rid: 6aac005a-01bfdbee-79769285".into(),
        class: ErrorClass::Row,
    }
}

fn sending() -> App {
    let mut a = app();
    a.started();
    let mut rows = Vec::new();
    for r in 0..24 {
        rows.push(RowEvent::Started { row: r, attempt: 1 });
    }
    for r in (0..20).filter(|r| ![4, 11, 17, 20].contains(r)) {
        rows.push(RowEvent::Delivered { row: r, attempt: 1, msgid: None });
    }
    rows.push(RowEvent::Failed { row: 4, attempt: 1, failure: refused() });
    rows.push(RowEvent::Failed { row: 11, attempt: 1, failure: refused() });
    rows.push(RowEvent::Retrying {
        row: 17,
        attempt: 1,
        failure: Failure { errcode: Some(-1), errmsg: "system error".into(), class: ErrorClass::Retry },
        delay: std::time::Duration::from_millis(500),
    });
    a.on_event(&Event::Rows(rows));
    let mut failures = std::collections::BTreeMap::new();
    failures.insert(Code::of(Some(43101)), 2);
    let mut retries = std::collections::BTreeMap::new();
    retries.insert(Code::of(Some(-1)), 1);
    for (t, req) in [(1000, 19), (2000, 24)] {
        a.on_event(&Event::Progress(Counters {
            total: 45,
            delivered: 15,
            failed: 2,
            retry_later: 0,
            elsewhere: 0,
            unknown: 0,
            in_flight: 4,
            retrying: 1,
            requests: req,
            failures_by_code: failures.clone(),
            retries_by_code: retries.clone(),
            elapsed_ms: t,
            rate_limit: 20,
        }));
    }
    a.on_event(&Event::TokenRefreshed { external: true, status: token() });
    a
}

#[test]
fn preview() {
    snap("preview", &app());
}

#[test]
fn preview_invalid_only_with_a_selected_invalid_row() {
    let mut a = app();
    a.on_key(key('i'));
    a.on_key(key('j'));
    snap("preview_invalid", &a);
}

#[test]
fn uniform_preview_shows_the_withdrawal_warning() {
    let c = Campaign::load(Path::new("samples/uniform.toml"), None).unwrap();
    let n = c.recipients.len();
    let brief = Briefing::of(&c, 45);
    let a = App::new(Arc::new(c), &vec![RowRecord::Pending; n], brief);
    snap("preview_uniform", &a);
}

#[test]
fn help_overlay() {
    let mut a = app();
    a.on_key(key('?'));
    snap("help", &a);
}

#[test]
fn confirm_dialog() {
    let mut a = app();
    a.on_key(key('s'));
    snap("confirm", &a);
}

#[test]
fn sending_screen() {
    snap("sending", &sending());
}

#[test]
fn sending_paused_by_the_failure_guard() {
    let mut a = sending();
    a.on_event(&Event::Paused(PauseReason::FailureRate { failed: 60, of: 100, limit: 0.5 }));
    snap("sending_paused", &a);
}

#[test]
fn done_screen() {
    let mut a = sending();
    let summary = Summary {
        counters: Counters {
            total: 45,
            delivered: 41,
            failed: 4,
            requests: 47,
            elapsed_ms: 2300,
            rate_limit: 20,
            ..Default::default()
        },
        reason: EndReason::Completed,
        achieved_rate: 20.4,
        token: token(),
    };
    a.on_event(&Event::Done(Box::new(summary.clone())));
    let state = Path::new(".wxsend/order-shipped-2026-11/recipients");
    a.finished(RunReport {
        summary,
        totals: Totals { delivered: 41, failed: 4, unknown: 0, pending: 0, ..Default::default() },
        ready: 45,
        invalid: 4,
        duplicates: 1,
        unknown_rows: Vec::new(),
        failures: Ok(8),
        files: Files {
            journal: state.join("journal.jsonl"),
            failures: state.join("failed-recipients.csv"),
            report: state.join("report.json"),
        },
        rerun: "wxsend send samples/campaign.toml --csv .wxsend/order-shipped-2026-11/recipients/failed-recipients.csv"
            .into(),
        resume: "wxsend send samples/campaign.toml".into(),
        exit: Exit::Partial,
        receipts: wxsend::journal::receipts::ReceiptCounts { success: 30, user_block: 2, system_failed: 1, pending: 8 },
    });
    snap("done", &a);
}

#[test]
fn preview_card_shows_the_message_as_the_phone_does() {
    let c = Campaign::load(Path::new("samples/campaign.toml"), None).unwrap();
    let n = c.recipients.len();
    let catalogue = serde_json::json!({"template_list": [{
        "template_id": "TPL_ORDER_SHIPPED", "title": "订单发货提醒",
        "content": "{{first.DATA}}\n商品名称：{{thing1.DATA}}\n订单编号：{{character_string2.DATA}}\n订单金额：{{amount3.DATA}}\n发货时间：{{time4.DATA}}\n{{remark.DATA}}",
        "example": ""}]});
    let mut brief = Briefing::of(&c, 45);
    brief.template = wxsend::wechat::catalogue::parse_official(&catalogue).unwrap().into_iter().next();
    brief.overview.template = "template verified: 「订单发货提醒」 in the account's list".into();
    let a = App::new(Arc::new(c), &vec![RowRecord::Pending; n], brief).with_color(false);
    let screen = render(&a, 120, 40);
    assert!(
        screen.contains("「订单发货提醒」")
            && screen.contains("商品名称: 雨伞")
            && screen.contains("订单金额: 167.50元"),
        "{screen}"
    );
    assert!(!screen.contains("first") && !screen.contains("remark"), "not shown since 2023-05-04:\n{screen}");
    snap("preview_phone", &a);
}

/// Rows of emoji, CJK and Latin mixed: every cell, the card and the popups measure display width
/// (a wide character is never cut in half, the borders stay where they are), in both languages.
#[test]
fn emoji_and_mixed_rows() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("samples/campaign.toml", dir.path().join("campaign.toml")).unwrap();
    let rows = [
        ("oWxpTyGJMuHbEL31IeL2HPcHyGcF", "王小明", "🎉新品上市礼盒", "99.00", "SF2000001"),
        ("oWxnXNYvMIHa-2o76umfXfKm-r5k", "Zoë", "Café ☕ 拿铁 Latte", "32.50", "SF2000002"),
        ("oWxTAbCdEfGhIjKlMnOpQrStUvtV", "李雷", "👨‍👩‍👧 家庭套餐 Family", "188.00", "SF2000003"),
        ("oWxQZyXwVuTsRqPoNmLkJiHgFeB_", "Ann", "Umbrella 雨伞 ☂️", "45.00", "SF2000004"),
    ];
    let mut csv = String::from("openid,name,product,amount,order_id,shipped_at\n");
    for (openid, name, product, amount, order) in rows {
        csv.push_str(&format!("{openid},{name},{product},{amount},{order},2026-12-01 09:00\n"));
    }
    std::fs::write(dir.path().join("recipients.csv"), csv).unwrap();
    let c = Campaign::load(&dir.path().join("campaign.toml"), None).unwrap();
    let brief = Briefing::of(&c, 4);
    let mut a = App::new(Arc::new(c), &vec![RowRecord::Pending; 4], brief).with_color(false);
    snap("preview_emoji", &a);
    a.on_key(key('s'));
    snap("confirm_emoji", &a);
}

/// A failures file re-run in place: each row with the code that put it there, the counts by
/// code, the permanent classes left out to start with, and the confirm saying so.
#[test]
fn rerun_of_a_failures_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("samples/campaign.toml", dir.path().join("campaign.toml")).unwrap();
    let mut csv = String::from(
        "openid,name,product,amount,order_id,shipped_at,wxsend_errcode,wxsend_errmsg,wxsend_attempts,wxsend_hint\n",
    );
    for (i, (code, msg)) in [
        ("43101", "user refuse to accept the msg"),
        ("45168", "sensitive word"),
        ("43101", "user refuse to accept the msg"),
        ("40003", "invalid openid"),
        ("45168", "sensitive word"),
    ]
    .iter()
    .enumerate()
    {
        csv.push_str(&format!(
            "oWxpTyGJMuHbEL31IeL2HPcHyG{i:02},高峰,雨伞,167.50,SF10000{i},2026-11-12 16:00,{code},{msg},1,\n"
        ));
    }
    std::fs::write(dir.path().join("recipients.csv"), csv).unwrap();
    let c = Campaign::load(&dir.path().join("campaign.toml"), None).unwrap();
    let brief = Briefing::of(&c, 5);
    let mut a = App::new(Arc::new(c), &vec![RowRecord::Pending; 5], brief).with_color(false).rerunning();
    assert_eq!(a.dropped_rows(), Some([0, 2, 3].into_iter().collect()));
    snap("rerun_preview", &a);
    a.on_key(key('s'));
    let confirm = render(&a, 120, 40);
    assert!(confirm.contains("Send 2 messages now?"), "{confirm}");
    assert!(confirm.contains("left out and written to the dropped file first: 3 rows (40003 ×1, 43101"), "{confirm}");
    snap("rerun_confirm", &a);
}
