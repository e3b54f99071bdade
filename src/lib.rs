//! wxsend: send one WeChat template or subscribe message to each row of a CSV file, at a governed
//! rate, with one shared access token, never twice to the same row.

pub mod campaign;
pub mod check;
pub mod cli;
pub mod exit;
pub mod mock;
pub mod wechat;
