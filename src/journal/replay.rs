//! Reading a journal back: its header and the state of every row, streamed line by line.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use super::{JournalError, Line, Replay, RowRecord};

/// Read a journal: its header line and the state of each of `rows` rows.
pub fn replay_file(path: &Path, rows: usize) -> Result<(Option<Line>, Replay), JournalError> {
    let io = |source| JournalError::Io { path: path.to_path_buf(), source };
    let file = File::open(path).map_err(io)?;
    let mut replay = Replay { rows: vec![RowRecord::Pending; rows], runs: 0 };
    let mut header = None;
    // Read line by line: a journal of a million rows is never held in memory at once.
    let mut bad: Option<(usize, String)> = None;
    for (i, text) in BufReader::new(file).lines().enumerate() {
        let text = text.map_err(io)?;
        if text.trim().is_empty() {
            continue;
        }
        // A crash can cut the very last line short; a bad line with more after it is damage.
        if let Some((line, detail)) = bad.take() {
            return Err(JournalError::Corrupt { path: path.to_path_buf(), line, detail });
        }
        match serde_json::from_str::<Line>(&text) {
            Ok(line) if i == 0 => header = Some(line),
            Ok(line) => replay.apply(&line),
            Err(e) => bad = Some((i + 1, e.to_string())),
        }
    }
    Ok((header, replay))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_last_line_is_tolerated_but_damage_inside_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let good = [
            r#"{"t":"header","version":1,"campaign":"c","campaign_fp":"a","csv":"r.csv","csv_fp":"b","rows":2,"created":0}"#,
            r#"{"t":"dispatch","row":0,"attempt":1}"#,
            r#"{"t":"ok","row":0,"attempt":1,"msgid":"7"}"#,
        ]
        .join("\n");
        std::fs::write(&path, format!("{good}\n{{\"t\":\"dispa")).unwrap();
        let (header, replay) = replay_file(&path, 2).unwrap();
        assert!(matches!(header, Some(Line::Header { rows: 2, .. })));
        assert_eq!(replay.rows[0], RowRecord::Delivered { attempts: 1 });
        std::fs::write(&path, format!("{good}\n{{\"t\":\"dispa\n{}\n", r#"{"t":"dispatch","row":1,"attempt":1}"#))
            .unwrap();
        let e = replay_file(&path, 2).unwrap_err().to_string();
        assert!(e.contains("journal.jsonl:4: the journal is damaged"), "{e}");
    }
}
