//! The rows of a campaign across senders: a hash per campaign fingerprint
//! (`wxsend:rows:<fingerprint>`), a field per row holding its state. A sender claims a row right
//! before its request leaves, which marks it `sent:<sender>` (the write-ahead rule, in Redis),
//! and writes the outcome back (`ok:`, `failed:<code>:`, or `retry:` when another sender may
//! send it). A row marked sent without an outcome is **unknown** to everyone else — its sender
//! died or lost Redis in flight — reported, never resent by them; its own sender settles it
//! from its journal.

use serde::Serialize;

use super::{Redis, SharedError};

/// KEYS[1] = the rows hash; ARGV = row, owner. Takes a free row (or one left for a retry)
/// and marks it sent by this sender in the same step: the request leaves right after, so
/// there is no window in which a claimed row could be lost or taken twice.
const CLAIM: &str = r#"
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
}

/// The rows of one campaign in Redis, as this sender sees them.
#[derive(Debug, Clone)]
pub struct SharedRows {
    redis: Redis,
    key: String,
    done: String,
    senders: String,
    owner: String,
}

impl SharedRows {
    /// The rows of the campaign with fingerprint `fingerprint`, for sender `owner` of `appid`.
    pub fn new(redis: Redis, appid: &str, fingerprint: &str, owner: &str) -> Self {
        Self {
            key: format!("wxsend:rows:{fingerprint}"),
            done: format!("wxsend:done:{fingerprint}"),
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
        let found: String =
            self.redis.script(&redis::Script::new(CLAIM), &[&self.key], &[row.to_string(), self.owner.clone()]).await?;
        Ok(match found.as_str() {
            "mine" => Claim::Mine,
            "done" => Claim::Done,
            _ => Claim::Unknown,
        })
    }

    /// Write `row`'s outcome: `ok`, `failed:<code>`, or `retry` (another sender may send it);
    /// stored with this sender's id.
    pub async fn mark_outcome(&self, row: usize, outcome: &str) -> Result<(), SharedError> {
        if outcome == "retry" {
            return self.set(row, format!("{outcome}:{}", self.owner)).await;
        }
        // The outcome and the campaign's count of finished rows, in one transaction.
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("HSET").arg(&self.key).arg(row).arg(format!("{outcome}:{}", self.owner)).ignore();
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
        for value in self.states().await?.into_values() {
            let mut parts = value.split(':');
            let state = parts.next().unwrap_or_default().to_string();
            let owner = value.rsplit(':').next().unwrap_or_default();
            *out.entry((state, owner.to_string())).or_default() += 1;
        }
        Ok(out)
    }

    /// Every row's state in Redis (field → value).
    pub async fn states(&self) -> Result<std::collections::HashMap<usize, String>, SharedError> {
        let all: std::collections::HashMap<String, String> =
            self.redis.run(redis::cmd("HGETALL").arg(&self.key)).await?;
        Ok(all.into_iter().filter_map(|(k, v)| Some((k.parse().ok()?, v))).collect())
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
        let keys: Vec<String> = self.redis.run(redis::cmd("KEYS").arg(format!("{}:*", self.senders))).await?;
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
