//! Keeping a POP delivery invisible longer under the same handle: what the gRPC front end's
//! auto-renew (push consumers) needs, where Apache's proxy renews a handle on the client's
//! behalf. Unlike CHANGE_MESSAGE_INVISIBLETIME, which starts a new delivery (a new pop time,
//! the old handle stale), an extension keeps the delivery and its pop time, so the handle
//! the client holds still acks.
//!
//! `pop_delivery_is_current` asks the same question without an answer's side effects (the
//! gRPC dead-letter forward checks the delivery before it copies the message).
//!
//! What must stay true: only the current delivery of an in-flight message is extended
//! (`PopState::check`, as an ack), never shortened, and the extension is in the journal
//! (fsynced under sync flush) before it is answered.

use crate::broker::error::OpError;
use crate::broker::pop::journal::Record;
use crate::broker::pop::state::PopKey;
use crate::broker::pop::PopService;
use crate::broker::services::Broker;
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::now_millis;
use rocketmq_protocol::pop::ReceiptHandle;

impl Broker {
    /// Whether `handle` is still the current delivery of its message to `group` (what an ack
    /// of it would check), without changing anything.
    pub fn pop_delivery_is_current(
        &self,
        group: &str,
        topic: &str,
        handle: &ReceiptHandle,
    ) -> bool {
        let Some(offset) = handle.queue_offset else {
            return false;
        };
        let key = PopKey::new(
            group,
            &handle.kind.real_topic(topic, group),
            handle.queue_id,
        );
        self.pop
            .read(|s| s.check(&key, offset, handle.pop_time, now_millis()).is_ok())
    }

    /// Keeps the delivery `handle` (of `group` popping `topic`) invisible until `until_ms`
    /// (milliseconds since the epoch); the handle stays the delivery's.
    pub async fn pop_extend_invisible(
        &self,
        group: &str,
        topic: &str,
        handle: &ReceiptHandle,
        until_ms: i64,
    ) -> Result<(), OpError> {
        let Some(offset) = handle.queue_offset else {
            return Err(OpError::new(
                resp::MESSAGE_ILLEGAL,
                "the handle names no queue offset",
            ));
        };
        let key = PopKey::new(
            group,
            &handle.kind.real_topic(topic, group),
            handle.queue_id,
        );
        let now = now_millis();
        let (result, sync) = self.pop.change(|state| {
            let entry = match state.check(&key, offset, handle.pop_time, now) {
                Ok(e) => e,
                Err(r) => {
                    return (
                        Err(OpError::new(
                            resp::NO_MESSAGE,
                            format!("not extended: {}", r.reason()),
                        )),
                        Vec::new(),
                    )
                }
            };
            let invisible_time = until_ms
                .saturating_sub(handle.pop_time)
                .max(entry.invisible_time);
            state.change(&key, offset, handle.pop_time, invisible_time);
            let record = Record::Change {
                key: key.clone(),
                offset,
                pop_time: handle.pop_time,
                invisible_time,
            };
            (Ok(invisible_time), vec![record])
        });
        PopService::make_durable(sync).await;
        let invisible_time = result?;
        self.pop
            .wake_revive_for(handle.pop_time.saturating_add(invisible_time));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::broker::test_broker::test_broker;
    use rocketmq_protocol::header::{AckMessageRequestHeader, PopMessageRequestHeader};
    use rocketmq_protocol::now_millis;
    use rocketmq_protocol::pop::{ReceiptHandle, StartOffsetInfo, TopicKind};
    use rocketmq_store::MessageToStore;

    #[tokio::test]
    async fn an_extended_delivery_keeps_its_handle_past_its_first_invisible_time() {
        let t = test_broker();
        let b = &t.broker;
        b.topics.get_or_create("XT", 1, 6).unwrap();
        let m = MessageToStore {
            topic: "XT".into(),
            queue_id: 0,
            flag: 0,
            sys_flag: 0,
            born_timestamp: now_millis(),
            born_host: b.store_host,
            store_host: b.store_host,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: bytes::Bytes::from_static(b"x"),
            tags_code: 0,
            properties: String::new(),
        };
        b.store.put_messages(vec![m]).unwrap();
        let h = PopMessageRequestHeader {
            consumer_group: "G".into(),
            topic: "XT".into(),
            queue_id: -1,
            max_msg_nums: 1,
            invisible_time: 300,
            born_time: now_millis(),
            init_mode: 0,
            ..Default::default()
        };
        let popped = b.pop(&h, std::future::pending()).await.unwrap();
        assert_eq!(popped.count, 1);
        let start =
            StartOffsetInfo::parse(popped.header.start_offset_info.as_deref().unwrap()).unwrap();
        let handle = ReceiptHandle {
            ck_queue_offset: start.0[0].1,
            pop_time: popped.header.pop_time,
            invisible_time: popped.header.invisible_time,
            revive_qid: popped.header.revive_qid,
            kind: TopicKind::Normal,
            broker_name: b.config.broker_name.clone(),
            queue_id: 0,
            queue_offset: Some(0),
        };
        b.pop_extend_invisible("G", "XT", &handle, now_millis() + 60_000)
            .await
            .unwrap();
        // Past the first 300 ms: still invisible, and the same handle acks.
        let past = handle.visible_at() + 50;
        while now_millis() < past {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let again = PopMessageRequestHeader {
            born_time: now_millis(),
            ..h.clone()
        };
        assert_eq!(
            b.pop(&again, std::future::pending()).await.unwrap().count,
            0
        );
        let ack = AckMessageRequestHeader {
            consumer_group: "G".into(),
            topic: "XT".into(),
            queue_id: 0,
            extra_info: handle.encode(),
            offset: 0,
            broker_name: None,
        };
        b.pop_ack(&ack).await.unwrap();
        // Acked: nothing left to extend.
        assert!(b
            .pop_extend_invisible("G", "XT", &handle, now_millis() + 60_000)
            .await
            .is_err());
    }
}
