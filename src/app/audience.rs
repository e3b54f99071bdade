//! Pulling a list from the account's followers (`wxsend audience`, audience campaigns): tags
//! resolved through `tags/get`, each source paged 10,000 openids at a time (`user/get` for
//! everyone, `user/tag/get` per tag) until the empty page, follower details 100 at a time
//! (`user/info/batchget`) when asked.
//!
//! Every page is appended to its source's file and fsynced, then the source's checkpoint (the
//! next openid and the file's length) is replaced whole: a pull stopped anywhere (Ctrl-C, a
//! kill, 45009, the network) resumes from its checkpoint on the same question, and a page
//! written but not checkpointed is cut away first, so no openid is ever written twice.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::campaign::audience::{show_time, AudienceSpec};
use crate::wechat::client::Failure;
use crate::wechat::Sender;

/// Openids `user/info/batchget` takes in one call.
const INFO_BATCH: usize = 100;

/// One of the account's tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tag {
    /// WeChat's id.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Followers with it.
    pub count: u64,
}

/// What `user/info/batchget` still says of a follower (since 2021-12-27: no nickname, avatar,
/// sex or region).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Info {
    /// When they followed (Unix seconds).
    pub subscribe_time: i64,
    /// The account's remark on them.
    pub remark: String,
    /// Their tags' names.
    pub tags: Vec<String>,
    /// Their unionid, when the account is bound to an open platform.
    pub unionid: String,
}

/// How far a pull is, after each page.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Pages read (the empty last ones included).
    pub pages: usize,
    /// Openids read.
    pub openids: u64,
    /// Openids expected in all (WeChat's `total`, or the tags' counts), when known.
    pub expected: Option<u64>,
    /// When this run of the pull began.
    pub started: Instant,
}

/// A finished pull.
#[derive(Debug, Clone, Default)]
pub struct Pulled {
    /// The selected followers, each once, in the order WeChat listed them.
    pub openids: Vec<String>,
    /// Their details (`with_info`).
    pub info: HashMap<String, Info>,
    /// The account's tags (read when tags were named, or details asked).
    pub tags: Vec<Tag>,
    /// The account's followers in all, as `user/get` counts them (when it was asked).
    pub total: Option<u64>,
    /// Pages read by this run and the stopped runs before it.
    pub pages: usize,
    /// The selected followers by tag (`with_info`, or the tags named), in the tags' order.
    pub per_tag: Vec<(String, usize)>,
}

/// Why a pull stopped.
#[derive(Debug, thiserror::Error)]
pub enum AudienceError {
    /// A tag named that the account does not have.
    #[error("{}", crate::tr!("err.audience.unknown_tag", given = .given.clone(), known = .known.clone()))]
    UnknownTag {
        /// As given.
        given: String,
        /// The account's tags, listed.
        known: String,
    },
    /// `since` without the details it is read from.
    #[error("{}", crate::tr!("err.audience.since_needs_info"))]
    SinceNeedsInfo,
    /// WeChat refused or could not be reached (after the retries): the checkpoint is kept.
    #[error("{}", crate::tr!("err.audience.wechat", call = *.call, errcode = .failure.errcode.map_or_else(|| "-".to_string(), |c| c.to_string()), errmsg = .failure.errmsg.clone(), hint = crate::wechat::errors::hint(.failure.errcode.unwrap_or(0)).unwrap_or_default()))]
    WeChat {
        /// The endpoint.
        call: &'static str,
        /// What it answered.
        failure: Failure,
    },
    /// The campaign's client, token source or Redis cannot be set up.
    #[error("{}", crate::tr!("err.audience.setup", error = .0.to_string()))]
    Setup(#[from] super::tokens::SetupError),
    /// The pull's files cannot be written or read.
    #[error("{}", crate::tr!("err.audience.io", path = .path.display().to_string(), error = .source.to_string()))]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl AudienceError {
    /// 2 for what the operator asked, 3 when WeChat stopped the pull (run it again), 4 for this
    /// machine's storage.
    pub fn exit(&self) -> super::Exit {
        match self {
            AudienceError::UnknownTag { .. } | AudienceError::SinceNeedsInfo | AudienceError::Setup(_) => {
                super::Exit::Input
            }
            AudienceError::WeChat { .. } => super::Exit::Stopped,
            AudienceError::Io { .. } => super::Exit::LocalWrite,
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AudienceError + '_ {
    move |source| AudienceError::Io { path: path.to_path_buf(), source }
}

/// A sender for `cfg`'s account: its client and token source, the token shared through Redis
/// when the campaign shares one (`[shared] redis`), as a send's is.
pub async fn sender_for(cfg: &crate::campaign::CampaignConfig) -> Result<Sender, AudienceError> {
    let (client, tokens) = super::tokens::client_and_tokens(cfg, "audience").await?;
    Ok(Sender::new(client, std::sync::Arc::new(tokens)))
}

/// The account's tags (`tags/get`).
pub async fn tags(sender: &Sender) -> Result<Vec<Tag>, AudienceError> {
    let answer = sender
        .get_json("/cgi-bin/tags/get")
        .await
        .map_err(|failure| AudienceError::WeChat { call: "tags/get", failure })?;
    Ok(answer["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| Tag {
            id: t["id"].as_u64().unwrap_or(0),
            name: t["name"].as_str().unwrap_or_default().to_string(),
            count: t["count"].as_u64().unwrap_or(0),
        })
        .collect())
}

/// The tag a name or id means.
fn resolve<'t>(given: &str, tags: &'t [Tag]) -> Result<&'t Tag, AudienceError> {
    let g = given.trim();
    tags.iter().find(|t| t.name == g || t.id.to_string() == g).ok_or_else(|| AudienceError::UnknownTag {
        given: given.to_string(),
        known: tags.iter().map(|t| format!("{} ({}, {})", t.name, t.id, t.count)).collect::<Vec<_>>().join(", "),
    })
}

/// One list WeChat pages through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Source {
    /// `user/get`: every follower.
    All,
    /// `user/tag/get`: the followers of one tag.
    Tag(u64),
}

impl Source {
    fn stem(self) -> String {
        match self {
            Source::All => "all".into(),
            Source::Tag(id) => format!("tag-{id}"),
        }
    }
}

/// Where a source has got to.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Checkpoint {
    next_openid: String,
    /// The source's file is this long once the pages so far are in it.
    bytes: u64,
    /// Openids in the file.
    count: u64,
    pages: usize,
    done: bool,
    /// `user/get`'s `total`.
    total: Option<u64>,
}

/// Pull `spec`'s followers with `sender`, keeping pages and checkpoints in `dir` (resumed when
/// they are there); `on_page` hears of each page.
pub async fn pull(
    sender: &Sender,
    spec: &AudienceSpec,
    dir: &Path,
    on_page: &mut (dyn FnMut(&Progress) + Send),
) -> Result<Pulled, AudienceError> {
    if spec.since.is_some() && !spec.with_info {
        return Err(AudienceError::SinceNeedsInfo);
    }
    crate::private::create_dir_all(dir).map_err(io(dir))?;
    let account_tags = if spec.tags.is_empty() && spec.except.is_empty() && !spec.with_info {
        Vec::new()
    } else {
        tags(sender).await?
    };
    let chosen: Vec<Tag> = spec.tags.iter().map(|t| resolve(t, &account_tags).cloned()).collect::<Result<_, _>>()?;
    let except: Vec<Tag> = spec.except.iter().map(|t| resolve(t, &account_tags).cloned()).collect::<Result<_, _>>()?;
    let mut sources: Vec<Source> = chosen.iter().map(|t| Source::Tag(t.id)).collect();
    if sources.is_empty() {
        sources.push(Source::All);
    }
    // What the pages will hold: the tags' counts (everyone's only comes with the first page).
    let expected = if chosen.is_empty() { None } else { Some(chosen.iter().chain(&except).map(|t| t.count).sum()) };
    let mut progress = Progress { pages: 0, openids: 0, expected, started: Instant::now() };
    let mut lists: HashMap<Source, Vec<String>> = HashMap::new();
    let mut total = None;
    for source in sources.iter().copied().chain(except.iter().map(|t| Source::Tag(t.id))) {
        if lists.contains_key(&source) {
            continue;
        }
        let (list, t) = page_source(sender, source, dir, &mut progress, on_page).await?;
        total = total.or(t);
        lists.insert(source, list);
    }
    let mut openids = select(&sources, &except.iter().map(|t| Source::Tag(t.id)).collect::<Vec<_>>(), &lists, spec);
    let mut pulled = Pulled { tags: account_tags, total, pages: progress.pages, ..Default::default() };
    if spec.with_info {
        pulled.info = details(sender, &openids, &pulled.tags).await?;
        openids.retain(|o| pulled.info.get(o).is_some_and(|i| spec.since.is_none_or(|s| i.subscribe_time >= s)));
    }
    pulled.per_tag = per_tag(&chosen, &openids, &lists, &pulled);
    pulled.openids = openids;
    Ok(pulled)
}

/// The selected followers by tag: from the details when there are some, else from the pages of
/// the tags named.
fn per_tag(
    chosen: &[Tag],
    openids: &[String],
    lists: &HashMap<Source, Vec<String>>,
    pulled: &Pulled,
) -> Vec<(String, usize)> {
    let selected: HashSet<&str> = openids.iter().map(String::as_str).collect();
    if !pulled.info.is_empty() {
        return pulled
            .tags
            .iter()
            .map(|t| (t.name.clone(), openids.iter().filter(|o| pulled.info[*o].tags.contains(&t.name)).count()))
            .collect();
    }
    chosen
        .iter()
        .map(|t| {
            let list = lists.get(&Source::Tag(t.id)).map_or(&[][..], Vec::as_slice);
            (t.name.clone(), list.iter().filter(|o| selected.contains(o.as_str())).count())
        })
        .collect()
}

/// Union (or intersection) of `sources`, less `except`, each openid once, in listing order.
fn select(
    sources: &[Source],
    except: &[Source],
    lists: &HashMap<Source, Vec<String>>,
    spec: &AudienceSpec,
) -> Vec<String> {
    let empty = Vec::new();
    let list = |s: &Source| lists.get(s).unwrap_or(&empty);
    let left_out: HashSet<&str> = except.iter().flat_map(|s| list(s).iter().map(String::as_str)).collect();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut out = Vec::new();
    if spec.all_tags && sources.len() > 1 {
        let others: Vec<HashSet<&str>> =
            sources[1..].iter().map(|s| list(s).iter().map(String::as_str).collect()).collect();
        for o in list(&sources[0]) {
            if others.iter().all(|set| set.contains(o.as_str())) && !left_out.contains(o.as_str()) && seen.insert(o) {
                out.push(o.clone());
            }
        }
        return out;
    }
    for o in sources.iter().flat_map(|s| list(s).iter()) {
        if !left_out.contains(o.as_str()) && seen.insert(o) {
            out.push(o.clone());
        }
    }
    out
}

/// Page through `source` from its checkpoint to the empty page; its openids in order, and
/// `user/get`'s total.
async fn page_source(
    sender: &Sender,
    source: Source,
    dir: &Path,
    progress: &mut Progress,
    on_page: &mut (dyn FnMut(&Progress) + Send),
) -> Result<(Vec<String>, Option<u64>), AudienceError> {
    let (list_path, mark_path) =
        (dir.join(format!("{}.txt", source.stem())), dir.join(format!("{}.json", source.stem())));
    let mut cp: Checkpoint = match std::fs::read(&mark_path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Checkpoint::default(),
        Err(e) => return Err(io(&mark_path)(e)),
    };
    let mut file =
        crate::private::options().create(true).read(true).append(true).open(&list_path).map_err(io(&list_path))?;
    // A page written after the last checkpoint is cut away: it is asked for again.
    file.set_len(cp.bytes).map_err(io(&list_path))?;
    progress.pages += cp.pages;
    progress.openids += cp.count;
    while !cp.done {
        let answer = match source {
            Source::All => sender.get_json_query("/cgi-bin/user/get", &[("next_openid", &cp.next_openid)]).await,
            Source::Tag(id) => {
                let body = json!({ "tagid": id, "next_openid": cp.next_openid });
                sender.post_json("/cgi-bin/user/tag/get", body).await
            }
        };
        let call = if source == Source::All { "user/get" } else { "user/tag/get" };
        let answer = answer.map_err(|failure| AudienceError::WeChat { call, failure })?;
        let page: Vec<&str> =
            answer["data"]["openid"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        if let Some(t) = answer["total"].as_u64() {
            cp.total = Some(t);
            progress.expected = progress.expected.or(Some(t));
        }
        if page.is_empty() {
            cp.done = true;
        } else {
            let mut text = String::with_capacity(page.len() * 29);
            for o in &page {
                text.push_str(o);
                text.push('\n');
            }
            file.write_all(text.as_bytes()).and_then(|()| file.sync_data()).map_err(io(&list_path))?;
            cp.bytes += text.len() as u64;
            cp.next_openid =
                answer["next_openid"].as_str().filter(|n| !n.is_empty()).unwrap_or(page[page.len() - 1]).to_string();
            cp.pages += 1;
            cp.count += page.len() as u64;
            progress.openids += page.len() as u64;
        }
        let bytes = serde_json::to_vec(&cp).unwrap_or_default();
        crate::private::write_whole(&mark_path, &bytes, true).map_err(io(&mark_path))?;
        progress.pages += 1;
        on_page(progress);
        failpoint(progress.pages);
    }
    let text = std::fs::read_to_string(&list_path).map_err(io(&list_path))?;
    Ok((text.lines().filter(|l| !l.is_empty()).map(String::from).collect(), cp.total))
}

/// The resume test's hook: with `WXSEND_FAILPOINT_ABORT_AFTER_PAGES=N` the process dies at once
/// after its Nth page is checkpointed, as a kill would leave it.
fn failpoint(pages: usize) {
    if std::env::var("WXSEND_FAILPOINT_ABORT_AFTER_PAGES").ok().and_then(|v| v.parse().ok()) == Some(pages) {
        std::process::abort();
    }
}

/// `user/info/batchget` for `openids`, 100 a call; followers who left are not in the answer's
/// map.
async fn details(sender: &Sender, openids: &[String], tags: &[Tag]) -> Result<HashMap<String, Info>, AudienceError> {
    let names: HashMap<u64, &str> = tags.iter().map(|t| (t.id, t.name.as_str())).collect();
    let mut out = HashMap::with_capacity(openids.len());
    for chunk in openids.chunks(INFO_BATCH) {
        let list: Vec<Value> = chunk.iter().map(|o| json!({ "openid": o, "lang": "zh_CN" })).collect();
        let answer = sender
            .post_json("/cgi-bin/user/info/batchget", json!({ "user_list": list }))
            .await
            .map_err(|failure| AudienceError::WeChat { call: "user/info/batchget", failure })?;
        for u in answer["user_info_list"].as_array().into_iter().flatten() {
            if u["subscribe"].as_i64() != Some(1) {
                continue;
            }
            let tags = u["tagid_list"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|id| id.as_u64().and_then(|id| names.get(&id)).map(|n| n.to_string()))
                .collect();
            out.insert(
                u["openid"].as_str().unwrap_or_default().to_string(),
                Info {
                    subscribe_time: u["subscribe_time"].as_i64().unwrap_or(0),
                    remark: u["remark"].as_str().unwrap_or_default().to_string(),
                    tags,
                    unionid: u["unionid"].as_str().unwrap_or_default().to_string(),
                },
            );
        }
    }
    Ok(out)
}

/// The list as a recipients CSV (`openid` first; with details also `subscribe_time`, `remark`,
/// `tags` and `unionid`), written whole and renamed into place.
pub fn write_list(path: &Path, pulled: &Pulled, with_info: bool) -> Result<(), AudienceError> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(pulled.openids.len() * 32));
    let header: &[&str] =
        if with_info { &["openid", "subscribe_time", "remark", "tags", "unionid"] } else { &["openid"] };
    let written = (|| {
        w.write_record(header)?;
        for o in &pulled.openids {
            match pulled.info.get(o).filter(|_| with_info) {
                Some(i) => w.write_record([
                    o.as_str(),
                    &show_time(i.subscribe_time),
                    &i.remark,
                    &i.tags.join(";"),
                    &i.unionid,
                ])?,
                None => w.write_record([o.as_str()])?,
            }
        }
        w.flush()
    })();
    written.map_err(|e| io(path)(std::io::Error::other(e)))?;
    let bytes = w.into_inner().map_err(|e| io(path)(std::io::Error::other(e.to_string())))?;
    crate::private::write_whole(path, &bytes, true).map_err(io(path))
}

/// The folder a pull of `spec` for the campaign whose state folder is `state_dir` keeps its
/// pages in.
pub fn work_dir(state_dir: &Path, spec: &AudienceSpec) -> PathBuf {
    state_dir.join("audience").join(format!("pull-{}", spec.key()))
}
