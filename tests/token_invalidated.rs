//! A token WeChat invalidated between two runs (another service called `cgi-bin/token`, a forced
//! `stable_token`, here the mock's `/mock/invalidate-tokens`) costs one refetch and nothing else:
//! `templates`, `check`, `doctor` and `send` all succeed on the token cached on disk. Every call
//! with a token goes through the same policy (wechat/sender.rs).

mod common;

use std::path::{Path, PathBuf};

use common::*;
use wxsend::mock::{MockConfig, MockServer};

/// A template campaign on the mock account's own template, with `rows` in its list.
fn campaign(dir: &Path, server: &MockServer, file: &str, rows: std::ops::Range<usize>) -> PathBuf {
    let toml = format!(
        "name = \"stale\"\n[wechat]\napi_base = \"{}\"\nappid = \"{APPID}\"\nsecret_env = \"WXSEND_TEST_SECRET\"\n\
         [message]\nkind = \"template\"\ntemplate_id = \"TPL_ORDER_SHIPPED\"\n[message.data]\n\
         thing1 = \"{{{{product}}}}\"\ncharacter_string2 = \"{{{{order}}}}\"\namount3 = \"{{{{amount}}}}元\"\ntime4 = \"2026-11-12 16:00\"\n\
         [recipients]\nfile = \"{file}\"\n[send]\nrate = 500\n",
        server.url()
    );
    let mut csv = String::from("openid,order,product,amount\n");
    for i in rows {
        csv.push_str(&format!("{},SF{i:05},保温杯,89.00\n", openid("oWx", i)));
    }
    std::fs::write(dir.join(file), csv).unwrap();
    let path = dir.join("campaign.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

fn run(args: &[&str], cache: &Path) -> (Option<i32>, String) {
    let out = wxsend(args, &[("WXSEND_TEST_SECRET", SECRET), ("WXSEND_CACHE_DIR", cache.to_str().unwrap())]);
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_invalidated_between_runs_costs_one_refetch_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let server = mock(MockConfig::default()).await;
    let cache = dir.path().join("cache");
    let c = campaign(dir.path(), &server, "first.csv", 0..5);
    let cs = c.to_str().unwrap();
    let send = |csv: &str| {
        vec!["send", cs, "--headless", "--yes", "--csv", csv].into_iter().map(String::from).collect::<Vec<_>>()
    };

    let first = send(dir.path().join("first.csv").to_str().unwrap());
    let (code, out) = run(&first.iter().map(String::as_str).collect::<Vec<_>>(), &cache);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(server.stats().stable_token_calls, 1, "one token for the first run, cached on disk");

    // Each command in turn meets a token WeChat no longer accepts.
    campaign(dir.path(), &server, "second.csv", 5..10);
    let second = dir.path().join("second.csv");
    let steps: Vec<(&str, Vec<String>)> = vec![
        ("templates", vec!["templates".into(), cs.into(), "--refresh-templates".into()]),
        ("check", vec!["check".into(), cs.into(), "--refresh-templates".into()]),
        ("doctor", vec!["doctor".into(), cs.into()]),
        ("send", send(second.to_str().unwrap())),
    ];
    for (name, argv) in steps {
        let before = server.stats();
        server.state().invalidate_tokens();
        let (code, out) = tokio::task::spawn_blocking({
            let cache = cache.clone();
            move || run(&argv.iter().map(String::as_str).collect::<Vec<_>>(), &cache)
        })
        .await
        .unwrap();
        assert_eq!(code, Some(0), "{name} after the token was invalidated:\n{out}");
        assert!(!out.contains("40001"), "{name}: the stale token is mended, not reported:\n{out}");
        let after = server.stats();
        assert_eq!(after.stable_token_calls - before.stable_token_calls, 1, "{name}: exactly one refetch");
        assert_eq!(after.token_calls, 0, "{name}: never the token-killing cgi-bin/token");
    }
    assert_eq!(server.stats().accepted, 10, "both lists delivered, each row once");
}
