//! Delivery receipts for a campaign: WeChat's pushes received over HTTP (`receipts serve`) or
//! read from a file (`receipts import`), authenticated, matched to rows by msgid (subscribe
//! pushes, whose send returned none, by openid and template within the journal's time) and
//! appended durably to the state folder, with the followers' subscription changes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::campaign::receipts::resolve;
use crate::campaign::Campaign;
use crate::journal::receipts::{ReceiptsFile, StoredReceipt, SubscriptionsFile};
use crate::journal::StatePaths;
use crate::wechat::push::{
    check_fresh, decrypt, encrypted_part, parse_events, parse_platform_event, same_signature, signature, PlatformEvent,
    PushError, PushEvent, Pushed,
};

/// How much earlier than the journal's start a subscribe receipt may say it was made (WeChat's
/// clock against this machine's) and still be one of its sends.
const CLOCK_SKEW_SECS: u64 = 300;

/// Counts since the book was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Receipts matched to a row of the campaign.
    pub matched: usize,
    /// Receipts whose msgid (and openid) no row has: counted, kept, not fatal.
    pub unknown: usize,
    /// Pushes refused (bad signature, replay, undecryptable).
    pub refused: usize,
    /// A third-party platform's pushes kept: verify tickets and merchants' authorizations.
    pub platform: usize,
    /// Subscriptions given, declined or turned off.
    pub subscriptions: usize,
}

/// A campaign's receipts: the msgid and openid indexes and the file they go to.
#[derive(Debug)]
pub struct ReceiptBook {
    /// msgid → row, and the journal's byte read up to: a receipt naming a msgid it lacks reads
    /// what the journal gained since (a `send` may still be running beside the server).
    by_msgid: Mutex<(HashMap<String, usize>, u64)>,
    journal: PathBuf,
    by_openid: HashMap<String, usize>,
    file: ReceiptsFile,
    subscriptions: SubscriptionsFile,
    /// The campaign's template: a subscribe receipt naming another is not this campaign's.
    template_id: String,
    appid: String,
    token: Option<String>,
    aes_key: Option<String>,
    /// (timestamp, nonce) of the pushes accepted within the signature window: a replay of one
    /// is refused. Only authentic pushes are added, so nobody without the token can fill it.
    seen: Mutex<HashMap<(String, String), i64>>,
    tally: Mutex<Tally>,
    /// Subscribe sends return no msgid: their receipts are matched by openid and template, when
    /// made after the journal began.
    by_openid_too: bool,
    /// `token = "component"`: the platform whose pushes (tickets, authorizations) are kept, and
    /// the token cache folder they are kept in.
    platform: Option<(String, Option<PathBuf>)>,
}

/// The state folder of `campaign`'s list (as `send` uses it; `--state-dir` overrides); a
/// workbook's journal still in the folder of an earlier wxsend (no sheet recorded) is refused,
/// never read as "nothing sent yet".
pub fn state_paths(campaign: &Campaign, state_dir: Option<&Path>) -> Result<StatePaths, crate::journal::JournalError> {
    let dir: PathBuf = state_dir.map_or_else(|| campaign.config.state_dir.clone(), Path::to_path_buf);
    let paths = StatePaths::of(&dir, &campaign.recipients);
    paths.check_legacy()?;
    Ok(paths)
}

impl ReceiptBook {
    /// The book of `campaign`, whose journal (if any) gives the msgids.
    pub fn open(campaign: &Campaign, state_dir: Option<&Path>) -> Result<Self, ReceiptsError> {
        let paths = state_paths(campaign, state_dir)?;
        let by_msgid = if paths.journal.exists() {
            // Rows are matched by position: only the list this journal was written for.
            crate::journal::check_bound(&paths.journal, campaign)?;
            let (found, read) = crate::journal::read_msgids_from(&paths.journal, 0)
                .map_err(|source| ReceiptsError::Read { path: paths.journal.clone(), source })?;
            (found.into_iter().collect(), read)
        } else {
            (HashMap::new(), 0)
        };
        let by_openid = campaign.recipients.rows().map(|r| (r.openid().to_string(), r.index())).collect();
        let aes_key = resolve(&campaign.config.receipts.aes_key);
        if let Some(key) = &aes_key {
            crate::wechat::push::aes_key_bytes(key).map_err(|_| ReceiptsError::AesKey {
                path: campaign.config.path.clone(),
                given: key.trim().chars().count(),
            })?;
        }
        Ok(Self {
            by_msgid: Mutex::new(by_msgid),
            journal: paths.journal.clone(),
            by_openid,
            file: ReceiptsFile::in_dir(&paths.dir),
            subscriptions: SubscriptionsFile::in_dir(&paths.dir),
            template_id: campaign.config.message.template_id.clone(),
            appid: campaign.config.wechat.appid.clone(),
            token: resolve(&campaign.config.receipts.token),
            aes_key,
            seen: Mutex::new(HashMap::new()),
            tally: Mutex::new(Tally::default()),
            by_openid_too: campaign.config.message.kind.typed_values(),
            platform: match &campaign.config.wechat.token {
                crate::wechat::protocol::TokenSpec::Component(c) => {
                    Some((c.component_appid.clone(), crate::wechat::TokenCache::default_dir()))
                }
                _ => None,
            },
        })
    }

    /// Where receipts are kept.
    pub fn file(&self) -> &Path {
        self.file.path()
    }

    /// Whether a push token is configured (without one, `serve` refuses to start).
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// The counts so far.
    pub fn tally(&self) -> Tally {
        *self.tally.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Match the receipts to rows and append them, and the subscription changes, durably.
    pub fn record(&self, pushed: Pushed) -> std::io::Result<Tally> {
        let now = crate::journal::unix_now();
        let since = if self.by_openid_too { crate::journal::header_created(&self.journal) } else { None };
        let stored: Vec<StoredReceipt> = pushed
            .receipts
            .into_iter()
            .map(|event| {
                // A subscribe receipt's MsgID is WeChat's own: the journal has none to match.
                let row = if self.by_openid_too {
                    self.row_by_openid(&event, since)
                } else {
                    event.msgid.as_ref().and_then(|m| self.row_of(m))
                };
                StoredReceipt { row, event, recorded: now }
            })
            .collect();
        let mut add = Tally::default();
        if !stored.is_empty() {
            self.file.append(&stored)?;
            for s in &stored {
                if s.row.is_some() {
                    add.matched += 1;
                } else {
                    add.unknown += 1;
                }
            }
        }
        if !pushed.changes.is_empty() {
            self.subscriptions.append(&pushed.changes)?;
            add.subscriptions = pushed.changes.len();
        }
        let mut t = self.tally.lock().unwrap_or_else(|p| p.into_inner());
        t.matched += add.matched;
        t.unknown += add.unknown;
        t.subscriptions += add.subscriptions;
        Ok(add)
    }

    /// The row of a subscribe receipt (no msgid of ours to match): its follower's row, when it
    /// names the campaign's template (or none) and was made after the journal began.
    fn row_by_openid(&self, event: &PushEvent, since: Option<u64>) -> Option<usize> {
        if event.template_id.as_deref().is_some_and(|t| t != self.template_id) {
            return None;
        }
        if let Some(since) = since.filter(|_| event.created > 0) {
            if event.created + CLOCK_SKEW_SECS < since {
                return None;
            }
        }
        self.by_openid.get(&event.openid).copied()
    }

    /// The row of `msgid`; on a miss, what the journal gained since it was last read (only the
    /// new bytes: no full reload per push). A receipt still unmatched is stored without a row
    /// and matched by the readers once the journal has its msgid.
    fn row_of(&self, msgid: &str) -> Option<usize> {
        let mut known = self.by_msgid.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(row) = known.0.get(msgid) {
            return Some(*row);
        }
        if std::fs::metadata(&self.journal).map_or(0, |m| m.len()) < known.1 {
            // A fresh journal in its place (`--new-run`): read it from its start.
            *known = (HashMap::new(), 0);
        }
        if let Ok((found, read)) = crate::journal::read_msgids_from(&self.journal, known.1) {
            known.0.extend(found);
            known.1 = read;
        }
        known.0.get(msgid).copied()
    }

    /// The URL handshake: `echostr` back when the signature matches.
    pub fn verify_url(&self, q: &PushQuery) -> Result<String, PushError> {
        let token = self.token.as_deref().ok_or(PushError::BadSignature)?;
        let sig = signature(&[token, &q.timestamp, &q.nonce]);
        if !same_signature(&sig, &q.signature) {
            return Err(PushError::BadSignature);
        }
        Ok(q.echostr.clone().unwrap_or_default())
    }

    /// A pushed body: authenticated, fresh, decrypted in safe mode, its receipts recorded.
    pub fn receive(&self, q: &PushQuery, body: &str, now: i64) -> Result<Tally, ReceiveError> {
        let refused = |e: PushError| {
            self.tally.lock().unwrap_or_else(|p| p.into_inner()).refused += 1;
            ReceiveError::Refused(e)
        };
        let token = self.token.as_deref().ok_or_else(|| refused(PushError::BadSignature))?;
        if !same_signature(&signature(&[token, &q.timestamp, &q.nonce]), &q.signature) {
            return Err(refused(PushError::BadSignature));
        }
        check_fresh(&q.timestamp, now).map_err(refused)?;
        if self.aes_key.is_some() && q.encrypt_type.as_deref() != Some("aes") {
            return Err(refused(PushError::PlaintextInSafeMode));
        }
        let plain = if q.encrypt_type.as_deref() == Some("aes") {
            let encrypt = encrypted_part(body).ok_or_else(|| refused(PushError::Malformed("no Encrypt".into())))?;
            let msg_signature = q.msg_signature.as_deref().unwrap_or_default();
            if !same_signature(&signature(&[token, &q.timestamp, &q.nonce, &encrypt]), msg_signature) {
                return Err(refused(PushError::BadSignature));
            }
            let key = self.aes_key.as_deref().ok_or_else(|| refused(PushError::NoKey))?;
            match decrypt(&encrypt, key, &self.appid) {
                // A third-party platform's pushes are encrypted for the platform's AppID.
                Err(PushError::WrongApp(from)) if self.platform.as_ref().is_some_and(|(p, _)| *p == from) => {
                    decrypt(&encrypt, key, &from).map_err(refused)?
                }
                other => other.map_err(refused)?,
            }
        } else {
            body.to_string()
        };
        if let Some(event) = parse_platform_event(&plain).map_err(refused)? {
            self.first_use(q, now).map_err(refused)?;
            return self.keep_platform_event(event, now).map_err(|e| match e {
                ReceiveError::Store(e) => {
                    self.seen.lock().unwrap_or_else(|p| p.into_inner()).remove(&(q.timestamp.clone(), q.nonce.clone()));
                    ReceiveError::Store(e)
                }
                ReceiveError::Refused(e) => refused(e),
            });
        }
        let events = parse_events(&plain).map_err(refused)?;
        self.first_use(q, now).map_err(refused)?;
        self.record(events).map_err(|e| {
            // Not recorded: WeChat's retry of this push must not be taken for a replay.
            self.seen.lock().unwrap_or_else(|p| p.into_inner()).remove(&(q.timestamp.clone(), q.nonce.clone()));
            ReceiveError::Store(e)
        })
    }

    /// Keep a platform's push: its verify ticket (the newest wins) or a merchant's authorization,
    /// 0600 in the token cache folder, where `token = "component"` reads them.
    fn keep_platform_event(&self, event: PlatformEvent, now: i64) -> Result<Tally, ReceiveError> {
        use crate::wechat::token::component::{authorizations_file, record_authorization, save_ticket, ticket_file};
        let (platform, dir) = match &self.platform {
            Some((platform, Some(dir))) => (platform.as_str(), dir.as_path()),
            Some((_, None)) => {
                return Err(ReceiveError::Store(std::io::Error::other(
                    "no token cache folder to keep the platform's ticket in: set WXSEND_CACHE_DIR",
                )))
            }
            None => return Err(ReceiveError::Refused(PushError::WrongApp("a third-party platform".into()))),
        };
        match event {
            PlatformEvent::Ticket { component_appid, ticket, create_time } => {
                if component_appid != platform {
                    return Err(ReceiveError::Refused(PushError::WrongApp(component_appid)));
                }
                let stored = crate::wechat::token::component::StoredTicket {
                    component_verify_ticket: ticket,
                    create_time,
                    received_at: now.max(0) as u64,
                };
                save_ticket(&ticket_file(dir, platform), &stored).map_err(ReceiveError::Store)?;
            }
            PlatformEvent::Authorization { component_appid, info_type, authorizer_appid, create_time } => {
                if component_appid != platform {
                    return Err(ReceiveError::Refused(PushError::WrongApp(component_appid)));
                }
                record_authorization(&authorizations_file(dir, platform), &authorizer_appid, &info_type, create_time)
                    .map_err(ReceiveError::Store)?;
            }
        }
        let mut tally = self.tally.lock().unwrap_or_else(|p| p.into_inner());
        tally.platform += 1;
        Ok(*tally)
    }

    /// Remember an authentic push's (timestamp, nonce); refuse one seen within the window.
    fn first_use(&self, q: &PushQuery, now: i64) -> Result<(), PushError> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|_, at| now - *at <= 2 * crate::wechat::push::MAX_SKEW_SECS);
        match seen.entry((q.timestamp.clone(), q.nonce.clone())) {
            std::collections::hash_map::Entry::Occupied(_) => Err(PushError::Replayed),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(now);
                Ok(())
            }
        }
    }
}

/// Why a campaign's receipts cannot be opened, read or recorded.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptsError {
    /// The state folder or journal cannot be used.
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
    /// The key in `[receipts] aes_key` is not an EncodingAESKey.
    #[error("{}", crate::tr!("err.receipts.aes_key", path = .path.display().to_string(), given = .given))]
    AesKey {
        /// The campaign file.
        path: PathBuf,
        /// The characters given.
        given: usize,
    },
    /// A file cannot be read.
    #[error("{path}: {source}", path = .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The receipts file cannot be written.
    #[error("{path}: {source}", path = .path.display())]
    Store {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl ReceiptsError {
    /// 4 when the receipts cannot be written (or the journal's storage failed), else 2.
    pub fn exit(&self) -> super::Exit {
        match self {
            ReceiptsError::Store { .. } => super::Exit::LocalWrite,
            ReceiptsError::Journal(e) if e.is_storage() => super::Exit::LocalWrite,
            _ => super::Exit::Input,
        }
    }
}

/// Why a push was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// Not authentic, stale or unreadable: 403, nothing recorded.
    #[error(transparent)]
    Refused(PushError),
    /// The receipts file cannot be written: 500, so WeChat retries.
    #[error("{}", crate::tr!("err.receive_error.store", value0 = .0.to_string()))]
    Store(std::io::Error),
}

/// The query WeChat adds to the server URL.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PushQuery {
    /// SHA-1 of the sorted token, timestamp and nonce.
    #[serde(default)]
    pub signature: String,
    /// Unix seconds, as text.
    #[serde(default)]
    pub timestamp: String,
    /// A random text.
    #[serde(default)]
    pub nonce: String,
    /// The URL handshake's echo.
    pub echostr: Option<String>,
    /// `aes` in safe mode.
    pub encrypt_type: Option<String>,
    /// Safe mode's signature over the `Encrypt` text too.
    pub msg_signature: Option<String>,
}

/// The HTTP endpoint for WeChat's pushes (any path): GET for the URL handshake, POST for events.
pub fn router(book: Arc<ReceiptBook>) -> axum::Router {
    axum::Router::new().fallback(get(handshake).post(push)).with_state(book)
}

async fn handshake(State(book): State<Arc<ReceiptBook>>, Query(q): Query<PushQuery>) -> Response {
    match book.verify_url(&q) {
        Ok(echo) => echo.into_response(),
        Err(e) => (StatusCode::FORBIDDEN, e.to_string()).into_response(),
    }
}

async fn push(State(book): State<Arc<ReceiptBook>>, Query(q): Query<PushQuery>, body: String) -> Response {
    let now = crate::journal::unix_now() as i64;
    match book.receive(&q, &body, now) {
        // WeChat wants "success" (or an empty body) and does not push the event again.
        Ok(_) => "success".into_response(),
        Err(ReceiveError::Refused(e)) => (StatusCode::FORBIDDEN, e.to_string()).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Read events from `path`, one XML or JSON event per line (plaintext, as the company's server
/// received them), and record them. Returns the tally and the lines that were not events.
pub fn import(book: &ReceiptBook, path: &Path) -> Result<(Tally, Vec<String>), ReceiptsError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ReceiptsError::Read { path: path.to_path_buf(), source })?;
    let mut events = Pushed::default();
    let mut skipped = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match parse_events(line) {
            Ok(found) => {
                events.receipts.extend(found.receipts);
                events.changes.extend(found.changes);
            }
            Err(e) => skipped.push(format!("{}:{}: {e}", path.display(), i + 1)),
        }
    }
    let tally =
        book.record(events).map_err(|source| ReceiptsError::Store { path: book.file().to_path_buf(), source })?;
    Ok((tally, skipped))
}
