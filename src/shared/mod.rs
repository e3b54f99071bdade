//! Scale-out on Redis: several senders (processes, hosts) on one appid share one access token
//! (WxJava's key layout, so other services read it too), one aggregate rate (a GCRA in a Lua
//! script, permits taken in small batches) and the campaign's rows (each claimed before it is
//! sent, its outcome written back), so every row goes out exactly once across them. Any Redis
//! failure stops dispatching: falling back to local state is how duplicates happen.

mod claims;
mod connection;
mod rate;
mod token;

pub use claims::{Claim, IdentityClash, RowEntry, RowState, SenderInfo, SharedRows};
pub use connection::{Redis, SharedError, COMMAND_TIMEOUT};
pub use rate::SharedRate;
pub use token::{RefreshInRedis, SharedTokens};

pub use crate::campaign::shared::without_credentials;

#[cfg(test)]
mod tests {
    #[test]
    fn credentials_are_never_shown() {
        assert_eq!(super::without_credentials("redis://:s3cret@10.0.0.5:6379/2"), "redis://10.0.0.5:6379/2");
        assert_eq!(super::without_credentials("rediss://user:pw@r.internal:6380"), "rediss://r.internal:6380");
    }
}
