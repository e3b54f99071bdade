//! One aggregate rate for every sender of an appid and kind: a GCRA whose theoretical arrival
//! time lives in Redis (`wxsend:rate:<appid>:<kind>`, in Redis's own clock), advanced by a Lua
//! script that hands out a small batch of permits at once (the redis-cell / `redis_rate` model).
//! Each permit has its own instant, `interval` apart, so the aggregate keeps to the rate however
//! many processes take batches. The rate itself is shared too (`+`/`-` in one TUI changes it for
//! all).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::connection::{Redis, SharedError};

/// KEYS[1] = the TAT (µs, Redis time), KEYS[2] = the account's rate if a sender set one;
/// ARGV = this sender's rate, burst. Takes about 50 ms of permits. Returns the first permit's
/// instant and Redis's now (µs), the permits taken and their spacing (µs).
const TAKE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rate = tonumber(redis.call('GET', KEYS[2]) or ARGV[1])
if rate < 1 then rate = 1 end
local interval = math.floor(1000000 / rate)
local n = math.floor(rate / 20)
if n < 1 then n = 1 end
if n > 32 then n = 32 end
local burst = tonumber(ARGV[2])
local tolerance = interval * math.max(burst - 1, 0)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local first = tat - tolerance
if first < now then first = now end
local next_tat = tat + n * interval
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', math.floor((next_tat - now) / 1000) + 60000)
return {string.format('%.0f', first), string.format('%.0f', now), n, interval}
"#;

#[derive(Debug)]
struct Batch {
    next: Instant,
    left: u32,
    interval: Duration,
}

/// The shared rate of one appid and kind.
#[derive(Debug)]
pub struct SharedRate {
    redis: Redis,
    key: String,
    rate_key: String,
    rate: AtomicU32,
    burst: u32,
    batch: Mutex<Batch>,
}

impl SharedRate {
    /// The limiter of `appid` and `kind` at `rate` per second (the account's, across senders).
    pub fn new(redis: Redis, appid: &str, kind: &str, rate: u32, burst: u32) -> Self {
        Self {
            key: format!("wxsend:rate:{appid}:{kind}"),
            rate_key: format!("wxsend:rate_limit:{appid}:{kind}"),
            redis,
            rate: AtomicU32::new(rate.max(1)),
            burst,
            batch: Mutex::new(Batch { next: Instant::now(), left: 0, interval: Duration::ZERO }),
        }
    }

    /// Wait for this sender's next permit.
    pub async fn permit(&self) -> Result<(), SharedError> {
        let at = {
            let mut b = self.batch.lock().await;
            loop {
                if b.left == 0 {
                    self.refill(&mut b).await?;
                }
                let at = b.next;
                let step = b.interval;
                b.next += step;
                b.left -= 1;
                // A permit whose instant passed more than one interval ago is left unused:
                // spending it now would put two requests where the rate allows one.
                if at + step >= Instant::now() {
                    break at;
                }
            }
        };
        tokio::time::sleep_until(at).await;
        Ok(())
    }

    async fn refill(&self, b: &mut Batch) -> Result<(), SharedError> {
        let asked = Instant::now();
        let rate = self.rate.load(Ordering::Relaxed).max(1);
        let (first, now, n, interval): (String, String, u32, u64) = self
            .redis
            .script(
                &redis::Script::new(TAKE),
                &[&self.key, &self.rate_key],
                &[rate.to_string(), self.burst.to_string()],
            )
            .await?;
        let (first, now) = (first.parse::<u64>().unwrap_or(0), now.parse::<u64>().unwrap_or(0));
        // Redis's clock mapped onto ours at the moment we asked (the round trip only delays).
        b.next = asked + Duration::from_micros(first.saturating_sub(now));
        b.left = n.max(1);
        b.interval = Duration::from_micros(interval.max(1));
        Ok(())
    }

    /// The rate every sender keeps to: this one's, or what another sender set.
    pub async fn shared_rate(&self) -> Result<u32, SharedError> {
        let set: Option<u32> = self.redis.run(redis::cmd("GET").arg(&self.rate_key)).await?;
        if let Some(r) = set {
            self.rate.store(r.max(1), Ordering::Relaxed);
        }
        Ok(self.rate.load(Ordering::Relaxed))
    }

    /// Set the rate for every sender.
    pub async fn set_rate(&self, rate: u32) -> Result<(), SharedError> {
        self.rate.store(rate.max(1), Ordering::Relaxed);
        let _: () =
            self.redis.run(redis::cmd("SET").arg(&self.rate_key).arg(rate.max(1)).arg("EX").arg(86_400)).await?;
        Ok(())
    }
}
