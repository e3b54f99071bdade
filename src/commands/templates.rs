//! `wxsend templates`: the account's templates of the campaign's kind, with their fields,
//! labels, enum values and example.

use crate::app::Exit;
use crate::cli::TemplatesArgs;
use crate::error::{runtime, Error};

/// `wxsend templates`.
pub fn run(args: TemplatesArgs) -> Result<Exit, Error> {
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
    let cached = if from_cache { crate::tr!("templates.cached") } else { String::new() };
    let count = list.templates.len();
    println!(
        "{}",
        crate::tr!("templates.count", count = count, kind = kind.as_str(), appid = list.appid.clone(), cached = cached)
    );
    for t in &list.templates {
        let p = |s: &str| crate::app::text::printable(s).into_owned();
        let kind_note = match t.subscribe_type {
            Some(2) => crate::tr!("templates.one_off"),
            Some(3) => crate::tr!("templates.long_term"),
            _ => String::new(),
        };
        println!("\n{}  「{}」{kind_note}", p(&t.id), p(&t.title));
        for f in &t.fields {
            let shown = if f.shown { String::new() } else { crate::tr!("templates.not_shown") };
            let label = if f.label.is_empty() { "-".to_string() } else { p(&f.label) };
            println!("  {:<20} {label}{shown}", p(&f.key));
            if let Some(values) = t.enums.get(&f.key) {
                println!("  {:<20} {}", "", crate::tr!("templates.one_of", values = p(&values.join(" / "))));
            }
        }
        for line in t.example.lines().filter(|l| !l.trim().is_empty()) {
            println!("  {}", crate::tr!("templates.example", line = p(line)));
        }
    }
    println!("\n{}", crate::tr!("templates.start", campaign = args.campaign.display().to_string()));
    Ok(Exit::Success)
}

/// A failed template list as the edge's error, with why there were no credentials to ask with.
pub(super) fn catalogue_error(
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
