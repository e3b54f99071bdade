//! A session's part in scale-out: who this sender is (stable across its runs), which rows hash
//! the campaign uses (its fingerprint: the same campaign and list on every host), and the
//! engine's part built from them.

use std::path::Path;
use std::sync::Arc;

use crate::campaign::Campaign;
use crate::engine::SharedPart;
use crate::journal::Fingerprints;
use crate::shared::{Redis, RowState, SharedRate, SharedRows};

/// Redis and this sender's place in it.
#[derive(Debug, Clone)]
pub struct SharedSession {
    /// The connection.
    pub redis: Redis,
    /// This sender's id (kept in its state folder), so its next run is recognised.
    pub owner: String,
    /// The id with this run's token.
    pub identity: Identity,
    /// The campaign's rows key.
    pub fingerprint: String,
    /// The epoch of the campaign's shared state this run works under (see [`SharedSession::establish`]).
    pub epoch: String,
}

/// Why a sender cannot take part in a shared campaign.
#[derive(Debug, thiserror::Error)]
pub enum SharedSetupError {
    /// Redis failed.
    #[error(transparent)]
    Shared(#[from] crate::shared::SharedError),
    /// Another live process holds this sender's id.
    #[error(transparent)]
    Clash(#[from] crate::shared::IdentityClash),
    /// The shared state was lost and other senders' journals are still needed.
    #[error("{}", crate::tr!("err.shared.needed", needed = needed(.missing)))]
    Waiting {
        /// The ids of the senders whose journals are not republished yet.
        missing: Vec<String>,
    },
    /// A state file beside the journal cannot be written.
    #[error("{path}: {source}", path = .path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// `the journal of sender X is` / `the journals of senders X, Y are`.
fn needed(missing: &[String]) -> String {
    match missing {
        [one] => crate::tr!("err.shared.one", sender = one.clone()),
        many => crate::tr!("err.shared.many", senders = many.join(", ")),
    }
}

impl SharedSession {
    /// Agree on the campaign's shared state before anything is sent. Redis holds an epoch for it;
    /// this sender keeps the one it worked under in `<journal folder>/shared-epoch`, and the other
    /// senders it met there in `shared-peers`. The same epoch: go on. No epoch in Redis while
    /// this sender had one (or has outcomes): the state was lost (a restart without its data,
    /// FLUSHALL, eviction, another Redis), and what the others delivered is unknown here — this
    /// sender republishes its journal (delivered, failed, and sent-without-answer rows), and a
    /// new epoch starts only once every sender it knows has done the same; until then the run is
    /// refused, naming the senders still needed. Returns the epoch in force.
    pub async fn establish(
        &mut self,
        campaign: &Campaign,
        journal_dir: &Path,
        replay: &crate::journal::Replay,
    ) -> Result<(), SharedSetupError> {
        let rows = self.rows(campaign);
        let shared = SharedSetupError::Shared;
        let local = read_lines(&journal_dir.join("shared-epoch")).into_iter().next();
        let in_redis = rows.epoch().await.map_err(shared)?;
        let has_outcomes = replay.rows.iter().any(|r| r.category() != crate::journal::Category::Pending);
        let epoch = match (&in_redis, &local) {
            (Some(now), Some(mine)) if now == mine => now.clone(),
            (Some(now), None) => now.clone(),
            (None, None) if !has_outcomes => rows.start_epoch(&random_hex()).await.map_err(shared)?,
            _ => {
                // Lost (or rebuilt by the others without this sender): publish what this journal
                // holds, then see who else has.
                self.reconcile(campaign, replay).await.map_err(shared)?;
                let rebuilt = rows.rebuilt().await.map_err(shared)?;
                match in_redis {
                    Some(now) => now,
                    None => {
                        let peers = read_lines(&journal_dir.join("shared-peers"));
                        let missing: Vec<String> = peers.into_iter().filter(|p| !rebuilt.contains(p)).collect();
                        if !missing.is_empty() {
                            return Err(SharedSetupError::Waiting { missing });
                        }
                        rows.start_epoch(&random_hex()).await.map_err(shared)?
                    }
                }
            }
        };
        let file = journal_dir.join("shared-epoch");
        crate::private::write_whole(&file, format!("{epoch}\n").as_bytes(), true)
            .map_err(|source| SharedSetupError::Io { path: file, source })?;
        self.epoch = epoch;
        Ok(())
    }

    /// Say this sender works on the campaign, and remember every sender that does (in
    /// `<journal folder>/shared-peers`, what [`SharedSession::establish`] waits for after a loss).
    pub async fn join(&self, campaign: &Campaign, journal_dir: &Path) -> Result<(), SharedSetupError> {
        let peers = self.rows(campaign).join_peers().await?;
        remember_peers(journal_dir, &self.owner, peers);
        Ok(())
    }

    /// Claim this sender's id for this run in Redis (refused when another live process holds
    /// it), then keep the id in the state folder.
    pub async fn claim(&self, campaign: &Campaign) -> Result<(), SharedSetupError> {
        let info = self.info(crate::journal::unix_now());
        self.rows(campaign).claim_identity(&info).await?;
        self.identity.save().map_err(|source| SharedSetupError::Io { path: self.identity.file.clone(), source })
    }

    /// Give the id back at the end of the session through `redis` (a connection of the caller's
    /// runtime; see `SharedRows::release_identity`).
    pub async fn release_with(&self, redis: Redis, campaign: &Campaign) {
        let rows = SharedRows::new(redis, &campaign.config.wechat.appid, &self.fingerprint, &self.owner);
        let _ = rows.release_identity(&self.identity.run).await;
    }

    /// What this sender's heartbeat says at `at` (Unix seconds).
    fn info(&self, at: u64) -> crate::shared::SenderInfo {
        crate::shared::SenderInfo {
            owner: self.owner.clone(),
            host: host_name(),
            at,
            run: self.identity.run.clone(),
            boot: std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default().trim().to_string(),
            pid: std::process::id(),
        }
    }

    /// The engine's shared rate and rows.
    pub fn engine_part(&self, campaign: &Campaign) -> SharedPart {
        let cfg = &campaign.config;
        let appid = &cfg.wechat.appid;
        let rate = SharedRate::new(self.redis.clone(), appid, cfg.message.kind.as_str(), cfg.send.rate, cfg.send.burst);
        let rows = SharedRows::new(self.redis.clone(), appid, &self.fingerprint, &self.owner).with_epoch(&self.epoch);
        SharedPart::new(Arc::new(rate), rows)
    }

    /// The campaign's rows across senders.
    pub fn rows(&self, campaign: &Campaign) -> SharedRows {
        SharedRows::new(self.redis.clone(), &campaign.config.wechat.appid, &self.fingerprint, &self.owner)
            .with_epoch(&self.epoch)
    }

    /// Publish this sender's own final outcomes that Redis lacks (its journal is the record:
    /// after a crash or a Redis outage, Redis may still show them as merely sent).
    pub async fn reconcile(
        &self,
        campaign: &Campaign,
        replay: &crate::journal::Replay,
    ) -> Result<(), crate::shared::SharedError> {
        let rows = self.rows(campaign);
        let states = rows.states().await?;
        for (i, record) in replay.rows.iter().enumerate() {
            let outcome = match record {
                crate::journal::RowRecord::Delivered { .. } => RowState::Ok,
                crate::journal::RowRecord::Failed(f) => RowState::Failed(f.code().to_string()),
                // Sent without an answer: it may have arrived, so nobody else may send it.
                crate::journal::RowRecord::Unknown { .. } if !states.contains_key(&i) => RowState::Sent,
                _ => continue,
            };
            let known = states.get(&i).is_some_and(|e| e.state.is_final());
            let mine = states.get(&i).is_none_or(|e| e.owner == self.owner);
            if !known && mine {
                rows.mark_outcome(i, &outcome).await?;
            }
        }
        Ok(())
    }

    /// Move the rows this sender's journal has pending but other senders finished (or sent
    /// without an answer) out of `totals.pending`.
    pub async fn settle(
        &self,
        campaign: &Campaign,
        replay: &crate::journal::Replay,
        totals: &mut super::export::Totals,
    ) {
        let rows = self.rows(campaign);
        let Ok(states) = rows.states().await else { return };
        // A row another sender has in flight right now is theirs, not unknown: only a sender
        // that stopped saying it is alive leaves unknown rows.
        let alive: std::collections::HashSet<String> =
            rows.senders().await.unwrap_or_default().into_iter().map(|s| s.owner).collect();
        for i in campaign.checks.ready_rows() {
            let local =
                replay.rows.get(i).map_or(crate::journal::Category::Pending, crate::journal::RowRecord::category);
            if local != crate::journal::Category::Pending {
                continue;
            }
            let Some(entry) = states.get(&i) else { continue };
            if entry.owner == self.owner {
                continue;
            }
            if entry.state.is_final() {
                totals.pending -= 1;
                totals.elsewhere += 1;
            } else if entry.state == RowState::Sent {
                totals.pending -= 1;
                if alive.contains(&entry.owner) {
                    totals.elsewhere += 1;
                } else {
                    totals.elsewhere_unknown += 1;
                }
            }
        }
    }
}

/// Add `peers` (less `owner`) to the senders remembered in `journal_dir`.
fn remember_peers(journal_dir: &Path, owner: &str, peers: std::collections::BTreeSet<String>) {
    let file = journal_dir.join("shared-peers");
    let mut known: std::collections::BTreeSet<String> = read_lines(&file).into_iter().collect();
    let before = known.len();
    known.extend(peers.into_iter().filter(|p| p != owner));
    if known.len() != before {
        let text: String = known.iter().map(|p| format!("{p}\n")).collect();
        let _ = crate::private::write_whole(&file, text.as_bytes(), true);
    }
}

/// The non-empty lines of a small state file (none when it is missing).
fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|t| t.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect())
        .unwrap_or_default()
}

/// This machine's name.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into())
}

/// This sender's identity in Redis: a random id created once and kept in
/// `<state folder>/sender-id` (0600) — never derived from names two machines can share (a fixed
/// container host name, a cloned VM's, the same volume path) — and a token of this run.
#[derive(Debug, Clone)]
pub struct Identity {
    /// `<host>-<16 random hex digits>`: the same for every run from this state folder.
    pub owner: String,
    /// This run's token: another process claiming the same id is told apart by it (never
    /// written to disk: a copied folder must not carry it).
    pub run: String,
    file: std::path::PathBuf,
}

/// 16 random hex digits from the operating system (a clock and pid mix where it has none).
fn random_hex() -> String {
    let mut bytes = [0u8; 8];
    let filled = std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
    if filled.is_err() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        bytes = (fastrand::u64(..) ^ (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// This sender's identity, from `<state_dir>/sender-id` (created on the first run and kept by
/// [`Identity::save`]), with a fresh run token.
pub fn identity(state_dir: &Path) -> std::io::Result<Identity> {
    let file = state_dir.join("sender-id");
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let mut lines = text.lines().map(str::trim);
    let valid = |id: &&str| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    let owner = match lines.next().filter(valid) {
        Some(id) => id.to_string(),
        None => {
            let host: String =
                host_name().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(32).collect();
            format!("{host}-{}", random_hex())
        }
    };
    Ok(Identity { owner, run: random_hex(), file })
}

impl Identity {
    /// Keep the id in the state folder (0600, written whole then renamed), once.
    pub fn save(&self) -> std::io::Result<()> {
        if std::fs::read_to_string(&self.file).is_ok_and(|t| t.lines().next() == Some(self.owner.as_str())) {
            return Ok(());
        }
        crate::private::write_whole(&self.file, format!("{}\n", self.owner).as_bytes(), true)
    }
}

/// The rows key: the message's fingerprint and the list's binding (bytes, sheet, encoding,
/// openid column, header) together.
pub fn rows_fingerprint(campaign: &Campaign) -> String {
    Fingerprints::of(campaign).rows_key()
}

/// What the other senders are doing, for the screens.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SharedView {
    /// Senders on this appid that spoke in the last 30 s (this one included).
    pub senders: usize,
    /// Rows finished per second by all of them together.
    pub aggregate_rate: f64,
    /// The account's rate every sender keeps to.
    pub rate_limit: u32,
}

impl SharedView {
    /// One line: `3 senders on this appid, 1,950/s together (limit 2,000/s)`.
    pub fn describe(&self) -> String {
        let key = if self.senders == 1 { "shared.one_sender" } else { "shared.senders" };
        let rate = format!("{:.0}", self.aggregate_rate);
        crate::tr!(key, count = self.senders, rate = rate, limit = self.rate_limit)
    }
}

/// Every 2 s until the engine ends: say this sender is alive, adopt the account's rate if
/// another sender changed it, and measure the senders' aggregate rate.
pub fn watch(
    shared: &SharedSession,
    campaign: &Campaign,
    journal_dir: &Path,
    rate: Arc<SharedRate>,
    handle: crate::engine::Handle,
) -> tokio::sync::watch::Receiver<SharedView> {
    let (journal_dir, owner) = (journal_dir.to_path_buf(), shared.owner.clone());
    let (tx, rx) = tokio::sync::watch::channel(SharedView::default());
    let rows = shared.rows(campaign);
    let info = shared.info(0);
    let mut applied = campaign.config.send.rate;
    tokio::spawn(async move {
        let mut last: Option<(std::time::Instant, u64)> = None;
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
        while !handle.is_closed() {
            tick.tick().await;
            let at = crate::journal::unix_now();
            // Errors here are not acted on: the engine stops on the first one it meets itself.
            let _ = rows.heartbeat(&crate::shared::SenderInfo { at, ..info.clone() }).await;
            let senders = rows.senders().await.map_or(1, |s| s.len().max(1));
            if let Ok(peers) = rows.peers().await {
                remember_peers(&journal_dir, &owner, peers);
            }
            if let Ok(shared) = rate.shared_rate().await {
                if shared != applied {
                    applied = shared;
                    handle.set_rate(shared);
                }
            }
            let done = rows.done_count().await.unwrap_or(0);
            let now = std::time::Instant::now();
            let aggregate =
                last.map_or(0.0, |(t, n)| done.saturating_sub(n) as f64 / now.duration_since(t).as_secs_f64());
            last = Some((now, done));
            let _ = tx.send(SharedView { senders, aggregate_rate: aggregate, rate_limit: applied });
        }
    });
    rx
}
