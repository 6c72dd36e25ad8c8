//! Hostile and nonsensical requests: every request whose one-way bit is clear gets an answer,
//! nothing panics, and the server keeps serving well-formed clients afterwards.

mod common;

use common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rocketmq_protocol::RemotingCommand;

const CODES: [i32; 30] = [
    10, 11, 14, 15, 17, 21, 29, 30, 31, 32, 33, 34, 35, 36, 38, 41, 42, 46, 100, 101, 102, 103,
    104, 105, 106, 206, 310, 320, 322, 361,
];

const KEYS: [&str; 40] = [
    "topic",
    "queueId",
    "queueOffset",
    "maxMsgNums",
    "sysFlag",
    "commitOffset",
    "suspendTimeoutMillis",
    "subscription",
    "subVersion",
    "consumerGroup",
    "producerGroup",
    "defaultTopic",
    "defaultTopicQueueNums",
    "bornTimestamp",
    "flag",
    "properties",
    "batch",
    "reconsumeTimes",
    "offset",
    "group",
    "delayLevel",
    "timestamp",
    "clientID",
    "brokerName",
    "brokerAddr",
    "clusterName",
    "brokerId",
    "compressed",
    "bodyCrc32",
    "namespace",
    "key",
    "value",
    "a",
    "b",
    "c",
    "d",
    "e",
    "f",
    "g",
    "m",
];

fn value(rng: &mut StdRng) -> String {
    match rng.random_range(0..10) {
        0 => String::new(),
        1 => "-1".into(),
        2 => i64::MAX.to_string(),
        3 => i64::MIN.to_string(),
        4 => "TopicR".into(),
        5 => "%RETRY%G".into(),
        6 => "1".into(),
        7 => "TAGS\u{1}x\u{2}DELAY\u{1}2\u{2}".into(),
        8 => "2147483648".into(),
        _ => (0..rng.random_range(1..20))
            .map(|_| rng.random_range(0x20u8..0x7f) as char)
            .collect(),
    }
}

fn body(rng: &mut StdRng) -> Vec<u8> {
    match rng.random_range(0..6) {
        0 => Vec::new(),
        1 => br#"{"clientID":"c","consumerDataSet":[{"groupName":"G","subscriptionDataSet":[{"topic":"TopicR","subString":"*"}]}]}"#.to_vec(),
        2 => br#"{"consumerGroup":"G","clientId":"c","mqSet":[{"brokerName":"b","queueId":-5,"topic":"TopicR"}]}"#.to_vec(),
        3 => {
            // A batch entry with a lying size.
            let mut v = batch_entry(b"abc", "");
            v[3] = v[3].wrapping_add(rng.random_range(1..50));
            v
        }
        4 => rocketmq_protocol::compression::deflate(&batch_entry(b"zz", ""), 5),
        _ => (0..rng.random_range(1..300)).map(|_| rng.random()).collect(),
    }
}

#[test]
fn random_requests_are_all_answered_and_the_server_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut rng = StdRng::seed_from_u64(0x5EED);
    for addr in [cluster.broker_addr(), cluster.namesrv_addr()] {
        let mut c = Client::connect(addr);
        for i in 0..1500 {
            let code = if rng.random_range(0..10) == 0 {
                rng.random_range(-5..1000)
            } else {
                CODES[rng.random_range(0..CODES.len())]
            };
            let mut cmd = RemotingCommand::new_request(code).with_body(body(&mut rng));
            for _ in 0..rng.random_range(0..12) {
                let key = KEYS[rng.random_range(0..KEYS.len())];
                cmd.set_field(key, value(&mut rng));
            }
            // Never let a request park for long: no long polls with big budgets.
            cmd.set_field("suspendTimeoutMillis", rng.random_range(0..50));
            let opaque = c.send(cmd.clone());
            let r = c.wait_response(opaque, WAIT);
            assert!(
                r.is_some(),
                "request {i} (code {code}) was not answered: {cmd:?}"
            );
        }
    }
    // Still healthy.
    let mut c = Client::connect(cluster.broker_addr());
    assert_eq!(c.call(send_v1("Healthy", 0, b"ok", "")).code, 0);
    let r = c.call(pull("G", "Healthy", 0, 0, 4, "*", 0));
    assert_eq!(r.code, 0);
    wait_route(cluster.namesrv_addr(), "Healthy");
}
