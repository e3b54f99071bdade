//! The commands that only report: templates, new, accounts, doctor, status and receipts. Each
//! turns the application layer's typed results into lines on the terminal.

use crate::app::Exit;
use crate::cli::{
    runtime, DoctorArgs, NewArgs, NewKind, ReceiptsArgs, ReceiptsCommand, StateArgs, StatusArgs, TemplatesArgs,
};

/// `wxsend templates`.
pub fn templates(args: TemplatesArgs) -> Exit {
    use crate::app::templates::{catalogue, standalone_sender, CatalogueOptions};
    let cfg = match crate::campaign::CampaignConfig::load(&args.campaign) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {}", crate::app::text::printable(&e.to_string()));
            return Exit::Input;
        }
    };
    let Some(rt) = runtime() else { return Exit::Input };
    let kind = cfg.message.kind;
    let (sender, why) = standalone_sender(&cfg);
    let opts = CatalogueOptions { refresh: args.refresh_templates, ..Default::default() };
    let (list, from_cache) = match rt.block_on(catalogue(&cfg, kind, sender.as_ref(), opts)) {
        Ok(found) => found,
        Err(reason) => {
            let why = why.map(|w| format!(" ({w})")).unwrap_or_default();
            eprintln!("error: cannot list the account's {} templates: {reason}{why}", kind.as_str());
            return Exit::Input;
        }
    };
    if args.json {
        match serde_json::to_string_pretty(&list) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("error: {e}"),
        }
        return Exit::Success;
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
    Exit::Success
}

/// `wxsend new`.
pub fn new(args: NewArgs) -> Exit {
    use crate::app::templates::{catalogue, standalone_sender, CatalogueOptions};
    let fail = |message: String| {
        eprintln!("error: {}", crate::app::text::printable(&message));
        Exit::Input
    };
    let cfg = match crate::campaign::CampaignConfig::load(&args.from) {
        Ok(c) => c,
        Err(e) => return fail(e.to_string()),
    };
    let base: toml::Table = match std::fs::read_to_string(&args.from).map(|t| toml::from_str(&t)) {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => return fail(format!("{}: {e}", args.from.display())),
        Err(e) => return fail(format!("{}: {e}", args.from.display())),
    };
    let kind = match args.kind {
        Some(NewKind::Template) => crate::campaign::Kind::Template,
        Some(NewKind::Subscribe) => crate::campaign::Kind::Subscribe,
        None => cfg.message.kind,
    };
    let Some(rt) = runtime() else { return Exit::Input };
    let (sender, why) = standalone_sender(&cfg);
    let list = match rt.block_on(catalogue(&cfg, kind, sender.as_ref(), CatalogueOptions::default())) {
        Ok((list, _)) => list,
        Err(reason) => {
            return fail(format!(
                "cannot list the account's templates: {reason}{}",
                why.map(|w| format!(" ({w})")).unwrap_or_default()
            ))
        }
    };
    let Some(template) = list.find(&args.template) else {
        let ids: Vec<String> = list.templates.iter().map(|t| format!("{} 「{}」", t.id, t.title)).collect();
        return fail(format!(
            "template {:?} is not one of the account's {} templates: {}",
            args.template,
            kind.as_str(),
            if ids.is_empty() { "it has none".to_string() } else { ids.join(", ") }
        ));
    };
    let made = match crate::app::new_campaign::new_campaign(&args.out, template, kind, &base) {
        Ok(m) => m,
        Err(e) => return fail(e),
    };
    if let Some((path, _)) = [&made.campaign, &made.recipients].into_iter().find(|(p, _)| p.exists()) {
        return fail(format!("{} exists (wxsend new never overwrites a file)", path.display()));
    }
    for (path, text) in [&made.campaign, &made.recipients] {
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()));
        if let Err(e) = written {
            let hint = if e.kind() == std::io::ErrorKind::AlreadyExists {
                " (wxsend new never overwrites a file)"
            } else {
                ""
            };
            return fail(format!("{}: {e}{hint}", path.display()));
        }
    }
    println!("wrote {} and {}", made.campaign.0.display(), made.recipients.0.display());
    println!(
        "add one row per recipient to {}, then: wxsend check {}",
        made.recipients.0.display(),
        made.campaign.0.display()
    );
    Exit::Success
}

/// `wxsend accounts`.
pub fn accounts() -> Exit {
    use crate::campaign::account::{accounts_path, describe, load_accounts};
    let Some(path) = accounts_path() else {
        eprintln!("error: no configuration folder: set WXSEND_ACCOUNTS to the accounts file");
        return Exit::Input;
    };
    match load_accounts(&path) {
        Ok(accounts) if accounts.is_empty() => {
            println!("no accounts in {} (a campaign names one with `account = \"shop\"` in [wechat]); the file looks like:\n\n[accounts.shop]\nappid = \"wx0123456789abcdef\"\nsecret_env = \"SHOP_APPSECRET\"\n# token = \"url:https://tokens.internal/wx/wx0123456789abcdef\"\n# proxy = \"http://proxy.corp:3128\"\n# ca_file = \"corp-ca.pem\"", path.display());
            Exit::Success
        }
        Ok(accounts) => {
            println!("{}:", path.display());
            for (name, account) in &accounts {
                println!("  {}", crate::app::text::printable(&describe(name, account)));
            }
            Exit::Success
        }
        Err(e) => {
            eprintln!("error: {}", crate::app::text::printable(&e.to_string()));
            Exit::Input
        }
    }
}

/// `wxsend doctor`.
pub fn doctor(args: DoctorArgs) -> Exit {
    use crate::app::doctor::StepStatus;
    let Some(rt) = runtime() else { return Exit::Input };
    let report = rt.block_on(crate::app::doctor::doctor(&args.campaign, args.csv.as_deref()));
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("error: {e}"),
        }
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
    report.exit()
}

/// The campaign of a status or receipts command, with the run's recipients file.
fn load(state: &StateArgs) -> Result<(crate::campaign::Campaign, Option<std::path::PathBuf>), Exit> {
    let campaign = crate::campaign::Campaign::load(&state.campaign, state.csv.as_deref()).map_err(|e| {
        eprintln!("error: {}", crate::app::text::printable(&e.to_string()));
        Exit::Input
    })?;
    let mut dir = state.state_dir.clone();
    if state.mock {
        dir = Some(dir.unwrap_or_else(|| campaign.config.state_dir.clone()).join("mock"));
    }
    Ok((campaign, dir))
}

/// `wxsend status`.
pub fn status(args: StatusArgs) -> Exit {
    let (campaign, dir) = match load(&args.state) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let mut report = match crate::app::status::status(&campaign, dir.as_deref()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}", crate::app::text::printable(&e));
            return Exit::Input;
        }
    };
    if campaign.config.shared.redis.is_some() {
        let Some(rt) = runtime() else { return Exit::Input };
        match rt.block_on(crate::app::status::shared_status(&campaign)) {
            Ok(senders) => report.senders = senders,
            Err(e) => {
                eprintln!("error: {}", crate::app::text::printable(&e));
                return Exit::Input;
            }
        }
    }
    if let Some(path) = &args.export {
        match crate::app::export::export_with_receipts(&campaign, dir.as_deref(), path, args.include_blocked) {
            Ok(n) => eprintln!("failures: {} ({n} rows)", path.display()),
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                return Exit::LocalWrite;
            }
        }
    }
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("error: {e}"),
        }
        return Exit::Success;
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
    Exit::Success
}

/// `wxsend receipts serve|import`.
pub fn receipts(args: ReceiptsArgs) -> Exit {
    use crate::app::receipts::{import, router, ReceiptBook};
    let (state, listen, file) = match args.command {
        ReceiptsCommand::Serve { state, listen } => (state, Some(listen), None),
        ReceiptsCommand::Import { state, file } => (state, None, Some(file)),
    };
    let (campaign, dir) = match load(&state) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let book = match ReceiptBook::open(&campaign, dir.as_deref()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {}", crate::app::text::printable(&e));
            return Exit::Input;
        }
    };
    if let Some(file) = file {
        return match import(&book, &file) {
            Ok((tally, skipped)) => {
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
                Exit::Success
            }
            Err(e) => {
                eprintln!("error: {}", crate::app::text::printable(&e));
                Exit::Input
            }
        };
    }
    let Some(listen) = listen else { return Exit::Input };
    if !book.has_token() {
        eprintln!("error: no push token: set [receipts] token (or WXSEND_PUSH_TOKEN) to the token of the account's server URL");
        return Exit::Input;
    }
    let Some(rt) = runtime() else { return Exit::Input };
    let book = std::sync::Arc::new(book);
    rt.block_on(async {
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on {listen}: {e}");
                return Exit::Input;
            }
        };
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
        match served {
            Ok(()) => Exit::Success,
            Err(e) => {
                eprintln!("error: {e}");
                Exit::Input
            }
        }
    })
}

/// The appid a ledger command names, or why it cannot be had.
fn pick_appid(pick: &crate::cli::AccountPick) -> Result<String, String> {
    match (&pick.appid, &pick.campaign) {
        (Some(appid), _) => Ok(appid.clone()),
        (None, Some(path)) => {
            crate::campaign::CampaignConfig::load(path).map(|c| c.wechat.appid).map_err(|e| e.to_string())
        }
        (None, None) => Err("name the account: --appid APPID or --campaign FILE".into()),
    }
}

/// `wxsend ledger`.
pub fn ledger(args: crate::cli::LedgerArgs) -> Exit {
    use crate::app::text::{local_date, printable, thousands};
    use crate::cli::LedgerAction;
    let fail = |e: String| {
        eprintln!("error: {}", printable(&e));
        Exit::Input
    };
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
                    Exit::Success
                }
                Err(e) => fail(e.to_string()),
            }
        }
        LedgerAction::Who { openid, account, json } => {
            let appid = match pick_appid(&account) {
                Ok(a) => a,
                Err(e) => return fail(e),
            };
            match crate::app::ledger::who(&appid, &openid) {
                Ok(history) if json => {
                    println!("{}", serde_json::to_string_pretty(&history).unwrap_or_default());
                    Exit::Success
                }
                Ok(history) if history.is_empty() => {
                    println!("{appid}: no message to {openid} in the ledger");
                    Exit::Success
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
                    Exit::Success
                }
                Err(e) => fail(e.to_string()),
            }
        }
        LedgerAction::Suppress { action, file, account } => {
            let appid = match pick_appid(&account) {
                Ok(a) => a,
                Err(e) => return fail(e),
            };
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
                    Exit::Success
                }
                Err(e) => fail(e.to_string()),
            }
        }
    }
}
