//! `[receipts]` of a campaign: the token and EncodingAESKey of the account's server URL, which
//! WeChat's pushes are checked and decrypted with. Values are `env:VAR` or the text itself;
//! without the keys, `WXSEND_PUSH_TOKEN` and `WXSEND_PUSH_AES_KEY` are read.

use serde::Deserialize;

/// `[receipts]` as written.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReceipts {
    pub(crate) token: Option<String>,
    pub(crate) aes_key: Option<String>,
}

/// Where the push token and AES key come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptsConfig {
    /// The token (`env:VAR` or the text).
    pub token: String,
    /// The EncodingAESKey (`env:VAR` or the text), for safe mode.
    pub aes_key: String,
}

impl From<RawReceipts> for ReceiptsConfig {
    fn from(raw: RawReceipts) -> Self {
        Self {
            token: raw.token.unwrap_or_else(|| "env:WXSEND_PUSH_TOKEN".into()),
            aes_key: raw.aes_key.unwrap_or_else(|| "env:WXSEND_PUSH_AES_KEY".into()),
        }
    }
}

/// The value of a `env:VAR`-or-text setting; `None` when the variable is unset or empty.
pub fn resolve(spec: &str) -> Option<String> {
    match spec.strip_prefix("env:") {
        Some(var) => std::env::var(var.trim()).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty()),
        None => Some(spec.to_string()).filter(|v| !v.is_empty()),
    }
}
