//! The commands that only report: templates, new, accounts, doctor, status and receipts. Each
//! turns the application layer's typed results into lines on the terminal.

use crate::app::Exit;
use crate::cli::{DoctorArgs, NewArgs, NewKind, ReceiptsArgs, ReceiptsCommand, StateArgs, StatusArgs, TemplatesArgs};
use crate::error::{runtime, Error};

/// `wxsend templates`.
pub fn templates(args: TemplatesArgs) -> Result<Exit, Error> {
    use crate::app::templates::{catalogue, standalone_sender, CatalogueOptions};
    let cfg = crate::campaign::CampaignConfig::load(&args.campaign)?;
    let rt = runtime()?;
    let kind = cfg.message.kind;
    let (sender, why) = standalone_sender(&cfg);
    let opts = CatalogueOptions { refresh: args.refresh_templates, ..Default::default() };
    let (list, from_cache) = rt
        .block_on(catalogue(&cfg, kind, sender.as_ref(), opts))
        .map_err(|source| catalogue_error(kind, source, why))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(Exit::Success);
    }
    println!(
        "{} {} templates of {}{}",
        list.templates.len(),
        kind.as_str(),
        list.appid,
        if from_cache { " (cached; --refresh-templates asks WeChat again)" } else { "" }
    );
    for t in &list.templates {
        let p = |s: &str| crate::app::text::printable(s).into_owned();
        let kind_note = match t.subscribe_type {
            Some(2) => " (one-off)",
            Some(3) => " (long-term)",
            _ => "",
        };
        println!("\n{}  「{}」{kind_note}", p(&t.id), p(&t.title));
        for f in &t.fields {
            let shown = if f.shown { "" } else { "  (not shown since 2023-05-04)" };
            let label = if f.label.is_empty() { "-".to_string() } else { p(&f.label) };
            println!("  {:<20} {label}{shown}", p(&f.key));
            if let Some(values) = t.enums.get(&f.key) {
                println!("  {:<20} one of: {}", "", p(&values.join(" / ")));
            }
        }
        for line in t.example.lines().filter(|l| !l.trim().is_empty()) {
            println!("  example: {}", p(line));
        }
    }
    println!("\nstart a campaign from one: wxsend new NEW.toml --template ID --from {}", args.campaign.display());
    Ok(Exit::Success)
}

/// A failed template list as the edge's error, with why there were no credentials to ask with.
fn catalogue_error(
    kind: crate::campaign::Kind,
    source: crate::app::templates::CatalogueError,
    why: Option<String>,
) -> Error {
    use crate::app::templates::CatalogueError;
    let source = match source {
        CatalogueError::NoCredentials(None) => CatalogueError::NoCredentials(why),
        other => other,
    };
    Error::Catalogue { kind: kind.as_str(), source }
}

/// `wxsend new`.
pub fn new(args: NewArgs) -> Result<Exit, Error> {
    use crate::app::templates::{catalogue, standalone_sender, CatalogueOptions};
    let cfg = crate::campaign::CampaignConfig::load(&args.from)?;
    let text = std::fs::read_to_string(&args.from).map_err(|source| Error::Read { path: args.from.clone(), source })?;
    let base: toml::Table =
        toml::from_str(&text).map_err(|e| Error::Toml { path: args.from.clone(), source: Box::new(e) })?;
    let kind = match args.kind {
        Some(NewKind::Template) => crate::campaign::Kind::Template,
        Some(NewKind::Subscribe) => crate::campaign::Kind::Subscribe,
        None => cfg.message.kind,
    };
    let rt = runtime()?;
    let (sender, why) = standalone_sender(&cfg);
    let (list, _) = rt
        .block_on(catalogue(&cfg, kind, sender.as_ref(), CatalogueOptions::default()))
        .map_err(|source| catalogue_error(kind, source, why))?;
    let Some(template) = list.find(&args.template) else {
        return Err(Error::NoSuchTemplate {
            id: args.template.clone(),
            kind: kind.as_str(),
            known: list.templates.iter().map(|t| format!("{} 「{}」", t.id, t.title)).collect(),
        });
    };
    let made = crate::app::new_campaign::new_campaign(&args.out, template, kind, &base)?;
    if let Some((path, _)) = [&made.campaign, &made.recipients].into_iter().find(|(p, _)| p.exists()) {
        return Err(Error::Exists(path.clone()));
    }
    for (path, text) in [&made.campaign, &made.recipients] {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
            .map_err(|source| match source.kind() {
                std::io::ErrorKind::AlreadyExists => Error::Exists(path.clone()),
                _ => Error::Write { path: path.clone(), source },
            })?;
    }
    println!("wrote {} and {}", made.campaign.0.display(), made.recipients.0.display());
    println!(
        "add one row per recipient to {}, then: wxsend check {}",
        made.recipients.0.display(),
        made.campaign.0.display()
    );
    Ok(Exit::Success)
}

/// `wxsend accounts`.
pub fn accounts() -> Result<Exit, Error> {
    use crate::campaign::account::{accounts_path, describe, load_accounts};
    let path = accounts_path().ok_or(Error::NoConfigFolder)?;
    let accounts = load_accounts(&path)?;
    match accounts {
        accounts if accounts.is_empty() => {
            println!("no accounts in {} (a campaign names one with `account = \"shop\"` in [wechat]); the file looks like:\n\n[accounts.shop]\nappid = \"wx0123456789abcdef\"\nsecret_env = \"SHOP_APPSECRET\"\n# token = \"url:https://tokens.internal/wx/wx0123456789abcdef\"\n# proxy = \"http://proxy.corp:3128\"\n# ca_file = \"corp-ca.pem\"", path.display());
        }
        accounts => {
            println!("{}:", path.display());
            for (name, account) in &accounts {
                println!("  {}", crate::app::text::printable(&describe(name, account)));
            }
        }
    }
    Ok(Exit::Success)
}

/// `wxsend doctor`.
pub fn doctor(args: DoctorArgs) -> Result<Exit, Error> {
    use crate::app::doctor::StepStatus;
    let rt = runtime()?;
    let report = rt.block_on(crate::app::doctor::doctor(&args.campaign, args.csv.as_deref()));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for step in &report.steps {
            let mark = match step.status {
                StepStatus::Pass => "✓",
                StepStatus::Fail => "✗",
                StepStatus::Skip => "–",
            };
            println!("{mark} {:<13} {}", step.name, crate::app::text::printable(&step.detail));
        }
        match report.exit() {
            Exit::Success => println!("\nready to send"),
            _ => println!("\nfix the step marked ✗, then run doctor again"),
        }
    }
    Ok(report.exit())
}

/// The campaign of a status or receipts command, with the run's recipients file.
fn load(state: &StateArgs) -> Result<(crate::campaign::Campaign, Option<std::path::PathBuf>), Error> {
    let campaign = crate::campaign::Campaign::load(&state.campaign, state.csv.as_deref())?;
    let mut dir = state.state_dir.clone();
    if state.mock {
        dir = Some(dir.unwrap_or_else(|| campaign.config.state_dir.clone()).join("mock"));
    }
    Ok((campaign, dir))
}

/// `wxsend status`.
pub fn status(args: StatusArgs) -> Result<Exit, Error> {
    let (campaign, dir) = load(&args.state)?;
    let mut report = crate::app::status::status(&campaign, dir.as_deref())?;
    if campaign.config.shared.redis.is_some() {
        report.senders = runtime()?.block_on(crate::app::status::shared_status(&campaign))?;
    }
    if let Some(path) = &args.export {
        let n = crate::app::export::export_with_receipts(&campaign, dir.as_deref(), path, args.include_blocked)?;
        eprintln!("failures: {} ({n} rows)", path.display());
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(Exit::Success);
    }
    use crate::app::text::thousands as t;
    println!("campaign {}: {} rows", report.campaign, t(report.rows));
    println!(
        "sent {}  failed {}  unknown {}  pending {}  not sendable {}",
        t(report.sent),
        t(report.failed),
        t(report.unknown),
        t(report.pending),
        t(report.not_sendable)
    );
    for line in report.ledger.lines() {
        println!("ledger: {}", crate::app::text::printable(&line));
    }
    let r = &report.receipts;
    println!(
        "receipts: success {}  user_block {}  system_failed {}  pending {}{}",
        t(r.success),
        t(r.user_block),
        t(r.system_failed),
        t(r.pending),
        if report.receipts_unmatched > 0 {
            format!("  (unmatched {})", t(report.receipts_unmatched))
        } else {
            String::new()
        }
    );
    if let Some(senders) = &report.senders {
        let all = |f: fn(&crate::app::status::SenderShare) -> usize| senders.iter().map(f).sum::<usize>();
        println!(
            "across senders (Redis): delivered {}, failed {}, sent without an answer yet {}",
            t(all(|s| s.delivered)),
            t(all(|s| s.failed)),
            t(all(|s| s.sent))
        );
        println!("senders (Redis): {}", senders.len());
        for s in senders {
            println!(
                "  {}: delivered {}, failed {}, sent without an answer yet {}, left for later {}",
                s.sender,
                t(s.delivered),
                t(s.failed),
                t(s.sent),
                t(s.retry)
            );
        }
    } else if report.journal.is_none() {
        println!("(no journal yet: nothing was sent)");
    }
    Ok(Exit::Success)
}

/// `wxsend receipts serve|import`.
pub fn receipts(args: ReceiptsArgs) -> Result<Exit, Error> {
    use crate::app::receipts::{import, router, ReceiptBook};
    let (state, listen, file) = match args.command {
        ReceiptsCommand::Serve { state, listen } => (state, Some(listen), None),
        ReceiptsCommand::Import { state, file } => (state, None, Some(file)),
    };
    let (campaign, dir) = load(&state)?;
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

/// The appid a ledger command names, or why it cannot be had.
fn pick_appid(pick: &crate::cli::AccountPick) -> Result<String, Error> {
    match (&pick.appid, &pick.campaign) {
        (Some(appid), _) => Ok(appid.clone()),
        (None, Some(path)) => Ok(crate::campaign::CampaignConfig::load(path)?.wechat.appid),
        (None, None) => Err(Error::NoAccount),
    }
}

/// `wxsend ledger`.
pub fn ledger(args: crate::cli::LedgerArgs) -> Result<Exit, Error> {
    use crate::app::text::{local_date, printable, thousands};
    use crate::cli::LedgerAction;
    match args.action {
        LedgerAction::Rebuild { dirs } => {
            let dirs = if dirs.is_empty() { vec![std::path::PathBuf::from(".wxsend")] } else { dirs };
            match crate::app::ledger::rebuild(&dirs) {
                Ok(done) => {
                    for (appid, (path, journals, records)) in &done.accounts {
                        println!(
                            "{appid}: {} journal{} read, {} records, into {}",
                            thousands(*journals),
                            if *journals == 1 { "" } else { "s" },
                            thousands(*records),
                            path.display()
                        );
                    }
                    if done.accounts.is_empty() {
                        println!(
                            "no journal of an account found under {}",
                            dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
                        );
                    }
                    for path in &done.skipped {
                        println!(
                            "skipped {} (a run of the embedded mock, or written before journals named their account)",
                            path.display()
                        );
                    }
                    Ok(Exit::Success)
                }
                Err(e) => Err(e.into()),
            }
        }
        LedgerAction::Who { openid, account, json } => {
            let appid = pick_appid(&account)?;
            match crate::app::ledger::who(&appid, &openid) {
                Ok(history) if json => {
                    println!("{}", serde_json::to_string_pretty(&history)?);
                    Ok(Exit::Success)
                }
                Ok(history) if history.is_empty() => {
                    println!("{appid}: no message to {openid} in the ledger");
                    Ok(Exit::Success)
                }
                Ok(history) => {
                    println!("{appid}: {} messages to {openid}, newest first", history.len());
                    for h in history {
                        let code = h.errcode.map(|c| format!(" {c}")).unwrap_or_default();
                        println!(
                            "  {}  {:<9}{code}  {} {} (campaign {})",
                            local_date(h.at),
                            h.outcome,
                            h.kind,
                            printable(&h.template),
                            printable(&h.campaign)
                        );
                    }
                    Ok(Exit::Success)
                }
                Err(e) => Err(e.into()),
            }
        }
        LedgerAction::Suppress { action, file, account } => {
            let appid = pick_appid(&account)?;
            let add = action == "add";
            match crate::app::ledger::suppress(&appid, &file, add) {
                Ok((changed, named)) => {
                    let (verb, state) = if add { ("added to", "already on it") } else { ("removed from", "not on it") };
                    println!(
                        "{appid}: {} of {} people {verb} the do-not-send list ({} {state})",
                        thousands(changed),
                        thousands(named),
                        thousands(named - changed)
                    );
                    Ok(Exit::Success)
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}
