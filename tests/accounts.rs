//! Named accounts: a campaign says `account = "shop"` and gets the appid, secret source, API
//! base and proxy from accounts.toml; `wxsend accounts` lists them without a secret.

mod common;

use common::*;
use wxsend::mock::MockConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_names_its_account_and_the_accounts_are_listed_without_secrets() {
    let server = mock(MockConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let accounts = dir.path().join("accounts.toml");
    std::fs::write(
        &accounts,
        format!(
            "[accounts.shop]\nappid = \"{APPID}\"\nsecret_env = \"SHOP_SECRET\"\napi_base = \"{}\"\nproxy = \"none\"\n\n\
             [accounts.svc]\nappid = \"wx1111111111111111\"\ntoken = \"url:https://tokens.internal/wx/1?key=k-99\"\n\
             token_headers = {{ Authorization = \"Bearer hdr-secret\" }}\nproxy = \"http://ops:pw-77@10.0.0.1:3128\"\nca_file = \"corp.pem\"\n",
            server.url()
        ),
    )
    .unwrap();
    let campaign = write_campaign(dir.path(), "acct", None, "rate = 200", &mixed_openids(6, 0, 0));
    let text = std::fs::read_to_string(&campaign)
        .unwrap()
        .replace(&format!("appid = \"{APPID}\"\nsecret_env = \"WXSEND_TEST_SECRET\"\n"), "account = \"shop\"\n");
    std::fs::write(&campaign, text).unwrap();

    let mut cmd = send_command(&campaign, &dir.path().join("cache"), &[]);
    cmd.env_remove("WXSEND_TEST_SECRET").env("SHOP_SECRET", SECRET).env("WXSEND_ACCOUNTS", &accounts);
    let out = cmd.output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(server.stats().accepted, 6);

    let out = wxsend(&["accounts"], &[("WXSEND_ACCOUNTS", accounts.to_str().unwrap())]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        listed.contains(&format!(
            "shop: appid {APPID}, token stable, secret from $SHOP_SECRET, api {}, no proxy",
            server.url()
        )),
        "{listed}"
    );
    assert!(listed.contains("svc: appid wx1111111111111111, token url:https://tokens.internal/wx/1"), "{listed}");
    assert!(listed.contains("proxy http://10.0.0.1:3128") && listed.contains("corp.pem"), "{listed}");
    for secret in ["k-99", "hdr-secret", "pw-77", SECRET] {
        assert!(!listed.contains(secret), "{secret} shown: {listed}");
    }

    // An unknown account is named with the ones there are.
    let text = std::fs::read_to_string(&campaign).unwrap().replace("account = \"shop\"", "account = \"shopp\"");
    std::fs::write(&campaign, text).unwrap();
    let out = wxsend(&["check", campaign.to_str().unwrap()], &[("WXSEND_ACCOUNTS", accounts.to_str().unwrap())]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("`account` = \"shopp\"")
            && err.contains("did you mean \"shop\"?")
            && err.contains("it has: shop, svc"),
        "{err}"
    );
}
