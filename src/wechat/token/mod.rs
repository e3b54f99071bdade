//! Access tokens: where they come from, and the one cache every worker shares.
//!
//! The cache hands out the current token without waiting; a refresh is single-flight (one
//! request however many workers need a token); a token is refreshed when under
//! `min(300 s, ttl / 2)` remain; a failing token is replaced only if it is still the current
//! one; tokens persist on disk (mode 0600) so the next run within their life asks for none.

mod answer;
mod cache;
pub mod component;
mod disk;
mod error;
mod service;
mod source;
pub mod store;

pub use cache::{Replaced, TokenCache, TokenStatus, CIRCUIT_LIMIT};
pub use error::TokenError;
pub use source::TokenSource;
