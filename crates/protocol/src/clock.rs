//! The wall clock as the protocol writes it: milliseconds since the Unix epoch.
//!
//! Timestamps on the wire and in stored records (born, store, delivery times, the time part
//! of a unique message id) are all this number. Reading the clock is not I/O, so it belongs
//! here rather than in a crate with a runtime. A clock set before 1970 reads as 0.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_millis_is_after_2020_and_does_not_go_far_back() {
        let a = now_millis();
        let b = now_millis();
        // 2020-01-01T00:00:00Z
        assert!(a > 1_577_836_800_000, "{a}");
        assert!(b >= a - 1_000, "{a} then {b}");
    }
}
