//! The one decision between "campaign loaded" and "first message out", for both front ends: the
//! template verdict and its consent, `--yes`, whether the front end can ask at all, an empty
//! plan. The quota, the token and the network are the preflight's ([`super::Session::preflight`],
//! which refuses before this is asked); the resume state and journal repairs are lines of the
//! [`super::Overview`] every question is shown with. The terminal UI renders a [`Gate::Ask`] as
//! its confirm popup, the headless front end as y/N prompts; neither launches on its own
//! judgement.

use super::preflight::Consent;
use super::text::thousands;

/// What must happen before the first message leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Nothing to send: no question, no request.
    Nothing,
    /// Send now: the operator agreed (`--yes`) and nothing needs an answer of its own.
    Go,
    /// Ask these questions, in order; any "no" sends nothing.
    Ask(Vec<Question>),
    /// Send nothing (exit 2), for this reason.
    Refuse(String),
}

/// A question the operator answers before sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Question {
    /// The template could not be checked against the account's list: send anyway? `--yes` does
    /// not answer this one (only `--skip-template-check` does).
    Template(String),
    /// Send this many messages now?
    Send(usize),
}

impl Question {
    /// The question in words.
    pub fn text(&self) -> String {
        match self {
            Question::Template(why) => crate::tr!("gate.template", why = why.clone()),
            Question::Send(n) => crate::tr!("popup.confirm.question", count = thousands(*n)),
        }
    }
}

/// The gate for a plan of `to_send` messages; `template` is why the template needs consent (see
/// [`super::Session::template_needs_consent`]), if it does.
pub fn decide(to_send: usize, template: Option<String>, consent: Consent) -> Gate {
    if to_send == 0 {
        return Gate::Nothing;
    }
    let mut questions = Vec::new();
    if let Some(why) = template {
        if !consent.may_ask {
            return Gate::Refuse(why);
        }
        questions.push(Question::Template(why));
    }
    if !consent.yes {
        if !consent.may_ask {
            return Gate::Refuse(crate::tr!("gate.refuse", count = thousands(to_send)));
        }
        questions.push(Question::Send(to_send));
    }
    if questions.is_empty() {
        Gate::Go
    } else {
        Gate::Ask(questions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHY: &str = "template NOT verified: errcode 48001";

    /// Every combination of the conditions: (to send, template unverified, --yes, may ask).
    #[test]
    fn every_combination_has_one_outcome() {
        let refuse_confirm = "refusing to send 40 messages without confirmation: add --yes to send from a script";
        let t = || Question::Template(WHY.into());
        let cases: Vec<((usize, bool, bool, bool), Gate)> = vec![
            ((0, false, false, false), Gate::Nothing),
            ((0, true, true, true), Gate::Nothing),
            ((40, false, true, false), Gate::Go),
            ((40, false, true, true), Gate::Go),
            ((40, false, false, true), Gate::Ask(vec![Question::Send(40)])),
            ((40, false, false, false), Gate::Refuse(refuse_confirm.into())),
            // --yes never answers the template question.
            ((40, true, true, true), Gate::Ask(vec![t()])),
            ((40, true, false, true), Gate::Ask(vec![t(), Question::Send(40)])),
            ((40, true, true, false), Gate::Refuse(WHY.into())),
            ((40, true, false, false), Gate::Refuse(WHY.into())),
        ];
        for ((n, unverified, yes, may_ask), want) in cases {
            let got = decide(n, unverified.then(|| WHY.to_string()), Consent { yes, may_ask });
            assert_eq!(got, want, "to send {n}, unverified {unverified}, --yes {yes}, may ask {may_ask}");
        }
    }
}
