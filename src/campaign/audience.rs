//! Which of the account's followers a list is made of: all of them, or those of some tags (a
//! union, or an intersection with `all_tags`), less those of other tags, optionally only those
//! who followed on or after a date. Pure: the pull that asks WeChat lives in the application
//! layer (`app/audience.rs`).

use sha2::{Digest, Sha256};

/// The followers a list is made of.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AudienceSpec {
    /// Tag names or ids; none: every follower.
    pub tags: Vec<String>,
    /// Followers with every one of `tags` (else with any of them).
    pub all_tags: bool,
    /// Tag names or ids whose followers are left out.
    pub except: Vec<String>,
    /// Only those who followed at or after this time (Unix seconds); needs `with_info`.
    pub since: Option<i64>,
    /// Ask WeChat for each follower's follow time, remark, tags and unionid (100 a call).
    pub with_info: bool,
}

impl AudienceSpec {
    /// A short name of what is asked (every field), for the folder a pull keeps its pages in and
    /// the pull a campaign may reuse: the same question resumes the same pull, another starts
    /// its own.
    pub fn key(&self) -> String {
        let mut h = Sha256::new();
        for t in &self.tags {
            h.update(b"t");
            h.update(t.as_bytes());
            h.update([0]);
        }
        h.update([u8::from(self.all_tags)]);
        for t in &self.except {
            h.update(b"x");
            h.update(t.as_bytes());
            h.update([0]);
        }
        h.update(self.since.map_or(-1, |s| s).to_le_bytes());
        h.update([u8::from(self.with_info)]);
        let d = h.finalize();
        d[..6].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// China's time (UTC+8), in which WeChat accounts and their operators read follow times.
pub fn china() -> chrono::FixedOffset {
    use chrono::Offset;
    chrono::FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| chrono::Utc.fix())
}

/// `--since` / `since`: a date (`2026-11-01`, midnight in China's time), a date and time
/// (`2026-11-01 08:00`), or RFC 3339. `None` when it is none of these.
pub fn parse_since(text: &str) -> Option<i64> {
    use chrono::{NaiveDate, NaiveDateTime, TimeZone};
    let t = text.trim();
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        return Some(d.timestamp());
    }
    let naive = NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M"))
        .ok()
        .or_else(|| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))?;
    china().from_local_datetime(&naive).single().map(|d| d.timestamp())
}

/// A follow time as the list shows it: `2026-11-01 08:00:00` in China's time.
pub fn show_time(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|d| d.with_timezone(&china()).format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_read_in_chinas_time() {
        assert_eq!(parse_since("2026-11-01"), Some(1_793_462_400));
        assert_eq!(parse_since("2026-11-01 08:00"), Some(1_793_491_200));
        assert_eq!(parse_since("2026-11-01T00:00:00Z"), Some(1_793_491_200));
        assert_eq!(parse_since("yesterday"), None);
        assert_eq!(show_time(1_793_491_200), "2026-11-01 08:00:00");
    }

    #[test]
    fn the_same_question_keeps_the_same_folder() {
        let a = AudienceSpec { tags: vec!["VIP".into()], ..Default::default() };
        let b = AudienceSpec { tags: vec!["VIP".into()], all_tags: true, ..Default::default() };
        assert_eq!(a.key(), a.clone().key());
        assert_ne!(a.key(), b.key());
        let since = AudienceSpec { since: Some(1), with_info: true, ..a.clone() };
        assert_ne!(a.key(), since.key(), "a reused pull answers the same since");
        assert_eq!(a.key().len(), 12);
    }
}
