//! `wxsend audience`: a recipients list from the account's followers, with counts per tag and a
//! progress line while the pages come.

use std::io::IsTerminal;

use crate::app::text::thousands as t;
use crate::app::Exit;
use crate::campaign::audience::{parse_since, AudienceSpec};
use crate::cli::AudienceArgs;
use crate::error::{runtime, Error};
use crate::tr;

/// `wxsend audience`.
pub fn run(args: AudienceArgs) -> Result<Exit, Error> {
    let cfg = crate::campaign::CampaignConfig::load(&args.campaign)?;
    let since = match &args.since {
        Some(text) => Some(parse_since(text).ok_or_else(|| Error::BadSince(text.clone()))?),
        None => None,
    };
    let spec = AudienceSpec {
        tags: args.tags.clone(),
        all_tags: args.all_tags,
        except: args.except_tags.clone(),
        since,
        with_info: args.with_info,
    };
    let dir = crate::app::audience::work_dir(&cfg.state_dir, &spec);
    let on_terminal = std::io::stderr().is_terminal();
    let mut show = |p: &crate::app::audience::Progress| {
        let line = progress_line(p);
        if on_terminal {
            eprint!("\r\x1b[2K{line}");
        } else {
            eprintln!("{line}");
        }
    };
    let pulled = runtime()?.block_on(async {
        let sender = crate::app::audience::sender_for(&cfg).await?;
        crate::app::audience::pull(&sender, &spec, &dir, &mut show).await
    });
    if on_terminal {
        eprintln!();
    }
    let pulled = pulled?;
    crate::app::audience::write_list(&args.out, &pulled, spec.with_info)?;
    // The list is out: the pages and checkpoints are no longer needed.
    let _ = std::fs::remove_dir_all(&dir);
    if args.json {
        let json = serde_json::json!({
            "out": args.out.display().to_string(),
            "selected": pulled.openids.len(),
            "followers": pulled.total,
            "pages": pulled.pages,
            "tags": pulled.tags,
            "selected_by_tag": pulled.per_tag.iter().map(|(n, c)| serde_json::json!({ "tag": n, "count": c })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(Exit::Success);
    }
    if let Some(total) = pulled.total {
        println!("{}", tr!("audience.followers", count = t(total as usize)));
    }
    for (name, count) in &pulled.per_tag {
        println!(
            "  {}",
            tr!("audience.by_tag", tag = crate::app::text::printable(name).into_owned(), count = t(*count))
        );
    }
    let written = tr!(
        "audience.written",
        count = t(pulled.openids.len()),
        out = args.out.display().to_string(),
        pages = pulled.pages
    );
    println!("{written}");
    Ok(Exit::Success)
}

/// `pages 2  openids 20,000 of 25,000  ETA 1s`.
fn progress_line(p: &crate::app::audience::Progress) -> String {
    let elapsed = p.started.elapsed().as_secs_f64();
    let (of, eta) = match p.expected {
        Some(e) if p.openids > 0 && e >= p.openids => {
            let left = (e - p.openids) as f64 * elapsed / p.openids as f64;
            (tr!("audience.of", expected = t(e as usize)), tr!("audience.eta", secs = left.ceil() as u64))
        }
        _ => (String::new(), String::new()),
    };
    tr!("audience.progress", pages = p.pages, openids = t(p.openids as usize), of = of, eta = eta)
}
