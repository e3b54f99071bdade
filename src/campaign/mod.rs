//! Everything before the first message: the campaign file, the recipients, the compiled
//! message and the verdict on every row.

pub mod account;
pub mod audience;
pub mod config;
mod csv_scan;
pub mod error;
pub mod file_checks;
pub mod merchants;
mod network;
mod ods_limits;
pub mod receipts;
pub mod recipients;
pub mod render;
pub mod schedule;
pub mod shared;
pub mod subscribe_rules;
pub mod template;
pub mod validate;
pub mod workbook;
pub mod workbook_limits;
mod xls_limits;

use std::path::Path;

pub use config::{CampaignConfig, EncodingChoice, Kind, SendConfig, TokenSpec};
pub use error::{CsvProblem, LoadError, Location};
pub use recipients::{DetectedEncoding, Recipients, Row};
pub use render::{MessageTemplate, Rendered};
pub use validate::{Checks, Problem, RowState, Severity};

/// A loaded campaign: configuration, recipients, compiled message and row checks.
#[derive(Debug)]
pub struct Campaign {
    /// The campaign file, parsed.
    pub config: CampaignConfig,
    /// The recipients.
    pub recipients: Recipients,
    /// The message, compiled.
    pub template: MessageTemplate,
    /// The verdict on every row.
    pub checks: Checks,
    /// Warnings about the campaign as a whole (shown before anything is sent).
    pub warnings: Vec<Warning>,
}

/// Something about the campaign as a whole the operator reads before sending; worded in the
/// language of whoever shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warning {
    /// `kind = "uniform"`: WeChat withdrew uniform_send (45109).
    UniformWithdrawn,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Warning::UniformWithdrawn => f.write_str(&crate::tr!("campaign.uniform_withdrawn")),
        }
    }
}

impl Campaign {
    /// Load the campaign file and its recipients (`csv` overrides the file's `[recipients] csv`).
    pub fn load(path: &Path, csv: Option<&Path>) -> Result<Self, LoadError> {
        let mut config = CampaignConfig::load(path)?;
        if let Some(csv) = csv {
            config.recipients.csv = csv.to_path_buf();
        }
        Self::from_config(config)
    }

    /// Load the recipients of an already parsed campaign file and check every row.
    pub fn from_config(config: CampaignConfig) -> Result<Self, LoadError> {
        if let Some(m) = &config.merchants {
            // Each merchant is a campaign of its own (`Merchants::member`); the whole is only
            // ever sent or checked merchant by merchant.
            let names: Vec<&str> = m.members.iter().map(|m| m.name.as_str()).collect();
            let message = crate::tr!(
                "merchants.one_command",
                campaign = config.path.display().to_string(),
                count = names.len(),
                names = names.join(", ")
            );
            return Err(LoadError::Config { at: error::Location::file(&config.path), message });
        }
        let r = &config.recipients;
        if r.audience.is_some() && !r.csv.exists() {
            let message = crate::tr!("config.audience_not_pulled", campaign = config.path.display().to_string());
            return Err(LoadError::Config { at: error::Location::file(&config.path), message });
        }
        let recipients = if workbook::is_workbook(&r.csv) {
            workbook::load(&r.csv, r.sheet.as_deref(), &r.openid_column)?
        } else {
            Recipients::load(&r.csv, r.encoding, &r.openid_column)?
        };
        let template = MessageTemplate::compile(&config, &recipients)?;
        let checks = validate::check_all(&recipients, &template, r.allow_duplicates);
        let mut warnings = Vec::new();
        if config.message.kind == Kind::Uniform {
            warnings.push(Warning::UniformWithdrawn);
        }
        Ok(Self { config, recipients, template, checks, warnings })
    }

    /// Check every row again with the allowed values of the account's template (subscribe enum
    /// fields, by key): a row whose value is outside its list becomes invalid.
    pub fn apply_allowed_values(&mut self, allowed: std::collections::BTreeMap<String, Vec<String>>) {
        if allowed.is_empty() {
            return;
        }
        self.template.allowed = allowed;
        self.checks = validate::check_all(&self.recipients, &self.template, self.config.recipients.allow_duplicates);
    }

    /// The message key of row `index` (see [`MessageTemplate::message_key`]), rendering it into
    /// `scratch`.
    pub fn message_key(&self, index: usize, scratch: &mut Rendered) -> Option<u64> {
        let row = self.recipients.row(index)?;
        self.template.render_values(&row, scratch);
        Some(self.template.message_key(row.openid(), scratch))
    }

    /// Render row `index` into `rendered` and its body into `body` (for previews and sending).
    pub fn render_row(&self, index: usize, rendered: &mut Rendered, body: &mut Vec<u8>) -> bool {
        match self.recipients.row(index) {
            Some(row) => {
                self.template.render(&row, rendered);
                self.template.write_body(row.openid(), rendered, body);
                true
            }
            None => false,
        }
    }
}
