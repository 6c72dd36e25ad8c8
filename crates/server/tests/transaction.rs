//! Transactional messages over raw frames (spec 5.5): half messages stay invisible until
//! committed, commits deliver exactly once, rollbacks never, bad END_TRANSACTIONs get clear
//! errors, and undecided halves are checked back with their producer group (across a broker
//! restart) until decided or given up.

mod common;

use common::*;
use rocketmq_protocol::message::{decode_stored, decode_stored_all, StoredMessage};
use rocketmq_protocol::message_id::decode_offset_msg_id;
use rocketmq_protocol::properties::get_property;
use rocketmq_protocol::RemotingCommand;
use rocketmq_server::{EmbeddedCluster, ServerConfig};
use std::path::Path;
use std::time::{Duration, Instant};

const PRODUCER_GROUP: &str = "TxGroup";

/// The broker's answer to a half-message send.
struct Half {
    commit_log_offset: i64,
    queue_offset: i64,
    uniq_key: String,
}

fn tx_send(c: &mut Client, topic: &str, uniq_key: &str, body: &[u8]) -> Half {
    let props = format!(
        "TAGS\u{1}TagT\u{2}TRAN_MSG\u{1}true\u{2}PGROUP\u{1}{PRODUCER_GROUP}\u{2}UNIQ_KEY\u{1}{uniq_key}\u{2}"
    );
    let mut req = send_v1(topic, 0, body, &props);
    req.ext_fields
        .insert("producerGroup".into(), PRODUCER_GROUP.into());
    req.ext_fields.insert("sysFlag".into(), "4".into());
    let r = c.call(req);
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let msg_id = r.field("msgId").expect("msgId");
    let (_, commit_log_offset) = decode_offset_msg_id(msg_id).expect("offset msg id");
    assert_eq!(r.field("transactionId"), Some(uniq_key));
    assert_eq!(r.field_i32("queueId"), Some(0));
    Half {
        commit_log_offset,
        queue_offset: r.field_i64("queueOffset").expect("queueOffset"),
        uniq_key: uniq_key.to_string(),
    }
}

fn end_tx(
    group: &str,
    queue_offset: i64,
    commit_log_offset: i64,
    decision: i32,
    msg_id: &str,
    from_check: bool,
) -> RemotingCommand {
    RemotingCommand::new_request(37)
        .with_field("producerGroup", group)
        .with_field("tranStateTableOffset", queue_offset)
        .with_field("commitLogOffset", commit_log_offset)
        .with_field("commitOrRollback", decision)
        .with_field("fromTransactionCheck", from_check)
        .with_field("msgId", msg_id)
        .with_field("transactionId", msg_id)
}

fn decide(c: &mut Client, half: &Half, decision: i32) -> RemotingCommand {
    c.call(end_tx(
        PRODUCER_GROUP,
        half.queue_offset,
        half.commit_log_offset,
        decision,
        &half.uniq_key,
        false,
    ))
}

fn pull_all(c: &mut Client, topic: &str) -> Vec<StoredMessage> {
    let r = c.call(pull("G", topic, 0, 0, 4, "*", 0));
    // 17: the topic does not exist yet; 19-21: nothing there.
    if [17, 19, 20, 21].contains(&r.code) {
        return Vec::new();
    }
    assert_eq!(r.code, 0, "{:?}", r.remark);
    decode_stored_all(&r.body).expect("pulled records decode")
}

fn tx_config(dir: &Path, interval_ms: u64, timeout_ms: u64, max: i32) -> ServerConfig {
    ServerConfig {
        transaction_check_interval: Duration::from_millis(interval_ms),
        transaction_timeout: Duration::from_millis(timeout_ms),
        transaction_check_max: max,
        ..config(dir)
    }
}

fn producer_heartbeat(c: &mut Client) {
    let body = serde_json::json!({
        "clientID": "127.0.0.1@tx-test",
        "producerDataSet": [{"groupName": PRODUCER_GROUP}],
    });
    let r = c.call(RemotingCommand::new_request(34).with_body(body.to_string().into_bytes()));
    assert_eq!(r.code, 0, "{:?}", r.remark);
}

#[test]
fn half_is_invisible_commit_delivers_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    let half = tx_send(&mut c, "TxTopic", "UNIQ-COMMIT-1", b"payload-1");
    assert!(pull_all(&mut c, "TxTopic").is_empty(), "half visible");

    let r = decide(&mut c, &half, 8);
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let got = pull_all(&mut c, "TxTopic");
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(&m.body[..], b"payload-1");
    assert_eq!(m.sys_flag & 0xC, 8, "commit type");
    assert_eq!(m.prepared_transaction_offset, half.commit_log_offset);
    assert_eq!(
        get_property(&m.properties, "UNIQ_KEY"),
        Some("UNIQ-COMMIT-1")
    );
    assert_eq!(get_property(&m.properties, "TAGS"), Some("TagT"));
    assert_eq!(get_property(&m.properties, "TRAN_MSG"), None);
    assert_eq!(get_property(&m.properties, "REAL_TOPIC"), None);

    // Repeated or contradicting decisions change nothing.
    for decision in [8, 12] {
        let r = decide(&mut c, &half, decision);
        assert_eq!(r.code, 0, "{:?}", r.remark);
        assert!(r.remark.unwrap_or_default().contains("already decided"));
    }
    assert_eq!(pull_all(&mut c, "TxTopic").len(), 1);

    // Direct sends to the transaction system topics stay forbidden.
    for topic in ["RMQ_SYS_TRANS_HALF_TOPIC", "RMQ_SYS_TRANS_OP_HALF_TOPIC"] {
        let r = c.call(send_v1(topic, 0, b"x", ""));
        assert_eq!(r.code, 16, "{topic}: {:?}", r.remark);
    }
}

#[test]
fn rollback_is_never_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    let rolled = tx_send(&mut c, "TxRb", "UNIQ-RB-1", b"never");
    let kept = tx_send(&mut c, "TxRb", "UNIQ-RB-2", b"kept");
    assert_eq!(decide(&mut c, &rolled, 12).code, 0);
    // A commit after the rollback is ignored.
    assert_eq!(decide(&mut c, &rolled, 8).code, 0);
    assert_eq!(decide(&mut c, &kept, 8).code, 0);
    let got = pull_all(&mut c, "TxRb");
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].body[..], b"kept");
}

#[test]
fn bad_end_transactions_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    let half = tx_send(&mut c, "TxBad", "UNIQ-BAD-1", b"b");
    let plain = c.call(send_v1("TxBad", 0, b"plain", ""));
    let (_, plain_offset) = decode_offset_msg_id(plain.field("msgId").unwrap()).unwrap();

    let cases = [
        (
            end_tx(PRODUCER_GROUP, 0, 9_999_999, 8, "x", false),
            "no half",
        ),
        (
            end_tx(PRODUCER_GROUP, 0, plain_offset, 8, "x", false),
            "no half",
        ),
        (
            end_tx(PRODUCER_GROUP, 0, half.commit_log_offset + 1, 8, "x", false),
            "no half",
        ),
        (
            end_tx(
                "OtherGroup",
                half.queue_offset,
                half.commit_log_offset,
                8,
                "x",
                false,
            ),
            "producer group",
        ),
        (
            end_tx(
                PRODUCER_GROUP,
                half.queue_offset + 5,
                half.commit_log_offset,
                12,
                "x",
                false,
            ),
            "transaction state table offset",
        ),
    ];
    for (req, why) in cases {
        let r = c.call(req);
        assert_eq!(r.code, 1, "{why}");
        let remark = r.remark.unwrap_or_default();
        assert!(remark.contains(why), "{remark:?} should mention {why}");
    }
    // Unknown (0) is acknowledged and changes nothing; the half can still be committed.
    assert_eq!(decide(&mut c, &half, 0).code, 0);
    assert_eq!(pull_all(&mut c, "TxBad").len(), 1, "only the plain message");
    assert_eq!(decide(&mut c, &half, 8).code, 0);
    assert_eq!(pull_all(&mut c, "TxBad").len(), 2);
}

/// Waits for a CHECK_TRANSACTION_STATE about `uniq_key`; the msgIds of every check seen on
/// the way are added to `checked`.
fn wait_check(c: &mut Client, uniq_key: &str, checked: &mut Vec<String>) -> RemotingCommand {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let check = c
            .wait_pushed(39, left)
            .unwrap_or_else(|| panic!("no check-back for {uniq_key}"));
        checked.push(check.field("msgId").unwrap_or_default().to_string());
        if check.field("msgId") == Some(uniq_key) {
            return check;
        }
    }
}

#[test]
fn undecided_half_is_checked_back_across_a_restart_and_committed_from_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let config = tx_config(dir.path(), 100, 300, 15);
    let cluster = EmbeddedCluster::start(config.clone()).unwrap();
    let mut c = Client::connect(cluster.broker_addr());
    let decided = tx_send(&mut c, "TxChk", "UNIQ-CHK-DONE", b"done");
    let open = tx_send(&mut c, "TxChk", "UNIQ-CHK-OPEN", b"open");
    assert_eq!(decide(&mut c, &decided, 8).code, 0);
    drop(c);
    cluster.shutdown();

    let cluster = EmbeddedCluster::start(config).unwrap();
    let mut p = Client::connect(cluster.broker_addr());
    producer_heartbeat(&mut p);
    let mut checked = Vec::new();
    let check = wait_check(&mut p, "UNIQ-CHK-OPEN", &mut checked);
    assert!(check.is_oneway(), "check-backs are one-way");
    assert_eq!(check.field("transactionId"), Some("UNIQ-CHK-OPEN"));
    assert_eq!(check.field("topic"), Some("TxChk"));
    let clo = check.field_i64("commitLogOffset").unwrap();
    let qo = check.field_i64("tranStateTableOffset").unwrap();
    let (_, from_id) = decode_offset_msg_id(check.field("offsetMsgId").unwrap()).unwrap();
    assert_eq!(from_id, clo);
    // A re-appended copy is checked, not the original record.
    assert_ne!(clo, open.commit_log_offset);
    let (body, _) = decode_stored(&check.body).expect("check body is a stored message");
    assert_eq!(body.topic, "TxChk");
    assert_eq!(body.queue_id, 0);
    assert_eq!(body.physical_offset, clo);
    assert_eq!(&body.body[..], b"open");
    assert!(get_property(&body.properties, "TRANSACTION_CHECK_TIMES")
        .and_then(|t| t.parse::<i32>().ok())
        .is_some_and(|t| t >= 1));

    let mut c = Client::connect(cluster.broker_addr());
    assert!(pull_all(&mut c, "TxChk")
        .iter()
        .all(|m| &m.body[..] == b"done"));
    let r = p.call(end_tx(PRODUCER_GROUP, qo, clo, 8, "UNIQ-CHK-OPEN", true));
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let delivered = pull_all(&mut c, "TxChk");
    let mut bodies: Vec<&[u8]> = delivered.iter().map(|m| &m.body[..]).collect();
    bodies.sort();
    assert_eq!(bodies, vec![&b"done"[..], &b"open"[..]]);
    let commit_offset = delivered
        .iter()
        .find(|m| &m.body[..] == b"open")
        .unwrap()
        .physical_offset;
    // A late decision naming the original half record changes nothing.
    assert_eq!(decide(&mut c, &open, 8).code, 0);
    assert_eq!(pull_all(&mut c, "TxChk").len(), 2);
    // Decided: a check-back already under way may still arrive, but none for a copy appended
    // after the commit. (Undecided, one would come every ~300 ms.)
    let deadline = Instant::now() + Duration::from_millis(1500);
    while let Some(extra) = p.wait_pushed(39, deadline.saturating_duration_since(Instant::now())) {
        assert_eq!(extra.field("msgId"), Some("UNIQ-CHK-OPEN"));
        let copy = extra.field_i64("commitLogOffset").unwrap();
        assert!(
            copy < commit_offset,
            "check-back of a copy made after the commit"
        );
    }
    assert!(
        !checked.iter().any(|k| k == "UNIQ-CHK-DONE"),
        "a decided transaction was checked back: {checked:?}"
    );
}

#[test]
fn half_is_discarded_after_the_maximum_number_of_checks() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = EmbeddedCluster::start(tx_config(dir.path(), 100, 200, 2)).unwrap();
    let mut p = Client::connect(cluster.broker_addr());
    producer_heartbeat(&mut p);
    tx_send(&mut p, "TxMax", "UNIQ-MAX-1", b"given up");
    let mut c = Client::connect(cluster.broker_addr());
    let deadline = Instant::now() + WAIT;
    let discarded = loop {
        let got = pull_all(&mut c, "TRANS_CHECK_MAX_TIME_TOPIC");
        if !got.is_empty() {
            break got;
        }
        assert!(Instant::now() < deadline, "never discarded");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(discarded.len(), 1);
    assert_eq!(&discarded[0].body[..], b"given up");
    let mut times = Vec::new();
    while let Some(check) = p.wait_pushed(39, Duration::from_millis(500)) {
        let (m, _) = decode_stored(&check.body).unwrap();
        times.push(get_property(&m.properties, "TRANSACTION_CHECK_TIMES").map(String::from));
    }
    assert_eq!(times, vec![Some("1".to_string()), Some("2".to_string())]);
    assert!(pull_all(&mut c, "TxMax").is_empty());
}
