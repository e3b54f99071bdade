//! `wxsend new`: a campaign file and a recipients CSV made from one of the account's templates.

use crate::app::Exit;
use crate::cli::{NewArgs, NewKind};
use crate::error::{runtime, Error};

/// `wxsend new`.
pub fn run(args: NewArgs) -> Result<Exit, Error> {
    use crate::app::templates::{catalogue, standalone_sender, CatalogueOptions};
    let cfg = crate::campaign::CampaignConfig::load(&args.from)?;
    let text = std::fs::read_to_string(&args.from).map_err(|source| Error::Read { path: args.from.clone(), source })?;
    let base: toml::Table =
        toml::from_str(&text).map_err(|e| Error::Toml { path: args.from.clone(), source: Box::new(e) })?;
    let kind = match args.kind {
        Some(NewKind::Template) => crate::campaign::Kind::Template,
        Some(NewKind::Subscribe) => crate::campaign::Kind::Subscribe,
        Some(NewKind::MpSubscribe) => crate::campaign::Kind::MpSubscribe,
        None => cfg.message.kind,
    };
    let rt = runtime()?;
    let (sender, why) = standalone_sender(&cfg);
    let (list, _) = rt
        .block_on(catalogue(&cfg, kind, sender.as_ref(), CatalogueOptions::default()))
        .map_err(|source| super::templates::catalogue_error(kind, source, why))?;
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
    let (campaign, csv) = (made.campaign.0.display().to_string(), made.recipients.0.display().to_string());
    println!("{}", crate::tr!("new.wrote", campaign = campaign.clone(), csv = csv.clone()));
    println!("{}", crate::tr!("new.next", campaign = campaign, csv = csv));
    Ok(Exit::Success)
}
