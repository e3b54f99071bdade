//! The token's copy on disk: one private file (0600) per app, token source and API base, so the
//! next run within the token's life asks for none and a mock's token never meets WeChat.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::source::TokenSource;
use crate::wechat::secret::AccessToken;

#[derive(Debug, Clone)]
pub(super) struct Cached {
    pub(super) token: AccessToken,
    pub(super) obtained_at: SystemTime,
    /// None: the source did not say (env, command); used until it fails.
    pub(super) expires_at: Option<SystemTime>,
    pub(super) ttl: Option<Duration>,
}

impl Cached {
    fn margin(&self) -> Duration {
        self.ttl.map_or(Duration::ZERO, |ttl| (ttl / 2).min(Duration::from_secs(300)))
    }

    /// Usable without a refresh: not within the refresh margin of its expiry.
    pub(super) fn is_fresh(&self, now: SystemTime) -> bool {
        match self.expires_at {
            None => true,
            Some(at) => now + self.margin() < at,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct DiskToken {
    access_token: String,
    obtained_at: u64,
    expires_at: u64,
}

/// One file per app, token source and API base (a mock's token must never meet the real API).
pub(super) fn cache_file_name(source: &TokenSource) -> String {
    let mut h = Sha256::new();
    h.update(source.http.base().as_bytes());
    h.update([0]);
    h.update(source.appid.as_bytes());
    let digest = h.finalize();
    let safe_appid = file_name_part(&source.appid);
    format!("{safe_appid}-{}-{:02x}{:02x}{:02x}{:02x}.json", source.label(), digest[0], digest[1], digest[2], digest[3])
}

/// An appid as a part of a file name in the token cache folder (letters and digits only).
pub(super) fn file_name_part(appid: &str) -> String {
    appid.chars().filter(|c| c.is_ascii_alphanumeric()).take(32).collect()
}

/// `t` in Unix seconds.
pub(super) fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

pub(super) fn read_disk(path: &Path) -> Option<Cached> {
    let text = std::fs::read_to_string(path).ok()?;
    let d: DiskToken = serde_json::from_str(&text).ok()?;
    let obtained_at = UNIX_EPOCH + Duration::from_secs(d.obtained_at);
    let expires_at = UNIX_EPOCH + Duration::from_secs(d.expires_at);
    Some(Cached {
        token: AccessToken::new(d.access_token),
        obtained_at,
        expires_at: Some(expires_at),
        ttl: expires_at.duration_since(obtained_at).ok(),
    })
}

pub(super) fn write_disk(path: &Path, cached: &Cached) -> std::io::Result<()> {
    use std::io::Write;
    let Some(expires_at) = cached.expires_at else { return Ok(()) };
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    create_private_dir(dir)?;
    let body = serde_json::to_vec(&DiskToken {
        access_token: cached.token.expose().to_string(),
        obtained_at: unix(cached.obtained_at),
        expires_at: unix(expires_at),
    })?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    {
        let mut f = open_private(&tmp)?;
        f.write_all(&body)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    // The mode applies only at creation: make sure a file left by an older run is private too.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(f)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(path)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.exists() {
        return Ok(());
    }
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}
