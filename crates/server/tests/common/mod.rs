//! A tiny blocking client for integration tests: boots an `EmbeddedCluster` on ephemeral
//! loopback ports with a temp store and speaks raw frames over `TcpStream`.
#![allow(dead_code)]

use bytes::BytesMut;
use rocketmq_protocol::frame;
use rocketmq_protocol::message::{decode_stored_all, StoredMessage};
use rocketmq_protocol::RemotingCommand;
use rocketmq_server::{EmbeddedCluster, ServerConfig};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

/// Longest any single test wait may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(20);

pub fn config(dir: &Path) -> ServerConfig {
    ServerConfig {
        host: "127.0.0.1".into(),
        namesrv_port: 0,
        broker_port: 0,
        store_dir: dir.to_path_buf(),
        commit_log_segment_size: 1 << 20,
        delay_levels: "1s 2s 3s".into(),
        ..ServerConfig::default()
    }
}

pub fn start(dir: &Path) -> EmbeddedCluster {
    EmbeddedCluster::start(config(dir)).expect("cluster starts")
}

pub struct Client {
    stream: TcpStream,
    buf: BytesMut,
    next_opaque: i32,
    /// Requests the server pushed to us (NOTIFY_CONSUMER_IDS_CHANGED, ...).
    pub pushed: Vec<RemotingCommand>,
    /// Responses read while waiting for another opaque.
    pub other_responses: Vec<RemotingCommand>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            buf: BytesMut::new(),
            next_opaque: 1,
            pushed: Vec::new(),
            other_responses: Vec::new(),
        }
    }

    /// Half-closes: the server sees end of stream but can still answer.
    pub fn finish_sending(&mut self) {
        self.stream
            .shutdown(std::net::Shutdown::Write)
            .expect("shutdown write");
    }

    pub fn write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Sends `cmd` with a fresh opaque; returns the opaque.
    pub fn send(&mut self, mut cmd: RemotingCommand) -> i32 {
        let opaque = self.next_opaque;
        self.next_opaque += 1;
        cmd.opaque = opaque;
        self.stream.write_all(&cmd.to_frame()).expect("write");
        opaque
    }

    /// Reads the next frame, waiting at most `timeout`. `Ok(None)` on timeout, `Err` when the
    /// server closed the connection.
    pub fn read_frame(&mut self, timeout: Duration) -> Result<Option<RemotingCommand>, String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(cmd) = frame::decode(&mut self.buf).map_err(|e| format!("{e:?}"))? {
                return Ok(Some(cmd));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.stream.set_read_timeout(Some(left)).unwrap();
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err("connection closed".into()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    return Ok(None)
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    /// Reads the next whole frame as raw bytes (to inspect exactly what the server wrote).
    pub fn read_raw_frame(&mut self, timeout: Duration) -> Vec<u8> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(n) = frame::check(&self.buf).expect("valid frame") {
                return self.buf.split_to(n).to_vec();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no frame within {timeout:?}");
            self.stream.set_read_timeout(Some(left)).unwrap();
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!("connection closed"),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) => panic!("read failed: {e}"),
            }
        }
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.stream.local_addr().unwrap()
    }

    /// Waits for the response with `opaque`, stashing anything else.
    pub fn wait_response(&mut self, opaque: i32, timeout: Duration) -> Option<RemotingCommand> {
        let deadline = Instant::now() + timeout;
        if let Some(i) = self.other_responses.iter().position(|r| r.opaque == opaque) {
            return Some(self.other_responses.remove(i));
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.read_frame(left) {
                Ok(Some(cmd)) if cmd.is_response() && cmd.opaque == opaque => return Some(cmd),
                Ok(Some(cmd)) if cmd.is_response() => self.other_responses.push(cmd),
                Ok(Some(cmd)) => self.pushed.push(cmd),
                Ok(None) => return None,
                Err(e) => panic!("while waiting for response {opaque}: {e}"),
            }
        }
    }

    /// Sends and waits for the answer.
    pub fn call(&mut self, cmd: RemotingCommand) -> RemotingCommand {
        let code = cmd.code;
        let opaque = self.send(cmd);
        self.wait_response(opaque, WAIT)
            .unwrap_or_else(|| panic!("no answer to request code {code}"))
    }

    /// Waits until a pushed request with `code` arrived.
    pub fn wait_pushed(&mut self, code: i32, timeout: Duration) -> Option<RemotingCommand> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.pushed.iter().position(|r| r.code == code) {
                return Some(self.pushed.remove(i));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.read_frame(left) {
                Ok(Some(cmd)) if cmd.is_response() => self.other_responses.push(cmd),
                Ok(Some(cmd)) => self.pushed.push(cmd),
                Ok(None) => return None,
                Err(_) => return None,
            }
        }
    }
}

/// Creates `topic` (UPDATE_AND_CREATE_TOPIC) with `queues` read and write queues.
pub fn create_topic(c: &mut Client, topic: &str, queues: i32) {
    create_topic_request(c, topic, queues, None);
}

/// Creates `topic` with `queues` queues and RocketMQ 5's `message.type` attribute.
pub fn create_topic_of_type(c: &mut Client, topic: &str, queues: i32, message_type: &str) {
    create_topic_request(c, topic, queues, Some(message_type));
}

fn create_topic_request(c: &mut Client, topic: &str, queues: i32, message_type: Option<&str>) {
    let mut request = RemotingCommand::new_request(17)
        .with_field("topic", topic)
        .with_field("defaultTopic", "TBW102")
        .with_field("readQueueNums", queues)
        .with_field("writeQueueNums", queues)
        .with_field("perm", 6)
        .with_field("topicFilterType", "SINGLE_TAG");
    if let Some(t) = message_type {
        request = request.with_field("attributes", format!("+message.type={t}"));
    }
    let r = c.call(request);
    assert_eq!(r.code, 0, "{:?}", r.remark);
}

/// A SEND_MESSAGE (V1) request as the Java client names the fields.
pub fn send_v1(topic: &str, queue_id: i32, body: &[u8], properties: &str) -> RemotingCommand {
    RemotingCommand::new_request(10)
        .with_field("producerGroup", "PG")
        .with_field("topic", topic)
        .with_field("defaultTopic", "TBW102")
        .with_field("defaultTopicQueueNums", 4)
        .with_field("queueId", queue_id)
        .with_field("sysFlag", 0)
        .with_field("bornTimestamp", 1_700_000_000_000i64)
        .with_field("flag", 0)
        .with_field("properties", properties)
        .with_field("reconsumeTimes", 0)
        .with_field("unitMode", false)
        .with_field("batch", false)
        .with_body(body.to_vec())
}

/// A PULL_MESSAGE request with the subscription flag (and `extra` sys flags).
pub fn pull(
    group: &str,
    topic: &str,
    queue_id: i32,
    offset: i64,
    sys_flag: i32,
    subscription: &str,
    suspend_ms: i64,
) -> RemotingCommand {
    RemotingCommand::new_request(11)
        .with_field("consumerGroup", group)
        .with_field("topic", topic)
        .with_field("queueId", queue_id)
        .with_field("queueOffset", offset)
        .with_field("maxMsgNums", 32)
        .with_field("sysFlag", sys_flag)
        .with_field("commitOffset", 0)
        .with_field("suspendTimeoutMillis", suspend_ms)
        .with_field("subscription", subscription)
        .with_field("subVersion", 0)
}

/// One batch-body entry (spec 4.7).
pub fn batch_entry(body: &[u8], properties: &str) -> Vec<u8> {
    let total = 20 + body.len() + 2 + properties.len();
    let mut v = Vec::with_capacity(total);
    v.extend_from_slice(&(total as i32).to_be_bytes());
    v.extend_from_slice(&0i32.to_be_bytes());
    v.extend_from_slice(&0i32.to_be_bytes());
    v.extend_from_slice(&0i32.to_be_bytes());
    v.extend_from_slice(&(body.len() as i32).to_be_bytes());
    v.extend_from_slice(body);
    v.extend_from_slice(&(properties.len() as u16).to_be_bytes());
    v.extend_from_slice(properties.as_bytes());
    v
}

/// A frame with a hand-written JSON header (to send exactly what cpp sends).
pub fn raw_json_frame(header_json: &str, body: &[u8]) -> Vec<u8> {
    let h = header_json.as_bytes();
    let mut v = Vec::new();
    v.extend_from_slice(&((4 + h.len() + body.len()) as u32).to_be_bytes());
    v.extend_from_slice(&(h.len() as u32).to_be_bytes());
    v.extend_from_slice(h);
    v.extend_from_slice(body);
    v
}

pub fn heartbeat_body(client_id: &str, group: &str, topic: &str, sub: &str) -> Vec<u8> {
    serde_json::json!({
        "clientID": client_id,
        "consumerDataSet": [{
            "consumeFromWhere": 0, "consumeType": 1, "groupName": group, "messageModel": 1,
            "subscriptionDataSet": [
                {"subString": sub, "subVersion": "1", "topic": topic},
                {"subString": "*", "subVersion": "1", "topic": format!("%RETRY%{group}")}
            ]
        }]
    })
    .to_string()
    .into_bytes()
}

/// Asks the name server for `topic`'s route until it has one (registration is asynchronous).
pub fn wait_route(namesrv: SocketAddr, topic: &str) -> RemotingCommand {
    let mut c = Client::connect(namesrv);
    let deadline = Instant::now() + WAIT;
    loop {
        let r = c.call(RemotingCommand::new_request(105).with_field("topic", topic));
        if r.code == 0 {
            return r;
        }
        assert!(Instant::now() < deadline, "no route for {topic}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn messages(r: &RemotingCommand) -> Vec<StoredMessage> {
    decode_stored_all(&r.body).expect("pulled records decode")
}

pub fn assert_pull_header(r: &RemotingCommand) {
    for key in [
        "suggestWhichBrokerId",
        "nextBeginOffset",
        "minOffset",
        "maxOffset",
    ] {
        assert!(
            r.field(key).is_some_and(|v| v.parse::<i64>().is_ok()),
            "pull answer {} lacks {key}: {:?}",
            r.code,
            r.ext_fields
        );
    }
}

/// Pulls everything from offset 0 of one queue with subscription `*` (no suspend).
pub fn pull_all(c: &mut Client, topic: &str, queue: i32) -> Vec<StoredMessage> {
    let r = c.call(pull("G", topic, queue, 0, 4, "*", 0));
    assert_pull_header(&r);
    if r.code == 19 {
        return Vec::new();
    }
    assert_eq!(r.code, 0, "{:?}", r.remark);
    messages(&r)
}
