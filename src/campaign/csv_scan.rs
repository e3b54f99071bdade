//! Reading CSV records out of the file's own buffer: each record's unescaped fields are copied
//! back into the same buffer, behind the reading position, so a whole list is held once (the
//! text) rather than twice (the text and a copy of its fields).

/// Reads records from `buf` and compacts the fields that are kept into its front.
pub(crate) struct Compactor {
    buf: Vec<u8>,
    read: usize,
    write: usize,
    core: csv_core::Reader,
    rec: Vec<u8>,
    rec_len: usize,
    ends: Vec<usize>,
    ends_len: usize,
    newlines: u64,
    done: bool,
}

impl Compactor {
    /// Records of `buf` from byte `start` on (after a byte order mark), split at `delimiter`.
    pub(crate) fn new(buf: Vec<u8>, start: usize, delimiter: u8) -> Self {
        Self {
            buf,
            read: start,
            write: 0,
            core: csv_core::ReaderBuilder::new().delimiter(delimiter).build(),
            rec: vec![0; 1024],
            rec_len: 0,
            ends: vec![0; 32],
            ends_len: 0,
            newlines: 0,
            done: false,
        }
    }

    /// Read the next record; its 1-based line, or `None` at the end of the text. Blank lines
    /// between records are skipped (and counted).
    pub(crate) fn next_record(&mut self) -> Option<u64> {
        if self.done {
            return None;
        }
        while self.read < self.buf.len() && matches!(self.buf[self.read], b'\r' | b'\n') {
            self.newlines += u64::from(self.buf[self.read] == b'\n');
            self.read += 1;
        }
        let line = self.newlines + 1;
        let start = self.read;
        self.rec_len = 0;
        self.ends_len = 0;
        loop {
            let input = &self.buf[self.read..];
            let (result, nin, nout, nend) =
                self.core.read_record(input, &mut self.rec[self.rec_len..], &mut self.ends[self.ends_len..]);
            self.read += nin;
            self.rec_len += nout;
            self.ends_len += nend;
            match result {
                csv_core::ReadRecordResult::InputEmpty => {}
                csv_core::ReadRecordResult::OutputFull => self.rec.resize(self.rec.len() * 2, 0),
                csv_core::ReadRecordResult::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                csv_core::ReadRecordResult::Record => break,
                csv_core::ReadRecordResult::End => {
                    self.done = true;
                    return None;
                }
            }
        }
        // Counted now: the bytes read may be overwritten by the next kept record.
        self.newlines += self.buf[start..self.read].iter().filter(|&&b| b == b'\n').count() as u64;
        Some(line)
    }

    /// Fields of the current record.
    pub(crate) fn len(&self) -> usize {
        self.ends_len
    }

    /// Field `i` of the current record.
    pub(crate) fn field(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.rec[start..self.ends[i]]
    }

    /// The fields of the current record.
    pub(crate) fn fields(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.ends_len).map(move |i| self.field(i))
    }

    /// Keep the current record: its fields are copied to the front of the buffer and their end
    /// offsets (in the kept text) pushed to `ends`. `false` if the kept text passed 4 GiB.
    pub(crate) fn keep(&mut self, ends: &mut Vec<u32>) -> bool {
        // Unescaping never lengthens a record, so the copy lands behind the reading position.
        debug_assert!(self.write + self.rec_len <= self.read);
        self.buf[self.write..self.write + self.rec_len].copy_from_slice(&self.rec[..self.rec_len]);
        for i in 0..self.ends_len {
            let Ok(end) = u32::try_from(self.write + self.ends[i]) else {
                return false;
            };
            ends.push(end);
        }
        self.write += self.rec_len;
        true
    }

    /// The kept fields, one after the other.
    pub(crate) fn into_kept(mut self) -> Vec<u8> {
        self.buf.truncate(self.write);
        self.buf.shrink_to_fit();
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_csv_crate(text: &str) -> Vec<Vec<String>> {
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
        reader
            .byte_records()
            .map(|r| r.unwrap().iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect())
            .collect()
    }

    fn compacted(text: &str) -> (Vec<Vec<String>>, Vec<u64>) {
        let mut c = Compactor::new(text.as_bytes().to_vec(), 0, b',');
        let mut ends = Vec::new();
        let mut lines = Vec::new();
        let mut rows = Vec::new();
        while let Some(line) = c.next_record() {
            lines.push(line);
            rows.push(c.fields().map(|f| String::from_utf8_lossy(f).into_owned()).collect::<Vec<_>>());
            assert!(c.keep(&mut ends));
        }
        let kept = c.into_kept();
        let mut start = 0;
        let flat: Vec<String> = ends
            .iter()
            .map(|&e| {
                let s = String::from_utf8_lossy(&kept[start..e as usize]).into_owned();
                start = e as usize;
                s
            })
            .collect();
        assert_eq!(flat, rows.concat(), "the kept text holds every field in order");
        (rows, lines)
    }

    #[test]
    fn same_records_as_the_csv_crate_and_kept_in_place() {
        for text in [
            "a,b,c\n1,2,3\n",
            "a,b\r\n\r\n\"x,\"\"y\"\"\",2\r\n3\n",
            "h\n\"multi\nline\",z\n\n\nlast",
            "\u{feff}openid,名字\no1,\"张三\"\"\"\n",
            "",
            "\n\n",
            "a,,\n,,\n",
        ] {
            assert_eq!(compacted(text).0, with_csv_crate(text), "{text:?}");
        }
    }

    #[test]
    fn lines_count_blank_lines_and_newlines_inside_quotes() {
        let (_, lines) = compacted("h\n\n\"a\nb\",1\r\n\r\nc,2\n");
        assert_eq!(lines, vec![1, 3, 6]);
    }
}
