//! Read-path logic shared by [`crate::FileStore`] and [`crate::MemoryStore`], so both give the
//! same statuses, offsets and limits (spec 3.3, "Store status -> response code").

use crate::message_store::{GetRequest, GetResult, GetStatus, QueueEntry};
use bytes::Bytes;

/// Consume-queue entries one read scans at most (Java: max(16000 bytes, maxMsgNums * 20) of
/// consume queue, i.e. max(800, maxMsgNums) entries).
pub fn scan_limit(max_msgs: i32) -> i64 {
    (max_msgs.max(1) as i64).max(800)
}

fn empty(status: GetStatus, next: i64, min: i64, max: i64) -> GetResult {
    GetResult {
        status,
        next_begin_offset: next,
        min_offset: min,
        max_offset: max,
        messages: Vec::new(),
        queue_offsets: Vec::new(),
    }
}

/// The result for a queue that does not exist.
pub fn no_queue() -> GetResult {
    empty(GetStatus::NoMatchedLogicQueue, 0, 0, 0)
}

/// Reads per the request from a queue with bounds `[min, max)`. `entry(n)` gives entry `n`
/// (`None` = its consume-queue file is missing); `record(e)` gives the record an entry points
/// at (`None` = gone; the entry is then skipped).
pub fn get_messages(
    req: &GetRequest<'_>,
    filter: &dyn Fn(i64) -> bool,
    min: i64,
    max: i64,
    entry: impl Fn(i64) -> Option<QueueEntry>,
    record: impl Fn(&QueueEntry) -> Option<Bytes>,
) -> GetResult {
    let offset = req.offset;
    if max <= min && max == 0 {
        return empty(GetStatus::NoMessageInQueue, 0, min, max);
    }
    if offset < min {
        return empty(GetStatus::OffsetTooSmall, min, min, max);
    }
    if offset == max {
        return empty(GetStatus::OffsetOverflowOne, offset, min, max);
    }
    if offset > max {
        return empty(GetStatus::OffsetOverflowBadly, max, min, max);
    }
    let max_msgs = req.max_msgs.max(1) as usize;
    let scan_end = max.min(offset.saturating_add(scan_limit(req.max_msgs)));
    let mut messages = Vec::new();
    let mut queue_offsets = Vec::new();
    let mut bytes = 0usize;
    let mut next = offset;
    while next < scan_end && messages.len() < max_msgs {
        let Some(e) = entry(next) else {
            if messages.is_empty() {
                return empty(GetStatus::OffsetFoundNull, next + 1, min, max);
            }
            break;
        };
        if filter(e.tags_code) {
            if let Some(r) = record(&e) {
                if !messages.is_empty() && bytes + r.len() > req.max_bytes {
                    break;
                }
                bytes += r.len();
                messages.push(r);
                queue_offsets.push(next);
            }
        }
        next += 1;
    }
    let status = if messages.is_empty() {
        GetStatus::NoMatchedMessage
    } else {
        GetStatus::Found
    };
    GetResult {
        status,
        next_begin_offset: next,
        min_offset: min,
        max_offset: max,
        messages,
        queue_offsets,
    }
}

/// Offset search by store time over `[min, max)`; `ts(n)` is the store time of entry `n`
/// (non-decreasing in `n`; the store guarantees that). LOWER: first offset with time >=
/// `timestamp`, `max` if none. UPPER: last offset with time <= `timestamp`, `min` if none.
pub fn offset_by_time(
    min: i64,
    max: i64,
    timestamp: i64,
    upper: bool,
    ts: impl Fn(i64) -> Option<i64>,
) -> i64 {
    if max <= min {
        return max.max(0);
    }
    // Partition point: first n in [min, max) with pred(n) true, where pred is monotone.
    // An unreadable entry counts as "later" so the search still terminates.
    let first_where = |pred: &dyn Fn(i64) -> bool| {
        let (mut lo, mut hi) = (min, max);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if pred(mid) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo
    };
    if upper {
        let first_after = first_where(&|n| ts(n).is_none_or(|t| t > timestamp));
        if first_after == min {
            min
        } else {
            first_after - 1
        }
    } else {
        first_where(&|n| ts(n).is_none_or(|t| t >= timestamp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: i64) -> QueueEntry {
        QueueEntry {
            commit_log_offset: n * 100,
            size: 100,
            tags_code: n % 2,
        }
    }

    fn req(offset: i64, max_msgs: i32) -> GetRequest<'static> {
        GetRequest {
            topic: "T",
            queue_id: 0,
            offset,
            max_msgs,
            max_bytes: usize::MAX,
        }
    }

    #[test]
    fn empty_queue_and_missing_file() {
        let r = get_messages(&req(3, 8), &|_| true, 0, 0, |_| None, |_| None);
        assert_eq!(r.status, GetStatus::NoMessageInQueue);
        assert_eq!(r.next_begin_offset, 0);
        // Entry 2's file is missing: nothing before it was taken, so OFFSET_FOUND_NULL.
        let r = get_messages(
            &req(2, 8),
            &|_| true,
            0,
            10,
            |n| (n != 2).then(|| entry(n)),
            |_| Some(Bytes::from_static(b"r")),
        );
        assert_eq!(r.status, GetStatus::OffsetFoundNull);
        assert_eq!(r.next_begin_offset, 3);
        // Missing record: the entry is skipped, the offset advances.
        let r = get_messages(
            &req(0, 8),
            &|_| true,
            0,
            4,
            |n| Some(entry(n)),
            |e| (e.commit_log_offset != 100).then(|| Bytes::from_static(b"r")),
        );
        assert_eq!(r.status, GetStatus::Found);
        assert_eq!(r.queue_offsets, vec![0, 2, 3]);
        assert_eq!(r.next_begin_offset, 4);
    }

    #[test]
    fn scan_limit_follows_java() {
        assert_eq!(scan_limit(32), 800);
        assert_eq!(scan_limit(0), 800);
        assert_eq!(scan_limit(5000), 5000);
    }

    #[test]
    fn time_search_bounds() {
        let ts = [10, 10, 20, 30, 30, 30, 40];
        let f = |n: i64| ts.get(n as usize).copied();
        assert_eq!(offset_by_time(0, 7, 10, false, f), 0);
        assert_eq!(offset_by_time(0, 7, 11, false, f), 2);
        assert_eq!(offset_by_time(0, 7, 30, false, f), 3);
        assert_eq!(offset_by_time(0, 7, 41, false, f), 7);
        assert_eq!(offset_by_time(0, 7, 30, true, f), 5);
        assert_eq!(offset_by_time(0, 7, 35, true, f), 5);
        assert_eq!(offset_by_time(0, 7, 9, true, f), 0);
        assert_eq!(offset_by_time(0, 7, 100, true, f), 6);
        assert_eq!(offset_by_time(0, 0, 5, false, f), 0);
    }
}
