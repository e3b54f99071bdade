//! An audience as a campaign's recipients (`[recipients] followers = true` or `tags = […]`): the
//! list file in the campaign's state folder (`audience/followers.csv`) made from a pull of the
//! account's followers — reused while younger than `audience_max_age_minutes` — joined with
//! the per-row values of `values.csv` (keyed by openid). Once a send has a journal for the list,
//! the file is frozen: every resume and re-run sends to exactly that snapshot, and a follower
//! who joins meanwhile never shifts the rows the journal keys on. `--new-run` pulls again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::audience::{pull, sender_for, write_list, AudienceError, Progress, Pulled};
use crate::campaign::config::{AudienceSource, CampaignConfig};

/// What the list is made of: the line `check` and `send` print first, and `check --json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudienceSummary {
    /// Openids in the list.
    pub openids: usize,
    /// The account's followers in all, when everyone was listed.
    pub followers: Option<u64>,
    /// The list's followers by tag.
    pub by_tag: Vec<(String, usize)>,
    /// When the pull was made (Unix seconds).
    pub pulled_at: u64,
    /// The question it answered (see [`crate::campaign::audience::AudienceSpec::key`]).
    pub question: String,
    /// A send's journal holds the list: it is the campaign's snapshot and is not pulled again.
    #[serde(skip)]
    pub frozen: bool,
}

/// Why the list cannot be made: the pull, or the values file.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// The pull failed.
    #[error(transparent)]
    Pull(#[from] AudienceError),
    /// The values file cannot be used.
    #[error(transparent)]
    Values(#[from] crate::campaign::LoadError),
    /// An openid of the values file is not in the audience.
    #[error("{}", crate::tr!("err.audience.not_in_audience", at = .at.clone(), openid = .openid.clone(), count = .count))]
    NotInAudience {
        /// `file:line`.
        at: String,
        /// The openid.
        openid: String,
        /// Followers in the audience.
        count: usize,
    },
    /// An openid twice in the values file.
    #[error("{}", crate::tr!("err.audience.values_twice", at = .at.clone(), openid = .openid.clone(), first = .first))]
    ValuesTwice {
        /// `file:line` of the second.
        at: String,
        /// The openid.
        openid: String,
        /// The line of the first.
        first: u64,
    },
    /// An audience campaign against the embedded mock of `--mock`, which has no followers.
    #[error("{}", crate::tr!("err.audience.mock"))]
    Mock,
}

impl ListError {
    /// As the pull says; 2 for the values file.
    pub fn exit(&self) -> super::Exit {
        match self {
            ListError::Pull(e) => e.exit(),
            _ => super::Exit::Input,
        }
    }
}

fn audience_dir(list: &Path) -> PathBuf {
    list.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The pull's own files beside the list: the followers as pulled, and what the pull was.
fn pulled_files(list: &Path) -> (PathBuf, PathBuf) {
    let dir = audience_dir(list);
    (dir.join("pulled.csv"), dir.join("pulled.json"))
}

/// Make `cfg`'s list file when its recipients are an audience (nothing to do otherwise):
/// frozen when the journal of `state_dir` has it; else from a young enough pull, or a new one
/// (`new_run` always pulls). `on_page` hears of the pull's pages.
pub async fn prepare(
    cfg: &CampaignConfig,
    state_dir: &Path,
    new_run: bool,
    on_page: &mut (dyn FnMut(&Progress) + Send),
) -> Result<Option<AudienceSummary>, ListError> {
    let Some(source) = &cfg.recipients.audience else { return Ok(None) };
    let list = &cfg.recipients.csv;
    let (pulled_csv, pulled_json) = pulled_files(list);
    let read_summary =
        || -> Option<AudienceSummary> { serde_json::from_slice(&std::fs::read(&pulled_json).ok()?).ok() };
    let journal = crate::journal::StatePaths::new(state_dir, list, None).journal;
    if !new_run && list.exists() && journal.exists() {
        let mut summary = read_summary().unwrap_or_default();
        // The snapshot's own rows (its pull's summary may be of a later pull, or gone).
        summary.openids =
            crate::campaign::recipients::Recipients::load(list, Default::default(), "openid").map_or(0, |r| r.len());
        summary.frozen = true;
        return Ok(Some(summary));
    }
    let now = crate::journal::unix_now();
    let young = read_summary().filter(|s| {
        !new_run
            && s.question == source.spec.key()
            && now.saturating_sub(s.pulled_at) <= source.max_age.as_secs()
            && pulled_csv.exists()
    });
    let summary = match young {
        Some(s) => s,
        None => {
            let sender = sender_for(cfg).await?;
            let work = super::audience::work_dir(&cfg.state_dir, &source.spec);
            let pulled = pull(&sender, &source.spec, &work, on_page).await?;
            write_list(&pulled_csv, &pulled, source.spec.with_info)?;
            let summary = summary_of(&pulled, &source.spec, now);
            let bytes = serde_json::to_vec_pretty(&summary).unwrap_or_default();
            crate::private::write_whole(&pulled_json, &bytes, true)
                .map_err(|e| AudienceError::Io { path: pulled_json.clone(), source: e })?;
            let _ = std::fs::remove_dir_all(&work);
            summary
        }
    };
    join(&pulled_csv, cfg, source, list)?;
    Ok(Some(summary))
}

fn summary_of(pulled: &Pulled, spec: &crate::campaign::audience::AudienceSpec, now: u64) -> AudienceSummary {
    AudienceSummary {
        openids: pulled.openids.len(),
        followers: pulled.total,
        by_tag: pulled.per_tag.clone(),
        pulled_at: now,
        question: spec.key(),
        frozen: false,
    }
}

/// The list: the pulled followers (and their details), each with its row of the values file
/// when there is one; written whole.
fn join(pulled_csv: &Path, cfg: &CampaignConfig, source: &AudienceSource, list: &Path) -> Result<(), ListError> {
    use crate::campaign::recipients::Recipients;
    let followers = Recipients::load(pulled_csv, Default::default(), "openid")?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = followers.headers.clone();
    let values = match &source.values {
        Some(path) => Some(Recipients::load(path, cfg.recipients.encoding, &cfg.recipients.openid_column)?),
        None => None,
    };
    let mut by_openid: HashMap<&str, usize> = HashMap::new();
    if let Some(v) = &values {
        let openid_col = v.headers.iter().position(|h| h.trim() == cfg.recipients.openid_column);
        header.extend(v.headers.iter().enumerate().filter(|(i, _)| Some(*i) != openid_col).map(|(_, h)| h.clone()));
        let audience: std::collections::HashSet<&str> = followers.rows().map(|r| r.openid()).collect();
        for row in v.rows() {
            let at = format!("{}:{}", v.path.display(), row.line());
            if !audience.contains(row.openid()) {
                return Err(ListError::NotInAudience { at, openid: row.openid().to_string(), count: audience.len() });
            }
            if let Some(&first) = by_openid.get(row.openid()) {
                let first = v.row(first).map_or(0, |r| r.line());
                return Err(ListError::ValuesTwice { at, openid: row.openid().to_string(), first });
            }
            by_openid.insert(row.openid(), row.index());
        }
    }
    let csv_err = |e: csv::Error| AudienceError::Io { path: list.to_path_buf(), source: std::io::Error::other(e) };
    out.write_record(&header).map_err(csv_err)?;
    for row in followers.rows() {
        let mut record: Vec<&str> = row.fields().collect();
        if let Some(v) = &values {
            let openid_col = v.headers.iter().position(|h| h.trim() == cfg.recipients.openid_column);
            let theirs = by_openid.get(row.openid()).and_then(|&i| v.row(i));
            for c in (0..v.headers.len()).filter(|c| Some(*c) != openid_col) {
                record.push(theirs.map_or("", |r| r.field(c)));
            }
        }
        out.write_record(&record).map_err(csv_err)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| AudienceError::Io { path: list.to_path_buf(), source: std::io::Error::other(e.to_string()) })?;
    crate::private::write_whole(list, &bytes, true)
        .map_err(|source| ListError::Pull(AudienceError::Io { path: list.to_path_buf(), source }))
}
