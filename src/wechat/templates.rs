//! Fetching the account's template list with the campaign's token, and keeping it per appid and
//! kind in the cache folder (mode 0600, with its fetch time) for a while.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::catalogue::{parse_official, parse_subscribe, Catalogue};
use super::client::Failure;
use super::protocol::Kind;
use super::Sender;

/// The list endpoint of a kind (`uniform` has none its token may read).
pub fn list_path(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::Template => Some("/cgi-bin/template/get_all_private_template"),
        Kind::Subscribe | Kind::MpSubscribe => Some("/wxaapi/newtmpl/gettemplate"),
        Kind::Uniform => None,
    }
}

/// Ask WeChat for the templates of `kind` with `sender`'s token.
pub async fn fetch(sender: &Sender, appid: &str, kind: Kind) -> Result<Catalogue, Failure> {
    let Some(path) = list_path(kind) else {
        return Err(Failure::transport(
            "uniform messages use an official account's template, which the mini program's token cannot list",
        ));
    };
    let answer = sender.get_json(path).await?;
    let templates = match kind {
        Kind::Subscribe | Kind::MpSubscribe => parse_subscribe(&answer),
        _ => parse_official(&answer),
    }
    .map_err(|e| Failure::transport(e.to_string()))?;
    Ok(Catalogue { appid: appid.to_string(), kind, fetched_at: unix_now(), templates })
}

/// The cached catalogues of one cache folder.
#[derive(Debug, Clone)]
pub struct CatalogueCache {
    dir: PathBuf,
}

impl CatalogueCache {
    /// The cache under `dir` (the templates live in `dir/templates/`).
    pub fn new(dir: &Path) -> Self {
        Self { dir: dir.join("templates") }
    }

    /// The default cache: `$WXSEND_CACHE_DIR/..`, else `~/.cache/wxsend/`.
    pub fn default_location() -> Option<Self> {
        match std::env::var_os("WXSEND_CACHE_DIR") {
            Some(d) if !d.is_empty() => Some(Self::new(Path::new(&d))),
            _ => dirs::cache_dir().map(|d| Self::new(&d.join("wxsend"))),
        }
    }

    fn file(&self, appid: &str, kind: Kind, api_base: &str) -> PathBuf {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(api_base.as_bytes());
        let safe: String = appid.chars().filter(char::is_ascii_alphanumeric).take(32).collect();
        self.dir.join(format!("{safe}-{}-{:02x}{:02x}{:02x}.json", kind.as_str(), digest[0], digest[1], digest[2]))
    }

    /// The cached catalogue of `appid` and `kind` from `api_base`, if younger than `max_age`.
    pub fn load(&self, appid: &str, kind: Kind, api_base: &str, max_age: Duration) -> Option<Catalogue> {
        let text = std::fs::read_to_string(self.file(appid, kind, api_base)).ok()?;
        let catalogue: Catalogue = serde_json::from_str(&text).ok()?;
        let age = unix_now().saturating_sub(catalogue.fetched_at);
        (catalogue.appid == appid && catalogue.kind == kind && age <= max_age.as_secs()).then_some(catalogue)
    }

    /// Keep `catalogue` (mode 0600, written whole then renamed). Errors are the caller's to
    /// ignore: a cache that cannot be written only costs a fetch next time.
    pub fn store(&self, catalogue: &Catalogue, api_base: &str) -> std::io::Result<()> {
        use std::io::Write;
        std::fs::create_dir_all(&self.dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        tmp.write_all(&serde_json::to_vec_pretty(catalogue).map_err(std::io::Error::from)?)?;
        tmp.as_file().sync_all()?;
        tmp.persist(self.file(&catalogue.appid, catalogue.kind, api_base)).map_err(|e| e.error)?;
        Ok(())
    }
}

/// Seconds since the Unix epoch.
fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
