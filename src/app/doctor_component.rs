//! The doctor's walk down a third-party platform's token chain (`token = "component"`), one
//! step a link, each ✓ or ✗ with the fix: the verify ticket (where from, how old), the
//! platform's `component_access_token`, and the merchant's refresh token and authorization as
//! the platform's pushes last told it. The merchant's own token is the doctor's `token` step.

use crate::wechat::token::component::{authorizations_file, read_authorizations, Chain, TICKET_LIFE};
use crate::wechat::TokenCache;

use super::doctor::{DoctorReport, StepStatus};

/// Walk the chain of `tokens` (when it is a merchant's): false when a step failed and the
/// walk ends.
pub async fn walk(report: &mut DoctorReport, tokens: &TokenCache) -> bool {
    let Some(chain) = tokens.source().chain() else { return true };
    let spec = chain.spec();
    match chain.ticket() {
        Err(e) => {
            report.push("ticket", StepStatus::Fail, e.to_string());
            return false;
        }
        Ok(t) if t.create_time == 0 => report.push("ticket", StepStatus::Pass, crate::tr!("doctor.ticket_set")),
        Ok(t) => {
            let age = crate::journal::unix_now().saturating_sub(t.create_time);
            if age >= TICKET_LIFE.as_secs() {
                report.push("ticket", StepStatus::Fail, crate::tr!("doctor.ticket_expired", age = age_in_words(age)));
                return false;
            }
            report.push("ticket", StepStatus::Pass, crate::tr!("doctor.ticket", age = age_in_words(age)));
        }
    }
    match chain.platform().token().await {
        Ok(_) => report.push(
            "platform",
            StepStatus::Pass,
            crate::tr!("doctor.platform", platform = spec.component_appid.clone()),
        ),
        Err(e) => {
            report.push("platform", StepStatus::Fail, e.to_string());
            return false;
        }
    }
    refresh_step(report, chain).await
}

/// The merchant's refresh token and authorization.
async fn refresh_step(report: &mut DoctorReport, chain: &Chain) -> bool {
    let spec = chain.spec();
    let withdrawn = chain
        .cache_dir()
        .map(|dir| read_authorizations(&authorizations_file(dir, &spec.component_appid)))
        .and_then(|all| all.get(&spec.authorizer_appid).cloned())
        .filter(|a| a.state == "unauthorized");
    if let Some(w) = withdrawn {
        report.push(
            "merchant",
            StepStatus::Fail,
            crate::tr!(
                "doctor.withdrawn",
                merchant = spec.authorizer_appid.clone(),
                age = age_in_words(crate::journal::unix_now().saturating_sub(w.at))
            ),
        );
        return false;
    }
    match chain.refresh_token().await {
        Ok(_) => {
            report.push(
                "merchant",
                StepStatus::Pass,
                crate::tr!(
                    "doctor.merchant",
                    merchant = spec.authorizer_appid.clone(),
                    place = chain.refresh_place().to_string()
                ),
            );
            true
        }
        Err(e) => {
            report.push("merchant", StepStatus::Fail, e.to_string());
            false
        }
    }
}

/// `3 min`, `2 h 5 min`, `1 d 3 h`.
fn age_in_words(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        s => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ages_read_as_people_say_them() {
        assert_eq!(super::age_in_words(59), "59 s");
        assert_eq!(super::age_in_words(600), "10 min");
        assert_eq!(super::age_in_words(7500), "2 h 5 min");
        assert_eq!(super::age_in_words(97_200), "1 d 3 h");
    }
}
