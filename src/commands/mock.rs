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
        eprintln!("{}", crate::tr!("mock.listening", url = server.url()));
        eprintln!("{}", crate::tr!("mock.use", url = server.url()));
        let _ = tokio::signal::ctrl_c().await;
        let stats = server.stats();
        server.stop().await;
        let stopped = crate::tr!(
            "mock.stopped",
            sends = stats.send_requests,
            accepted = stats.accepted,
            tokens = stats.token_calls,
            stable = stats.stable_token_calls
        );
        eprintln!("{stopped}");
        Ok(Exit::Success)
    })
}
