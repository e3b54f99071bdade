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
    let mut progress = ProgressView::new();
    let pulled = runtime()?.block_on(async {
        let sender = crate::app::audience::sender_for(&cfg).await?;
        crate::app::audience::pull(&sender, &spec, &dir, &mut |p| progress.show(p)).await
    });
    drop(progress);
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

/// Whether the campaign's recipients are the account's followers (its file is read, not its list).
pub(super) fn is_audience(campaign: &std::path::Path) -> Result<bool, Error> {
    Ok(crate::campaign::CampaignConfig::load(campaign)?.recipients.audience.is_some())
}

/// An audience campaign's list, made before `check` or `send` loads the campaign (nothing to do
/// for a list from a file, or when `--csv` gives the list): the pull's progress and the list's
/// summary on stderr.
pub(super) async fn make_list(
    campaign: &std::path::Path,
    state_dir: Option<&std::path::Path>,
    new_run: bool,
    mock: bool,
) -> Result<Option<crate::app::audience_list::AudienceSummary>, Error> {
    let cfg = crate::campaign::CampaignConfig::load(campaign)?;
    if cfg.recipients.audience.is_none() {
        return Ok(None);
    }
    if mock {
        return Err(crate::app::audience_list::ListError::Mock.into());
    }
    let state_dir = state_dir.map_or_else(|| cfg.state_dir.clone(), std::path::Path::to_path_buf);
    let mut progress = ProgressView::new();
    let summary = crate::app::audience_list::prepare(&cfg, &state_dir, new_run, &mut |p| progress.show(p)).await;
    drop(progress);
    let summary = summary?;
    if let Some(s) = &summary {
        eprintln!("{}", summary_line(s));
    }
    Ok(summary)
}

/// `audience: 4,033 followers (VIP 1,700, 北京门店 2,884), pulled 2026-12-06 12:00`.
fn summary_line(s: &crate::app::audience_list::AudienceSummary) -> String {
    let tags: Vec<String> =
        s.by_tag.iter().map(|(n, c)| format!("{} {}", crate::app::text::printable(n), t(*c))).collect();
    let by_tag = if tags.is_empty() { String::new() } else { format!(" ({})", tags.join(", ")) };
    let when = crate::campaign::audience::show_time(s.pulled_at as i64);
    let key = if s.frozen { "audience.frozen" } else { "audience.summary" };
    tr!(key, count = t(s.openids), by_tag = by_tag, when = when)
}

/// Where the pull's progress goes: a gauge on a terminal (opened at the first page, so a pull
/// that needs none draws nothing), else a line per page on stderr.
struct ProgressView {
    on_terminal: bool,
    gauge: Option<crate::tui::gauge::PullGauge>,
}

impl ProgressView {
    fn new() -> Self {
        Self { on_terminal: std::io::stderr().is_terminal(), gauge: None }
    }

    fn show(&mut self, p: &crate::app::audience::Progress) {
        let line = progress_line(p);
        if self.on_terminal && self.gauge.is_none() {
            self.gauge = crate::tui::gauge::PullGauge::open().ok();
        }
        match &mut self.gauge {
            Some(g) => g.show(p, &line),
            None => eprintln!("{line}"),
        }
    }
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
