//! Auto-renew: what Apache's proxy does for a ReceiveMessage with `auto_renew` (push
//! consumers, `ReceiptHandleProcessor` / `DefaultReceiptHandleManager`): each delivered
//! message is invisible for a slice (60 s) and, while its client is there and has not acked
//! it, kept invisible for another slice shortly before that ends (10 s ahead), for at most
//! 3 hours from its delivery; when the client goes away (NotifyClientTermination, its
//! Telemetry stream ended, idle), its messages are made visible again after a second.
//!
//! Unlike the proxy, which changes the invisible time (a new handle) and maps the client's
//! handle onto the newest one at ack time, this broker extends the delivery under the same
//! handle (`Broker::pop_extend_invisible`), so the client's handle acks as it is.
//!
//! What must stay true: one task per ReceiveMessage answer, ending when none of its messages
//! is left in flight, at shutdown, or when the client is gone (after the clear); it never
//! shortens a delivery.

use super::GrpcFront;
use crate::remoting::ConnectionHandle;
use rocketmq_protocol::header::ChangeInvisibleTimeRequestHeader;
use rocketmq_protocol::now_millis;
use rocketmq_protocol::pop::ReceiptHandle;
use std::time::Duration;

/// When and for how long deliveries are renewed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RenewTiming {
    /// How long each renewal keeps a message invisible (`renewSliceTimeMillis`).
    pub slice_ms: i64,
    /// How long before a delivery ends it is renewed (`renewAheadTimeMillis`).
    pub ahead_ms: i64,
    /// How long after its delivery a message is renewed at most (`renewMaxTimeMillis`).
    pub max_ms: i64,
}

/// Apache's proxy defaults.
pub(crate) const PROXY_RENEW_TIMING: RenewTiming = RenewTiming {
    slice_ms: 60_000,
    ahead_ms: 10_000,
    max_ms: 3 * 3600 * 1000,
};

/// `ProxyConfig.invisibleTimeMillisWhenClear`: a departed client's messages come back after it.
const CLEAR_INVISIBLE_MS: i64 = 1_000;

struct Tracked {
    text: String,
    handle: ReceiptHandle,
    delivered_at: i64,
    visible_at: i64,
}

/// Keeps the deliveries `handles` (receipt handles of one answer to `client`) invisible
/// while `client` is there, in a task of their own.
pub(crate) fn keep_invisible(
    front: GrpcFront,
    client: ConnectionHandle,
    group: String,
    topic: String,
    handles: Vec<String>,
    timing: RenewTiming,
) {
    let tracked: Vec<Tracked> = handles
        .into_iter()
        .filter_map(|text| {
            let handle = ReceiptHandle::parse(&text).ok()?;
            Some(Tracked {
                delivered_at: handle.pop_time,
                visible_at: handle.visible_at(),
                handle,
                text,
            })
        })
        .collect();
    if tracked.is_empty() {
        return;
    }
    tokio::spawn(renew(front, client, group, topic, tracked, timing));
}

async fn renew(
    front: GrpcFront,
    client: ConnectionHandle,
    group: String,
    topic: String,
    mut tracked: Vec<Tracked>,
    timing: RenewTiming,
) {
    let mut shutdown = front.broker.shutdown.clone();
    while let Some(next) = tracked.iter().map(|t| t.visible_at - timing.ahead_ms).min() {
        let wait = next.saturating_sub(now_millis()).max(0) as u64;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
            _ = client.closed() => {
                // Gone: what it did not ack is for the rest of the group (a delivery acked
                // or delivered again since is the broker's to refuse).
                for t in &tracked {
                    clear(&front, &group, &topic, t).await;
                }
                return;
            }
            _ = crate::util::until_true(&mut shutdown) => return,
        }
        let now = now_millis();
        let mut kept = Vec::with_capacity(tracked.len());
        for t in tracked {
            if t.visible_at - timing.ahead_ms > now {
                kept.push(t);
            } else if now - t.delivered_at < timing.max_ms {
                let until = now + timing.slice_ms;
                // Refused: acked, changed by the client or expired; nothing more to keep.
                if front
                    .broker
                    .pop_extend_invisible(&group, &topic, &t.handle, until)
                    .await
                    .is_ok()
                {
                    kept.push(Tracked {
                        visible_at: until,
                        ..t
                    });
                }
            }
        }
        tracked = kept;
    }
}

/// Makes a departed client's message visible again soon.
async fn clear(front: &GrpcFront, group: &str, topic: &str, t: &Tracked) {
    let change = ChangeInvisibleTimeRequestHeader {
        consumer_group: group.to_string(),
        topic: topic.to_string(),
        queue_id: t.handle.queue_id,
        extra_info: t.text.clone(),
        offset: t.handle.queue_offset.unwrap_or(-1),
        invisible_time: CLEAR_INVISIBLE_MS,
        broker_name: None,
    };
    if let Err(e) = front.broker.pop_change_invisible(&change).await {
        tracing::debug!("a departed client's message was not cleared: {}", e.remark);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::test_broker::test_broker;
    use rocketmq_protocol::header::{AckMessageRequestHeader, PopMessageRequestHeader};
    use rocketmq_protocol::pop::{StartOffsetInfo, TopicKind};
    use rocketmq_store::MessageToStore;

    /// A front over a test broker with one message popped by `G` for `slice_ms`; its handle.
    async fn popped(slice_ms: i64) -> (crate::broker::test_broker::TestBroker, GrpcFront, String) {
        let t = test_broker();
        let b = t.broker.clone();
        b.topics.get_or_create("RT", 1, 6).unwrap();
        b.store
            .put_messages(vec![MessageToStore {
                topic: "RT".into(),
                queue_id: 0,
                flag: 0,
                sys_flag: 0,
                born_timestamp: now_millis(),
                born_host: b.store_host,
                store_host: b.store_host,
                reconsume_times: 0,
                prepared_transaction_offset: 0,
                body: bytes::Bytes::from_static(b"r"),
                tags_code: 0,
                properties: String::new(),
            }])
            .unwrap();
        let h = PopMessageRequestHeader {
            consumer_group: "G".into(),
            topic: "RT".into(),
            queue_id: -1,
            max_msg_nums: 1,
            invisible_time: slice_ms,
            born_time: now_millis(),
            ..Default::default()
        };
        let o = b.pop(&h, std::future::pending()).await.unwrap();
        assert_eq!(o.count, 1);
        let start = StartOffsetInfo::parse(o.header.start_offset_info.as_deref().unwrap()).unwrap();
        let handle = ReceiptHandle {
            ck_queue_offset: start.0[0].1,
            pop_time: o.header.pop_time,
            invisible_time: o.header.invisible_time,
            revive_qid: o.header.revive_qid,
            kind: TopicKind::Normal,
            broker_name: b.config.broker_name.clone(),
            queue_id: 0,
            queue_offset: Some(0),
        };
        let front = GrpcFront::new(b, "127.0.0.1:8081".parse().unwrap());
        (t, front, handle.encode())
    }

    fn ack(handle: &str) -> AckMessageRequestHeader {
        AckMessageRequestHeader {
            consumer_group: "G".into(),
            topic: "RT".into(),
            queue_id: 0,
            extra_info: handle.into(),
            offset: 0,
            broker_name: None,
        }
    }

    async fn until(ms: i64) {
        while now_millis() < ms {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn a_present_client_keeps_its_delivery_and_its_handle() {
        let timing = RenewTiming {
            slice_ms: 2_000,
            ahead_ms: 1_500,
            max_ms: 60_000,
        };
        let (_t, front, handle) = popped(timing.slice_ms).await;
        let client = front.clients.handle("C1", "127.0.0.1:1".parse().unwrap());
        keep_invisible(
            front.clone(),
            client,
            "G".into(),
            "RT".into(),
            vec![handle.clone()],
            timing,
        );
        // Past the first slice: renewed (from 0.5 s on, with 1.5 s to spare), the same
        // handle acks.
        let first_end = ReceiptHandle::parse(&handle).unwrap().visible_at();
        until(first_end + 200).await;
        front.broker.pop_ack(&ack(&handle)).await.unwrap();
    }

    #[tokio::test]
    async fn a_departed_clients_delivery_is_made_visible_again() {
        let timing = RenewTiming {
            slice_ms: 30_000,
            ahead_ms: 10_000,
            max_ms: 60_000,
        };
        let (_t, front, handle) = popped(timing.slice_ms).await;
        let client = front.clients.handle("C2", "127.0.0.1:2".parse().unwrap());
        front.clients.terminated("C2");
        keep_invisible(
            front.clone(),
            client,
            "G".into(),
            "RT".into(),
            vec![handle.clone()],
            timing,
        );
        // The client left: cleared at once, so the delivery's handle is stale long before
        // its 30 s (and before its renewal, 20 s on).
        let pop_time = ReceiptHandle::parse(&handle).unwrap().pop_time;
        let key = crate::broker::pop::state::PopKey::new("G", "RT", 0);
        let stale = || {
            front
                .broker
                .pop
                .read(|s| s.check(&key, 0, pop_time, now_millis()).is_err())
        };
        let deadline = now_millis() + 10_000;
        while !stale() {
            assert!(
                now_millis() < deadline,
                "the departed client's delivery was not cleared"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(front.broker.pop_ack(&ack(&handle)).await.is_err());
    }
}
