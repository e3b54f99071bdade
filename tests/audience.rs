//! Lists from the account's followers (`wxsend audience`) against the embedded mock's own
//! population over loopback: everyone in pages of 10,000 and the empty last page; tags as a
//! union, an intersection and an exception, compared with the mock's population; details and
//! `--since`; a pull killed after its first page, or stopped by 45009, resumes on the same
//! command and writes every openid once.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use common::*;
use wxsend::mock::{Follower, MockConfig, MockServer};

const FOLLOWERS: u64 = 25_000;

/// A campaign of the test account against `server` in `dir` (only its [wechat] is used).
fn campaign(dir: &Path, server: &MockServer) -> PathBuf {
    let toml = format!(
        "name = \"fans\"\n[wechat]\napi_base = \"{}\"\nappid = \"{APPID}\"\nsecret_env = \"WXSEND_TEST_SECRET\"\n\
         [message]\nkind = \"template\"\ntemplate_id = \"TID\"\n[message.data]\nthing1 = \"新品到店\"\n[recipients]\nfile = \"r.csv\"\n",
        server.url()
    );
    let path = dir.join("campaign.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

fn audience(campaign: &Path, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let dir = campaign.parent().unwrap();
    let cache = dir.join("cache");
    let mut args = vec!["audience", campaign.to_str().unwrap(), "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let mut envs = vec![("WXSEND_TEST_SECRET", SECRET), ("WXSEND_CACHE_DIR", cache.to_str().unwrap())];
    envs.extend_from_slice(env);
    wxsend(&args, &envs)
}

fn words(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The openids of a written list, asserting each is there once.
fn openids(path: &Path) -> HashSet<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("openid"));
    let list: Vec<String> = lines.map(|l| l.split(',').next().unwrap().to_string()).collect();
    let set: HashSet<String> = list.iter().cloned().collect();
    assert_eq!(set.len(), list.len(), "an openid written twice");
    set
}

fn with(population: &[Follower], keep: impl Fn(&Follower) -> bool) -> HashSet<String> {
    population.iter().filter(|f| keep(f)).map(|f| f.openid.clone()).collect()
}

/// Who a case keeps, by the mock's own population.
type Keep = Box<dyn Fn(&Follower) -> bool>;

fn has(f: &Follower, tag: &str) -> bool {
    f.tags.iter().any(|t| t == tag)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_follower_once_and_tags_as_sets_of_the_mocks_own_population() {
    let server = mock(MockConfig { followers: FOLLOWERS, ..Default::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let c = campaign(dir.path(), &server);
    let population = server.state().followers();
    assert_eq!(population.len() as u64, FOLLOWERS);

    let all = dir.path().join("all.csv");
    let out = audience(&c, &all, &[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", words(&out));
    assert_eq!(openids(&all), with(&population, |_| true));
    assert_eq!(server.stats().follower_list_calls, 4, "3 pages and the empty one");
    assert!(words(&out).contains("wrote 25,000 openids"), "{}", words(&out));

    let cases: [(&[&str], Keep); 4] = [
        (&["--tag", "VIP", "--tag", "北京门店"], Box::new(|f| has(f, "VIP") || has(f, "北京门店"))),
        (&["--tag", "VIP", "--tag", "101", "--all-tags"], Box::new(|f| has(f, "VIP") && has(f, "北京门店"))),
        (&["--tag", "VIP", "--except-tag", "新关注"], Box::new(|f| has(f, "VIP") && !has(f, "新关注"))),
        (&["--except-tag", "VIP"], Box::new(|f| !has(f, "VIP"))),
    ];
    for (i, (args, keep)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("case{i}.csv"));
        let out = audience(&c, &file, args, &[]);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", words(&out));
        let got = openids(&file);
        assert!(!got.is_empty());
        assert_eq!(got, with(&population, keep), "{args:?}");
    }

    // Details and --since: the follow time as China's clock shows it, compared with the mock's.
    let since = 1_767_196_800; // 2026-01-01 00:00 in China
    let file = dir.path().join("recent.csv");
    let out = audience(&c, &file, &["--tag", "VIP", "--with-info", "--since", "2026-01-01"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", words(&out));
    assert_eq!(openids(&file), with(&population, |f| has(f, "VIP") && f.subscribe_time >= since));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("openid,subscribe_time,remark,tags,unionid\n"), "{text}");
    assert!(text.lines().skip(1).all(|l| l.contains(",VIP") || l.contains("VIP;")), "every row tagged VIP");

    // A tag the account does not have: exit 2, naming the account's tags.
    let out = audience(&c, &dir.path().join("x.csv"), &["--tag", "VIP客户"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(words(&out).contains("no tag VIP客户") && words(&out).contains("北京门店 (101,"), "{}", words(&out));
    let out = audience(&c, &dir.path().join("x.csv"), &["--since", "2026-01-01"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(words(&out).contains("--with-info"), "{}", words(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_killed_after_its_first_page_resumes_and_writes_each_openid_once() {
    let server = mock(MockConfig { followers: FOLLOWERS, ..Default::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let c = campaign(dir.path(), &server);
    let all = dir.path().join("all.csv");
    let out = audience(&c, &all, &[], &[("WXSEND_FAILPOINT_ABORT_AFTER_PAGES", "1")]);
    assert_eq!(out.status.code(), None, "killed: {}", words(&out));
    assert!(!all.exists(), "nothing written before the list is whole");
    // A page written but not checkpointed when the process died: cut away on the resume.
    let pull = std::fs::read_dir(dir.path().join(".wxsend/fans/audience")).unwrap().next().unwrap().unwrap().path();
    let mut pages = std::fs::OpenOptions::new().append(true).open(pull.join("all.txt")).unwrap();
    std::io::Write::write_all(&mut pages, b"oTORNPAGE0000000000000000000\n").unwrap();

    let out = audience(&c, &all, &[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", words(&out));
    assert_eq!(openids(&all), with(&server.state().followers(), |_| true));
    assert_eq!(server.stats().follower_list_calls, 4, "the resume asked from the second page on");
    assert!(!pull.exists(), "the pull's pages are removed once the list is written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_limit_stops_the_pull_with_exit_3_and_the_next_day_finishes_it() {
    let server = mock(MockConfig { followers: FOLLOWERS, user_get_quota: Some(2), ..Default::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let c = campaign(dir.path(), &server);
    let all = dir.path().join("all.csv");
    let out = audience(&c, &all, &[], &[]);
    assert_eq!(out.status.code(), Some(3), "{}", words(&out));
    assert!(words(&out).contains("45009") && words(&out).contains("run the same command again"), "{}", words(&out));
    assert!(!all.exists());
    server.state().reset_daily_quota();
    let out = audience(&c, &all, &[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", words(&out));
    assert_eq!(openids(&all), with(&server.state().followers(), |_| true));
    assert_eq!(server.stats().follower_list_calls, 5, "2 pages, the refused call, the last page and the empty one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mock_lists_followers_as_wechat_documents_it() {
    let server = mock(MockConfig { followers: 120, ..Default::default() }).await;
    let token = stable_token(&server.url()).await["access_token"].as_str().unwrap().to_string();
    let http = reqwest::Client::new();
    let get = |next: String| {
        let (http, url, token) = (http.clone(), server.url(), token.clone());
        async move {
            let u = format!("{url}/cgi-bin/user/get?access_token={token}&next_openid={next}");
            http.get(u).send().await.unwrap().json::<serde_json::Value>().await.unwrap()
        }
    };
    let first = get(String::new()).await;
    assert_eq!((first["total"].as_u64(), first["count"].as_u64()), (Some(120), Some(120)));
    let last = first["next_openid"].as_str().unwrap().to_string();
    assert_eq!(first["data"]["openid"][119], last.as_str(), "a next_openid even on the last page");
    let empty = get(last).await;
    assert_eq!(empty["count"], 0);
    assert!(empty.get("data").is_none(), "{empty}");
    // batchget answers at most 100 openids.
    let people: Vec<serde_json::Value> = first["data"]["openid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| serde_json::json!({ "openid": o, "lang": "zh_CN" }))
        .collect();
    let batch = |list: &[serde_json::Value]| {
        let (http, url, token) = (http.clone(), server.url(), token.clone());
        let body = serde_json::json!({ "user_list": list });
        async move {
            let u = format!("{url}/cgi-bin/user/info/batchget?access_token={token}");
            http.post(u).json(&body).send().await.unwrap().json::<serde_json::Value>().await.unwrap()
        }
    };
    assert_eq!(batch(&people[..101]).await["errcode"], 40032);
    let info = batch(&people[..100]).await;
    let first_info = &info["user_info_list"][0];
    assert_eq!(first_info["subscribe"], 1);
    assert!(first_info.get("nickname").is_none(), "no nickname since 2021-12-27");
}

/// An audience campaign of the VIP tag with a code per follower from `values.csv`; the values
/// file holds every VIP follower of `population`, plus `extra` lines.
fn audience_campaign(dir: &Path, server: &MockServer, population: &[Follower], extra: &str) -> PathBuf {
    let toml = format!(
        "name = \"vip\"\n[wechat]\napi_base = \"{}\"\nappid = \"{APPID}\"\nsecret_env = \"WXSEND_TEST_SECRET\"\n\
         [message]\nkind = \"template\"\ntemplate_id = \"TPL_ORDER_SHIPPED\"\n[message.data]\nthing1 = \"新品到店\"\n\
         character_string2 = \"{{{{code}}}}\"\namount3 = \"0.01元\"\ntime4 = \"2026-12-06 10:00\"\n[recipients]\ntags = [\"VIP\"]\nvalues = \"values.csv\"\n[send]\nrate = 2000\n",
        server.url()
    );
    let mut values = String::from("openid,code\n");
    for (i, f) in population.iter().filter(|f| has(f, "VIP")).enumerate() {
        values.push_str(&format!("{},C{i:05}\n", f.openid));
    }
    values.push_str(extra);
    std::fs::write(dir.join("values.csv"), values).unwrap();
    let path = dir.join("campaign.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

fn received(server: &MockServer) -> std::collections::HashMap<String, usize> {
    let mut by_openid = std::collections::HashMap::new();
    for r in server.records() {
        *by_openid.entry(r.touser).or_default() += 1;
    }
    by_openid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tags_campaign_sends_to_exactly_its_snapshot_and_new_run_pulls_again() {
    let server = mock(MockConfig { followers: 3_000, ..Default::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let population = server.state().followers();
    let vip: HashSet<String> = with(&population, |f| has(f, "VIP"));
    let c = audience_campaign(dir.path(), &server, &population, "");
    let cache = dir.path().join("cache");

    // Killed part way: the journal holds the list, which is now the campaign's snapshot.
    let out = send_command(&c, &cache, &[]).env("WXSEND_FAILPOINT_ABORT_AFTER_WRITES", "120").output().await.unwrap();
    assert_eq!(out.status.code(), None, "{}", String::from_utf8_lossy(&out.stderr));
    let reached = received(&server).len();
    assert!(reached > 0 && reached < vip.len());
    // A follower tagged VIP joins before the resume: not in the resumed run.
    let newcomer = openid("oNEWVIP", 1);
    server.state().follow(Follower {
        openid: newcomer.clone(),
        subscribe_time: 1_800_000_000,
        tags: vec!["VIP".into()],
    });
    let lists_before = server.stats().follower_list_calls;
    let out = send_command(&c, &cache, &[]).output().await.unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("the snapshot of"), "{text}");
    assert_eq!(server.stats().follower_list_calls, lists_before, "the resume did not pull again");
    let got = received(&server);
    assert!(got.values().all(|&n| n == 1), "someone got two messages");
    assert!(!got.contains_key(&newcomer), "{text}");
    assert!(got.keys().all(|o| vip.contains(o)), "only the snapshot's followers");
    let unknown = vip.len() - got.len();
    assert!(unknown <= 8, "{unknown} VIP followers never got the message: {text}");
    // Each message carries the follower's own value.
    let first = server.records().into_iter().next().unwrap();
    assert!(first.data["character_string2"]["value"].as_str().unwrap().starts_with('C'));

    // --new-run pulls again: the newcomer is in it (and has no value yet: an invalid row, not sent).
    let values = std::fs::read_to_string(dir.path().join("values.csv")).unwrap();
    std::fs::write(dir.path().join("values.csv"), format!("{values}{newcomer},C99999\n")).unwrap();
    let out = send_command(&c, &cache, &["--new-run"]).output().await.unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(server.stats().follower_list_calls > lists_before, "{text}");
    assert_eq!(received(&server).get(&newcomer), Some(&1), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_on_an_audience_campaign_counts_it_and_names_what_is_wrong() {
    let server = mock(MockConfig { followers: 3_000, ..Default::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let population = server.state().followers();
    let vip = with(&population, |f| has(f, "VIP")).len();
    let env = |cache: &Path| {
        vec![("WXSEND_TEST_SECRET", SECRET.to_string()), ("WXSEND_CACHE_DIR", cache.display().to_string())]
    };
    let check = |c: &Path| {
        let e = env(&dir.path().join("cache"));
        let e: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let out = wxsend(&["check", c.to_str().unwrap()], &e);
        (out.status.code(), words(&out))
    };
    let c = audience_campaign(dir.path(), &server, &population, "");
    // doctor first, as the README's first campaign does: the followers are not needed yet.
    let e = env(&dir.path().join("cache"));
    let e: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = wxsend(&["doctor", c.to_str().unwrap()], &e);
    assert_eq!(out.status.code(), Some(0), "{}", words(&out));
    assert!(words(&out).contains("to the account's followers"), "{}", words(&out));
    assert_eq!(server.stats().follower_list_calls, 0, "doctor pulls nothing");
    let (code, text) = check(&c);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!(
            "audience: {} followers (VIP {})",
            wxsend::app::text::thousands(vip),
            wxsend::app::text::thousands(vip)
        )),
        "{text}"
    );
    assert!(text.contains("新品到店"), "the preview: {text}");
    // A second check within audience_max_age_minutes reuses the pull; --json says what it is.
    let calls = server.stats().follower_list_calls;
    let e = env(&dir.path().join("cache"));
    let e: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = wxsend(&["check", c.to_str().unwrap(), "--json"], &e);
    assert_eq!(out.status.code(), Some(0), "{}", words(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["audience"]["openids"], vip, "{report}");
    assert_eq!(report["audience"]["by_tag"][0], serde_json::json!(["VIP", vip]), "{report}");
    assert_eq!(server.stats().follower_list_calls, calls);

    // An openid in values.csv that is not in the audience: file and line, exit 2.
    let stranger = openid("oSTRANGER", 1);
    let c = audience_campaign(dir.path(), &server, &population, &format!("{stranger},C1\n"));
    let (code, text) = check(&c);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains(&format!("values.csv:{}: openid {stranger} is not in the audience", vip + 2)), "{text}");
    // A missing values file, and a tag the account does not have.
    std::fs::remove_file(dir.path().join("values.csv")).unwrap();
    let (code, text) = check(&c);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("values.csv"), "{text}");
    let toml = std::fs::read_to_string(&c).unwrap().replace("tags = [\"VIP\"]", "tags = [\"VIP客户\"]");
    std::fs::write(&c, toml).unwrap();
    let (code, text) = check(&c);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("no tag VIP客户"), "{text}");
}
