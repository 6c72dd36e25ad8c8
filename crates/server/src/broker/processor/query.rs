//! QueryMessageProcessor's QUERY_MESSAGE (12): header topic, key, maxNum, beginTimestamp,
//! endTimestamp; extField `_UNIQUE_KEY_QUERY=true` for a unique key. The answer carries
//! indexLastUpdateTimestamp and indexLastUpdatePhyoffset, and as its body the found records
//! one after another in commit-log order (each a whole stored record); none found is
//! QUERY_NOT_FOUND with the same two fields. (VIEW_MESSAGE_BY_ID, the other half of the Java processor, is in `admin`.)

use super::answer::{bad_header, error};
use crate::broker::ops::query::{MessageQuery, QueryAnswer};
use crate::broker::services::Broker;
use bytes::BytesMut;
use rocketmq_protocol::header::{QueryMessageRequestHeader, UNIQUE_KEY_QUERY};
use rocketmq_protocol::RemotingCommand;

pub(super) async fn query_message(broker: &Broker, req: &RemotingCommand) -> RemotingCommand {
    let h: QueryMessageRequestHeader = match req.decode_header() {
        Ok(h) => h,
        Err(e) => return bad_header(req, e),
    };
    let unique = req.field(UNIQUE_KEY_QUERY) == Some("true");
    let query = MessageQuery {
        topic: h.topic,
        key: h.key,
        unique,
        max_num: h.max_num,
        begin_timestamp: h.begin_timestamp,
        end_timestamp: h.end_timestamp,
    };
    let answer = match broker.query_messages(query).await {
        Ok(a) => a,
        Err(e) => return error(req, e.code, e.remark),
    };
    let with_position = |cmd: RemotingCommand| {
        cmd.with_field(
            "indexLastUpdateTimestamp",
            answer.index_last_update_timestamp,
        )
        .with_field(
            "indexLastUpdatePhyoffset",
            answer.index_last_update_phy_offset,
        )
    };
    if answer.records.is_empty() {
        let e = QueryAnswer::not_found();
        return with_position(error(req, e.code, e.remark));
    }
    let mut body = BytesMut::with_capacity(answer.records.iter().map(|r| r.len()).sum());
    for r in &answer.records {
        body.extend_from_slice(r);
    }
    with_position(RemotingCommand::response_to(req)).with_body(body.freeze())
}

#[cfg(test)]
mod tests {
    use crate::broker::test_broker::{test_broker, TestBroker};
    use crate::remoting::{ConnectionHandle, RequestProcessor};
    use rocketmq_protocol::code::{request_code as rc, response_code as resp};
    use rocketmq_protocol::message::decode_stored;
    use rocketmq_protocol::RemotingCommand;

    fn send(key: &str, body: &str) -> RemotingCommand {
        RemotingCommand::new_request(rc::SEND_MESSAGE)
            .with_field("producerGroup", "PG")
            .with_field("topic", "QT")
            .with_field("defaultTopic", "TBW102")
            .with_field("defaultTopicQueueNums", 4)
            .with_field("queueId", 0)
            .with_field("sysFlag", 0)
            .with_field("bornTimestamp", 1)
            .with_field("flag", 0)
            .with_field(
                "properties",
                format!("KEYS\u{1}{key}\u{2}UNIQ_KEY\u{1}U-{body}\u{2}"),
            )
            .with_body(body.as_bytes().to_vec())
    }

    fn query(key: &str, max_num: i32) -> RemotingCommand {
        RemotingCommand::new_request(rc::QUERY_MESSAGE)
            .with_field("topic", "QT")
            .with_field("key", key)
            .with_field("maxNum", max_num)
            .with_field("beginTimestamp", 0)
            .with_field("endTimestamp", i64::MAX)
    }

    fn bodies(body: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = body;
        while !rest.is_empty() {
            let (m, used) = decode_stored(rest).unwrap();
            out.push(String::from_utf8(m.body.to_vec()).unwrap());
            rest = &rest[used..];
        }
        out
    }

    /// Found records come back concatenated in commit-log order with the index position; maxNum
    /// is capped at 64 (the newest 64); a unique-key query finds the producer's id and a key
    /// query does too (as Java's); nothing found is QUERY_NOT_FOUND, still with the position
    /// fields.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn query_message_answers_as_the_java_broker() {
        let TestBroker {
            broker,
            stop: _stop,
            ..
        } = test_broker();
        let (conn, _rx) = ConnectionHandle::detached("127.0.0.1:5555".parse().unwrap());
        for i in 0..80 {
            let key = if i % 7 == 0 { "k7" } else { "many" };
            let ok = broker
                .clone()
                .process(conn.clone(), send(key, &format!("b{i}")))
                .await
                .unwrap();
            assert_eq!(ok.code, resp::SUCCESS, "{:?}", ok.remark);
        }
        let answer = broker
            .clone()
            .process(conn.clone(), query("k7", 64))
            .await
            .unwrap();
        assert_eq!(answer.code, resp::SUCCESS, "{:?}", answer.remark);
        let expected: Vec<String> = (0..80)
            .filter(|i| i % 7 == 0)
            .map(|i| format!("b{i}"))
            .collect();
        assert_eq!(bodies(&answer.body), expected);
        assert!(answer.field_i64("indexLastUpdateTimestamp").unwrap() > 0);
        assert!(answer.field_i64("indexLastUpdatePhyoffset").unwrap() > 0);

        let answer = broker
            .clone()
            .process(conn.clone(), query("many", 1000))
            .await
            .unwrap();
        // The newest 64 of the 68, oldest first.
        let many: Vec<String> = (0..80)
            .filter(|i| i % 7 != 0)
            .skip(4)
            .map(|i| format!("b{i}"))
            .collect();
        assert_eq!(bodies(&answer.body), many);

        let by_id = query("U-b14", 1).with_field("_UNIQUE_KEY_QUERY", "true");
        let answer = broker.clone().process(conn.clone(), by_id).await.unwrap();
        assert_eq!(answer.code, resp::SUCCESS, "{:?}", answer.remark);
        assert_eq!(bodies(&answer.body), ["b14"]);
        // As Java's broker: a key query also answers a message whose unique key it names.
        let answer = broker
            .clone()
            .process(conn.clone(), query("U-b3", 8))
            .await
            .unwrap();
        assert_eq!(bodies(&answer.body), ["b3"]);

        let answer = broker
            .clone()
            .process(conn, query("absent", 32))
            .await
            .unwrap();
        assert_eq!(answer.code, resp::QUERY_NOT_FOUND);
        assert!(answer.body.is_empty());
        assert!(answer.field_i64("indexLastUpdateTimestamp").unwrap() > 0);
    }
}
