//! The shared token cache against the mock: one request however many workers need a token.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use wxsend::campaign::TokenSpec;
use wxsend::mock::MockConfig;
use wxsend::wechat::{Outcome, TokenError};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_workers_with_an_expired_token_make_one_token_request() {
    let server = mock(MockConfig { token_ttl: 2, ..Default::default() }).await;
    let tokens = cache(&server, TokenSpec::Stable, None);
    let first = tokens.get().await.unwrap();
    assert_eq!(server.stats().stable_token_calls, 1);
    // Past half its 2 s life the token is due for refresh.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let handles: Vec<_> = (0..64)
        .map(|_| {
            let t = tokens.clone();
            tokio::spawn(async move { t.get().await })
        })
        .collect();
    let mut got = HashSet::new();
    for h in handles {
        got.insert(h.await.unwrap().unwrap().expose().to_string());
    }
    assert_eq!(server.stats().stable_token_calls, 2, "exactly one refresh for 64 workers");
    assert_eq!(got.len(), 1, "every worker got the same token");
    assert!(!got.contains(first.expose()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_failures_of_one_token_cause_one_refresh() {
    let server = mock(MockConfig::default()).await;
    let tokens = cache(&server, TokenSpec::Stable, None);
    let old = tokens.get().await.unwrap();
    server.state().invalidate_tokens();
    let handles: Vec<_> = (0..50)
        .map(|_| {
            let (t, old) = (tokens.clone(), old.clone());
            tokio::spawn(async move { t.replace_failed(&old).await })
        })
        .collect();
    let mut refreshed = 0;
    let mut external = 0;
    let mut got = HashSet::new();
    for h in handles {
        let r = h.await.unwrap().unwrap();
        refreshed += usize::from(r.refreshed);
        external += usize::from(r.external);
        got.insert(r.token.expose().to_string());
    }
    assert_eq!(refreshed, 1);
    assert_eq!(external, 1, "a token invalidated within its life is reported as replaced elsewhere");
    assert_eq!(got.len(), 1);
    assert_eq!(server.stats().stable_token_calls, 2);
    assert_eq!(tokens.status().refreshes, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tokens_invalidated_mid_stream_cost_one_refresh_and_every_message_arrives_once() {
    let server = mock(MockConfig { invalidate_tokens_at: vec![60], ..Default::default() }).await;
    let sender = sender(&server, None);
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
    let mut handles = Vec::new();
    for n in 0..200 {
        let (s, sem) = (sender.clone(), sem.clone());
        handles.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await.unwrap();
            s.send(TEMPLATE, &template_body(&openid("oWx", n))).await
        }));
    }
    let mut refreshed = 0;
    for h in handles {
        let (outcome, note) = h.await.unwrap().unwrap();
        assert!(matches!(outcome, Outcome::Delivered { .. }), "{outcome:?}");
        refreshed += usize::from(note.refreshed);
    }
    let stats = server.stats();
    assert_eq!(stats.invalidations, 1);
    assert_eq!(stats.stable_token_calls, 2, "one initial token, one refresh");
    assert_eq!(refreshed, 1);
    let records = server.records();
    let users: HashSet<_> = records.iter().map(|r| r.touser.clone()).collect();
    assert_eq!(records.len(), 200);
    assert_eq!(users.len(), 200);
    assert_eq!(stats.duplicate_deliveries, 0);
    assert!(stats.sends_by_errcode.get(&40001).copied().unwrap_or(0) <= 16);
}

#[tokio::test]
async fn a_second_run_within_the_token_life_makes_no_token_request() {
    let dir = tempfile::tempdir().unwrap();
    let server = mock(MockConfig::default()).await;
    let first = cache(&server, TokenSpec::Stable, Some(dir.path()));
    let token = first.get().await.unwrap();
    assert_eq!(server.stats().stable_token_calls, 1);
    let path = first.disk_path().unwrap().to_path_buf();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    drop(first);
    let second = cache(&server, TokenSpec::Stable, Some(dir.path()));
    assert_eq!(second.get().await.unwrap(), token);
    assert_eq!(server.stats().stable_token_calls, 1, "the disk cache served the second run");
    assert!(second.status().from_disk);
    // A different API base never reuses the file.
    let other = mock(MockConfig::default()).await;
    let third = cache(&other, TokenSpec::Stable, Some(dir.path()));
    assert_ne!(third.disk_path(), Some(path.as_path()));
}

#[tokio::test]
async fn the_circuit_breaker_caps_token_requests() {
    let server = mock(MockConfig::default()).await;
    let tokens = cache(&server, TokenSpec::ClientCredential, None);
    let mut token = tokens.get().await.unwrap();
    let mut err = None;
    for _ in 0..20 {
        match tokens.replace_failed(&token).await {
            Ok(r) => token = r.token,
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    assert!(matches!(err, Some(TokenError::CircuitOpen { .. })), "{err:?}");
    assert_eq!(server.stats().token_calls, 10);
    assert!(err.unwrap().to_string().contains("protect the daily token quota"));
}
