//! The two records every message writes (`dispatch` and `ok`), encoded and decoded without
//! serde. The bytes are exactly serde's (the tests compare both on every shape); anything that
//! is not in the one canonical form read here falls back to serde, so the fast path decides
//! nothing on its own.

use super::Line;

const DISPATCH: &[u8] = br#"{"t":"dispatch","row":"#;
const OK: &[u8] = br#"{"t":"ok","row":"#;
const ATTEMPT: &[u8] = br#","attempt":"#;
const MSGID: &[u8] = br#","msgid":""#;

/// Append the JSON of a `dispatch` or `ok` line to `out`; `false` (nothing written) for other
/// lines and for a msgid that is not plain digits (serde writes those).
pub(super) fn encode(line: &Line, out: &mut Vec<u8>) -> bool {
    let mut n = itoa::Buffer::new();
    match line {
        Line::Dispatch { row, attempt } => {
            out.extend_from_slice(DISPATCH);
            out.extend_from_slice(n.format(*row).as_bytes());
            out.extend_from_slice(ATTEMPT);
            out.extend_from_slice(n.format(*attempt).as_bytes());
            out.push(b'}');
            true
        }
        Line::Ok { row, attempt, msgid } => {
            if msgid.as_deref().is_some_and(|m| !m.bytes().all(|b| b.is_ascii_digit())) {
                return false;
            }
            out.extend_from_slice(OK);
            out.extend_from_slice(n.format(*row).as_bytes());
            out.extend_from_slice(ATTEMPT);
            out.extend_from_slice(n.format(*attempt).as_bytes());
            if let Some(m) = msgid {
                out.extend_from_slice(MSGID);
                out.extend_from_slice(m.as_bytes());
                out.push(b'"');
            }
            out.push(b'}');
            true
        }
        _ => false,
    }
}

/// Read a `dispatch` or `ok` line in the form [`encode`] writes; `None` for anything else
/// (serde reads it then, and judges it).
pub(super) fn decode(json: &[u8]) -> Option<Line> {
    if let Some(rest) = json.strip_prefix(DISPATCH) {
        let (row, rest) = number(rest)?;
        let (attempt, rest) = number(rest.strip_prefix(ATTEMPT)?)?;
        let attempt = u32::try_from(attempt).ok()?;
        return (rest == b"}").then_some(Line::Dispatch { row, attempt });
    }
    let rest = json.strip_prefix(OK)?;
    let (row, rest) = number(rest)?;
    let (attempt, rest) = number(rest.strip_prefix(ATTEMPT)?)?;
    let attempt = u32::try_from(attempt).ok()?;
    if rest == b"}" {
        return Some(Line::Ok { row, attempt, msgid: None });
    }
    let id = rest.strip_prefix(MSGID)?.strip_suffix(b"\"}")?;
    if !id.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Digits only: valid UTF-8.
    let msgid = String::from_utf8(id.to_vec()).ok()?;
    Some(Line::Ok { row, attempt, msgid: Some(msgid) })
}

/// A JSON integer at the start of `text` (no sign, no leading zero, no overflow), and the rest.
fn number(text: &[u8]) -> Option<(usize, &[u8])> {
    let digits = text.iter().take_while(|b| b.is_ascii_digit()).count();
    let (num, rest) = text.split_at(digits);
    if num.is_empty() || (num.len() > 1 && num[0] == b'0') {
        return None;
    }
    let mut value = 0usize;
    for &d in num {
        value = value.checked_mul(10)?.checked_add(usize::from(d - b'0'))?;
    }
    Some((value, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn serde_json_of(line: &Line) -> Vec<u8> {
        serde_json::to_vec(line).unwrap()
    }

    proptest! {
        /// The fast bytes are serde's bytes, and read back to the same line by both readers.
        #[test]
        fn the_fast_path_writes_and_reads_what_serde_does(
            row in any::<usize>(),
            attempt in any::<u32>(),
            msgid in proptest::option::of("[0-9]{0,20}|[0-9a-z\"\\\\]{1,8}"),
            ok in any::<bool>(),
        ) {
            let line = if ok { Line::Ok { row, attempt, msgid } } else { Line::Dispatch { row, attempt } };
            let mut fast = Vec::new();
            if encode(&line, &mut fast) {
                prop_assert_eq!(&fast, &serde_json_of(&line));
                prop_assert_eq!(decode(&fast), Some(line.clone()));
            } else {
                prop_assert!(fast.is_empty());
            }
            let slow = serde_json_of(&line);
            if let Some(read) = decode(&slow) {
                prop_assert_eq!(read, line);
            }
        }
    }

    #[test]
    fn anything_not_canonical_is_left_to_serde() {
        for text in [
            &br#"{"t":"dispatch","row":01,"attempt":1}"#[..],
            br#"{"t":"dispatch","row":1,"attempt":1,"x":2}"#,
            br#"{"t":"dispatch","row":1,"attempt":4294967296}"#,
            br#"{"t":"dispatch","row":99999999999999999999999,"attempt":1}"#,
            br#"{"t":"dispatch", "row":1,"attempt":1}"#,
            br#"{"t":"ok","row":1,"attempt":1,"msgid":"1\u0030"}"#,
            br#"{"t":"ok","row":1,"attempt":1,"msgid":12}"#,
            br#"{"t":"ok","row":-1,"attempt":1}"#,
            br#"{"t":"failed","row":1,"attempt":1,"errmsg":"x"}"#,
        ] {
            assert_eq!(decode(text), None, "{}", String::from_utf8_lossy(text));
        }
        assert!(!encode(&Line::End { at: 1, reason: "x".into() }, &mut Vec::new()));
    }
}
