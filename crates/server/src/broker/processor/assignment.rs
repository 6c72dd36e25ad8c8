//! QueryAssignmentProcessor: QUERY_ASSIGNMENT (400) and SET_MESSAGE_REQUEST_MODE (401), both
//! with JSON bodies (see `ops::assignment`).

use super::answer::{bad_header, done};
use crate::broker::services::Broker;
use rocketmq_protocol::body::assignment::{
    QueryAssignmentRequestBody, QueryAssignmentResponseBody, SetMessageRequestModeRequestBody,
};
use rocketmq_protocol::body::{decode_json, encode_json};
use rocketmq_protocol::RemotingCommand;

pub(super) fn query_assignment(broker: &Broker, req: &RemotingCommand) -> RemotingCommand {
    let body: QueryAssignmentRequestBody = match decode_json(&req.body) {
        Ok(b) => b,
        Err(e) => return bad_header(req, format!("QUERY_ASSIGNMENT body: {e}")),
    };
    let answer = QueryAssignmentResponseBody {
        message_queue_assignments: broker.query_assignment(&body),
    };
    RemotingCommand::response_to(req).with_body(encode_json(&answer))
}

pub(super) fn set_message_request_mode(broker: &Broker, req: &RemotingCommand) -> RemotingCommand {
    let body: SetMessageRequestModeRequestBody = match decode_json(&req.body) {
        Ok(b) => b,
        Err(e) => return bad_header(req, format!("SET_MESSAGE_REQUEST_MODE body: {e}")),
    };
    done(req, broker.set_message_request_mode(body))
}

#[cfg(test)]
mod tests {
    use crate::broker::test_broker::{test_broker, TestBroker};
    use crate::remoting::{ConnectionHandle, RequestProcessor};
    use rocketmq_protocol::body::assignment::{MessageRequestMode, QueryAssignmentResponseBody};
    use rocketmq_protocol::body::{decode_json, TopicConfig};
    use rocketmq_protocol::code::{request_code as rc, response_code as resp};
    use rocketmq_protocol::RemotingCommand;

    fn heartbeat(client_id: &str) -> RemotingCommand {
        let body = format!(
            r#"{{"clientID":"{client_id}","consumerDataSet":[{{"groupName":"G","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","subscriptionDataSet":[{{"topic":"T","subString":"*","subVersion":1}}],"unitMode":false}}],"producerDataSet":[]}}"#
        );
        RemotingCommand::new_request(rc::HEART_BEAT).with_body(body.into_bytes())
    }

    fn query(client_id: &str) -> RemotingCommand {
        let body = format!(
            r#"{{"clientId":"{client_id}","consumerGroup":"G","messageModel":"CLUSTERING","strategyName":"AVG","topic":"T"}}"#
        );
        RemotingCommand::new_request(rc::QUERY_ASSIGNMENT).with_body(body.into_bytes())
    }

    fn set_mode(topic: &str, mode: &str) -> RemotingCommand {
        let body = format!(
            r#"{{"consumerGroup":"G","mode":"{mode}","popShareQueueNum":0,"topic":"{topic}"}}"#
        );
        RemotingCommand::new_request(rc::SET_MESSAGE_REQUEST_MODE).with_body(body.into_bytes())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_group_switched_to_pop_gets_whole_brokers_and_pull_groups_share_queues() {
        let TestBroker {
            broker,
            stop: _stop,
            ..
        } = test_broker();
        broker
            .topics
            .put_with_attributes(TopicConfig::new("T", 4, 6), None)
            .unwrap()
            .unwrap();
        let (conn, _rx) = ConnectionHandle::detached("127.0.0.1:5555".parse().unwrap());
        let call = |req: RemotingCommand| {
            let (b, c) = (broker.clone(), conn.clone());
            async move { b.process(c, req).await.unwrap() }
        };
        // Each client heartbeats over its own connection, as real clients do.
        let mut client_ends = Vec::new();
        for (id, port) in [("c1", 5556), ("c2", 5557)] {
            let (own, rx) = ConnectionHandle::detached(([127, 0, 0, 1], port).into());
            client_ends.push(rx);
            let answer = broker.clone().process(own, heartbeat(id)).await.unwrap();
            assert_eq!(answer.code, resp::SUCCESS);
        }
        let answer = call(query("c2")).await;
        assert_eq!(answer.code, resp::SUCCESS, "{:?}", answer.remark);
        let pull: QueryAssignmentResponseBody = decode_json(&answer.body).unwrap();
        let pull = pull.message_queue_assignments.unwrap();
        let ids: Vec<i32> = pull.iter().map(|a| a.message_queue.queue_id).collect();
        assert_eq!(ids, [2, 3]);
        assert!(pull.iter().all(|a| a.mode == MessageRequestMode::Pull));

        let refused = call(set_mode("%RETRY%G", "POP")).await;
        assert_eq!(refused.code, resp::NO_PERMISSION);
        let unknown = call(set_mode("NoSuchTopic", "POP")).await;
        assert_eq!(unknown.code, resp::TOPIC_NOT_EXIST);
        assert!(unknown.remark.unwrap().contains("NoSuchTopic"));
        assert_eq!(call(set_mode("T", "POP")).await.code, resp::SUCCESS);

        let pop: QueryAssignmentResponseBody = decode_json(&call(query("c1")).await.body).unwrap();
        let pop = pop.message_queue_assignments.unwrap();
        assert_eq!(pop.len(), 1);
        assert_eq!(pop[0].message_queue.queue_id, -1);
        assert_eq!(pop[0].mode, MessageRequestMode::Pop);

        // A client that is not a member gets no decision rather than an empty assignment.
        let stranger: QueryAssignmentResponseBody =
            decode_json(&call(query("c9")).await.body).unwrap();
        assert_eq!(stranger.message_queue_assignments, None);
    }
}
