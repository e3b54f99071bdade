//! Property tests of what wxsend reads back from its own state and from the operator's campaign
//! file: a journal cut at any byte or with garbage appended never panics and never reads as a
//! wrong state; any campaign text parses or is refused with a location, never a panic.

use std::path::Path;

use proptest::prelude::*;
use wxsend::campaign::config::CampaignConfig;
use wxsend::journal::{encode, read_journal, Category, Line, RowRecord};

const ROWS: usize = 6;

fn line() -> impl Strategy<Value = Line> {
    let row = 0..ROWS;
    prop_oneof![
        (row.clone(), 1..4u32).prop_map(|(row, attempt)| Line::Dispatch { row, attempt, who: None }),
        (row.clone(), 1..4u32, proptest::option::of("[0-9]{1,19}")).prop_map(|(row, attempt, msgid)| Line::Ok {
            row,
            attempt,
            msgid
        }),
        (row.clone(), 1..4u32, ".{0,40}").prop_map(|(row, attempt, errmsg)| Line::Retry {
            row,
            attempt,
            errcode: Some(-1),
            errmsg
        }),
        (row, 1..4u32, ".{0,40}").prop_map(|(row, attempt, errmsg)| Line::Failed {
            row,
            attempt,
            errcode: Some(43101),
            errmsg
        }),
    ]
}

fn header() -> Line {
    Line::Header {
        version: 2,
        campaign: "c".into(),
        campaign_fp: "a".into(),
        csv: "r.csv".into(),
        csv_fp: "b".into(),
        rows: ROWS,
        created: 0,
        list: None,
        kind: None,
        template: None,
        appid: None,
        mock: None,
    }
}

/// What the lines say, applied in memory: the truth a replay must match.
fn expected(lines: &[Line]) -> Vec<RowRecord> {
    let mut replay = wxsend::journal::Replay { rows: vec![RowRecord::Pending; ROWS], runs: 0 };
    for l in lines {
        replay.apply(l);
    }
    replay.rows
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_journal_cut_at_any_byte_reads_as_a_prefix_of_its_records(
        lines in proptest::collection::vec(line(), 0..30),
        cut in any::<prop::sample::Index>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut bytes = Vec::new();
        encode(&header(), &mut bytes);
        let mut ends = vec![bytes.len()];
        for l in &lines {
            encode(l, &mut bytes);
            ends.push(bytes.len());
        }
        let at = cut.index(bytes.len() + 1);
        std::fs::write(&path, &bytes[..at]).unwrap();
        let read = read_journal(&path, ROWS).unwrap();
        // Whole records up to the cut are read; a partial one is a torn tail, never data.
        let whole = ends.iter().filter(|&&e| e <= at).count();
        let prefix = &lines[..whole.saturating_sub(1)];
        let mut want = expected(prefix);
        if whole == 0 {
            // Cut inside the header: nothing is known yet.
            prop_assert!(read.replay.rows.iter().all(|r| *r == RowRecord::Pending));
            prop_assert_eq!(read.torn.map(|t| t.offset), (at > 0).then_some(0));
            return Ok(());
        }
        if let Some(t) = &read.torn {
            prop_assert_eq!(t.offset as usize, ends[whole - 1]);
            if let Some((row, attempt)) = t.dispatch {
                // A cut dispatch keeps its row unknown: it may have been sent.
                let cut_row = match lines[whole - 1] {
                    Line::Dispatch { row: r, .. } => Some(r),
                    _ => None,
                };
                prop_assert_eq!(cut_row, Some(row));
                if want[row] == RowRecord::Pending {
                    want[row] = RowRecord::Unknown { attempts: attempt };
                }
            }
        } else {
            prop_assert!(ends.contains(&at) || at == 0);
        }
        prop_assert_eq!(read.replay.rows, want);
    }

    #[test]
    fn garbage_after_a_journal_is_a_torn_tail_or_damage_never_a_wrong_state(
        lines in proptest::collection::vec(line(), 1..20),
        garbage in proptest::collection::vec(any::<u8>(), 1..80),
        more in proptest::collection::vec(line(), 0..3),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut bytes = Vec::new();
        encode(&header(), &mut bytes);
        for l in &lines {
            encode(l, &mut bytes);
        }
        bytes.extend_from_slice(&garbage);
        let tail_is_whole_lines = garbage.last() == Some(&b'\n');
        for l in &more {
            encode(l, &mut bytes);
        }
        std::fs::write(&path, &bytes).unwrap();
        match read_journal(&path, ROWS) {
            Ok(read) => {
                // Accepted only as the good records (plus, at most, a kept-unknown torn dispatch).
                let mut all = lines.clone();
                if more.is_empty() || tail_is_whole_lines {
                    let got: Vec<Category> = read.replay.rows.iter().map(RowRecord::category).collect();
                    let base: Vec<Category> = expected(&all).iter().map(RowRecord::category).collect();
                    all.extend(more.iter().cloned());
                    let full: Vec<Category> = expected(&all).iter().map(RowRecord::category).collect();
                    prop_assert!(
                        got.iter().zip(&base).zip(&full).all(|((g, b), f)| g == b || g == f || *g == Category::Unknown),
                        "{got:?} is neither {base:?} nor {full:?}"
                    );
                }
            }
            Err(e) => prop_assert!(e.to_string().contains("journal.jsonl:"), "{e}"),
        }
    }

    #[test]
    fn any_campaign_text_parses_or_is_refused_with_a_place(text in "[\\[\\]a-z_=\"{}.,\n 0-9:/-]{0,300}") {
        if let Err(e) = CampaignConfig::parse(Path::new("c.toml"), &text) {
            prop_assert!(e.to_string().starts_with("c.toml"), "{e}");
        }
    }
}
