//! Name resolution for the HTTP client: the system's resolver (`getaddrinfo`, so `/etc/hosts`
//! and the machine's DNS settings apply), asked once per host and kept for a minute.
//!
//! reqwest's default asks the system on a blocking thread for every new connection. A campaign
//! opens its `concurrency` connections in its first moments — 512 lookups of one name, each on
//! a thread of its own — which on a small machine slowed the start of a 5,000/s campaign and,
//! while connections waited, made the pool open more than it needed (BENCHMARKS.md, "network").

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// How long an answer is kept: short beside any failover an operator would wait for.
const KEEP: Duration = Duration::from_secs(60);

/// The system's resolver with a cache per host name and one lookup at a time per client.
#[derive(Debug, Default, Clone)]
pub struct CachedResolver(Arc<Cache>);

/// A host's addresses and when they were looked up.
type Answer = (Instant, Arc<[SocketAddr]>);

#[derive(Debug, Default)]
struct Cache {
    answers: Mutex<HashMap<String, Answer>>,
    lookup: tokio::sync::Mutex<()>,
}

impl Cache {
    fn fresh(&self, host: &str) -> Option<Arc<[SocketAddr]>> {
        let answers = self.answers.lock().unwrap_or_else(|p| p.into_inner());
        answers.get(host).filter(|(at, _)| at.elapsed() < KEEP).map(|(_, addrs)| addrs.clone())
    }
}

fn addrs(list: Arc<[SocketAddr]>) -> Addrs {
    Box::new((0..list.len()).map(move |i| list[i]))
}

impl Resolve for CachedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            if let Some(hit) = this.fresh(&host) {
                return Ok(addrs(hit));
            }
            // One lookup for everyone waiting; the others read its answer.
            let _one = this.lookup.lock().await;
            if let Some(hit) = this.fresh(&host) {
                return Ok(addrs(hit));
            }
            // A failed lookup is not kept: the next connection asks again.
            let found: Arc<[SocketAddr]> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if found.is_empty() {
                return Err(format!("{host} has no address").into());
            }
            let mut answers = this.answers.lock().unwrap_or_else(|p| p.into_inner());
            answers.insert(host, (Instant::now(), found.clone()));
            Ok(addrs(found))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_name_is_looked_up_once_and_kept() {
        let resolver = CachedResolver::default();
        let name: Name = "localhost".parse().unwrap();
        let first: Vec<SocketAddr> = resolver.resolve(name).await.unwrap().collect();
        assert!(first.iter().any(|a| a.ip().is_loopback()), "{first:?}");
        assert!(resolver.0.fresh("localhost").is_some(), "kept");
        let again: Vec<SocketAddr> = resolver.resolve("localhost".parse().unwrap()).await.unwrap().collect();
        assert_eq!(first, again);
        assert!(resolver.resolve("no-such-host.invalid".parse().unwrap()).await.is_err());
        assert!(resolver.0.fresh("no-such-host.invalid").is_none(), "failures are not kept");
    }
}
