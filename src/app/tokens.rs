//! Where a campaign's access token comes from, as every use case builds it (send, check,
//! templates, doctor, audiences, a platform's merchants): the source its `[wechat]` names, the secret from the environment, a token
//! service with its headers and the campaign's network options.

use crate::campaign::CampaignConfig;
use crate::wechat::{TokenError, TokenSource, WechatClient};

/// Why a campaign's client and token cache cannot be set up outside a send.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The API base or the network options.
    #[error(transparent)]
    Client(#[from] crate::wechat::client::ClientError),
    /// The token source (a secret missing, a token service's settings).
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The Redis the campaign shares.
    #[error(transparent)]
    Shared(#[from] crate::shared::SharedError),
}

/// The campaign's client and token cache outside a send (the pulls of followers, a platform's
/// merchants): the token shared through Redis when the campaign shares one, under `owner`'s
/// name.
pub(crate) async fn client_and_tokens(
    cfg: &CampaignConfig,
    owner: &str,
) -> Result<(WechatClient, crate::wechat::TokenCache), SetupError> {
    let client = WechatClient::with_network(&cfg.wechat.api_base, &cfg.network)?;
    let source = token_source(cfg, &client)?;
    let mut tokens = crate::wechat::TokenCache::new(source, crate::wechat::TokenCache::default_dir().as_deref());
    if let Some(url) = &cfg.shared.redis {
        let redis = crate::shared::Redis::connect(url, cfg.shared.password(), &cfg.shared.prefix).await?;
        tokens = super::session::share_tokens(tokens, cfg, &redis, &format!("{owner}-{}", std::process::id()));
    }
    Ok((client, tokens))
}

/// The campaign's token source, reached like its API (secret from the environment, a token
/// service with its headers and the campaign's network options).
pub(crate) fn token_source(cfg: &CampaignConfig, client: &WechatClient) -> Result<TokenSource, TokenError> {
    let w = &cfg.wechat;
    TokenSource::from_env(&w.token, &w.appid, &w.secret_env, client, &w.token_headers, &cfg.network)
}
