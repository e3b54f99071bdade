//! The language a person reads: chosen once per process (`--lang`, then `WXSEND_LANG`, then
//! `LC_ALL` / `LC_MESSAGES` / `LANG`; a `zh_*` locale is Chinese; English otherwise), and the
//! catalogue lookup [`tr!`](crate::tr) every sentence goes through. The catalogues are
//! `locales/en.toml` and `locales/zh-CN.toml`, compiled in by rust-i18n. JSON keys, codes and
//! the journal never go through here: they stay stable English.

use std::cell::Cell;
use std::sync::atomic::{AtomicU8, Ordering};

/// A language wxsend speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Simplified Chinese.
    ZhCn,
}

impl Lang {
    /// The catalogue's name for it (`en`, `zh-CN`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
        }
    }

    /// What an operator may write for it (`--lang`, `WXSEND_LANG`): `en`, `zh`, `zh-CN`,
    /// `zh_CN.UTF-8`, any case.
    pub fn parse(text: &str) -> Option<Lang> {
        let t = text.trim().to_ascii_lowercase();
        let base = t.split(['.', '@']).next().unwrap_or("");
        match base {
            "en" | "en-us" | "en_us" | "en-gb" | "en_gb" | "english" | "c" | "posix" => Some(Lang::En),
            _ if base == "zh" || base.starts_with("zh-") || base.starts_with("zh_") || base == "chinese" => {
                Some(Lang::ZhCn)
            }
            _ => None,
        }
    }
}

/// `--lang` or `WXSEND_LANG` names no language wxsend speaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", crate::tr!("err.lang_error", from = .from.to_string(), value = format!("{:?}", .value)))]
pub struct LangError {
    /// Where the value came from: `--lang` or `WXSEND_LANG`.
    pub from: &'static str,
    /// What it said.
    pub value: String,
}

/// The process's language, decided from the flag and then the environment (`var` reads one
/// variable; the binary passes `std::env::var`). An unknown `--lang` or `WXSEND_LANG` is an
/// error; a locale in `LC_*`/`LANG` that is not Chinese is English.
pub fn choose(flag: Option<&str>, var: impl Fn(&str) -> Option<String>) -> Result<Lang, LangError> {
    if let Some(value) = flag {
        return Lang::parse(value).ok_or_else(|| LangError { from: "--lang", value: value.to_string() });
    }
    if let Some(value) = var("WXSEND_LANG").filter(|v| !v.is_empty()) {
        return Lang::parse(&value).ok_or(LangError { from: "WXSEND_LANG", value });
    }
    // POSIX order: the first of these that is set and not empty names the messages' locale.
    let locale = ["LC_ALL", "LC_MESSAGES", "LANG"].iter().find_map(|k| var(k).filter(|v| !v.is_empty()));
    Ok(match locale.as_deref().and_then(Lang::parse) {
        Some(Lang::ZhCn) => Lang::ZhCn,
        _ => Lang::En,
    })
}

static PROCESS: AtomicU8 = AtomicU8::new(0);

thread_local! {
    static THREAD: Cell<Option<Lang>> = const { Cell::new(None) };
}

/// Set the process's language (once, at start).
pub fn set(lang: Lang) {
    PROCESS.store(lang as u8, Ordering::Relaxed);
}

/// The language sentences are worded in: this thread's, inside [`with`], else the process's.
pub fn lang() -> Lang {
    THREAD.with(Cell::get).unwrap_or(match PROCESS.load(Ordering::Relaxed) {
        1 => Lang::ZhCn,
        _ => Lang::En,
    })
}

/// Run `f` with this thread's sentences in `lang` (tests draw both languages side by side in
/// one process).
pub fn with<T>(lang: Lang, f: impl FnOnce() -> T) -> T {
    let before = THREAD.with(|t| t.replace(Some(lang)));
    let out = f();
    THREAD.with(|t| t.set(before));
    out
}

/// A sentence from the catalogue in the current language, placeholders filled:
/// `tr!("popup.confirm.question", count = n)` for `%{count}` in the catalogue.
#[macro_export]
macro_rules! tr {
    ($key:expr) => {
        ::rust_i18n::t!($key, locale = $crate::i18n::lang().code()).into_owned()
    };
    ($key:expr, $($name:ident = $value:expr),+ $(,)?) => {
        ::rust_i18n::t!($key, locale = $crate::i18n::lang().code(), $($name = $value),+).into_owned()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn the_flag_then_wxsend_lang_then_the_locale_decide() {
        let zh = [("LANG", "zh_CN.UTF-8")];
        assert_eq!(choose(None, env(&zh)), Ok(Lang::ZhCn));
        assert_eq!(choose(Some("en"), env(&zh)), Ok(Lang::En), "--lang overrides the locale");
        assert_eq!(choose(None, env(&[("LANG", "zh_CN.UTF-8"), ("WXSEND_LANG", "en")])), Ok(Lang::En));
        assert_eq!(choose(None, env(&[("LANG", "C")])), Ok(Lang::En));
        assert_eq!(choose(None, env(&[])), Ok(Lang::En));
        assert_eq!(choose(None, env(&[("LC_ALL", "zh_TW.UTF-8"), ("LANG", "en_US.UTF-8")])), Ok(Lang::ZhCn));
        assert_eq!(choose(None, env(&[("LC_ALL", ""), ("LC_MESSAGES", "en_US"), ("LANG", "zh_CN")])), Ok(Lang::En));
        assert_eq!(choose(None, env(&[("LANG", "fr_FR.UTF-8")])), Ok(Lang::En), "not Chinese: English");
        assert_eq!(choose(Some("zh"), env(&[])), Ok(Lang::ZhCn));
        assert_eq!(choose(Some("fr"), env(&[])), Err(LangError { from: "--lang", value: "fr".into() }));
        assert!(choose(None, env(&[("WXSEND_LANG", "klingon")])).is_err());
    }

    #[test]
    fn a_thread_may_speak_its_own_language() {
        with(Lang::ZhCn, || assert_eq!(lang(), Lang::ZhCn));
        with(Lang::En, || assert_eq!(crate::tr!("lang.name"), "English"));
        with(Lang::ZhCn, || assert_eq!(crate::tr!("lang.name"), "简体中文"));
    }
}
