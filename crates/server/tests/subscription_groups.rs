//! Subscription-group configs and topic attributes over raw frames: create (200), list (201),
//! delete (207), get (352), persisted across a restart, auto-created on first use, the
//! group's retryMaxTimes deciding the dead-letter queue, consumeEnable and
//! consumeBroadcastEnable refusing pulls, and `message.type` set, kept and refused as Java
//! does.

mod common;

use common::*;
use rocketmq_protocol::RemotingCommand;
use serde_json::{json, Value};

fn create(c: &mut Client, config: Value) -> RemotingCommand {
    c.call(RemotingCommand::new_request(200).with_body(config.to_string().into_bytes()))
}

fn table(c: &mut Client) -> (Value, RemotingCommand) {
    let r = c.call(RemotingCommand::new_request(201));
    assert_eq!(r.code, 0, "{:?}", r.remark);
    (serde_json::from_slice(&r.body).unwrap(), r)
}

fn get(c: &mut Client, group: &str) -> RemotingCommand {
    c.call(RemotingCommand::new_request(352).with_field("group", group))
}

fn delete(c: &mut Client, group: &str) -> RemotingCommand {
    c.call(
        RemotingCommand::new_request(207)
            .with_field("groupName", group)
            .with_field("cleanOffset", false),
    )
}

fn create_topic(c: &mut Client, topic: &str, attributes: Option<&str>) -> RemotingCommand {
    let mut req = RemotingCommand::new_request(17)
        .with_field("topic", topic)
        .with_field("defaultTopic", "TBW102")
        .with_field("readQueueNums", 4)
        .with_field("writeQueueNums", 4)
        .with_field("perm", 6)
        .with_field("topicFilterType", "SINGLE_TAG")
        .with_field("topicSysFlag", 0)
        .with_field("order", false);
    if let Some(a) = attributes {
        req = req.with_field("attributes", a);
    }
    c.call(req)
}

fn topic_attributes(c: &mut Client, topic: &str) -> Value {
    let r = c.call(RemotingCommand::new_request(21));
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    v["topicConfigTable"][topic]["attributes"].clone()
}

#[test]
fn create_get_list_delete_and_keep_across_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let cluster = start(dir.path());
        let mut c = Client::connect(cluster.broker_addr());
        let (before, _) = table(&mut c);
        // Java's system groups exist from start.
        for g in ["TOOLS_CONSUMER", "CID_RMQ_SYS_TRANS", "SELF_TEST_C_GROUP"] {
            assert!(before["subscriptionGroupTable"][g].is_object(), "{g}");
        }
        let r = create(
            &mut c,
            json!({"groupName": "SG1", "retryMaxTimes": 3, "consumeMessageOrderly": true,
                   "consumeBroadcastEnable": false, "someNewerField": "kept"}),
        );
        assert_eq!(r.code, 0, "{:?}", r.remark);
        assert_eq!(create(&mut c, json!({"groupName": "SG2"})).code, 0);

        let r = get(&mut c, "SG1");
        assert_eq!(r.code, 0, "{:?}", r.remark);
        let g: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(g["retryMaxTimes"], 3);
        assert_eq!(g["consumeMessageOrderly"], true);
        assert_eq!(g["consumeBroadcastEnable"], false);
        // Defaults for what the request left out, unknown fields kept.
        assert_eq!(g["consumeEnable"], true);
        assert_eq!(g["retryQueueNums"], 1);
        assert_eq!(g["groupRetryPolicy"], json!({"type": "CUSTOMIZED"}));
        assert_eq!(g["someNewerField"], "kept");

        let (after, r) = table(&mut c);
        let groups = after["subscriptionGroupTable"].as_object().unwrap();
        assert!(groups.contains_key("SG1") && groups.contains_key("SG2"));
        assert_eq!(
            r.field("totalGroupNum"),
            Some(groups.len().to_string().as_str())
        );
        assert!(
            after["dataVersion"]["counter"].as_i64() > before["dataVersion"]["counter"].as_i64()
        );

        assert_eq!(delete(&mut c, "SG2").code, 0);
        // Deleting a group that is not there succeeds, as Java answers it.
        assert_eq!(delete(&mut c, "SG2").code, 0);
        let (after, _) = table(&mut c);
        assert!(after["subscriptionGroupTable"].get("SG2").is_none());
        cluster.shutdown();
    }
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    let (reloaded, _) = table(&mut c);
    let groups = &reloaded["subscriptionGroupTable"];
    assert_eq!(groups["SG1"]["retryMaxTimes"], 3);
    assert_eq!(groups["SG1"]["consumeMessageOrderly"], true);
    assert_eq!(groups["SG1"]["someNewerField"], "kept");
    assert!(groups.get("SG2").is_none(), "a deleted group stays deleted");
}

#[test]
fn bad_names_and_bodies_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    let (before, _) = table(&mut c);
    let r = create(&mut c, json!({"groupName": "bad group"}));
    assert_eq!(r.code, 29);
    assert!(
        r.remark
            .as_deref()
            .unwrap()
            .contains("contains illegal characters"),
        "{:?}",
        r.remark
    );
    let r = create(&mut c, json!({"groupName": "g".repeat(121)}));
    assert_eq!(r.code, 29);
    assert!(r
        .remark
        .as_deref()
        .unwrap()
        .contains("longer than group max length: 120"));
    let r = c.call(RemotingCommand::new_request(200).with_body(b"{not json".to_vec()));
    assert_eq!(r.code, 1);
    let r = get(&mut c, "bad group");
    assert_eq!(
        (r.code, r.remark.as_deref()),
        (26, Some("No group in this broker"))
    );
    let (after, _) = table(&mut c);
    assert_eq!(
        before["subscriptionGroupTable"],
        after["subscriptionGroupTable"]
    );
}

#[test]
fn groups_are_created_on_first_use() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    assert_eq!(c.call(send_v1("AUTO", 0, b"m", "")).code, 0);
    let hb = RemotingCommand::new_request(34).with_body(heartbeat_body("c1", "HBG", "AUTO", "*"));
    assert_eq!(c.call(hb).code, 0);
    assert_eq!(c.call(pull("PULLG", "AUTO", 0, 0, 4, "*", 0)).code, 0);
    let (t, _) = table(&mut c);
    for g in ["HBG", "PULLG"] {
        assert_eq!(t["subscriptionGroupTable"][g]["retryMaxTimes"], 16, "{g}");
    }
    // GET of a legal name that is not there creates it with the defaults (Java's
    // findSubscriptionGroupConfig with autoCreateSubscriptionGroup=true).
    let r = get(&mut c, "GETG");
    assert_eq!(r.code, 0);
    let (t, _) = table(&mut c);
    assert_eq!(t["subscriptionGroupTable"]["GETG"]["consumeEnable"], true);
}

fn send_back(c: &mut Client, group: &str, physical_offset: i64) -> RemotingCommand {
    c.call(
        RemotingCommand::new_request(36)
            .with_field("offset", physical_offset)
            .with_field("group", group)
            .with_field("delayLevel", 0)
            .with_field("originMsgId", "x")
            .with_field("originTopic", "RT"),
    )
}

#[test]
fn the_groups_retry_max_times_decides_the_dead_letter_queue() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    assert_eq!(c.call(send_v1("RT", 0, b"fails", "")).code, 0);
    let m = pull_all(&mut c, "RT", 0).remove(0);

    // retryMaxTimes 0: the first failure is already one too many.
    assert_eq!(
        create(&mut c, json!({"groupName": "NORETRY", "retryMaxTimes": 0})).code,
        0
    );
    assert_eq!(send_back(&mut c, "NORETRY", m.physical_offset).code, 0);
    let dead = pull_all(&mut c, "%DLQ%NORETRY", 0);
    assert_eq!(dead.len(), 1);
    assert_eq!(&dead[0].body[..], b"fails");

    // The default group (16) retries instead.
    assert_eq!(send_back(&mut c, "DEFAULTG", m.physical_offset).code, 0);
    let r = c.call(pull("DEFAULTG", "%DLQ%DEFAULTG", 0, 0, 4, "*", 0));
    assert_ne!(r.code, 0, "nothing in the default group's DLQ");

    // A send to the retry topic follows the group's limit too (there Java compares
    // reconsumeTimes > retryMaxTimes).
    assert_eq!(
        create(&mut c, json!({"groupName": "TWICE", "retryMaxTimes": 2})).code,
        0
    );
    let over =
        send_v1("%RETRY%TWICE", 0, b"over", "DELAY\u{1}3\u{2}").with_field("reconsumeTimes", 3);
    assert_eq!(c.call(over).code, 0);
    let dead = pull_all(&mut c, "%DLQ%TWICE", 0);
    assert_eq!(dead.len(), 1);
    assert_eq!(&dead[0].body[..], b"over");
}

#[test]
fn consume_enable_and_broadcast_enable_refuse_pulls() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    assert_eq!(c.call(send_v1("CE", 0, b"m", "")).code, 0);
    assert_eq!(
        create(&mut c, json!({"groupName": "OFF", "consumeEnable": false})).code,
        0
    );
    let r = c.call(pull("OFF", "CE", 0, 0, 4, "*", 0));
    assert_eq!(r.code, 16);
    assert!(
        r.remark
            .as_deref()
            .unwrap()
            .starts_with("subscription group no permission, OFF"),
        "{:?}",
        r.remark
    );
    assert_eq!(
        create(&mut c, json!({"groupName": "OFF", "consumeEnable": true})).code,
        0
    );
    assert_eq!(c.call(pull("OFF", "CE", 0, 0, 4, "*", 0)).code, 0);

    // A broadcasting group whose config forbids broadcasting.
    assert_eq!(
        create(
            &mut c,
            json!({"groupName": "BC", "consumeBroadcastEnable": false})
        )
        .code,
        0
    );
    let mut hb: Value = serde_json::from_slice(&heartbeat_body("c1", "BC", "CE", "*")).unwrap();
    hb["consumerDataSet"][0]["messageModel"] = json!(0);
    let r = c.call(RemotingCommand::new_request(34).with_body(hb.to_string().into_bytes()));
    assert_eq!(r.code, 0);
    // sysFlag 2|0: suspend without the subscription flag, so the heartbeat's model counts.
    let r = c.call(pull("BC", "CE", 0, 0, 0, "", 0));
    assert_eq!(r.code, 16);
    assert_eq!(
        r.remark.as_deref(),
        Some("the consumer group[BC] can not consume by broadcast way")
    );
    // A clustering group with the same config is served.
    assert_eq!(
        create(
            &mut c,
            json!({"groupName": "CL", "consumeBroadcastEnable": false})
        )
        .code,
        0
    );
    let hb = RemotingCommand::new_request(34).with_body(heartbeat_body("c1", "CL", "CE", "*"));
    assert_eq!(c.call(hb).code, 0);
    assert_eq!(c.call(pull("CL", "CE", 0, 0, 0, "", 0)).code, 0);
}

#[test]
fn topic_message_type_is_set_kept_refused_and_persisted() {
    let dir = tempfile::tempdir().unwrap();
    {
        let cluster = start(dir.path());
        let mut c = Client::connect(cluster.broker_addr());
        let r = create_topic(&mut c, "FIFO_T", Some("+message.type=FIFO"));
        assert_eq!(r.code, 0, "{:?}", r.remark);
        assert_eq!(
            topic_attributes(&mut c, "FIFO_T"),
            json!({"message.type": "FIFO"})
        );
        // An update that does not name the attribute keeps it.
        assert_eq!(create_topic(&mut c, "FIFO_T", None).code, 0);
        assert_eq!(
            topic_attributes(&mut c, "FIFO_T"),
            json!({"message.type": "FIFO"})
        );
        assert_eq!(
            create_topic(&mut c, "FIFO_T", Some("+message.type=DELAY")).code,
            0
        );
        assert_eq!(
            topic_attributes(&mut c, "FIFO_T"),
            json!({"message.type": "DELAY"})
        );
        for (bad, reason) in [
            ("+message.type=LIFO", "value is not in set: ["),
            ("+colour=red", "unsupported key: colour"),
            (
                "message.type=FIFO",
                "add/alter attribute format is wrong: message.type",
            ),
        ] {
            let r = create_topic(&mut c, "FIFO_T", Some(bad));
            assert_eq!(r.code, 1, "{bad}");
            assert!(
                r.remark.as_deref().unwrap().contains(reason),
                "{bad}: {:?}",
                r.remark
            );
        }
        let r = create_topic(&mut c, "NEW_T", Some("-message.type"));
        assert_eq!(r.code, 1);
        assert!(
            topic_attributes(&mut c, "NEW_T").is_null(),
            "a refused topic is not created"
        );
        assert_eq!(
            topic_attributes(&mut c, "FIFO_T"),
            json!({"message.type": "DELAY"})
        );
        cluster.shutdown();
    }
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    assert_eq!(
        topic_attributes(&mut c, "FIFO_T"),
        json!({"message.type": "DELAY"})
    );
    // The name server's route carries the topic too (registration with attributes).
    wait_route(cluster.namesrv_addr(), "FIFO_T");
}
