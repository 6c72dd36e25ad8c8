//! The text forms of the retention options, checked the same way for the `rocketmq-broker`
//! program and `LocalBroker`: `--file-reserved-time` (one duration with a unit, as the delay
//! levels take them: ms, s, m, h, d) and the disk ratios (percent of the store's file system
//! in use; 0 turns a watermark off, otherwise at least [`MIN_DISK_RATIO`]).
//!
//! What must stay true: every refusal says what is accepted, with an example.

use crate::broker::schedule::DelayLevels;
use std::time::Duration;

/// Lowest accepted disk ratio (Java clamps `diskMaxUsedSpaceRatio` to at least 10 as well): a
/// lower one would refuse sends or remove data on nearly every disk.
pub const MIN_DISK_RATIO: u8 = 10;

/// One duration such as `"72h"`, `"30s"` or `"500ms"`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let mut words = text.split_whitespace();
    if !matches!((words.next(), words.next()), (Some(_), None)) {
        return Err(format!(
            "{text:?} is not one duration: give a whole number and a unit (ms, s, m, h, d), e.g. \"72h\""
        ));
    }
    DelayLevels::parse(text)
        .map(|levels| levels.delay_of(1))
        .map_err(|e| format!("{text:?} is not a duration ({e}); e.g. \"72h\" or \"30s\""))
}

/// A disk ratio: `0` = off (`None`), else a percent from [`MIN_DISK_RATIO`] to 100.
pub fn disk_ratio(name: &str, percent: i64) -> Result<Option<u8>, String> {
    match percent {
        0 => Ok(None),
        p if (i64::from(MIN_DISK_RATIO)..=100).contains(&p) => Ok(Some(p as u8)),
        p => Err(format!(
            "{name} must be 0 (off) or a percent from {MIN_DISK_RATIO} to 100, not {p}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_ratios() {
        assert_eq!(
            parse_duration(crate::config::DEFAULT_FILE_RESERVED_TIME_TEXT),
            Ok(crate::config::DEFAULT_FILE_RESERVED_TIME)
        );
        assert_eq!(parse_duration(" 5s "), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("3d"), Ok(Duration::from_secs(3 * 86400)));
        for bad in ["", "72", "1h 2h", "h", "-1s", "1.5h"] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.contains("e.g."), "{bad:?}: {e}");
        }
        assert_eq!(disk_ratio("r", 0), Ok(None));
        assert_eq!(disk_ratio("r", 75), Ok(Some(75)));
        assert_eq!(disk_ratio("r", 100), Ok(Some(100)));
        for bad in [1, 9, 101, -5] {
            assert!(disk_ratio("--r", bad).unwrap_err().contains("--r"), "{bad}");
        }
    }
}
