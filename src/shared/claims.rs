//! The rows of a campaign across senders: a hash per campaign fingerprint
//! (`wxsend:rows:<fingerprint>`), a field per row holding its state. A sender claims a row right
//! before its request leaves, which marks it `sent:<sender>` (the write-ahead rule, in Redis),
//! and writes the outcome back (`ok:`, `failed:<code>:`, or `retry:` when another sender may
//! send it). A row marked sent without an outcome is **unknown** to everyone else — its sender
//! died or lost Redis in flight — reported, never resent by them; its own sender settles it
//! from its journal.

use serde::Serialize;
use std::path::Path;

use super::connection::{Redis, SharedError};

/// KEYS[1] = the rows hash, KEYS[2] = the campaign's epoch; ARGV = row, owner, epoch. Takes a
/// free row (or one left for a retry) and marks it sent by this sender in the same step: the
/// request leaves right after, so there is no window in which a claimed row could be lost or
/// taken twice. An epoch that is not the one this sender started under means the shared state
/// was lost (a restart without its data, FLUSHALL, eviction, another Redis): nothing is claimed.
const CLAIM: &str = r#"
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[3] then return 'lost' end
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local mine = 'sent:' .. ARGV[2]
if not cur then
  redis.call('HSET', KEYS[1], ARGV[1], mine)
  return 'mine'
end
if string.sub(cur, 1, 3) == 'ok:' or string.sub(cur, 1, 7) == 'failed:' then return 'done' end
local kind, owner = string.match(cur, '^(%a+):(.*)$')
if owner == ARGV[2] or kind == 'retry' then
  redis.call('HSET', KEYS[1], ARGV[1], mine)
  return 'mine'
end
return 'unknown'
"#;

/// A row's state in Redis, one encoding for every reader and writer (the claim script reads the
/// same prefixes): `sent:<owner>`, `ok:<owner>`, `failed:<code>:<owner>`, `retry:<owner>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowState {
    /// Claimed and sent by its owner; no outcome yet (unknown to the others).
    Sent,
    /// Delivered.
    Ok,
    /// Failed for good, with WeChat's code (or `transport`).
    Failed(String),
    /// Not delivered; any sender may send it again.
    Retry,
}

impl RowState {
    /// The state's name (`sent`, `ok`, `failed`, `retry`).
    pub fn name(&self) -> &'static str {
        match self {
            RowState::Sent => "sent",
            RowState::Ok => "ok",
            RowState::Failed(_) => "failed",
            RowState::Retry => "retry",
        }
    }

    /// Finished for good: nobody sends it again.
    pub fn is_final(&self) -> bool {
        matches!(self, RowState::Ok | RowState::Failed(_))
    }

    /// The field's value for `owner`.
    pub fn encode(&self, owner: &str) -> String {
        match self {
            RowState::Failed(code) => format!("failed:{code}:{owner}"),
            other => format!("{}:{owner}", other.name()),
        }
    }
}

/// A row's field as stored: its state and the sender that set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowEntry {
    /// The state.
    pub state: RowState,
    /// The sender that set it.
    pub owner: String,
}

impl RowEntry {
    /// Read a stored value; `None` for one no version of wxsend writes.
    pub fn parse(value: &str) -> Option<Self> {
        let (name, rest) = value.split_once(':')?;
        let (state, owner) = match name {
            "sent" => (RowState::Sent, rest),
            "ok" => (RowState::Ok, rest),
            "retry" => (RowState::Retry, rest),
            "failed" => {
                let (code, owner) = rest.split_once(':')?;
                (RowState::Failed(code.to_string()), owner)
            }
            _ => return None,
        };
        Some(Self { state, owner: owner.to_string() })
    }
}

/// What a claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This sender sends the row.
    Mine,
    /// Another sender delivered it or it failed for good there.
    Done,
    /// Another sender sent it without an answer: it may have arrived; not resent here.
    Unknown,
}

/// One sender, as the others see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SenderInfo {
    /// Its id.
    pub owner: String,
    /// Its host name.
    pub host: String,
    /// When it last said so (Unix seconds).
    pub at: u64,
    /// The token of the process (one run) behind it: two processes with one id differ here.
    #[serde(default)]
    pub run: String,
    /// The machine's boot (Linux `boot_id`) and the process id: a holder on this very boot whose
    /// process is gone is this folder's own run that died.
    #[serde(default)]
    pub boot: String,
    /// The process id.
    #[serde(default)]
    pub pid: u32,
}

impl SenderInfo {
    /// Whether this sender's process is known to be gone: it ran on this machine since its last
    /// boot, and no process has its id any more.
    pub fn is_dead_here(&self, boot: &str) -> bool {
        !boot.is_empty() && self.boot == boot && self.pid != 0 && !Path::new(&format!("/proc/{}", self.pid)).exists()
    }
}

/// What a claim under a vanished epoch says.
const LOST: &str = "the campaign's shared state in Redis was lost (Redis restarted without its data, FLUSHALL, eviction, or another Redis): run the same command again; each sender republishes what its journal holds before anything more is sent";

/// Why a sender cannot use its id.
#[derive(Debug, thiserror::Error)]
pub enum IdentityClash {
    /// Another live process holds the same id.
    #[error("{}", crate::tr!("err.identity_clash.taken", owner = .owner.to_string(), host = .host.to_string(), at = .at.to_string()))]
    Taken {
        /// The id.
        owner: String,
        /// The other holder's host name.
        host: String,
        /// When it last spoke (Unix seconds).
        at: u64,
    },
    /// Redis failed.
    #[error(transparent)]
    Shared(#[from] SharedError),
}

/// The rows of one campaign in Redis, as this sender sees them.
#[derive(Debug, Clone)]
pub struct SharedRows {
    redis: Redis,
    key: String,
    done: String,
    epoch_key: String,
    rebuilt_key: String,
    peers_key: String,
    epoch: String,
    senders: String,
    owner: String,
}

impl SharedRows {
    /// The rows of the campaign with fingerprint `fingerprint`, for sender `owner` of `appid`.
    pub fn new(redis: Redis, appid: &str, fingerprint: &str, owner: &str) -> Self {
        Self {
            key: format!("wxsend:rows:{fingerprint}"),
            done: format!("wxsend:done:{fingerprint}"),
            epoch_key: format!("wxsend:epoch:{fingerprint}"),
            rebuilt_key: format!("wxsend:rebuilt:{fingerprint}"),
            peers_key: format!("wxsend:peers:{fingerprint}"),
            epoch: String::new(),
            senders: format!("wxsend:senders:{appid}"),
            redis,
            owner: owner.to_string(),
        }
    }

    /// This sender's id.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Claim `row` (0-based) for this sender.
    pub async fn claim(&self, row: usize) -> Result<Claim, SharedError> {
        let found: String = self
            .redis
            .script(
                &redis::Script::new(CLAIM),
                &[&self.key, &self.epoch_key],
                &[row.to_string(), self.owner.clone(), self.epoch.clone()],
            )
            .await?;
        Ok(match found.as_str() {
            "mine" => Claim::Mine,
            "done" => Claim::Done,
            "lost" => return Err(SharedError { at: self.redis.shown.clone(), detail: LOST.into() }),
            _ => Claim::Unknown,
        })
    }

    /// Work under `epoch` (see [`SharedRows::claim`]).
    pub fn with_epoch(mut self, epoch: &str) -> Self {
        self.epoch = epoch.to_string();
        self
    }

    /// The campaign's epoch in Redis, if it has one.
    pub async fn epoch(&self) -> Result<Option<String>, SharedError> {
        self.redis.run(redis::cmd("GET").arg(&self.epoch_key)).await
    }

    /// Start a new epoch unless one exists (`SET NX`); the epoch in force.
    pub async fn start_epoch(&self, fresh: &str) -> Result<String, SharedError> {
        let _: Option<String> = self.redis.run(redis::cmd("SET").arg(&self.epoch_key).arg(fresh).arg("NX")).await?;
        Ok(self.epoch().await?.unwrap_or_else(|| fresh.to_string()))
    }

    /// Say this sender works on the campaign; every sender that said so (under this epoch).
    pub async fn join_peers(&self) -> Result<std::collections::BTreeSet<String>, SharedError> {
        let _: () = self.redis.run(redis::cmd("SADD").arg(&self.peers_key).arg(&self.owner)).await?;
        self.peers().await
    }

    /// Every sender that said it works on the campaign.
    pub async fn peers(&self) -> Result<std::collections::BTreeSet<String>, SharedError> {
        self.redis.run(redis::cmd("SMEMBERS").arg(&self.peers_key)).await
    }

    /// Say this sender republished its journal after the shared state was lost; every sender
    /// that did so far.
    pub async fn rebuilt(&self) -> Result<std::collections::BTreeSet<String>, SharedError> {
        let _: () = self.redis.run(redis::cmd("SADD").arg(&self.rebuilt_key).arg(&self.owner)).await?;
        self.redis.run(redis::cmd("SMEMBERS").arg(&self.rebuilt_key)).await
    }

    /// Write `row`'s outcome (`Ok`, `Failed`, or `Retry`: another sender may send it), stored
    /// with this sender's id.
    pub async fn mark_outcome(&self, row: usize, outcome: &RowState) -> Result<(), SharedError> {
        let value = outcome.encode(&self.owner);
        if !outcome.is_final() {
            return self.set(row, value).await;
        }
        // The outcome and the campaign's count of finished rows, in one transaction.
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("HSET").arg(&self.key).arg(row).arg(value).ignore();
        pipe.cmd("INCR").arg(&self.done).ignore();
        let _: () = self.redis.run_pipe(&pipe).await?;
        Ok(())
    }

    /// Rows finished by every sender together (for the aggregate rate).
    pub async fn done_count(&self) -> Result<u64, SharedError> {
        let n: Option<u64> = self.redis.run(redis::cmd("GET").arg(&self.done)).await?;
        Ok(n.unwrap_or(0))
    }

    async fn set(&self, row: usize, value: String) -> Result<(), SharedError> {
        let _: () = self.redis.run(redis::cmd("HSET").arg(&self.key).arg(row).arg(value)).await?;
        Ok(())
    }

    /// Rows by state and sender: (`ok` | `failed` | `sent` | `retry`, owner) → count.
    pub async fn tally(&self) -> Result<std::collections::BTreeMap<(String, String), usize>, SharedError> {
        let mut out = std::collections::BTreeMap::new();
        for entry in self.states().await?.into_values() {
            *out.entry((entry.state.name().to_string(), entry.owner)).or_default() += 1;
        }
        Ok(out)
    }

    /// Every row's state in Redis, by row.
    pub async fn states(&self) -> Result<std::collections::HashMap<usize, RowEntry>, SharedError> {
        let all: std::collections::HashMap<String, String> =
            self.redis.run(redis::cmd("HGETALL").arg(&self.key)).await?;
        Ok(all.into_iter().filter_map(|(k, v)| Some((k.parse().ok()?, RowEntry::parse(&v)?))).collect())
    }

    /// Claim this sender's id for this run before anything is sent: the heartbeat key is set
    /// only if no live process holds it (`SET NX`), or the holder is a process of this machine's
    /// boot that is gone (this folder's own run that died). Another live process with the same
    /// id — a state folder copied with its `sender-id` — is refused: its claims would be taken
    /// for this run's own.
    pub async fn claim_identity(&self, info: &SenderInfo) -> Result<(), IdentityClash> {
        let value = serde_json::to_string(info).unwrap_or_default();
        let key = format!("{}:{}", self.senders, self.owner);
        let set: Option<String> =
            self.redis.run(redis::cmd("SET").arg(&key).arg(&value).arg("NX").arg("EX").arg(30)).await?;
        if set.is_some() {
            return Ok(());
        }
        let held: Option<String> = self.redis.run(redis::cmd("GET").arg(&key)).await?;
        let holder = held.and_then(|v| serde_json::from_str::<SenderInfo>(&v).ok());
        match holder {
            Some(h) if h.run != info.run && !h.is_dead_here(&info.boot) => {
                Err(IdentityClash::Taken { owner: self.owner.clone(), host: h.host, at: h.at })
            }
            _ => {
                let _: () = self.redis.run(redis::cmd("SET").arg(&key).arg(&value).arg("EX").arg(30)).await?;
                Ok(())
            }
        }
    }

    /// Give the id back at the end of a run (only if this run still holds it), so the next run
    /// from the same folder claims it at once.
    pub async fn release_identity(&self, run: &str) -> Result<(), SharedError> {
        let key = format!("{}:{}", self.senders, self.owner);
        let held: Option<String> = self.redis.run(redis::cmd("GET").arg(&key)).await?;
        if held.and_then(|v| serde_json::from_str::<SenderInfo>(&v).ok()).is_some_and(|h| h.run == run) {
            let _: () = self.redis.run(redis::cmd("DEL").arg(&key)).await?;
        }
        Ok(())
    }

    /// Say how this sender is doing (kept for 30 s).
    pub async fn heartbeat(&self, info: &SenderInfo) -> Result<(), SharedError> {
        let value = serde_json::to_string(info).unwrap_or_default();
        let key = format!("{}:{}", self.senders, self.owner);
        let _: () = self.redis.run(redis::cmd("SET").arg(key).arg(value).arg("EX").arg(30)).await?;
        Ok(())
    }

    /// The senders of this appid that spoke in the last 30 s.
    pub async fn senders(&self) -> Result<Vec<SenderInfo>, SharedError> {
        // SCAN, never KEYS: KEYS walks every key of a shared database in one blocking step.
        let pattern = format!("{}:*", self.senders);
        let mut keys: Vec<String> = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) =
                self.redis.run(redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(500)).await?;
            keys.extend(batch);
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        keys.sort();
        keys.dedup();
        let mut out = Vec::new();
        for k in keys {
            let v: Option<String> = self.redis.run(redis::cmd("GET").arg(&k)).await?;
            if let Some(info) = v.and_then(|v| serde_json::from_str::<SenderInfo>(&v).ok()) {
                out.push(info);
            }
        }
        out.sort_by(|a, b| a.owner.cmp(&b.owner));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_states_read_back_as_written() {
        for state in [RowState::Sent, RowState::Ok, RowState::Failed("43101".into()), RowState::Retry] {
            let value = state.encode("host-a1b2");
            assert_eq!(RowEntry::parse(&value), Some(RowEntry { state, owner: "host-a1b2".into() }), "{value}");
        }
        // The claim script reads the same prefixes.
        assert!(CLAIM.contains("'ok:'") && CLAIM.contains("'failed:'") && CLAIM.contains("'sent:'"));
        assert_eq!(RowEntry::parse("bogus"), None);
        assert_eq!(RowEntry::parse("failed:nocode"), None);
    }
}
