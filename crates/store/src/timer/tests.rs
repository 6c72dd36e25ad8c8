//! The timer log and wheel without a broker: linking, reading slots back in order, cutting
//! back to the checkpoint after a crash, rebuilding the wheel, dropping delivered files.

use super::*;

fn config(dir: &std::path::Path, entries_per_file: u64) -> TimerStoreConfig {
    TimerStoreConfig {
        dir: dir.to_path_buf(),
        entries_per_file,
        precision_ms: 1000,
        slot_count: 64,
    }
}

fn deliver_times(entries: &[TimerEntry]) -> Vec<i64> {
    entries.iter().map(|e| e.deliver_ms).collect()
}

#[test]
fn entries_come_back_by_slot_in_append_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = TimerStore::open(config(dir.path(), 4), 10_000).unwrap();
    assert_eq!(store.checkpoint().read_ms, 10_000);
    for (i, t) in [12_500, 11_000, 12_001, 11_999, 12_999, 13_000]
        .into_iter()
        .enumerate()
    {
        store.append(t, i as i64 * 100, 90).unwrap();
    }
    assert_eq!(
        deliver_times(&store.slot_entries(11_000).unwrap()),
        [11_000, 11_999]
    );
    assert_eq!(
        deliver_times(&store.slot_entries(12_000).unwrap()),
        [12_500, 12_001, 12_999]
    );
    assert_eq!(
        deliver_times(&store.slot_entries(13_000).unwrap()),
        [13_000]
    );
    assert!(store.slot_entries(14_000).unwrap().is_empty());
    // Six entries at four per file: two files.
    assert_eq!(store.log_file_count(), 2);
    assert_eq!(store.lowest_needed_commit_log_offset(), Some(0));
}

#[test]
fn a_slot_of_an_earlier_round_reads_as_empty() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = TimerStore::open(config(dir.path(), 16), 0).unwrap();
    store.append(5_000, 1, 1).unwrap();
    // 64 slots of 1 s: 69 s shares the slot of 5 s, one round later.
    assert!(store.slot_entries(69_000).unwrap().is_empty());
    store.append(69_000, 2, 1).unwrap();
    assert_eq!(
        deliver_times(&store.slot_entries(69_000).unwrap()),
        [69_000]
    );
    assert!(store.slot_entries(5_000).unwrap().is_empty());
}

#[test]
fn reopening_cuts_the_log_to_the_checkpoint_and_rebuilds_the_wheel() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = TimerStore::open(config(dir.path(), 3), 0).unwrap();
        store.append(2_100, 10, 1).unwrap();
        store.append(2_200, 20, 1).unwrap();
        store.append(3_300, 30, 1).unwrap();
        store.append(2_400, 40, 1).unwrap();
        store.commit(4, 0, vec![]).unwrap();
        // Appended after the checkpoint, as if the process died before the next commit.
        store.append(2_500, 50, 1).unwrap();
        store.append(2_600, 60, 1).unwrap();
        store.append(2_700, 70, 1).unwrap();
        store.sync().unwrap();
    }
    let mut store = TimerStore::open(config(dir.path(), 3), 99_000).unwrap();
    assert_eq!(store.checkpoint().enqueue_offset, 4);
    assert_eq!(store.checkpoint().read_ms, 0);
    assert_eq!(store.checkpoint().log_end, 4 * 32);
    assert_eq!(
        deliver_times(&store.slot_entries(2_000).unwrap()),
        [2_100, 2_200, 2_400]
    );
    assert_eq!(deliver_times(&store.slot_entries(3_000).unwrap()), [3_300]);
    // Appending again after the cut continues the chains.
    store.append(2_900, 80, 1).unwrap();
    assert_eq!(
        deliver_times(&store.slot_entries(2_000).unwrap()),
        [2_100, 2_200, 2_400, 2_900]
    );
}

#[test]
fn a_torn_entry_ends_the_log_and_slots_before_the_read_time_are_not_relinked() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = TimerStore::open(config(dir.path(), 8), 0).unwrap();
        store.append(1_500, 1, 1).unwrap();
        store.append(4_500, 2, 1).unwrap();
        store.append(4_600, 3, 1).unwrap();
        store.commit(3, 2_000, vec![]).unwrap();
    }
    // Damage the third entry's magic: the log ends before it even though the checkpoint
    // covers it (the caller then takes its queue in again from the checkpoint).
    let file = dir.path().join("log").join(format!("{:020}", 0));
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[2 * 32 + 31] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    let store = TimerStore::open(config(dir.path(), 8), 0).unwrap();
    assert_eq!(store.checkpoint().log_end, 2 * 32);
    assert!(
        store.slot_entries(1_000).unwrap().is_empty(),
        "delivered slot"
    );
    assert_eq!(deliver_times(&store.slot_entries(4_000).unwrap()), [4_500]);
}

#[test]
fn delivered_files_go_and_the_needed_commit_log_offset_follows() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = TimerStore::open(config(dir.path(), 2), 0).unwrap();
    store.append(1_000, 100, 1).unwrap();
    store.append(2_000, 200, 1).unwrap();
    store.append(9_000, 300, 1).unwrap();
    store.append(3_000, 400, 1).unwrap();
    store.append(4_000, 500, 1).unwrap();
    assert_eq!(store.log_file_count(), 3);
    store.commit(5, 5_000, vec![]).unwrap();
    // File 1 (1 s, 2 s) is delivered; file 2 holds 9 s, so it and what follows stay.
    assert_eq!(store.drop_delivered_files().unwrap(), 1);
    assert_eq!(store.lowest_needed_commit_log_offset(), Some(300));
    assert_eq!(deliver_times(&store.slot_entries(9_000).unwrap()), [9_000]);
    store.commit(5, 10_000, vec![]).unwrap();
    // The last file is the one appended to: it stays even when delivered.
    assert_eq!(store.drop_delivered_files().unwrap(), 1);
    assert_eq!(store.log_file_count(), 1);
    drop(store);
    let mut store = TimerStore::open(config(dir.path(), 2), 0).unwrap();
    assert_eq!(store.log_file_count(), 1);
    assert_eq!(store.checkpoint().log_end, 5 * 32);
    // Everything is delivered: the timer holds nothing back.
    assert_eq!(store.lowest_needed_commit_log_offset(), None);
}

#[test]
fn the_checkpoint_keeps_the_delivered_positions() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = TimerStore::open(config(dir.path(), 8), 0).unwrap();
        let a = store.append(1_100, 1, 1).unwrap();
        store.append(1_200, 2, 1).unwrap();
        store.commit(2, 1_000, vec![a.pos]).unwrap();
    }
    let store = TimerStore::open(config(dir.path(), 8), 0).unwrap();
    assert_eq!(store.checkpoint().delivered, vec![0]);
    assert_eq!(store.slot_entries(1_000).unwrap().len(), 2);
}

#[test]
fn many_entries_in_one_slot_stay_bounded_by_the_slot_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = TimerStore::open(config(dir.path(), 1000), 0).unwrap();
    for i in 0..5_000 {
        store.append(7_000 + i % 1000, i, 1).unwrap();
    }
    let entries = store.slot_entries(7_000).unwrap();
    assert_eq!(entries.len(), 5_000);
    assert!(entries.windows(2).all(|w| w[0].pos < w[1].pos));
    assert_eq!(store.log_file_count(), 5);
}

#[test]
fn the_needed_offset_is_the_first_entry_not_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = TimerStore::open(config(dir.path(), 64), 0).unwrap();
    store.append(1_000, 100, 1).unwrap();
    let late = store.append(9_000, 200, 1).unwrap();
    store.append(2_000, 300, 1).unwrap();
    assert_eq!(store.lowest_needed_commit_log_offset(), Some(100));
    // Read up to 5 s: the 1 s and 2 s entries are delivered, the 9 s one is not.
    store.commit(3, 5_000, vec![]).unwrap();
    assert_eq!(store.lowest_needed_commit_log_offset(), Some(200));
    // The 9 s entry delivered early is listed in the checkpoint: nothing is needed.
    store.commit(3, 5_000, vec![late.pos]).unwrap();
    assert_eq!(store.lowest_needed_commit_log_offset(), None);
    // A new entry is needed again, and only it.
    store.append(20_000, 400, 1).unwrap();
    assert_eq!(store.lowest_needed_commit_log_offset(), Some(400));
}
