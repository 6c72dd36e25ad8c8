//! The time wheel: one file of `slot_count` slots of 24 bytes (slot time 8, last entry
//! position 8, entry count 8) after a 16-byte header (magic 4, version 4, slot count 8). The
//! slot of a deliver time is `(deliver_ms / precision_ms) % slot_count`; a slot whose stored
//! slot time differs from the one asked for belongs to an earlier round and counts as empty.
//!
//! What must stay true: the wheel is derived data. It is recreated (sparse, zeroed) and
//! rebuilt from the timer log at every open, so nothing here is ever fsynced.

use super::log::{read_at, write_at};
use crate::error::StoreError;
use std::fs::{File, OpenOptions};
use std::path::Path;

const HEADER_SIZE: u64 = 16;
const SLOT_SIZE: u64 = 24;
const WHEEL_MAGIC: u32 = 0x5748_4C31;

/// One slot as stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Slot {
    pub slot_ms: i64,
    pub last_pos: i64,
    pub count: i64,
}

pub struct TimerWheel {
    file: File,
    slot_count: u64,
    precision_ms: i64,
}

impl TimerWheel {
    /// Creates the wheel file afresh (empty slots) at `path`.
    pub fn create(path: &Path, slot_count: u64, precision_ms: i64) -> Result<Self, StoreError> {
        let slot_count = slot_count.max(1);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        file.set_len(HEADER_SIZE + slot_count * SLOT_SIZE)?;
        let mut header = [0u8; HEADER_SIZE as usize];
        header[0..4].copy_from_slice(&WHEEL_MAGIC.to_be_bytes());
        header[4..8].copy_from_slice(&1u32.to_be_bytes());
        header[8..16].copy_from_slice(&slot_count.to_be_bytes());
        write_at(&file, &header, 0)?;
        Ok(TimerWheel {
            file,
            slot_count,
            precision_ms: precision_ms.max(1),
        })
    }

    /// The start of the slot time that `deliver_ms` falls in.
    pub fn slot_ms_of(&self, deliver_ms: i64) -> i64 {
        deliver_ms.div_euclid(self.precision_ms) * self.precision_ms
    }

    fn index_of(&self, slot_ms: i64) -> u64 {
        (slot_ms.div_euclid(self.precision_ms)).rem_euclid(self.slot_count as i64) as u64
    }

    /// The slot for `slot_ms`: empty when the stored one is of another round.
    pub fn get(&self, slot_ms: i64) -> Result<Slot, StoreError> {
        let mut buf = [0u8; SLOT_SIZE as usize];
        read_at(
            &self.file,
            &mut buf,
            HEADER_SIZE + self.index_of(slot_ms) * SLOT_SIZE,
        )?;
        let i64_at = |at: usize| i64::from_be_bytes(buf[at..at + 8].try_into().unwrap_or([0; 8]));
        let slot = Slot {
            slot_ms: i64_at(0),
            last_pos: i64_at(8),
            count: i64_at(16),
        };
        if slot.count > 0 && slot.slot_ms == slot_ms {
            Ok(slot)
        } else {
            Ok(Slot {
                slot_ms,
                last_pos: -1,
                count: 0,
            })
        }
    }

    pub fn put(&self, slot: Slot) -> Result<(), StoreError> {
        let mut buf = [0u8; SLOT_SIZE as usize];
        buf[0..8].copy_from_slice(&slot.slot_ms.to_be_bytes());
        buf[8..16].copy_from_slice(&slot.last_pos.to_be_bytes());
        buf[16..24].copy_from_slice(&slot.count.to_be_bytes());
        write_at(
            &self.file,
            &buf,
            HEADER_SIZE + self.index_of(slot.slot_ms) * SLOT_SIZE,
        )?;
        Ok(())
    }
}
