//! The mock's settings (`wxsend mock`'s flags): port, token lifetime, the seeded faults, latency,
//! TLS, quotas and the template catalogue.

use std::path::PathBuf;
use std::time::Duration;

/// How the mock behaves. Every field is a flag of `wxsend mock`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = SCRIPTED_HELP)]
pub struct MockConfig {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Lifetime of an access token, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 7200)]
    pub token_ttl: u64,
    /// Seed of the fault dice (the same seed gives the same faults for the same requests).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Share of sends answered errcode -1 (system error), 0 to 1.
    #[arg(long, value_name = "SHARE", default_value_t = 0.0)]
    pub system_error_rate: f64,
    /// Share of sends answered HTTP 502.
    #[arg(long, value_name = "SHARE", default_value_t = 0.0)]
    pub http_502_rate: f64,
    /// Share of sends answered with a body that is not JSON.
    #[arg(long, value_name = "SHARE", default_value_t = 0.0)]
    pub non_json_rate: f64,
    /// Delay of each send answer, in milliseconds: `N`, or a range `A-B` drawn from evenly per
    /// request (a real network: `40-60`).
    #[arg(long = "latency-ms", value_name = "MS", default_value = "0")]
    pub latency: Latency,
    /// Serve HTTPS with this certificate chain (PEM); with `--tls-key`.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Sends allowed per day (WeChat's default for template messages: 100,000); then errcode
    /// 45009.
    #[arg(long, visible_alias = "quota", value_name = "N", default_value = "100000")]
    pub daily_quota: Option<u64>,
    /// Sends allowed per minute; then errcode 45011 until the minute is over.
    #[arg(long, value_name = "N")]
    pub minute_quota: Option<u64>,
    /// Length of the per-minute quota's window, in milliseconds (shorter for tests).
    #[arg(long, value_name = "MS", default_value_t = 60_000, hide = true)]
    pub minute_window_ms: u64,
    /// Invalidate all live tokens when the send request count reaches N (repeatable).
    #[arg(long = "invalidate-tokens-at", value_name = "N")]
    pub invalidate_tokens_at: Vec<u64>,
    /// Answer uniform_send with 45109, as WeChat has since 2023-09-20.
    #[arg(long)]
    pub uniform_withdrawn: bool,
    /// Deliver every request, ignoring `client_msg_id` (what a resend costs where WeChat does
    /// not de-duplicate: subscribe, uniform, or after 10 minutes).
    #[arg(long)]
    pub no_dedupe: bool,
    /// The account's templates (JSON: {"template":[get_all_private_template entries],
    /// "subscribe":[gettemplate entries]}); with it, other ids answer 40037 and subscribe sends
    /// are checked against their template (47003). Default: the samples' templates, any id.
    #[arg(long, value_name = "FILE")]
    pub templates: Option<PathBuf>,
    /// Answer the template list endpoints with 48001 (an app without that permission).
    #[arg(long)]
    pub deny_template_list: bool,
    /// Accept only these template ids (repeatable; none: any id).
    #[arg(long = "template-id", value_name = "ID")]
    pub template_ids: Vec<String>,
    /// Refuse token requests with 40164 as WeChat does when the caller's IP is not on the
    /// account's whitelist, naming this address as the caller's.
    #[arg(long, value_name = "IP")]
    pub refuse_ip: Option<String>,
    /// Accept token requests only for this appid (else 40013).
    #[arg(long)]
    pub appid: Option<String>,
    /// Accept token requests only with this secret (else 40125).
    #[arg(long)]
    pub secret: Option<String>,
    /// Append every accepted message to this JSON-lines file.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// The account's followers: this many, drawn from the seed, with three tags (a VIP tag, a
    /// store's and new followers') and follow times.
    #[arg(long, value_name = "N", default_value_t = 0, conflicts_with = "followers_file")]
    pub followers: u64,
    /// The account's followers from a CSV file: openid,subscribe_time,tags (Unix seconds; tags
    /// separated by ;).
    #[arg(long, value_name = "FILE")]
    pub followers_file: Option<PathBuf>,
    /// Listing calls (user/get, user/tag/get) allowed a day; then errcode 45009.
    #[arg(long, value_name = "N")]
    pub user_get_quota: Option<u64>,
}

/// Scripted outcomes, for `wxsend mock --help` and the README.
pub const SCRIPTED_HELP: &str = "\
Scripted answers by openid prefix (after token and request checks):
  oREFUSE…   43101 user refused the message
  oUNSUB…    43004 require subscribe
  oBAD…      40003 invalid openid
  oBLOCK…    48002 user blocks messages
  oFLAKY…    -1 system error on the first request for that openid, then delivered
  oBUSY…     43108 concurrent sends on the first request, then delivered
  oERR<n>_…  errcode n (oERRm1_… for -1), e.g. oERR45168_… for a sensitive word
Admin endpoints: GET /mock/stats, GET /mock/records, POST /mock/reset-daily-quota,
POST /mock/invalidate-tokens, POST /mock/push (delivery events to a receiver),
GET /mock/followers, POST /mock/follow (a new follower).";

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            port: 0,
            token_ttl: 7200,
            seed: 1,
            system_error_rate: 0.0,
            http_502_rate: 0.0,
            non_json_rate: 0.0,
            latency: Latency::default(),
            tls_cert: None,
            tls_key: None,
            daily_quota: Some(100_000),
            minute_quota: None,
            minute_window_ms: 60_000,
            invalidate_tokens_at: Vec::new(),
            uniform_withdrawn: false,
            no_dedupe: false,
            template_ids: Vec::new(),
            templates: None,
            deny_template_list: false,
            refuse_ip: None,
            appid: None,
            secret: None,
            record: None,
            followers: 0,
            followers_file: None,
            user_get_quota: None,
        }
    }
}

/// The delay of a send's answer: between `min_ms` and `max_ms`, evenly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Latency {
    /// The shortest delay.
    pub min_ms: u64,
    /// The longest delay.
    pub max_ms: u64,
}

impl Latency {
    /// Always `ms`.
    pub fn fixed(ms: u64) -> Self {
        Self { min_ms: ms, max_ms: ms }
    }

    /// One request's delay.
    pub fn draw(&self) -> Duration {
        let ms = if self.max_ms > self.min_ms { fastrand::u64(self.min_ms..=self.max_ms) } else { self.min_ms };
        Duration::from_millis(ms)
    }

    /// No delay at all.
    pub fn is_zero(&self) -> bool {
        self.max_ms == 0
    }
}

/// Why `--latency-ms` cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LatencyError {
    /// Not a number or a range of numbers.
    #[error("{}", crate::tr!("err.latency_error.not_milliseconds", value0 = format!("{:?}", .0)))]
    NotMilliseconds(String),
    /// A range whose low end is above its high end.
    #[error("{}", crate::tr!("err.latency_error.backwards", value0 = format!("{:?}", .0)))]
    Backwards(String),
}

impl std::str::FromStr for Latency {
    type Err = LatencyError;
    fn from_str(s: &str) -> Result<Self, LatencyError> {
        let number = |t: &str| t.trim().parse::<u64>().map_err(|_| LatencyError::NotMilliseconds(s.to_string()));
        match s.split_once('-') {
            Some((a, b)) => {
                let (min_ms, max_ms) = (number(a)?, number(b)?);
                if min_ms > max_ms {
                    return Err(LatencyError::Backwards(s.to_string()));
                }
                Ok(Self { min_ms, max_ms })
            }
            None => number(s).map(Self::fixed),
        }
    }
}
