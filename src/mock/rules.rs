//! The mock's own judgement of a request, written from WECHAT-API.md's tables and kept apart from
//! the sender's validators on purpose: a bug in wxsend's checks must show up as a refusal here,
//! not be shared by the judge. Deliberately written differently (a table of character classes
//! and limits) so that one mistake cannot be copied into both.

/// A class of characters a subscribe value may be made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chars {
    /// Anything printable.
    Any,
    /// 0-9 with at most one `.` between digits.
    Decimal,
    /// A-Z, a-z.
    Letters,
    /// ASCII punctuation.
    Symbols,
    /// ASCII letters, digits and punctuation (no Chinese, no spaces).
    AsciiGraphic,
    /// Digits and ASCII punctuation.
    DigitsAndSymbols,
    /// CJK ideographs.
    Chinese,
}

/// One row of WECHAT-API.md's subscribe table that is a plain limit on length and characters.
struct Limit {
    prefix: &'static str,
    max: usize,
    chars: Chars,
}

const LIMITS: &[Limit] = &[
    Limit { prefix: "thing", max: 20, chars: Chars::Any },
    Limit { prefix: "number", max: 32, chars: Chars::Decimal },
    Limit { prefix: "letter", max: 32, chars: Chars::Letters },
    Limit { prefix: "symbol", max: 5, chars: Chars::Symbols },
    Limit { prefix: "character_string", max: 32, chars: Chars::AsciiGraphic },
    Limit { prefix: "phone_number", max: 17, chars: Chars::DigitsAndSymbols },
    Limit { prefix: "phrase", max: 5, chars: Chars::Chinese },
];

fn cjk(c: char) -> bool {
    let u = c as u32;
    (0x4E00..=0x9FFF).contains(&u)
        || (0x3400..=0x4DBF).contains(&u)
        || (0xF900..=0xFAFF).contains(&u)
        || (0x20000..=0x2EBEF).contains(&u)
}

fn made_of(value: &str, chars: Chars) -> bool {
    match chars {
        Chars::Any => true,
        Chars::Letters => value.bytes().all(|b| b.is_ascii_alphabetic()) && value.is_ascii(),
        Chars::Symbols => value.is_ascii() && value.bytes().all(|b| b.is_ascii_punctuation()),
        Chars::AsciiGraphic => value.is_ascii() && value.bytes().all(|b| b.is_ascii_graphic()),
        Chars::DigitsAndSymbols => {
            value.is_ascii() && value.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_punctuation())
        }
        Chars::Chinese => value.chars().all(cjk),
        Chars::Decimal => {
            let mut parts = value.splitn(2, '.');
            let whole = parts.next().unwrap_or("");
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            digits(whole) && parts.next().is_none_or(digits)
        }
    }
}

/// The type of a subscribe key: its name without the trailing number (`thing12` → `thing`).
fn key_type(key: &str) -> &str {
    let end = key.rfind(|c: char| !c.is_ascii_digit()).map_or(0, |i| i + 1);
    &key[..end]
}

/// Whether WeChat accepts `value` for the subscribe key `key` (unknown types: any value).
pub fn subscribe_value_ok(key: &str, value: &str) -> bool {
    if value.chars().any(char::is_control) {
        return false;
    }
    let n = value.chars().count();
    let t = key_type(key);
    if let Some(limit) = LIMITS.iter().find(|l| l.prefix == t) {
        return n <= limit.max && made_of(value, limit.chars);
    }
    match t {
        "car_number" => {
            let v: Vec<char> = value.chars().collect();
            v.len() <= 8
                && v.iter()
                    .enumerate()
                    .all(|(i, c)| c.is_ascii_alphanumeric() || (cjk(*c) && (i == 0 || i == v.len() - 1)))
        }
        // Mixed text counts as Chinese: 10 then; letters and symbols alone may take 20.
        "name" => {
            let western = value.chars().all(|c| c.is_ascii_alphabetic() || c.is_ascii_punctuation() || c == ' ');
            let known = value
                .chars()
                .all(|c| cjk(c) || c.is_ascii_alphabetic() || c.is_ascii_punctuation() || c == ' ' || c == '·');
            known && n <= if western { 20 } else { 10 }
        }
        "time" | "date" => {
            let mut parts = value.split('~');
            let first = parts.next().unwrap_or("");
            let second = parts.next();
            parts.next().is_none() && moment(first) && second.is_none_or(moment)
        }
        "amount" => amount(value),
        _ => true,
    }
}

/// `2019年10月1日`, `2018-01-01`, `2018/01/01`, each optionally followed by a 24-hour time; or a
/// time alone (`15:01`, `15:01:30`).
fn moment(s: &str) -> bool {
    let s = s.trim();
    let (date, time) = match s.find(' ') {
        Some(i) => (Some(&s[..i]), Some(s[i + 1..].trim())),
        None if s.contains(':') => (None, Some(s)),
        None => (Some(s), None),
    };
    date.is_none_or(calendar_day) && time.is_none_or(clock) && !s.is_empty()
}

fn calendar_day(s: &str) -> bool {
    let numbers: Vec<&str> = if let Some(rest) = s.strip_suffix('日') {
        rest.split(['年', '月']).collect()
    } else if s.contains('-') {
        s.split('-').collect()
    } else {
        s.split('/').collect()
    };
    let [y, m, d] = numbers[..] else { return false };
    let num = |t: &str, lo: u32, hi: u32| t.parse::<u32>().is_ok_and(|v| (lo..=hi).contains(&v));
    y.len() == 4 && num(y, 1, 9999) && num(m, 1, 12) && num(d, 1, 31)
}

fn clock(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    let num = |t: &str, hi: u32| t.len() <= 2 && t.parse::<u32>().is_ok_and(|v| v <= hi);
    match parts[..] {
        [h, m] => num(h, 23) && num(m, 59),
        [h, m, sec] => num(h, 23) && num(m, 59) && num(sec, 59),
        _ => false,
    }
}

/// One currency sign, at most 10 whole digits, decimals, an optional trailing `元`.
fn amount(s: &str) -> bool {
    let s = s.strip_suffix('元').unwrap_or(s);
    let s = match s.chars().next() {
        Some(c) if !c.is_ascii_digit() && !c.is_alphabetic() => &s[c.len_utf8()..],
        _ => s,
    };
    made_of(s, Chars::Decimal) && s.split('.').next().is_some_and(|whole| whole.len() <= 10)
}

/// Whether `openid` could be one: 16 to 64 characters of letters, digits, `-` and `_` (WeChat's
/// are 28); anything else WeChat answers with 40003.
pub fn openid_ok(openid: &str) -> bool {
    (16..=64).contains(&openid.len()) && openid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_of_wechat_api_md() {
        let cases: &[(&str, &str, bool)] = &[
            ("thing1", &"围".repeat(20), true),
            ("thing1", &"围".repeat(21), false),
            ("thing2", "line\nbreak", false),
            ("number3", "12.50", true),
            ("number3", "1.", false),
            ("number3", &"9".repeat(33), false),
            ("letter4", "abcXYZ", true),
            ("letter4", "abc1", false),
            ("symbol5", "!@#$%", true),
            ("symbol5", "!@#$%^", false),
            ("character_string6", "SF1234-56", true),
            ("character_string6", "单号1", false),
            ("phone_number7", "+86-138-0000", true),
            ("phone_number7", "138 0000", false),
            ("car_number8", "粤B12345", true),
            ("car_number8", "粤B1粤345", false),
            ("name9", "张三", true),
            ("name9", "张三李四王五赵六钱七孙", false),
            ("name9", &"a".repeat(20), true),
            ("phrase10", "已发货", true),
            ("phrase10", "shipped", false),
            ("date11", "2026-11-23", true),
            ("date11", "2026/11/23 15:01", true),
            ("date11", "2026年11月23日", true),
            ("time12", "15:01~16:30", true),
            ("date11", "tomorrow", false),
            ("date11", "2026-13-01", false),
            ("amount13", "¥89.00", true),
            ("amount13", "89.00元", true),
            ("amount13", "12345678901", false),
            ("unknownkind1", "anything", true),
        ];
        for (key, value, ok) in cases {
            assert_eq!(subscribe_value_ok(key, value), *ok, "{key} = {value:?}");
        }
    }

    #[test]
    fn openids() {
        assert!(openid_ok("oWx0000000000000000000000001"));
        assert!(!openid_ok("short"));
        assert!(!openid_ok("oWx 000000000000000000000001"));
        assert!(!openid_ok(&"o".repeat(65)));
    }
}
