//! The POP journal: every change of [`PopState`] as one text line appended to
//! `<store>/pop/journal`, replayed at start and compacted into a snapshot of the live state.
//!
//! Lines (fields separated by one space; names never hold spaces, they are validated first):
//! - `P group topic queue popTime invisibleTime order next o1,o2,... attempt`: a delivery
//!   (the cursor after it and the orderly attempt id; `-` when absent);
//! - `T group topic queue attempt`: the orderly attempt id (snapshots only);
//! - `N group topic queue next`: the cursor alone;
//! - `A group topic queue offset`: an entry removed (acked, or revived into the retry topic);
//! - `R group topic queue o1,o2,...`: several entries of one queue removed at once (a batch
//!   ack: one line for the whole batch);
//! - `C group topic queue offset popTime invisibleTime`: an invisible-time change;
//! - `I group topic queue offset popTime invisibleTime order count`: one live entry
//!   (snapshots only).
//!
//! What must stay true:
//! - a line is applied only when it is complete (ends in `\n`): a write torn by a crash is
//!   the last line and is dropped, which loses only a change that was never answered;
//! - replaying the journal gives the state the broker had when it wrote the last line;
//! - compaction writes the snapshot to a temporary file, fsyncs it, renames it over the
//!   journal and fsyncs the directory, so a crash leaves either the old or the new journal.

use super::state::{InFlight, PopKey, PopState};
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One change of the POP state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    Pop {
        key: PopKey,
        offsets: Vec<i64>,
        pop_time: i64,
        invisible_time: i64,
        order: bool,
        next: Option<i64>,
        /// Orderly POP's attempt id (never holds a space: see [`attempt_field`]).
        attempt: Option<String>,
    },
    Attempt {
        key: PopKey,
        attempt: String,
    },
    Cursor {
        key: PopKey,
        next: i64,
    },
    Remove {
        key: PopKey,
        offset: i64,
    },
    RemoveMany {
        key: PopKey,
        offsets: Vec<i64>,
    },
    Change {
        key: PopKey,
        offset: i64,
        pop_time: i64,
        invisible_time: i64,
    },
    Entry {
        key: PopKey,
        offset: i64,
        entry: InFlight,
    },
}

/// An attempt id as the journal can hold it: ids with whitespace (never sent by Java's
/// clients, which use UUIDs) are not kept.
pub fn attempt_field(attempt: Option<&str>) -> Option<String> {
    attempt
        .filter(|a| !a.is_empty() && a != &"-" && !a.chars().any(char::is_whitespace))
        .map(str::to_string)
}

fn write_key(out: &mut String, tag: char, k: &PopKey) {
    out.push(tag);
    out.push(' ');
    out.push_str(&k.group);
    out.push(' ');
    out.push_str(&k.topic);
    let _ = write!(out, " {}", k.queue_id);
}

fn write_offsets(out: &mut String, offsets: &[i64]) {
    if offsets.is_empty() {
        out.push('-');
    }
    for (i, o) in offsets.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{o}");
    }
}

impl Record {
    /// The line, with its `\n`.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        self.encode_into(&mut out);
        out
    }

    /// Appends the line, with its `\n`, to `out` (one buffer for many records).
    pub fn encode_into(&self, out: &mut String) {
        match self {
            Record::Pop {
                key,
                offsets,
                pop_time,
                invisible_time,
                order,
                next,
                attempt,
            } => {
                write_key(out, 'P', key);
                let _ = write!(out, " {pop_time} {invisible_time} {} ", u8::from(*order));
                match next {
                    Some(n) => {
                        let _ = write!(out, "{n}");
                    }
                    None => out.push('-'),
                }
                out.push(' ');
                write_offsets(out, offsets);
                out.push(' ');
                out.push_str(attempt.as_deref().unwrap_or("-"));
            }
            Record::Attempt { key, attempt } => {
                write_key(out, 'T', key);
                out.push(' ');
                out.push_str(attempt);
            }
            Record::Cursor { key, next } => {
                write_key(out, 'N', key);
                let _ = write!(out, " {next}");
            }
            Record::Remove { key, offset } => {
                write_key(out, 'A', key);
                let _ = write!(out, " {offset}");
            }
            Record::RemoveMany { key, offsets } => {
                write_key(out, 'R', key);
                out.push(' ');
                write_offsets(out, offsets);
            }
            Record::Change {
                key,
                offset,
                pop_time,
                invisible_time,
            } => {
                write_key(out, 'C', key);
                let _ = write!(out, " {offset} {pop_time} {invisible_time}");
            }
            Record::Entry { key, offset, entry } => {
                write_key(out, 'I', key);
                let _ = write!(
                    out,
                    " {offset} {} {} {} {}",
                    entry.pop_time,
                    entry.invisible_time,
                    u8::from(entry.order),
                    entry.count
                );
            }
        }
        out.push('\n');
    }

    /// Parses one line (without its `\n`); `None` if it is not a record.
    pub fn parse(line: &str) -> Option<Record> {
        let f: Vec<&str> = line.split(' ').collect();
        let key = |f: &[&str]| -> Option<PopKey> {
            Some(PopKey {
                group: f.get(1)?.to_string(),
                topic: f.get(2)?.to_string(),
                queue_id: f.get(3)?.parse().ok()?,
            })
        };
        let n = |i: usize| -> Option<i64> { f.get(i)?.parse().ok() };
        let record = match (f.first()?, f.len()) {
            (&"P", 10) => Record::Pop {
                key: key(&f)?,
                pop_time: n(4)?,
                invisible_time: n(5)?,
                order: f[6] == "1",
                next: if f[7] == "-" { None } else { Some(n(7)?) },
                offsets: if f[8] == "-" {
                    Vec::new()
                } else {
                    f[8].split(',')
                        .map(|o| o.parse().ok())
                        .collect::<Option<Vec<i64>>>()?
                },
                attempt: attempt_field(Some(f[9])),
            },
            (&"T", 5) => Record::Attempt {
                key: key(&f)?,
                attempt: attempt_field(Some(f[4]))?,
            },
            (&"N", 5) => Record::Cursor {
                key: key(&f)?,
                next: n(4)?,
            },
            (&"A", 5) => Record::Remove {
                key: key(&f)?,
                offset: n(4)?,
            },
            (&"R", 5) => Record::RemoveMany {
                key: key(&f)?,
                offsets: if f[4] == "-" {
                    Vec::new()
                } else {
                    f[4].split(',')
                        .map(|o| o.parse().ok())
                        .collect::<Option<Vec<i64>>>()?
                },
            },
            (&"C", 7) => Record::Change {
                key: key(&f)?,
                offset: n(4)?,
                pop_time: n(5)?,
                invisible_time: n(6)?,
            },
            (&"I", 9) => Record::Entry {
                key: key(&f)?,
                offset: n(4)?,
                entry: InFlight {
                    pop_time: n(5)?,
                    invisible_time: n(6)?,
                    order: f[7] == "1",
                    count: f[8].parse().ok()?,
                },
            },
            _ => return None,
        };
        Some(record)
    }

    /// Applies the change to `state`.
    pub fn apply(&self, state: &mut PopState) {
        match self {
            Record::Pop {
                key,
                offsets,
                pop_time,
                invisible_time,
                order,
                next,
                attempt,
            } => {
                state.record_pop(
                    key,
                    offsets,
                    *pop_time,
                    *invisible_time,
                    *order,
                    attempt.as_deref(),
                );
                if let Some(n) = next {
                    state.advance(key, *n);
                }
            }
            Record::Attempt { key, attempt } => state.restore_attempt(key, attempt),
            Record::Cursor { key, next } => state.advance(key, *next),
            Record::Remove { key, offset } => {
                state.remove(key, *offset);
            }
            Record::RemoveMany { key, offsets } => {
                for offset in offsets {
                    state.remove(key, *offset);
                }
            }
            Record::Change {
                key,
                offset,
                pop_time,
                invisible_time,
            } => state.change(key, *offset, *pop_time, *invisible_time),
            Record::Entry { key, offset, entry } => state.restore(key, *offset, *entry),
        }
    }
}

/// The records that rebuild `state` from nothing.
pub fn snapshot(state: &PopState) -> Vec<Record> {
    let mut out = Vec::new();
    for (key, q) in state.queues() {
        if let Some(next) = q.cursor {
            out.push(Record::Cursor {
                key: key.clone(),
                next,
            });
        }
        if let Some(attempt) = &q.order_attempt {
            out.push(Record::Attempt {
                key: key.clone(),
                attempt: attempt.clone(),
            });
        }
        for (offset, entry) in &q.in_flight {
            out.push(Record::Entry {
                key: key.clone(),
                offset: *offset,
                entry: *entry,
            });
        }
    }
    out
}

/// The open journal file.
pub struct Journal {
    dir: PathBuf,
    file: Arc<File>,
    /// Lines written since the last compaction.
    lines: usize,
}

const JOURNAL: &str = "journal";
const JOURNAL_TMP: &str = "journal.tmp";

impl Journal {
    /// Opens (creating) `dir/journal`, replays it into a state and compacts it.
    pub fn open(dir: &Path) -> io::Result<(Journal, PopState)> {
        fs::create_dir_all(dir)?;
        let mut state = PopState::default();
        let path = dir.join(JOURNAL);
        if path.exists() {
            let mut reader = BufReader::new(File::open(&path)?);
            let mut line = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 {
                    break;
                }
                let Some(complete) = line.strip_suffix('\n') else {
                    tracing::warn!("dropping a torn last line of the POP journal");
                    break;
                };
                match Record::parse(complete) {
                    Some(r) => r.apply(&mut state),
                    None => tracing::warn!("skipping an unreadable POP journal line"),
                }
            }
        }
        let file = write_snapshot(dir, &state)?;
        let journal = Journal {
            dir: dir.to_path_buf(),
            file,
            lines: 0,
        };
        Ok((journal, state))
    }

    /// Appends records (not yet durable: see [`Self::sync_handle`]).
    pub fn append(&mut self, records: &[Record]) -> io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut text = String::with_capacity(64 * records.len());
        for r in records {
            r.encode_into(&mut text);
        }
        (&*self.file).write_all(text.as_bytes())?;
        self.lines += records.len();
        Ok(())
    }

    /// The file to fsync (outside any lock) to make every append so far durable.
    pub fn sync_handle(&self) -> Arc<File> {
        self.file.clone()
    }

    /// Lines written since the last compaction.
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// Replaces the journal by a snapshot of `state`.
    pub fn compact(&mut self, state: &PopState) -> io::Result<()> {
        self.file = write_snapshot(&self.dir, state)?;
        self.lines = 0;
        Ok(())
    }
}

/// Writes the snapshot of `state` as the new `dir/journal` (durably) and opens it to append.
fn write_snapshot(dir: &Path, state: &PopState) -> io::Result<Arc<File>> {
    let tmp = dir.join(JOURNAL_TMP);
    let text: String = snapshot(state).iter().map(Record::encode).collect();
    {
        let mut f = File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    fs::rename(&tmp, dir.join(JOURNAL))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    let file = OpenOptions::new().append(true).open(dir.join(JOURNAL))?;
    Ok(Arc::new(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PopKey {
        PopKey::new("G", "%RETRY%G_T", 0)
    }

    #[test]
    fn every_record_roundtrips() {
        let records = vec![
            Record::Pop {
                key: key(),
                offsets: vec![1, 2, 5],
                pop_time: 10,
                invisible_time: 20,
                order: true,
                next: Some(6),
                attempt: Some("8f0c-attempt".into()),
            },
            Record::Attempt {
                key: key(),
                attempt: "8f0c-attempt".into(),
            },
            Record::Pop {
                key: key(),
                offsets: vec![],
                pop_time: 10,
                invisible_time: 20,
                order: false,
                next: None,
                attempt: None,
            },
            Record::Cursor {
                key: key(),
                next: 9,
            },
            Record::Remove {
                key: key(),
                offset: 2,
            },
            Record::RemoveMany {
                key: key(),
                offsets: vec![3, 7, 8],
            },
            Record::Change {
                key: key(),
                offset: 1,
                pop_time: 11,
                invisible_time: 30,
            },
            Record::Entry {
                key: key(),
                offset: 4,
                entry: InFlight {
                    pop_time: 1,
                    invisible_time: 2,
                    order: false,
                    count: 3,
                },
            },
        ];
        for r in records {
            let line = r.encode();
            assert!(line.ends_with('\n'));
            assert_eq!(Record::parse(line.trim_end_matches('\n')), Some(r));
        }
        assert_eq!(Record::parse("P G T x 1 2 0 - 1 -"), None);
        assert_eq!(attempt_field(Some("a b")), None);
        assert_eq!(Record::parse("Z"), None);
        assert_eq!(Record::parse(""), None);
    }

    #[test]
    fn replay_after_reopen_and_a_torn_line_gives_the_written_state() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, mut state) = Journal::open(dir.path()).unwrap();
        let records = [
            Record::Pop {
                key: key(),
                offsets: vec![0, 1, 2, 3, 4],
                pop_time: 100,
                invisible_time: 50,
                order: false,
                next: Some(5),
                attempt: None,
            },
            Record::Remove {
                key: key(),
                offset: 1,
            },
            Record::RemoveMany {
                key: key(),
                offsets: vec![3, 4],
            },
            Record::Change {
                key: key(),
                offset: 2,
                pop_time: 120,
                invisible_time: 500,
            },
        ];
        for r in &records {
            r.apply(&mut state);
        }
        j.append(&records).unwrap();
        // A crash in the middle of a write leaves a torn last line.
        (&*j.sync_handle())
            .write_all(b"A G %RETRY%G_T 0 0")
            .unwrap();
        drop(j);
        let (j, replayed) = Journal::open(dir.path()).unwrap();
        assert_eq!(replayed.cursor(&key()), Some(5));
        let q = replayed.queue(&key()).unwrap();
        assert_eq!(q.in_flight.keys().copied().collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(q.in_flight[&2].pop_time, 120);
        assert_eq!(q, state.queue(&key()).unwrap());
        assert_eq!(j.lines(), 0, "opening compacts");
        drop(j);
        let (_, again) = Journal::open(dir.path()).unwrap();
        assert_eq!(again.queue(&key()), state.queue(&key()));
    }
}
