//! `wxsend check`: what a campaign would send, row by row, without sending anything.

use crate::tr;
use std::io::{self, Write};

use serde::Serialize;

use super::exit::Exit;
use super::text::printable;

/// Rows listed per check and severity before `check` says how many more there are.
pub const SHOWN_PER_CHECK: usize = 20;
use crate::campaign::{Campaign, Problem, Rendered, Severity};

/// One problem of one row.
#[derive(Debug, Serialize)]
pub struct RowProblem {
    /// Row number (1-based).
    pub row: usize,
    /// Line in the recipients file.
    pub line: u64,
    /// Where, for messages: `list.csv:12` or `list.xlsx:名单!12`.
    pub at: String,
    /// The row's openid as written.
    pub openid: String,
    /// Error (not sent) or warning (sent, but WeChat alters it).
    pub severity: Severity,
    /// What is wrong, in words.
    pub message: String,
    #[serde(flatten)]
    /// The check that failed, typed.
    pub problem: Problem,
}

/// The rendered body of one ready row.
#[derive(Debug, Serialize)]
pub struct Preview {
    /// Row number (1-based).
    pub row: usize,
    /// Line in the recipients file.
    pub line: u64,
    /// Where, for messages: `list.csv:12` or `list.xlsx:名单!12`.
    pub at: String,
    /// What the phone shows (title, labels and values), when the template is known.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phone: Vec<String>,
    /// The exact request body (the access token goes in the URL, never here).
    pub body: serde_json::Value,
}

/// Everything `check` reports, as text or as one JSON document.
#[derive(Debug, Serialize)]
pub struct CheckReport {
    /// The campaign's name.
    pub campaign: String,
    /// `template`, `subscribe`, `mp_subscribe` or `uniform`.
    pub kind: &'static str,
    /// The template the messages use.
    pub template_id: String,
    /// The recipients file.
    pub csv: String,
    /// How the recipients file was decoded.
    pub encoding: &'static str,
    /// The recipients file's delimiter.
    pub delimiter: &'static str,
    /// Data rows in the file.
    pub rows: usize,
    /// Rows that will be sent.
    pub ready: usize,
    /// Rows that will not be sent because a check failed.
    pub invalid: usize,
    /// Rows skipped because their openid came earlier.
    pub duplicates: usize,
    /// Rows sent with a warning.
    pub warned: usize,
    /// Campaign-wide warnings.
    pub warnings: Vec<String>,
    /// The problems of the rows: every one, or (built for the terminal) the first
    /// [`SHOWN_PER_CHECK`] of each check and severity.
    pub problems: Vec<RowProblem>,
    /// The campaign against the account's template.
    pub template: super::templates::TemplateCheck,
    /// Problems left out of `problems`, counted by severity and check.
    #[serde(skip)]
    pub more: std::collections::BTreeMap<(Severity, String), usize>,
    /// The bodies of the first ready rows.
    pub preview: Vec<Preview>,
    /// What the account's delivery ledger says of the ready rows: already sent by another
    /// campaign's run, sent earlier without an answer, held back by the account.
    pub ledger: super::plan::FromLedger,
}

impl CheckReport {
    /// Ask the account's delivery ledger (if there is one; `check` never creates it) about the
    /// ready rows, as `send` would: who already got this message from another campaign's run,
    /// who got it without an answer, who the account holds back. A ledger that cannot be read
    /// becomes a warning.
    pub fn with_ledger(mut self, campaign: &Campaign) -> Self {
        let ledger = match super::ledger::open_existing(campaign) {
            Ok(Some(ledger)) => ledger,
            Ok(None) => return self,
            Err(e) => {
                self.warnings.push(e.to_string());
                return self;
            }
        };
        let mut plan = super::plan::Plan { to_send: campaign.checks.ready_rows().collect(), ..Default::default() };
        let own = crate::journal::StatePaths::of(&campaign.config.state_dir, &campaign.recipients);
        let rules = super::ledger::rules(campaign, &super::session::SendOptions::default());
        let consulted = ledger.journal_id(&own.journal).and_then(|own| plan.consult(campaign, &ledger, own, rules));
        match consulted {
            Ok(()) => self.ledger = plan.ledger,
            Err(e) => self.warnings.push(e.to_string()),
        }
        self
    }

    /// Collect the report for `campaign`, with the bodies of its first `show` ready rows.
    /// With `every_problem` false, only the first [`SHOWN_PER_CHECK`] problems of each check and
    /// severity are kept (the rest are counted in `more`): a list with a million bad rows costs
    /// no more to report than one with twenty.
    pub fn build(
        campaign: &Campaign,
        show: usize,
        every_problem: bool,
        template: super::templates::TemplateCheck,
    ) -> Self {
        let r = &campaign.recipients;
        let mut seen: std::collections::HashMap<(Severity, std::mem::Discriminant<Problem>), usize> =
            Default::default();
        let mut more: std::collections::BTreeMap<(Severity, String), usize> = Default::default();
        let problems = campaign
            .checks
            .problems()
            .iter()
            .filter(|(_, problem)| {
                let n = seen.entry((problem.severity(), std::mem::discriminant(problem))).or_default();
                *n += 1;
                if *n > SHOWN_PER_CHECK && !every_problem {
                    *more.entry((problem.severity(), problem.check_name())).or_default() += 1;
                    return false;
                }
                true
            })
            .map(|(row, problem)| {
                let view = r.row(*row);
                let line = view.map_or(0, |v| v.line());
                RowProblem {
                    row: row + 1,
                    line,
                    at: r.location(line).to_string(),
                    openid: view.map(|v| v.openid().to_string()).unwrap_or_default(),
                    severity: problem.severity(),
                    message: problem.to_string(),
                    problem: problem.clone(),
                }
            })
            .collect();
        let mut rendered = Rendered::default();
        let preview = campaign
            .checks
            .ready_rows()
            .take(show)
            .filter_map(|i| {
                let row = r.row(i)?;
                campaign.template.render(&row, &mut rendered);
                let phone = template.template.as_ref().map_or_else(Vec::new, |t| {
                    super::templates::phone_lines(t, campaign.config.message.kind, &campaign.template.keys, &rendered)
                });
                Some(Preview {
                    row: i + 1,
                    line: row.line(),
                    at: r.location(row.line()).to_string(),
                    phone,
                    body: campaign.template.body_json(row.openid(), &rendered),
                })
            })
            .collect();
        Self {
            campaign: campaign.config.name.clone(),
            kind: campaign.config.message.kind.as_str(),
            template_id: campaign.config.message.template_id.clone(),
            csv: r.source_name(),
            encoding: r.encoding.label(),
            delimiter: crate::campaign::recipients::delimiter_name(r.delimiter),
            rows: r.len(),
            ready: campaign.checks.ready,
            invalid: campaign.checks.invalid,
            duplicates: campaign.checks.duplicates,
            warned: campaign.checks.warned,
            warnings: campaign.warnings.iter().map(ToString::to_string).collect(),
            problems,
            more,
            preview,
            ledger: Default::default(),
            template,
        }
    }

    /// 0 when every row is ready, 1 when some rows will not be sent.
    pub fn exit(&self) -> Exit {
        if !self.template.errors.is_empty() {
            Exit::Input
        } else if self.invalid + self.duplicates == 0 {
            Exit::Success
        } else {
            Exit::Partial
        }
    }

    /// The human-readable report: the problems kept (all of them when built with every
    /// problem), then how many more there are. Everything from the files is printed escaped.
    pub fn write_text(&self, out: &mut impl Write) -> io::Result<()> {
        let (campaign, kind, id) = (self.campaign.clone(), self.kind, self.template_id.clone());
        writeln!(out, "{}", tr!("check.campaign", campaign = campaign, kind = kind, template = id))?;
        let delimiter = match self.delimiter {
            "comma" => tr!("check.comma"),
            "semicolon" => tr!("check.semicolon"),
            "tab" => tr!("check.tab"),
            other => other.to_string(),
        };
        let (csv, encoding) = (self.csv.clone(), self.encoding);
        writeln!(out, "{}", tr!("check.recipients", csv = csv, encoding = encoding, delimiter = delimiter))?;
        // The template first and loud: it decides whether anything below is worth sending.
        let marker = if self.template.is_verified() { "" } else { "!! " };
        writeln!(out, "{marker}{}", printable(&self.template.headline()))?;
        for e in &self.template.errors {
            writeln!(out, "{}", tr!("error.line", message = printable(e).into_owned()))?;
        }
        for n in &self.template.notes {
            writeln!(out, "{}", tr!("headless.note", note = printable(n).into_owned()))?;
        }
        for w in &self.warnings {
            writeln!(out, "{}", tr!("headless.warning", warning = printable(w).into_owned()))?;
        }
        let counts = tr!(
            "check.counts",
            rows = self.rows,
            ready = self.ready,
            invalid = self.invalid,
            duplicates = self.duplicates,
            warned = self.warned
        );
        writeln!(out, "{counts}")?;
        for line in self.ledger.lines() {
            writeln!(out, "{}", tr!("check.ledger", line = printable(&line).into_owned()))?;
        }
        for (title, severity_filter) in
            [(tr!("check.not_sent"), Some(Severity::Error)), (tr!("check.warnings"), Some(Severity::Warning))]
        {
            let items: Vec<&RowProblem> =
                self.problems.iter().filter(|p| Some(p.severity) == severity_filter).collect();
            if items.is_empty() {
                continue;
            }
            writeln!(out, "\n{title}:")?;
            for p in items {
                let openid = if p.openid.is_empty() { "-" } else { &p.openid };
                let row = tr!(
                    "check.row",
                    at = printable(&p.at).into_owned(),
                    row = p.row,
                    openid = printable(openid).into_owned()
                );
                writeln!(out, "  {row}: {}", printable(&p.message))?;
            }
            for ((_, check), n) in self.more.iter().filter(|((s, _), _)| Some(*s) == severity_filter) {
                writeln!(out, "  {}", tr!("check.more", count = n, check = check.to_string()))?;
            }
        }
        if !self.preview.is_empty() {
            writeln!(out, "\n{}", tr!("check.preview", count = self.preview.len()))?;
            for p in &self.preview {
                writeln!(out, "  {}", tr!("check.preview_row", at = printable(&p.at).into_owned(), row = p.row))?;
                if !p.phone.is_empty() {
                    writeln!(out, "    {}", tr!("check.on_the_phone"))?;
                    for line in &p.phone {
                        writeln!(out, "      {}", printable(line))?;
                    }
                    writeln!(out, "    {}", tr!("check.request_body"))?;
                }
                for line in super::text::pretty_body(&p.body) {
                    writeln!(out, "    {}", printable(&line))?;
                }
            }
        }
        Ok(())
    }
}
