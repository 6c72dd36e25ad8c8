//! Batch message bodies (spec 4.7): the concatenated entries a producer sends in one
//! SEND_BATCH_MESSAGE (Java, code 320) or SEND_MESSAGE with `batch=1` (cpp 1.2.3, code 10).
//!
//! Entry layout (big-endian): total size (= 20 + bodyLen + 2 + propsLen) | magic 0 |
//! body CRC 0 | flag | bodyLen | body | propsLen (i16) | properties. Decoding checks every
//! length against the remaining input and the declared total size; it never panics.
//! A compressed batch (cpp compresses the whole blob >= 4 KiB) must be inflated first.

use bytes::{BufMut, Bytes, BytesMut};
use std::fmt;

/// Bytes of an entry that are not body or properties.
pub const ENTRY_OVERHEAD: usize = 4 + 4 + 4 + 4 + 4 + 2;

/// One message of a batch.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct BatchEntry {
    /// User flag.
    pub flag: i32,
    pub body: Bytes,
    /// Property string (see [`crate::properties`]).
    pub properties: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchError {
    /// Entry `index` at byte `offset` is malformed.
    Malformed {
        index: usize,
        offset: usize,
        reason: String,
    },
    /// Encoding: the property string of entry `index` is longer than 32767 bytes.
    PropertiesTooLong { index: usize, len: usize },
    /// Encoding: the body of entry `index` is longer than `i32::MAX`.
    BodyTooLong { index: usize, len: usize },
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchError::Malformed {
                index,
                offset,
                reason,
            } => write!(f, "batch entry {index} at byte {offset}: {reason}"),
            BatchError::PropertiesTooLong { index, len } => write!(
                f,
                "batch entry {index}: properties of {len} bytes exceed 32767"
            ),
            BatchError::BodyTooLong { index, len } => {
                write!(f, "batch entry {index}: body of {len} bytes is too long")
            }
        }
    }
}

impl std::error::Error for BatchError {}

fn be_i32(b: &[u8], at: usize) -> Option<i32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(i32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn be_i16(b: &[u8], at: usize) -> Option<i16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(i16::from_be_bytes([s[0], s[1]]))
}

/// Splits a batch body into its entries. Bodies share `data`'s allocation. Properties are
/// decoded leniently as UTF-8 (invalid bytes replaced).
pub fn decode_batch(data: &Bytes) -> Result<Vec<BatchEntry>, BatchError> {
    let mut entries = Vec::new();
    let mut pos = 0usize;
    while pos < data.len() {
        let index = entries.len();
        let bad = |reason: &str| BatchError::Malformed {
            index,
            offset: pos,
            reason: reason.to_string(),
        };
        let rest = &data[pos..];
        let total = be_i32(rest, 0).ok_or_else(|| bad("truncated total size"))?;
        let total = usize::try_from(total).map_err(|_| bad("negative total size"))?;
        if total < ENTRY_OVERHEAD {
            return Err(bad("total size smaller than the fixed fields"));
        }
        if total > rest.len() {
            return Err(bad("total size exceeds the remaining data"));
        }
        let entry = &rest[..total];
        let flag = be_i32(entry, 12).ok_or_else(|| bad("truncated flag"))?;
        let body_len = be_i32(entry, 16).ok_or_else(|| bad("truncated body length"))?;
        let body_len = usize::try_from(body_len).map_err(|_| bad("negative body length"))?;
        let body_start = 20usize;
        let body_end = body_start
            .checked_add(body_len)
            .filter(|&e| e <= total)
            .ok_or_else(|| bad("body length exceeds the entry"))?;
        let props_len =
            be_i16(entry, body_end).ok_or_else(|| bad("truncated properties length"))?;
        let props_len =
            usize::try_from(props_len).map_err(|_| bad("negative properties length"))?;
        let props_start = body_end + 2;
        if props_start + props_len != total {
            return Err(bad("total size does not match body and properties lengths"));
        }
        entries.push(BatchEntry {
            flag,
            body: data.slice(pos + body_start..pos + body_end),
            properties: String::from_utf8_lossy(&entry[props_start..]).into_owned(),
        });
        pos += total;
    }
    Ok(entries)
}

/// Encodes entries in the batch layout.
pub fn encode_batch(entries: &[BatchEntry]) -> Result<Bytes, BatchError> {
    let mut size = 0usize;
    for (index, e) in entries.iter().enumerate() {
        if e.properties.len() > i16::MAX as usize {
            return Err(BatchError::PropertiesTooLong {
                index,
                len: e.properties.len(),
            });
        }
        let total = ENTRY_OVERHEAD + e.body.len() + e.properties.len();
        if i32::try_from(total).is_err() {
            return Err(BatchError::BodyTooLong {
                index,
                len: e.body.len(),
            });
        }
        size = size.saturating_add(total);
    }
    let mut out = BytesMut::with_capacity(size);
    for e in entries {
        let total = ENTRY_OVERHEAD + e.body.len() + e.properties.len();
        out.put_i32(total as i32);
        out.put_i32(0); // magic
        out.put_i32(0); // body CRC
        out.put_i32(e.flag);
        out.put_i32(e.body.len() as i32);
        out.put_slice(&e.body);
        out.put_i16(e.properties.len() as i16);
        out.put_slice(e.properties.as_bytes());
    }
    Ok(out.freeze())
}
