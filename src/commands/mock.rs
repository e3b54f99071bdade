//! `wxsend mock`: the embedded mock on its own, until Ctrl-C.

use crate::app::Exit;
use crate::error::{runtime, Error};

/// Serve the mock on 127.0.0.1 until Ctrl-C, then print what it saw.
pub fn run(config: crate::mock::MockConfig) -> Result<Exit, Error> {
    // One thread (the runtime every command uses): the mock shares the machine with the sender
    // it answers, and one thread handing requests over to no other costs the least CPU per
    // request (BENCHMARKS.md).
    runtime()?.block_on(async {
        let server = crate::mock::MockServer::start(config).await.map_err(Error::Mock)?;
        eprintln!("wxsend mock listening on {}", server.url());
        eprintln!("use it with: api_base = \"{}\" (or `wxsend send CAMPAIGN --mock`); Ctrl-C stops", server.url());
        let _ = tokio::signal::ctrl_c().await;
        let stats = server.stats();
        server.stop().await;
        eprintln!(
            "stopped: {} send requests, {} accepted, {} token calls, {} stable_token calls",
            stats.send_requests, stats.accepted, stats.token_calls, stats.stable_token_calls
        );
        Ok(Exit::Success)
    })
}
