//! `wxsend receipts serve|import`: WeChat's delivery pushes (and a platform's tickets) received
//! over HTTP, or read from a file.

use crate::app::Exit;
use crate::cli::{ReceiptsArgs, ReceiptsCommand};
use crate::error::{runtime, Error};

/// `wxsend receipts serve|import`.
pub fn run(args: ReceiptsArgs) -> Result<Exit, Error> {
    use crate::app::receipts::{import, router, ReceiptBook};
    let (state, listen, file) = match args.command {
        ReceiptsCommand::Serve { state, listen } => (state, Some(listen), None),
        ReceiptsCommand::Import { state, file } => (state, None, Some(file)),
    };
    let (campaign, dir) = super::state::load(&state)?;
    let book = ReceiptBook::open(&campaign, dir.as_deref())?;
    if let Some(file) = file {
        let (tally, skipped) = import(&book, &file)?;
        for s in &skipped {
            eprintln!("skipped {}", crate::app::text::printable(s));
        }
        println!(
            "recorded {} receipts ({} matched to rows, {} unmatched) in {}",
            tally.matched + tally.unknown,
            tally.matched,
            tally.unknown,
            book.file().display()
        );
        return Ok(Exit::Success);
    }
    let Some(listen) = listen else { return Ok(Exit::Input) };
    if !book.has_token() {
        return Err(Error::NoPushToken);
    }
    let rt = runtime()?;
    let book = std::sync::Arc::new(book);
    rt.block_on(async {
        let listener =
            tokio::net::TcpListener::bind(listen).await.map_err(|source| Error::Listen { addr: listen, source })?;
        let addr = listener.local_addr().map_or(listen, |a| a);
        eprintln!("receiving WeChat's pushes on http://{addr} into {}; Ctrl-C stops", book.file().display());
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        let served = axum::serve(listener, router(book.clone())).with_graceful_shutdown(shutdown).await;
        let t = book.tally();
        eprintln!(
            "received {} receipts ({} unmatched), refused {} pushes{}",
            t.matched + t.unknown,
            t.unknown,
            t.refused,
            if t.platform > 0 {
                format!(", kept {} of the platform's pushes (tickets, authorizations)", t.platform)
            } else {
                String::new()
            }
        );
        served.map(|()| Exit::Success).map_err(Error::Serve)
    })
}
