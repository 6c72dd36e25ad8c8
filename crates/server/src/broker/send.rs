//! SEND_MESSAGE (10, V1 header), SEND_MESSAGE_V2 (310) and SEND_BATCH_MESSAGE (320).
//!
//! Processing order follows Java's `SendMessageProcessor`: topic name and system-topic
//! checks, auto-creation through the template topic, queue choice, message checks (size,
//! properties), broker-added properties (`UNIQ_KEY`, `CLUSTER`), tags code, delayed-message
//! rewrite or half-message rewrite (transactions), append, then (sync flush) waiting for
//! durability.
//!
//! What must stay true:
//! - a body is a batch when the header says `batch` true/1 or the code is 320 (cpp sends its
//!   batches as code 10 with `batch="1"`, possibly zlib-compressed as a whole); batch entries
//!   are stored uncompressed, one record each, with consecutive queue offsets;
//! - every answer to a send carries string extFields; a success carries msgId, queueId,
//!   queueOffset, transactionId, MSG_REGION and TRACE_ON;
//! - store failures turn into an error answer with the cause in the remark, never a hang.

use super::retry::{DEFAULT_MAX_RECONSUME_TIMES, MAX_RECONSUME_TIMES_MIN_VERSION};
use super::schedule::{requested_delay_level, to_scheduled};
use super::topic::{validate_send_topic, AUTO_CREATE_TOPIC, RETRY_PREFIX};
use super::transaction::{is_half_message, to_half, HALF_TOPIC};
use super::Broker;
use crate::util::now_millis;
use bytes::Bytes;
use rocketmq_protocol::batch::decode_batch;
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::command::RemotingCommand;
use rocketmq_protocol::compression::inflate;
use rocketmq_protocol::frame::MAX_FRAME_LEN;
use rocketmq_protocol::header::{SendMessageRequestHeader, SendMessageResponseHeader};
use rocketmq_protocol::message_id::create_offset_msg_id;
use rocketmq_protocol::properties::{
    iter_properties, set_property, CLUSTER, DELAY, MAX_PROPERTIES_LEN, NAME_VALUE_SEPARATOR,
    PROPERTY_SEPARATOR, TAGS, UNIQ_KEY, WAIT,
};
use rocketmq_protocol::sysflag::{COMPRESSED_FLAG, COMPRESSION_TYPE_MASK};
use rocketmq_protocol::tag::tags_code;
use rocketmq_store::{MessageToStore, PutOutcome, StoreError};
use std::net::SocketAddr;
use std::time::Duration;

/// What the send path needs from one message's properties, read in the same pass that builds
/// the stored property string.
struct StoredProperties {
    /// The producer's pairs in order (malformed segments and any `CLUSTER` dropped), then
    /// `UNIQ_KEY` if the producer set none, then `CLUSTER` (if the name is not empty).
    properties: String,
    /// The producer's last non-empty `UNIQ_KEY`, or the generated one.
    uniq_key: String,
    /// `WAIT` is "false" (any case): the producer does not wait for a sync flush.
    no_wait: bool,
    tags_code: i64,
}

/// Builds the stored property string once per message. It must equal what
/// `set_property(set_property(p, UNIQ_KEY, id), CLUSTER, cluster)` (the first call only when
/// no `UNIQ_KEY` is set) would give, without re-encoding the string twice: `iter_properties`
/// yields only non-empty values, so when no `UNIQ_KEY` is found there is none to remove.
fn stored_properties(
    props: &str,
    cluster: &str,
    new_uniq_key: impl FnOnce() -> String,
) -> StoredProperties {
    let mut out =
        String::with_capacity(props.len() + UNIQ_KEY.len() + 40 + CLUSTER.len() + cluster.len());
    let mut uniq_key = None;
    let mut wait = None;
    let mut tags = None;
    for (k, v) in iter_properties(props) {
        match k {
            CLUSTER => continue,
            UNIQ_KEY => uniq_key = Some(v),
            WAIT => wait = Some(v),
            TAGS => tags = Some(v),
            _ => {}
        }
        push_pair(&mut out, k, v);
    }
    let uniq_key = match uniq_key {
        Some(k) => k.to_string(),
        None => {
            let k = new_uniq_key();
            push_pair(&mut out, UNIQ_KEY, &k);
            k
        }
    };
    // `set_property` skips an empty value, so an empty cluster name adds nothing.
    if !cluster.is_empty() {
        push_pair(&mut out, CLUSTER, cluster);
    }
    StoredProperties {
        properties: out,
        uniq_key,
        no_wait: wait.is_some_and(|w| w.eq_ignore_ascii_case("false")),
        tags_code: tags_code(tags),
    }
}

fn push_pair(out: &mut String, k: &str, v: &str) {
    out.push_str(k);
    out.push(NAME_VALUE_SEPARATOR);
    out.push_str(v);
    out.push(PROPERTY_SEPARATOR);
}

/// A send after phase 1: either answered already (refused or failed) or appended.
pub(crate) enum SendPhase {
    Answered(RemotingCommand),
    Stored(Box<Stored>),
}

pub(crate) struct Stored {
    outcome: PutOutcome,
    wait_for_flush: bool,
    requested_queue: i32,
    uniq_keys: Vec<String>,
    /// The topic data version to see registered before answering (a topic this send created).
    announce: Option<i64>,
}

/// How long a send waits for its sync-flush acknowledgement (Java `syncFlushTimeout`).
pub const SYNC_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);
/// Java's default `MSG_REGION`.
const DEFAULT_REGION: &str = "DefaultRegion";

fn error(req: &RemotingCommand, code: i32, remark: impl Into<String>) -> RemotingCommand {
    RemotingCommand::response_to(req)
        .with_code(code)
        .with_remark(remark)
}

/// Maps a store failure to the answer a client understands, cause in the remark.
pub(crate) fn store_error(req: &RemotingCommand, e: &StoreError) -> RemotingCommand {
    let code = match e {
        StoreError::MessageIllegal(_) => resp::MESSAGE_ILLEGAL,
        StoreError::DiskFull(_) | StoreError::ShutDown => resp::SERVICE_NOT_AVAILABLE,
        StoreError::FlushTimeout => resp::FLUSH_DISK_TIMEOUT,
        StoreError::Io(_) => resp::SYSTEM_ERROR,
    };
    error(
        req,
        code,
        format!("the broker could not store the message: {e}"),
    )
}

impl Broker {
    /// Phase 1 of a send, run synchronously in the connection's reader so that sends on one
    /// connection are appended in arrival order: every check, then the append.
    pub(crate) fn send_message_store(&self, peer: SocketAddr, req: &RemotingCommand) -> SendPhase {
        match self.store_send(peer, req) {
            Ok(stored) => SendPhase::Stored(Box::new(stored)),
            Err(answer) => SendPhase::Answered(answer),
        }
    }

    /// Phase 2: waits for durability (sync flush) and builds the answer.
    pub(crate) async fn send_message_finish(
        &self,
        req: &RemotingCommand,
        phase: SendPhase,
    ) -> RemotingCommand {
        let stored = match phase {
            SendPhase::Answered(answer) => return answer,
            SendPhase::Stored(stored) => *stored,
        };
        let Stored {
            outcome,
            wait_for_flush,
            requested_queue,
            uniq_keys,
            announce,
        } = stored;
        if let Some(version) = announce {
            self.announced(version).await;
        }
        let mut code = resp::SUCCESS;
        let mut remark = String::new();
        if let (Some(waiter), true) = (outcome.durable, wait_for_flush) {
            match tokio::time::timeout(SYNC_FLUSH_TIMEOUT, waiter.0).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => {
                    tracing::warn!("flush failed: {e}");
                    code = resp::FLUSH_DISK_TIMEOUT;
                    remark = format!("the message is written but flushing it failed: {e}");
                }
                Ok(Err(_)) => {
                    code = resp::FLUSH_DISK_TIMEOUT;
                    remark = "the message is written but the store stopped before flushing".into();
                }
                Err(_) => {
                    code = resp::FLUSH_DISK_TIMEOUT;
                    remark = format!(
                        "the message is written but was not flushed within {SYNC_FLUSH_TIMEOUT:?}"
                    );
                }
            }
        }
        let Some(first) = outcome.results.first() else {
            return error(req, resp::SYSTEM_ERROR, "the store returned no result");
        };
        let msg_id = outcome
            .results
            .iter()
            .map(|r| create_offset_msg_id(self.store_host, r.commit_log_offset))
            .collect::<Vec<_>>()
            .join(",");
        let response_header = SendMessageResponseHeader {
            msg_id,
            queue_id: requested_queue,
            queue_offset: first.queue_offset,
            transaction_id: uniq_keys.into_iter().next(),
            batch_uniq_id: None,
            recall_handle: None,
        };
        RemotingCommand::response_to(req)
            .with_code(code)
            .with_remark(remark)
            .with_header(&response_header)
            .with_field(rocketmq_protocol::header::MSG_REGION, DEFAULT_REGION)
            .with_field(rocketmq_protocol::header::TRACE_ON, "true")
    }

    fn store_send(
        &self,
        peer: SocketAddr,
        req: &RemotingCommand,
    ) -> Result<Stored, RemotingCommand> {
        let header = match SendMessageRequestHeader::from_command(req) {
            Ok(h) => h,
            Err(e) => return Err(error(req, resp::SYSTEM_ERROR, e.to_string())),
        };
        if let Err(refusal) = validate_send_topic(&header.topic) {
            return Err(error(req, refusal.code, refusal.remark));
        }
        // Set when this send created the topic: the answer waits for the name server to know it.
        let mut announce = None;
        let topic_config = if header.topic.starts_with(RETRY_PREFIX) {
            self.topics.get_or_create(&header.topic, 1, 6)
        } else {
            let default_topic = if header.default_topic.is_empty() {
                AUTO_CREATE_TOPIC
            } else {
                header.default_topic.as_str()
            };
            let queues = if header.default_topic_queue_nums > 0 {
                header.default_topic_queue_nums
            } else {
                4
            };
            match self
                .topics
                .get_or_create_on_send(&header.topic, default_topic, queues)
            {
                Ok(Some((c, version))) => {
                    announce = version;
                    Ok(c)
                }
                Ok(None) => {
                    return Err(error(
                        req,
                        resp::TOPIC_NOT_EXIST,
                        format!(
                            "topic[{}] not exist, apply first please! (template topic {default_topic} cannot create it)",
                            header.topic
                        ),
                    ))
                }
                Err(e) => Err(e),
            }
        };
        let topic_config = match topic_config {
            Ok(c) => c,
            Err(e) => return Err(store_error(req, &e)),
        };
        let queue_count = topic_config
            .write_queue_nums
            .max(topic_config.read_queue_nums);
        let queue_id = if header.queue_id < 0 {
            rand::random_range(0..topic_config.write_queue_nums.max(1))
        } else if header.queue_id >= queue_count {
            return Err(error(
                req,
                resp::INVALID_PARAMETER,
                format!(
                    "request queueId[{}] is illegal: topic {} has {} queues",
                    header.queue_id, header.topic, queue_count
                ),
            ));
        } else {
            header.queue_id
        };

        let max = self.config.max_message_size;
        let batch = header.is_batch(req.code);
        let base = MessageToStore {
            topic: header.topic.clone(),
            queue_id,
            flag: header.flag,
            sys_flag: header.sys_flag,
            born_timestamp: header.born_timestamp,
            born_host: peer,
            store_host: self.store_host,
            reconsume_times: header.reconsume_times.unwrap_or(0),
            prepared_transaction_offset: 0,
            body: Bytes::new(),
            properties: String::new(),
            tags_code: 0,
        };
        let mut messages = Vec::new();
        if batch {
            let raw = if header.sys_flag & COMPRESSED_FLAG != 0 {
                match inflate(&req.body, MAX_FRAME_LEN.max(max)) {
                    Ok(v) => Bytes::from(v),
                    Err(e) => {
                        return Err(error(
                            req,
                            resp::MESSAGE_ILLEGAL,
                            format!("bad compressed batch: {e}"),
                        ))
                    }
                }
            } else {
                req.body.clone()
            };
            if raw.len() > max {
                return Err(error(
                    req,
                    resp::MESSAGE_ILLEGAL,
                    format!(
                        "the batch body is {} bytes, larger than the maximum message size of {max} bytes",
                        raw.len()
                    ),
                ));
            }
            let entries = match decode_batch(&raw) {
                Ok(e) if !e.is_empty() => e,
                Ok(_) => return Err(error(req, resp::MESSAGE_ILLEGAL, "the batch is empty")),
                Err(e) => {
                    return Err(error(
                        req,
                        resp::MESSAGE_ILLEGAL,
                        format!("malformed batch: {e}"),
                    ))
                }
            };
            let entry_sys_flag = header.sys_flag & !(COMPRESSED_FLAG | COMPRESSION_TYPE_MASK);
            for entry in entries {
                let mut m = base.clone();
                m.flag = entry.flag;
                m.sys_flag = entry_sys_flag;
                m.body = entry.body;
                m.properties = entry.properties;
                messages.push(m);
            }
        } else {
            if req.body.len() > max {
                return Err(error(
                    req,
                    resp::MESSAGE_ILLEGAL,
                    format!(
                        "the message body is {} bytes, larger than the maximum message size of {max} bytes",
                        req.body.len()
                    ),
                ));
            }
            let mut m = base;
            m.body = req.body.clone();
            m.properties = header.properties.clone().unwrap_or_default();
            messages.push(m);
        }

        let now = now_millis();
        let mut wait_for_flush = true;
        let mut uniq_keys = Vec::with_capacity(messages.len());
        for m in messages.iter_mut() {
            let stored = stored_properties(&m.properties, &self.config.cluster_name, || {
                self.uniq_ids.next_id()
            });
            let props = stored.properties;
            uniq_keys.push(stored.uniq_key);
            if stored.no_wait {
                wait_for_flush = false;
            }
            if props.len() > MAX_PROPERTIES_LEN {
                return Err(error(
                    req,
                    resp::MESSAGE_ILLEGAL,
                    format!(
                        "the message properties are {} bytes, larger than the maximum of {MAX_PROPERTIES_LEN} bytes",
                        props.len()
                    ),
                ));
            }
            m.tags_code = stored.tags_code;
            m.properties = props;
        }
        let mut requested_queue = queue_id;
        // A message re-published to a retry topic more often than allowed (the Java client's
        // fallback when send-back fails) goes to the dead-letter topic, undelayed.
        if !batch && header.topic.starts_with(RETRY_PREFIX) {
            let max = match header.max_reconsume_times {
                Some(m) if req.version >= MAX_RECONSUME_TIMES_MIN_VERSION => m,
                _ => DEFAULT_MAX_RECONSUME_TIMES,
            };
            if messages[0].reconsume_times > max {
                let group = &header.topic[RETRY_PREFIX.len()..];
                let dlq = match self.topics.get_or_create_dlq(group) {
                    Ok(c) => c,
                    Err(e) => return Err(store_error(req, &e)),
                };
                let m = &mut messages[0];
                tracing::info!(
                    group,
                    "retry limit reached: message goes to {}",
                    dlq.topic_name
                );
                m.topic = dlq.topic_name;
                m.queue_id = 0;
                m.properties = set_property(&m.properties, DELAY, "-1");
                requested_queue = 0;
            }
        }
        // The first phase of a transaction is stored as a half message, undelayed: a delay
        // applies once it is committed.
        let half = !batch
            && !header.topic.starts_with(RETRY_PREFIX)
            && is_half_message(&messages[0].properties, messages[0].reconsume_times);
        if half {
            if let Err(e) = self.topics.get_or_create(HALF_TOPIC, 1, 6) {
                return Err(store_error(req, &e));
            }
            let m = messages.remove(0);
            messages.push(to_half(m, &uniq_keys[0]));
        }
        // Delay levels apply to single messages only (clients refuse delayed batches).
        if !batch && !half {
            if let Some(level) = requested_delay_level(&messages[0].properties) {
                let m = messages.remove(0);
                requested_queue = m.queue_id;
                messages.push(to_scheduled(&self.delay_levels, m, level, now));
            }
        }

        let outcome = match self.store.put_messages(messages) {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(topic = header.topic, "send failed: {e}");
                return Err(store_error(req, &e));
            }
        };
        Ok(Stored {
            outcome,
            wait_for_flush,
            requested_queue,
            uniq_keys,
            announce,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::notify::{NotifyingStore, QueueNotifier};
    use crate::remoting::{ConnectionHandle, RequestProcessor};
    use rocketmq_protocol::properties::get_property;
    use rocketmq_store::{MemoryStore, MessageStore};
    use std::sync::Arc;

    #[test]
    fn store_errors_map_to_clear_answers() {
        let req = RemotingCommand::new_request(10).with_opaque(3);
        let cases = [
            (
                StoreError::DiskFull("no space left on device".into()),
                resp::SERVICE_NOT_AVAILABLE,
                "no space left",
            ),
            (
                StoreError::ShutDown,
                resp::SERVICE_NOT_AVAILABLE,
                "shut down",
            ),
            (
                StoreError::MessageIllegal("too big".into()),
                resp::MESSAGE_ILLEGAL,
                "too big",
            ),
            (StoreError::FlushTimeout, resp::FLUSH_DISK_TIMEOUT, "flush"),
            (
                StoreError::Io(std::io::Error::other("bad sector")),
                resp::SYSTEM_ERROR,
                "bad sector",
            ),
        ];
        for (e, code, cause) in cases {
            let answer = store_error(&req, &e);
            assert_eq!(answer.code, code, "{e}");
            assert_eq!(answer.opaque, 3);
            assert!(answer.remark.unwrap().contains(cause));
        }
    }

    /// The one-pass builder gives exactly the string of the two `set_property` calls it
    /// replaced, and reads UNIQ_KEY, WAIT and TAGS as `get_property` would.
    #[test]
    fn stored_properties_equal_the_set_property_composition() {
        let inputs = [
            "",
            "TAGS\u{1}a\u{2}",
            "KEYS\u{1}k1 k2\u{2}TAGS\u{1}t\u{2}WAIT\u{1}FALSE\u{2}",
            "UNIQ_KEY\u{1}ABC\u{2}CLUSTER\u{1}old\u{2}TAGS\u{1}x\u{2}",
            "UNIQ_KEY\u{1}\u{2}TAGS\u{1}x\u{2}",
            "UNIQ_KEY\u{1}A\u{2}UNIQ_KEY\u{1}B\u{2}WAIT\u{1}true\u{2}",
            "garbage\u{2}\u{1}v\u{2}k\u{1}\u{2}CLUSTER\u{1}c1\u{2}CLUSTER\u{1}c2\u{2}x\u{1}y",
            "TAGS\u{1}a\u{2}TAGS\u{1}b\u{2}WAIT\u{1}false",
        ];
        for cluster in ["DefaultCluster", ""] {
            for props in inputs {
                let built = stored_properties(props, cluster, || "GENERATED".to_string());
                let mut expected = props.to_string();
                let expected_key = match get_property(props, UNIQ_KEY) {
                    Some(k) if !k.is_empty() => k.to_string(),
                    _ => {
                        expected = set_property(&expected, UNIQ_KEY, "GENERATED");
                        "GENERATED".to_string()
                    }
                };
                expected = set_property(&expected, CLUSTER, cluster);
                assert_eq!(built.properties, expected, "{props:?} / {cluster:?}");
                assert_eq!(built.uniq_key, expected_key, "{props:?}");
                assert_eq!(
                    built.no_wait,
                    get_property(&expected, WAIT).is_some_and(|w| w.eq_ignore_ascii_case("false")),
                    "{props:?}"
                );
                assert_eq!(built.tags_code, tags_code(get_property(&expected, TAGS)));
            }
        }
        // A producer's UNIQ_KEY is kept: the generator is not called.
        let built = stored_properties("UNIQ_KEY\u{1}MINE\u{2}", "C", || unreachable!());
        assert_eq!(built.uniq_key, "MINE");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_store_that_refuses_writes_gets_an_error_answer_not_a_hang() {
        let notifier = Arc::new(QueueNotifier::default());
        let memory = Arc::new(MemoryStore::new());
        let store: Arc<dyn MessageStore> =
            Arc::new(NotifyingStore::new(memory.clone(), notifier.clone()));
        let (_stop, shutdown) = tokio::sync::watch::channel(false);
        let broker = Broker::new(
            crate::ServerConfig::default(),
            "127.0.0.1:10911".parse().unwrap(),
            store,
            notifier,
            shutdown,
        )
        .unwrap();
        let (conn, _rx) = ConnectionHandle::detached("127.0.0.1:5555".parse().unwrap());
        let send = || {
            RemotingCommand::new_request(10)
                .with_field("producerGroup", "PG")
                .with_field("topic", "T")
                .with_field("defaultTopic", "TBW102")
                .with_field("defaultTopicQueueNums", 4)
                .with_field("queueId", 0)
                .with_field("sysFlag", 0)
                .with_field("bornTimestamp", 1)
                .with_field("flag", 0)
                .with_body(b"x".to_vec())
        };
        let ok = broker.clone().process(conn.clone(), send()).await.unwrap();
        assert_eq!(ok.code, resp::SUCCESS, "{:?}", ok.remark);
        memory.shutdown();
        let answer = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            broker.clone().process(conn, send()),
        )
        .await
        .expect("answered promptly")
        .unwrap();
        assert_eq!(answer.code, resp::SERVICE_NOT_AVAILABLE);
        assert!(answer.remark.unwrap().contains("shut down"));
    }
}
