//! Reading a topic back from a broker to check what survived a fault: every record must
//! decode and match its body CRC.

use bytes::Bytes;
use rocketmq_client::ClientInstance;
use rocketmq_protocol::code::{request_code, response_code};
use rocketmq_protocol::header::{
    pull_sys_flag, CreateTopicRequestHeader, PullMessageRequestHeader, PullMessageResponseHeader,
};
use rocketmq_protocol::message::{body_crc, view_record};
use rocketmq_protocol::properties::{decode_properties_map, UNIQ_KEY};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// One message as read back from the broker.
#[derive(Clone, Debug)]
pub struct Pulled {
    /// The client id (`UNIQ_KEY`) of the message.
    pub uniq_key: String,
    pub queue_id: i32,
    pub queue_offset: i64,
    pub body: Bytes,
    pub born_timestamp: i64,
    pub store_timestamp: i64,
}

/// Creates (or updates) `topic` with `queues` read and write queues on the broker at `addr`.
pub async fn create_topic(client: &ClientInstance, addr: &str, topic: &str, queues: i32) {
    let req = ClientInstance::request(request_code::UPDATE_AND_CREATE_TOPIC).with_header(
        &CreateTopicRequestHeader {
            topic: topic.to_string(),
            default_topic: "TBW102".into(),
            read_queue_nums: queues,
            write_queue_nums: queues,
            perm: 6,
            topic_filter_type: "SINGLE_TAG".into(),
            topic_sys_flag: None,
            order: false,
            attributes: None,
            force: None,
        },
    );
    let resp = client
        .invoke(addr, req)
        .await
        .expect("create topic request");
    assert_eq!(
        resp.code,
        response_code::SUCCESS,
        "create topic {topic}: {:?}",
        resp.remark
    );
}

/// Reads every message of `topic` queues `0..queues` from offset 0 on the broker at `addr`
/// with plain (not long-polling) pulls. Every record must decode with a matching body CRC and
/// carry the queue offset it was read at; the first violation is returned as an error.
pub async fn pull_all_verified(
    client: &ClientInstance,
    addr: &str,
    topic: &str,
    queues: i32,
    limit: Duration,
) -> Result<Vec<Pulled>, String> {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    for queue_id in 0..queues {
        let mut offset = 0i64;
        loop {
            if Instant::now() > deadline {
                return Err(format!("reading {topic} took longer than {limit:?}"));
            }
            let header = PullMessageRequestHeader {
                consumer_group: "FAULT_TEST_READER".into(),
                topic: topic.to_string(),
                queue_id,
                queue_offset: offset,
                max_msg_nums: 64,
                sys_flag: pull_sys_flag::SUBSCRIPTION,
                commit_offset: 0,
                suspend_timeout_millis: 0,
                subscription: Some("*".into()),
                sub_version: 0,
                expression_type: Some("TAG".into()),
                max_msg_bytes: None,
                request_source: None,
                proxy_froward_client_id: None,
                broker_name: None,
            };
            let req = ClientInstance::request(request_code::PULL_MESSAGE).with_header(&header);
            let resp = client
                .invoke(addr, req)
                .await
                .map_err(|e| format!("pull {topic}/{queue_id}@{offset}: {e}"))?;
            let h: PullMessageResponseHeader = resp
                .decode_header()
                .map_err(|e| format!("pull response header {topic}/{queue_id}: {e}"))?;
            match resp.code {
                response_code::SUCCESS => {}
                response_code::PULL_NOT_FOUND | response_code::PULL_OFFSET_MOVED
                    if h.next_begin_offset <= offset =>
                {
                    break
                }
                response_code::PULL_NOT_FOUND
                | response_code::PULL_OFFSET_MOVED
                | response_code::PULL_RETRY_IMMEDIATELY => {
                    offset = h.next_begin_offset;
                    continue;
                }
                code => {
                    return Err(format!(
                        "pull {topic}/{queue_id}@{offset}: code {code} {:?}",
                        resp.remark
                    ))
                }
            }
            let mut buf: &[u8] = &resp.body;
            let mut expected = offset;
            while !buf.is_empty() {
                let v = view_record(buf, true).map_err(|e| {
                    format!(
                        "corrupt record served in {topic}/{queue_id} near offset {expected}: {e}"
                    )
                })?;
                let m = v.to_owned_message();
                if body_crc(&m.body) != m.body_crc {
                    return Err(format!(
                        "body CRC mismatch in {topic}/{queue_id}@{}",
                        m.queue_offset
                    ));
                }
                if m.queue_offset < expected || m.queue_id != queue_id || m.topic != topic {
                    return Err(format!(
                        "record out of place: {}/{}@{} read at {topic}/{queue_id}@{expected}",
                        m.topic, m.queue_id, m.queue_offset
                    ));
                }
                expected = m.queue_offset + 1;
                let props = decode_properties_map(&m.properties);
                out.push(Pulled {
                    uniq_key: props.get(UNIQ_KEY).cloned().unwrap_or_default(),
                    queue_id,
                    queue_offset: m.queue_offset,
                    body: m.body.clone(),
                    born_timestamp: m.born_timestamp,
                    store_timestamp: m.store_timestamp,
                });
                buf = &buf[v.total_size as usize..];
            }
            if h.next_begin_offset <= offset {
                return Err(format!(
                    "pull {topic}/{queue_id}@{offset} did not advance (next {})",
                    h.next_begin_offset
                ));
            }
            offset = h.next_begin_offset;
        }
    }
    Ok(out)
}

/// How often each key occurs.
pub fn count_keys<'a>(keys: impl Iterator<Item = &'a str>) -> HashMap<&'a str, usize> {
    let mut m = HashMap::new();
    for k in keys {
        *m.entry(k).or_insert(0) += 1;
    }
    m
}
