//! WeChat's rules for subscribe-message values, by the type prefix of their key (WECHAT-API.md):
//! a value that breaks them is rejected with errcode 47003, so they are checked before sending.

/// The type prefix of a subscribe key: `thing1` → `thing`, `character_string12` → `character_string`.
pub fn key_prefix(key: &str) -> &str {
    key.trim_end_matches(|c: char| c.is_ascii_digit())
}

fn is_chinese(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}' | '\u{f900}'..='\u{faff}' | '\u{20000}'..='\u{2ebef}')
}

fn is_symbol(c: char) -> bool {
    c.is_ascii_punctuation()
}

fn too_long(limit: usize, length: usize) -> Option<String> {
    (length > limit).then(|| format!("{length} characters, at most {limit} allowed"))
}

/// WeChat's rule for a subscribe value, by key prefix: `Some((rule, what is wrong))` when broken.
pub fn check_subscribe_value(key: &str, value: &str) -> Option<(&'static str, String)> {
    let n = value.chars().count();
    let bad = |rule: &'static str, detail: String| Some((rule, detail));
    match key_prefix(key) {
        "thing" => too_long(20, n).map(|d| ("thing", d)),
        "number" => {
            if let Some(d) = too_long(32, n) {
                return bad("number", d);
            }
            (!is_decimal(value)).then(|| ("number", "must be digits, optionally with decimals".to_string()))
        }
        "letter" => {
            if let Some(d) = too_long(32, n) {
                return bad("letter", d);
            }
            (!value.chars().all(|c| c.is_ascii_alphabetic())).then(|| ("letter", "must be letters only".to_string()))
        }
        "symbol" => {
            if let Some(d) = too_long(5, n) {
                return bad("symbol", d);
            }
            (!value.chars().all(is_symbol)).then(|| ("symbol", "must be symbols only".to_string()))
        }
        "character_string" => {
            if let Some(d) = too_long(32, n) {
                return bad("character_string", d);
            }
            (!value.chars().all(|c| c.is_ascii_graphic()))
                .then(|| ("character_string", "must be digits, letters or symbols (no Chinese, no spaces)".to_string()))
        }
        "phone_number" => {
            if let Some(d) = too_long(17, n) {
                return bad("phone_number", d);
            }
            (!value.chars().all(|c| c.is_ascii_digit() || is_symbol(c)))
                .then(|| ("phone_number", "must be digits and symbols only".to_string()))
        }
        "car_number" => {
            if let Some(d) = too_long(8, n) {
                return bad("car_number", d);
            }
            let chars: Vec<char> = value.chars().collect();
            let ok = chars
                .iter()
                .enumerate()
                .all(|(i, &c)| c.is_ascii_alphanumeric() || ((i == 0 || i + 1 == chars.len()) && is_chinese(c)));
            (!ok).then(|| {
                ("car_number", "must be letters and digits; only the first and last may be Chinese".to_string())
            })
        }
        "name" => {
            if value.chars().all(|c| c.is_ascii_alphabetic() || is_symbol(c) || c == ' ') {
                too_long(20, n).map(|d| ("name", d))
            } else if value
                .chars()
                .all(|c| is_chinese(c) || c.is_ascii_alphabetic() || is_symbol(c) || c == '·' || c == ' ')
            {
                too_long(10, n).map(|d| ("name", format!("{d} (a name with Chinese counts as Chinese)")))
            } else {
                bad("name", "must be Chinese characters, or letters and symbols".into())
            }
        }
        "phrase" => {
            if let Some(d) = too_long(5, n) {
                return bad("phrase", d);
            }
            (!value.chars().all(is_chinese)).then(|| ("phrase", "must be Chinese characters only".to_string()))
        }
        "time" | "date" => (!is_datetime(value)).then(|| {
            (
                "time/date",
                "must be a 24-hour time and/or a date such as 2026-11-23, 2026/11/23, 2026年11月23日 or 15:01"
                    .to_string(),
            )
        }),
        "amount" => (!is_amount(value)).then(|| {
            ("amount", "must be an amount: one currency sign, at most 10 digits, optional decimals and 元".to_string())
        }),
        _ => None,
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_decimal(s: &str) -> bool {
    match s.split_once('.') {
        None => all_digits(s),
        Some((int, frac)) => all_digits(int) && all_digits(frac),
    }
}

fn is_amount(s: &str) -> bool {
    let s = s.strip_suffix('元').unwrap_or(s);
    let s = s.strip_prefix(['¥', '￥', '$', '€', '£', '₩', '₹']).unwrap_or(s);
    let int = s.split_once('.').map_or(s, |(i, _)| i);
    is_decimal(s) && int.len() <= 10
}

fn in_range(s: &str, max_len: usize, lo: u32, hi: u32) -> bool {
    s.len() <= max_len && all_digits(s) && s.parse::<u32>().is_ok_and(|v| (lo..=hi).contains(&v))
}

fn is_date(s: &str) -> bool {
    if let Some((y, rest)) = s.split_once('年') {
        let Some((m, rest)) = rest.split_once('月') else { return false };
        let d = rest.strip_suffix('日').or_else(|| rest.strip_suffix('号'));
        return y.len() == 4 && all_digits(y) && in_range(m, 2, 1, 12) && d.is_some_and(|d| in_range(d, 2, 1, 31));
    }
    if let Some((m, rest)) = s.split_once('月') {
        let d = rest.strip_suffix('日').or_else(|| rest.strip_suffix('号'));
        return in_range(m, 2, 1, 12) && d.is_some_and(|d| in_range(d, 2, 1, 31));
    }
    let parts: Vec<&str> = s.split(['-', '/', '.']).collect();
    match parts.as_slice() {
        [y, m, d] => y.len() == 4 && all_digits(y) && in_range(m, 2, 1, 12) && in_range(d, 2, 1, 31),
        _ => false,
    }
}

fn is_time(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    match parts.as_slice() {
        [h, m] => in_range(h, 2, 0, 23) && m.len() == 2 && in_range(m, 2, 0, 59),
        [h, m, sec] => {
            in_range(h, 2, 0, 23) && m.len() == 2 && in_range(m, 2, 0, 59) && sec.len() == 2 && in_range(sec, 2, 0, 59)
        }
        _ => false,
    }
}

fn is_single_datetime(s: &str) -> bool {
    let s = s.trim();
    let mut tokens = s.split_whitespace();
    match (tokens.next(), tokens.next(), tokens.next()) {
        (Some(a), None, None) => {
            if is_date(a) || is_time(a) {
                return true;
            }
            // `2019年10月1日15:01`: a date and a time without a space.
            a.split_once('日').is_some_and(|(d, t)| is_date(&format!("{d}日")) && is_time(t))
        }
        (Some(a), Some(b), None) => is_date(a) && is_time(b),
        _ => false,
    }
}

/// A 24-hour time and/or a date, or a range of two with a half-width `~`.
pub fn is_datetime(s: &str) -> bool {
    let parts: Vec<&str> = s.split('~').collect();
    !parts.is_empty() && parts.len() <= 2 && parts.iter().all(|p| is_single_datetime(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(key: &str, value: &str) -> Option<&'static str> {
        check_subscribe_value(key, value).map(|(r, _)| r)
    }

    #[test]
    fn thing_counts_characters_not_bytes() {
        assert_eq!(rule("thing1", &"围".repeat(20)), None);
        assert_eq!(rule("thing1", &"围".repeat(21)), Some("thing"));
        assert_eq!(rule("thing12", &"a".repeat(20)), None);
    }

    #[test]
    fn number_letter_symbol() {
        assert_eq!(rule("number1", "12.50"), None);
        assert_eq!(rule("number1", &"1".repeat(32)), None);
        assert_eq!(rule("number1", &"1".repeat(33)), Some("number"));
        assert_eq!(rule("number1", "12a"), Some("number"));
        assert_eq!(rule("number1", "1."), Some("number"));
        assert_eq!(rule("letter2", "abcXYZ"), None);
        assert_eq!(rule("letter2", "abc1"), Some("letter"));
        assert_eq!(rule("letter2", &"a".repeat(33)), Some("letter"));
        assert_eq!(rule("symbol3", "!@#$%"), None);
        assert_eq!(rule("symbol3", "!@#$%^"), Some("symbol"));
        assert_eq!(rule("symbol3", "a"), Some("symbol"));
    }

    #[test]
    fn character_string_phone_car() {
        assert_eq!(rule("character_string1", "SF1234-56"), None);
        assert_eq!(rule("character_string1", &"a".repeat(32)), None);
        assert_eq!(rule("character_string1", &"a".repeat(33)), Some("character_string"));
        assert_eq!(rule("character_string1", "单号123"), Some("character_string"));
        assert_eq!(rule("phone_number1", "+86-0766-66888866"), None);
        assert_eq!(rule("phone_number1", "+86-0766-668888661"), Some("phone_number"));
        assert_eq!(rule("phone_number1", "call 110"), Some("phone_number"));
        assert_eq!(rule("car_number1", "粤A8Z888挂"), None);
        assert_eq!(rule("car_number1", "粤A8Z8889挂"), Some("car_number"));
        assert_eq!(rule("car_number1", "A粤8Z88"), Some("car_number"));
    }

    #[test]
    fn name_and_phrase() {
        assert_eq!(rule("name1", "张三丰"), None);
        assert_eq!(rule("name1", &"张".repeat(10)), None);
        assert_eq!(rule("name1", &"张".repeat(11)), Some("name"));
        assert_eq!(rule("name1", &"a".repeat(20)), None);
        assert_eq!(rule("name1", &"a".repeat(21)), Some("name"));
        assert_eq!(rule("name1", "Li张三abcdefgh"), Some("name"));
        assert_eq!(rule("phrase1", "已发货"), None);
        assert_eq!(rule("phrase1", "已经发货了"), None);
        assert_eq!(rule("phrase1", "已经发货了吗"), Some("phrase"));
        assert_eq!(rule("phrase1", "ok"), Some("phrase"));
    }

    #[test]
    fn time_and_date_formats() {
        for ok in [
            "2026-11-23",
            "2026/11/23",
            "2026年11月23日",
            "15:01",
            "15:01:59",
            "2026-11-23 15:01",
            "2019年10月1日 15:01",
            "2019年10月1日15:01",
            "10月1日",
            "2026-11-23~2026-11-30",
            "9:00~18:00",
        ] {
            assert_eq!(rule("time1", ok), None, "{ok}");
            assert_eq!(rule("date2", ok), None, "{ok}");
        }
        for bad in [
            "tomorrow",
            "2026-13-01",
            "24:00",
            "15:1",
            "2026-11-23～2026-11-30",
            "下午3点",
            "2026-11-23 25:00",
            "1~2~3",
        ] {
            assert_eq!(rule("time1", bad), Some("time/date"), "{bad}");
        }
    }

    #[test]
    fn amount_formats() {
        for ok in ["89.00", "¥89.00", "￥1289", "39.8元", "$1234567890", "¥1234567890.99元"] {
            assert_eq!(rule("amount2", ok), None, "{ok}");
        }
        for bad in ["12345678901", "¥¥8", "八十元", "-5", "8.5.1"] {
            assert_eq!(rule("amount2", bad), Some("amount"), "{bad}");
        }
    }

    #[test]
    fn unknown_prefixes_have_no_extra_rule() {
        assert_eq!(rule("keyword1", &"x".repeat(100)), None);
    }
}
