//! wxsend: send one WeChat template or subscribe message to each row of a CSV file, at a governed
//! rate, with one shared access token, never twice to the same row.
//!
//! Layers import one way, bottom to top: [`wechat`] (the protocol: kinds, errcodes, tokens, the
//! HTTP client) → [`campaign`] (files, rows, render, validate) → [`engine`] and [`journal`] →
//! [`app`] (the use cases) → the front ends [`tui`] and [`headless`]. [`mock`] is the embedded
//! WeChat, judging with rules of its own. Only `main.rs` exits the process.
#![warn(missing_docs)]
// No function over ~80 lines (the threshold is in clippy.toml); CI denies every warning.
#![warn(clippy::too_many_lines)]

pub mod app;
pub mod campaign;
pub mod cli;
pub mod commands;
pub mod engine;
pub mod error;
pub mod headless;
pub mod headless_fleet;
pub mod i18n;
pub mod journal;
pub mod ledger;
pub mod mock;
pub mod private;
pub mod shared;
pub mod tui;
pub mod wechat;

// The catalogues (locales/en.toml, locales/zh-CN.toml), compiled in; see [`i18n`].
rust_i18n::i18n!("locales", fallback = "en");
