//! Retention through the broker's front door: DELETE_EXPIRED_COMMITLOG and
//! CLEAN_EXPIRED_CONSUMEQUEUE answer SUCCESS and clean at once, a pull below the new minimum
//! is PULL_OFFSET_MOVED pointing at it, and at the refusal watermark a send is answered
//! SERVICE_NOT_AVAILABLE with a remark saying the disk is full and what to do.

mod common;

use common::*;
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::RemotingCommand;
use rocketmq_server::EmbeddedCluster;
use std::time::Duration;

const DELETE_EXPIRED_COMMITLOG: i32 = 329;
const CLEAN_EXPIRED_CONSUMEQUEUE: i32 = 306;
const GET_MIN_OFFSET: i32 = 31;

fn min_offset(c: &mut Client, topic: &str) -> i64 {
    let r = c.call(
        RemotingCommand::new_request(GET_MIN_OFFSET)
            .with_field("topic", topic)
            .with_field("queueId", 0),
    );
    assert_eq!(r.code, resp::SUCCESS, "{:?}", r.remark);
    r.field("offset").unwrap().parse().unwrap()
}

#[test]
fn clean_codes_remove_expired_files_and_pulls_below_move_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.commit_log_segment_size = 64 * 1024;
    config.file_reserved_time = Some(Duration::ZERO);
    let cluster = EmbeddedCluster::start(config).expect("cluster starts");
    let mut c = Client::connect(cluster.broker_addr());
    for i in 0..40 {
        let r = c.call(send_v1("Expiring", 0, &vec![i as u8; 8 * 1024], ""));
        assert_eq!(r.code, resp::SUCCESS, "{:?}", r.remark);
    }
    for code in [DELETE_EXPIRED_COMMITLOG, CLEAN_EXPIRED_CONSUMEQUEUE] {
        let r = c.call(RemotingCommand::new_request(code));
        assert_eq!(r.code, resp::SUCCESS, "{:?}", r.remark);
    }
    // Only the file being written is left: at most 7 messages of 8 KiB in 64 KiB.
    let min = min_offset(&mut c, "Expiring");
    assert!((33..40).contains(&min), "min offset {min}");
    let r = c.call(pull("G", "Expiring", 0, 0, 4, "*", 0));
    assert_eq!(r.code, resp::PULL_OFFSET_MOVED, "{:?}", r.remark);
    assert_eq!(r.field("nextBeginOffset"), Some(min.to_string().as_str()));
    assert_eq!(r.field("minOffset"), Some(min.to_string().as_str()));
    let r = c.call(pull("G", "Expiring", 0, min, 4, "*", 0));
    assert_eq!(r.code, resp::SUCCESS, "{:?}", r.remark);
    drop(cluster);
}

#[test]
fn sends_at_the_refusal_watermark_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    // 0%: every disk is at or above it.
    config.disk_refuse_ratio = Some(0);
    let cluster = EmbeddedCluster::start(config).expect("cluster starts");
    let mut c = Client::connect(cluster.broker_addr());
    let r = c.call(send_v1("Refused", 0, b"no room", ""));
    assert_eq!(r.code, resp::SERVICE_NOT_AVAILABLE);
    let remark = r.remark.unwrap_or_default();
    assert!(
        remark.contains("disk full") && remark.contains("free space"),
        "{remark}"
    );
    drop(cluster);
}
