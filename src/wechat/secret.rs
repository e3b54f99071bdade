//! Values that must never be printed: the app secret and access tokens.

use std::fmt;
use std::sync::Arc;

/// The app secret. `Debug` and `Display` print `***`; only [`Secret::expose`] reveals it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one request body that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// An access token. `Debug` and `Display` print its first 4 characters and `…`.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(Arc<str>);

impl AccessToken {
    /// Wrap a token.
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Self(value.into())
    }

    /// The token itself, for the `access_token` query parameter.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The printable form: at most the first 4 characters.
    pub fn redacted(&self) -> String {
        let head: String = self.0.chars().take(4).collect();
        format!("{head}…")
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccessToken({})", self.redacted())
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Replace every occurrence of each secret in `text` (for text that came from outside).
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        if out.contains(*s) {
            let head: String = s.chars().take(4).collect();
            out = out.replace(*s, &format!("{head}…"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_tokens_never_print_in_full() {
        let s = Secret::new("supersecretvalue");
        assert_eq!(format!("{s} {s:?}"), "*** Secret(***)");
        let t = AccessToken::new("ACCESS_TOKEN_0123456789");
        assert_eq!(format!("{t} {t:?}"), "ACCE… AccessToken(ACCE…)");
        assert_eq!(scrub("bad ACCESS_TOKEN_0123456789 here", &[t.expose()]), "bad ACCE… here");
    }
}
