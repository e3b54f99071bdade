//! `[network]` in a campaign (or an account): the proxy, extra trust and the timeouts, parsed
//! into the protocol layer's [`NetworkOptions`].

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::wechat::protocol::{NetworkOptions, ProxySetting};

/// `[network]` as written.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNetwork {
    pub(crate) proxy: Option<Spanned<String>>,
    pub(crate) ca_file: Option<String>,
    pub(crate) connect_timeout_ms: Option<Spanned<u64>>,
    pub(crate) tls_timeout_ms: Option<Spanned<u64>>,
    pub(crate) idle_timeout_ms: Option<Spanned<u64>>,
}

impl RawNetwork {
    /// Checked options; `base` resolves a relative `ca_file`; `err` places a message at a byte
    /// offset of the file. `timeout` is `[send] timeout_ms`.
    pub(crate) fn resolve<E>(
        self,
        base: &Path,
        timeout: Duration,
        err: impl Fn(usize, String) -> E,
    ) -> Result<NetworkOptions, E> {
        let d = NetworkOptions::default();
        let ms = |v: Option<Spanned<u64>>, default: Duration, key: &str| match v {
            None => Ok(default),
            Some(v) if (100..=600_000).contains(v.get_ref()) => Ok(Duration::from_millis(*v.get_ref())),
            Some(v) => Err(err(
                v.span().start,
                crate::tr!("config.range", key = key, value = v.get_ref(), min = 100, max = 600_000),
            )),
        };
        let proxy = match self.proxy {
            None => ProxySetting::Environment,
            Some(p) => ProxySetting::parse(p.get_ref()).map_err(|m| err(p.span().start, m.to_string()))?,
        };
        Ok(NetworkOptions {
            proxy,
            ca_file: self.ca_file.map(|f| base.join(f)),
            connect_timeout: ms(self.connect_timeout_ms, d.connect_timeout, "connect_timeout_ms")?,
            tls_timeout: ms(self.tls_timeout_ms, d.tls_timeout, "tls_timeout_ms")?,
            timeout,
            idle_timeout: ms(self.idle_timeout_ms, d.idle_timeout, "idle_timeout_ms")?,
        })
    }
}
