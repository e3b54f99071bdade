//! The real binary in a real terminal (tmux): preview, confirm, send to the mock, done screen,
//! export, quit; then the terminal is restored and the files hold the expected rows.
//! Reported as ignored (not passed) where tmux is missing.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
    session: &'static str,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").args(["-L", &self.socket, "-f", "/dev/null"]).args(args).output().expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", self.session])
    }

    fn keys(&self, keys: &str) {
        self.run(&["send-keys", "-t", self.session, keys]);
    }

    fn wait_without(&self, text: &str, secs: u64) {
        let start = Instant::now();
        while self.screen().contains(text) {
            assert!(start.elapsed() < Duration::from_secs(secs), "{text:?} stayed on the screen:\n{}", self.screen());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_for(&self, text: &str, secs: u64) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            assert!(start.elapsed() < Duration::from_secs(secs), "timed out waiting for {text:?}; screen:\n{s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

/// Runs under libtest-mimic (harness = false) so that a machine without tmux reports the test
/// as ignored, never as passed.
fn main() {
    let args = libtest_mimic::Arguments::from_args();
    let has_tmux = Command::new("tmux").arg("-V").output().is_ok_and(|o| o.status.success());
    let test = libtest_mimic::Trial::test("send_the_sample_campaign_through_the_terminal_ui", || {
        send_the_sample_campaign_through_the_terminal_ui();
        Ok(())
    })
    .with_ignored_flag(!has_tmux);
    let unverified =
        libtest_mimic::Trial::test("yes_with_an_unverified_template_asks_and_sends_nothing_until_answered", || {
            yes_with_an_unverified_template_asks_and_sends_nothing_until_answered();
            Ok(())
        })
        .with_ignored_flag(!has_tmux);
    let wide = libtest_mimic::Trial::test("the_confirm_popup_keeps_its_border_over_cjk_rows", || {
        the_confirm_popup_keeps_its_border_over_cjk_rows();
        Ok(())
    })
    .with_ignored_flag(!has_tmux);
    let chinese = libtest_mimic::Trial::test("the_demo_runs_in_chinese_under_a_chinese_locale", || {
        the_demo_runs_in_chinese_under_a_chinese_locale();
        Ok(())
    })
    .with_ignored_flag(!has_tmux);
    let rerun = libtest_mimic::Trial::test("the_failures_are_re_run_in_place_without_the_permanent_ones", || {
        the_failures_are_re_run_in_place_without_the_permanent_ones();
        Ok(())
    })
    .with_ignored_flag(!has_tmux);
    let gauge = libtest_mimic::Trial::test("an_audience_pull_shows_its_gauge_in_both_languages", || {
        an_audience_pull_shows_its_gauge_in_both_languages();
        Ok(())
    })
    .with_ignored_flag(!has_tmux);
    let merchants = libtest_mimic::Trial::test("many_merchants_run_as_one_in_both_languages", || {
        many_merchants_run_as_one_in_both_languages();
        Ok(())
    })
    .with_ignored_flag(!has_tmux);
    if !has_tmux {
        eprintln!("tmux is not installed: the terminal end-to-end test is ignored (apt-get install tmux)");
    }
    libtest_mimic::run(&args, vec![test, unverified, wide, chinese, rerun, gauge, merchants]).exit();
}

fn send_the_sample_campaign_through_the_terminal_ui() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in ["campaign.toml", "recipients.csv"] {
        std::fs::copy(root.join("samples").join(f), dir.path().join(f)).unwrap();
    }
    let exit_file = dir.path().join("exit");
    let command = format!(
        "WXSEND_LANG=en {} send {} --mock; echo $? > {}; sleep 30",
        env!("CARGO_BIN_EXE_wxsend"),
        dir.path().join("campaign.toml").display(),
        exit_file.display()
    );
    let t = Tmux { socket: format!("wxsend-e2e-{}", std::process::id()), session: "e2e" };
    t.run(&["new-session", "-d", "-s", t.session, "-x", "120", "-y", "40", &command]);

    let preview = t.wait_for(" s start", 20);
    assert!(preview.contains("45 ready ─ 4 invalid ─ 1 duplicates"), "{preview}");
    // The card shows the message as the phone does: the account's title and the labels.
    assert!(preview.contains("「订单发货提醒」") && preview.contains("商品名称: 雨伞"), "{preview}");
    assert_eq!(t.run(&["display", "-p", "-t", t.session, "#{alternate_on}"]).trim(), "1");
    t.keys("s");
    t.wait_for("Send 45 messages now?", 10);
    // The whole popup: its last lines are drawn after its first.
    let confirm = t.wait_for("template verified: 「订单发货提醒」", 10);
    assert!(confirm.contains("daily quota: 100,000 of 100,000 left"), "{confirm}");
    assert!(confirm.contains("template verified: 「订单发货提醒」"), "{confirm}");
    t.keys("y");
    let done = t.wait_for("completed: this run delivered 41, failed 4", 30);
    assert!(done.contains("43101 ×2"), "{done}");
    t.keys("e");
    t.wait_for("exported 8 rows to", 10);
    t.keys("q");
    let start = Instant::now();
    while !exit_file.exists() {
        assert!(start.elapsed() < Duration::from_secs(10), "wxsend did not exit:\n{}", t.screen());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(std::fs::read_to_string(&exit_file).unwrap().trim(), "1", "invalid and failed rows: exit 1");
    // The terminal is back: main screen, and the summary printed after the UI closed.
    assert_eq!(t.run(&["display", "-p", "-t", t.session, "#{alternate_on}"]).trim(), "0");
    let after = t.screen();
    assert!(after.contains("re-run the failures: wxsend send"), "{after}");

    let state = dir.path().join(".wxsend/order-shipped-2026-11/mock/recipients");
    let failures = std::fs::read_to_string(state.join("failed-recipients.csv")).unwrap();
    assert_eq!(failures.lines().count(), 1 + 8, "{failures}");
    assert_eq!(failures.matches(",43101,").count(), 2);
    assert_eq!(failures.matches(",invalid,").count(), 4);
    assert!(state.join("report.json").exists());
    assert!(state.join("journal.jsonl").exists());
}

/// The shell command that sends `campaign` in English with the test secret, its token cache and
/// ledger under `dir`, then waits so that the pane stays readable.
fn send_in_shell(dir: &Path, campaign: &Path, extra: &str) -> String {
    format!(
        "WXSEND_LANG=en WXSEND_TEST_SECRET={} WXSEND_CACHE_DIR={} WXSEND_LEDGER_DIR={} {} send {} {extra}; sleep 30",
        common::SECRET,
        dir.join("cache").display(),
        dir.join("cache/ledger").display(),
        env!("CARGO_BIN_EXE_wxsend"),
        campaign.display(),
    )
}

/// An app without permission to list its templates (48001): `send --yes` in the terminal UI
/// opens the confirm popup with the template's question first and sends nothing until it is
/// answered; `--skip-template-check --yes` sends at once.
fn yes_with_an_unverified_template_asks_and_sends_nothing_until_answered() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let server = rt.block_on(common::mock(wxsend::mock::MockConfig { deny_template_list: true, ..Default::default() }));
    let dir = tempfile::tempdir().unwrap();
    let campaign = common::write_campaign(
        dir.path(),
        "denied",
        Some(&server.url()),
        "rate = 200",
        &common::mixed_openids(5, 0, 0),
    );
    let run = |extra: &str, name: &str| {
        let command = send_in_shell(dir.path(), &campaign, &format!("--yes {extra}"));
        let t = Tmux { socket: format!("wxsend-e2e-{name}-{}", std::process::id()), session: "e2e" };
        t.run(&["new-session", "-d", "-s", t.session, "-x", "120", "-y", "40", &command]);
        t
    };
    let t = run("", "denied");
    let confirm = t.wait_for("Send 5 messages now?", 20);
    let confirm = if confirm.contains("NOT verified") { confirm } else { t.wait_for("NOT verified", 10) };
    assert!(confirm.contains("48001") || confirm.contains("NOT verified"), "{confirm}");
    assert_eq!(server.stats().send_requests, 0, "nothing leaves before the answer");
    t.keys("n");
    t.wait_for(" s start", 10);
    assert_eq!(server.stats().send_requests, 0, "declined: nothing sent");
    t.keys("q");
    drop(t);

    let t = run("--skip-template-check", "skip");
    t.wait_for("completed: this run delivered 5", 30);
    assert_eq!(server.stats().accepted, 5);
    drop(t);
    drop(server);
}

/// The character at display column `col` of `line` (a wide character covers two columns).
fn at_column(line: &str, col: usize) -> Option<char> {
    let mut x = 0;
    for c in line.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if x == col || (w == 2 && x + 1 == col) {
            return Some(c);
        }
        x += w;
        if x > col {
            return None;
        }
    }
    None
}

/// At 130 columns the confirm popup sits over the table's CJK product names: every row of it
/// keeps its left and right border in the real terminal.
fn the_confirm_popup_keeps_its_border_over_cjk_rows() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in ["campaign.toml", "recipients.csv"] {
        std::fs::copy(root.join("samples").join(f), dir.path().join(f)).unwrap();
    }
    let command = format!(
        "WXSEND_LANG=en {} send {} --mock; sleep 30",
        env!("CARGO_BIN_EXE_wxsend"),
        dir.path().join("campaign.toml").display()
    );
    let t = Tmux { socket: format!("wxsend-wide-{}", std::process::id()), session: "wide" };
    t.run(&["new-session", "-d", "-s", t.session, "-x", "130", "-y", "40", &command]);
    t.wait_for(" s start", 20);
    t.keys("s");
    let screen = t.wait_for("template verified: 「订单发货提醒」", 10);
    let lines: Vec<&str> = screen.lines().collect();
    let top = lines.iter().position(|l| l.contains("┌ confirm")).expect("the popup's top border");
    let left = unicode_width::UnicodeWidthStr::width(&lines[top][..lines[top].find('┌').unwrap()]);
    let right =
        left + unicode_width::UnicodeWidthStr::width(lines[top].trim_start_matches(|c| c != '┌').trim_end()) - 1;
    let bottom =
        top + lines[top..].iter().position(|l| at_column(l, left) == Some('└')).expect("the popup's bottom border");
    assert!(bottom > top + 3, "{screen}");
    for (i, line) in lines.iter().enumerate().take(bottom).skip(top + 1) {
        assert_eq!(at_column(line, left), Some('│'), "row {i}, left border at column {left}:\n{screen}");
        assert_eq!(at_column(line, right), Some('│'), "row {i}, right border at column {right}:\n{screen}");
    }
    t.keys("n");
    t.keys("q");
}

/// `LANG=zh_CN.UTF-8 wxsend demo` as an operator runs it: every screen in Chinese — preview,
/// help, confirm, sending, done — and the summary printed after the terminal is given back.
fn the_demo_runs_in_chinese_under_a_chinese_locale() {
    let home = tempfile::tempdir().unwrap();
    let exit_file = home.path().join("exit");
    let command = format!(
        "env -u WXSEND_LANG -u LC_ALL -u LC_MESSAGES LANG=zh_CN.UTF-8 XDG_CACHE_HOME={} {} demo; echo $? > {}; sleep 30",
        home.path().display(),
        env!("CARGO_BIN_EXE_wxsend"),
        exit_file.display()
    );
    let t = Tmux { socket: format!("wxsend-zh-{}", std::process::id()), session: "zh" };
    t.run(&["new-session", "-d", "-s", t.session, "-x", "120", "-y", "40", &command]);
    let preview = t.wait_for(" s 开始", 20);
    assert!(preview.contains("45 行可发 ─ 4 行无效 ─ 1 行重复"), "{preview}");
    assert!(preview.contains("检查") && preview.contains("可发"), "{preview}");
    t.keys("?");
    // The whole popup: its last line is drawn after its first.
    let help = t.wait_for("鼠标滚轮滚动表格", 10);
    assert!(help.contains("开始发送（先确认）") && help.contains("鼠标滚轮滚动表格"), "{help}");
    t.keys("Escape");
    // The help closed before the next key: an Escape and a key sent together read as Alt+key.
    t.wait_without("鼠标滚轮滚动表格", 10);
    t.keys("s");
    let confirm = t.wait_for("现在发送 45 条消息？", 10);
    let confirm = if confirm.contains("发送    n 取消") { confirm } else { t.wait_for("发送    n 取消", 10) };
    assert!(confirm.contains("每日配额") && confirm.contains("内置模拟服务"), "{confirm}");
    t.keys("y");
    let sending = t.wait_for("按错误码统计", 20);
    assert!(sending.contains("每秒请求数") || sending.contains("已完成"), "{sending}");
    // The summary's later lines are drawn after its first.
    let done = t.wait_for("重发失败的行", 60);
    assert!(done.contains("本次送达") && done.contains("43101"), "{done}");
    assert!(done.contains("用户拒收或无剩余订阅次数"), "the errcode hint in Chinese:\n{done}");
    t.keys("q");
    let start = Instant::now();
    while !exit_file.exists() {
        assert!(start.elapsed() < Duration::from_secs(10), "wxsend did not exit:\n{}", t.screen());
        std::thread::sleep(Duration::from_millis(100));
    }
    let after = t.screen();
    assert!(after.contains("已完成：本次送达") && after.contains("重发失败的行"), "{after}");
}

/// `r` on the done screen re-runs the failures file just written, here: its permanent rows
/// (43101, 40003) are left out to start with and written to the dropped file; exactly the other
/// rows are sent, each once (counted at the mock); `r` again shows only what failed this time.
fn the_failures_are_re_run_in_place_without_the_permanent_ones() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let server = rt.block_on(common::mock(wxsend::mock::MockConfig::default()));
    let dir = tempfile::tempdir().unwrap();
    let rows = vec![
        common::openid("oWx", 0),
        common::openid("oREFUSE", 1),
        common::openid("oERR45168_", 2),
        common::openid("oBAD", 3),
        common::openid("oREFUSE", 4),
        common::openid("oERR45168_", 5),
    ];
    let campaign = common::write_campaign(dir.path(), "again", Some(&server.url()), "rate = 200", &rows);
    let command = send_in_shell(dir.path(), &campaign, "--skip-template-check");
    let t = Tmux { socket: format!("wxsend-rerun-{}", std::process::id()), session: "rerun" };
    t.run(&["new-session", "-d", "-s", t.session, "-x", "120", "-y", "40", &command]);
    t.wait_for(" s start", 20);
    t.keys("s");
    t.wait_for("Send 6 messages now?", 10);
    t.keys("y");
    t.wait_for("this run delivered 1, failed 5", 30);
    let first = server.stats().send_requests;
    t.keys("r");
    // The header's line, to its end (a screen is read as the terminal draws it).
    let preview = t.wait_for("45168 ×2 — d drop", 20);
    assert!(preview.contains("43101 ×2 (dropped 2)") && preview.contains("40003 ×1 (dropped 1)"), "{preview}");
    assert!(preview.contains("45168 ×2"), "{preview}");
    assert_eq!(server.stats().send_requests, first, "nothing sent before the confirm");
    t.keys("s");
    // The whole popup: its later lines are drawn after its first.
    let confirm = t.wait_for("left out and written to the dropped file first: 3 rows", 10);
    assert!(confirm.contains("Send 2 messages now?"), "{confirm}");
    t.keys("y");
    t.wait_for("this run delivered 0, failed 2", 30);
    assert_eq!(server.stats().send_requests, first + 2, "exactly the two 45168 rows, once each");
    let failures = dir.path().join(".wxsend/again/recipients/failed-recipients.csv");
    let dropped = std::fs::read_to_string(failures.with_file_name("dropped-failed-recipients.csv")).unwrap();
    assert_eq!(dropped.lines().count(), 1 + 3, "{dropped}");
    t.keys("r");
    let again = t.wait_for("45168 ×2 — d drop", 20);
    assert!(again.contains("45168 ×2") && !again.contains("43101"), "only what failed the second time:\n{again}");
    t.keys("q");
    drop(t);
    drop(server);
}

/// `wxsend audience` on a terminal: a gauge line with the pages and openids, in English and in
/// Chinese, then the counts; the list is written.
fn an_audience_pull_shows_its_gauge_in_both_languages() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let server = rt.block_on(common::mock(wxsend::mock::MockConfig { followers: 25_000, ..Default::default() }));
    let dir = tempfile::tempdir().unwrap();
    let campaign = common::write_campaign(dir.path(), "fans", Some(&server.url()), "rate = 200", &[]);
    for (lang, gauge, done) in [
        ("en", "openids 25,000 of 25,000", "wrote 25,000 openids"),
        ("zh-CN", "openid 25,000，共 25,000", "已把 25,000 个 openid 写入"),
    ] {
        let out = dir.path().join(format!("{lang}.csv"));
        let command = format!(
            "WXSEND_LANG={lang} WXSEND_TEST_SECRET={} WXSEND_CACHE_DIR={} {} audience {} --out {}; sleep 30",
            common::SECRET,
            dir.path().join("cache").display(),
            env!("CARGO_BIN_EXE_wxsend"),
            campaign.display(),
            out.display(),
        );
        let t = Tmux { socket: format!("wxsend-e2e-gauge-{lang}-{}", std::process::id()), session: "e2e" };
        t.run(&["new-session", "-d", "-s", t.session, "-x", "100", "-y", "12", &command]);
        let screen = t.wait_for(done, 30);
        assert!(screen.contains(gauge) && screen.contains('█'), "{screen}");
        assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 25_001);
    }
    drop(server);
}

/// A campaign for three merchants (one named in Chinese) on the embedded mock: the plan and the
/// one question, a row per merchant while sending, the report; in English and in Chinese.
fn many_merchants_run_as_one_in_both_languages() {
    for (lang, ask, done, completed, summary) in [
        ("en", "y send to every merchant ready", "q leave", "completed", "re-run them as they are"),
        ("zh-CN", "y 向所有就绪商户发送", "q 退出", "已完成", "原样重发这些行"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let accounts = dir.path().join("accounts.toml");
        std::fs::write(
            &accounts,
            "[accounts.shop-a]\nappid = \"wxaaaaaaaaaaaaaaa1\"\n[accounts.shop-b]\nappid = \"wxbbbbbbbbbbbbbbb2\"\n\
             [accounts.\"门店-c\"]\nappid = \"wxccccccccccccccc3\"\n",
        )
        .unwrap();
        let campaign = dir.path().join("fleet.toml");
        std::fs::write(
            &campaign,
            "name = \"opening\"\n[wechat]\naccounts = [\"shop-a\", \"shop-b\", \"门店-c\"]\n[message]\nkind = \"template\"\n\
             [message.templates]\nshop-a = \"TPL_ORDER_SHIPPED\"\nshop-b = \"TPL_ORDER_SHIPPED\"\n\"门店-c\" = \"TPL_ORDER_SHIPPED\"\n\
             [message.data]\nthing1 = \"{{product}}\"\ncharacter_string2 = \"SF1\"\namount3 = \"9元\"\ntime4 = \"2026-12-06 10:00\"\n[recipients]\nfile = \"list.csv\"\naccount_column = \"shop\"\n",
        )
        .unwrap();
        let mut list = String::from("shop,openid,product\n");
        for i in 0..30 {
            let prefix = if i % 10 == 4 { "oBAD" } else { "oUSER" };
            list.push_str(&format!("{},{},保温杯\n", ["shop-a", "shop-b", "门店-c"][i % 3], common::openid(prefix, i)));
        }
        std::fs::write(dir.path().join("list.csv"), list).unwrap();
        let exit_file = dir.path().join("exit");
        let command = format!(
            "WXSEND_LANG={lang} WXSEND_ACCOUNTS={} WXSEND_LEDGER_DIR={} {} send {} --mock; echo $? > {}; sleep 30",
            accounts.display(),
            dir.path().join("ledger").display(),
            env!("CARGO_BIN_EXE_wxsend"),
            campaign.display(),
            exit_file.display()
        );
        let t = Tmux { socket: format!("wxsend-fleet-{lang}-{}", std::process::id()), session: "fleet" };
        t.run(&["new-session", "-d", "-s", t.session, "-x", "120", "-y", "40", &command]);
        let plan = t.wait_for(ask, 20);
        assert!(plan.contains("wxccccccccccccccc3") && plan.contains("门店-c"), "{plan}");
        t.keys("y");
        let end = t.wait_for(done, 30);
        assert_eq!(end.matches(completed).count(), 3, "{end}");
        // The merchants' columns line up, the Chinese name included.
        let column = |name: &str| {
            let line = end.lines().find(|l| l.contains(name)).unwrap_or_default();
            unicode_width::UnicodeWidthStr::width(&line[..line.find("wx").unwrap_or(0)])
        };
        assert_eq!(column("shop-a"), column("门店-c"), "{end}");
        t.keys("q");
        let start = Instant::now();
        while !exit_file.exists() {
            assert!(start.elapsed() < Duration::from_secs(10), "wxsend did not exit:\n{}", t.screen());
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(std::fs::read_to_string(&exit_file).unwrap().trim(), "1", "three invalid openids: exit 1");
        let after = t.screen();
        assert!(after.contains(summary), "{after}");
        let failed = std::fs::read_to_string(dir.path().join(".wxsend/opening/mock/list/failed.csv")).unwrap();
        assert_eq!(failed.lines().count(), 1 + 3, "{failed}");
    }
}
