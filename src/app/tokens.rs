//! Where a campaign's access token comes from, as every use case builds it (send, check,
//! templates, doctor): the source its `[wechat]` names, the secret from the environment, a token
//! service with its headers and the campaign's network options.

use crate::campaign::CampaignConfig;
use crate::wechat::{TokenError, TokenSource, WechatClient};

/// The campaign's token source, reached like its API (secret from the environment, a token
/// service with its headers and the campaign's network options).
pub(crate) fn token_source(cfg: &CampaignConfig, client: &WechatClient) -> Result<TokenSource, TokenError> {
    let w = &cfg.wechat;
    TokenSource::from_env(&w.token, &w.appid, &w.secret_env, client, &w.token_headers, &cfg.network)
}
