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
            eprintln!("{}", crate::tr!("receipts.skipped", line = crate::app::text::printable(s).into_owned()));
        }
        let recorded = crate::tr!(
            "receipts.recorded",
            count = tally.matched + tally.unknown,
            matched = tally.matched,
            unmatched = tally.unknown,
            file = book.file().display().to_string()
        );
        println!("{recorded}");
        if tally.subscriptions > 0 {
            println!("{}", crate::tr!("receipts.subscriptions_recorded", count = tally.subscriptions));
        }
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
        let file = book.file().display().to_string();
        eprintln!("{}", crate::tr!("receipts.serving", addr = addr.to_string(), file = file));
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        let served = axum::serve(listener, router(book.clone())).with_graceful_shutdown(shutdown).await;
        let t = book.tally();
        let mut platform =
            if t.platform > 0 { crate::tr!("receipts.platform", count = t.platform) } else { String::new() };
        if t.subscriptions > 0 {
            platform.push_str(&crate::tr!("receipts.subscriptions", count = t.subscriptions));
        }
        eprintln!(
            "{}",
            crate::tr!(
                "receipts.received",
                count = t.matched + t.unknown,
                unmatched = t.unknown,
                refused = t.refused,
                platform = platform
            )
        );
        served.map(|()| Exit::Success).map_err(Error::Serve)
    })
}
