//! wxsend: send one WeChat template or subscribe message to each row of a CSV file, at a governed
//! rate, with one shared access token, never twice to the same row.

pub mod campaign;
pub mod check;
pub mod cli;
pub mod engine;
pub mod exit;
pub mod export;
pub mod headless;
pub mod journal;
pub mod mock;
pub mod session;
pub mod tui;
pub mod wechat;
