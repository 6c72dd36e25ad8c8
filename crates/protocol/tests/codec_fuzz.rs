//! Property/fuzz test for the wire codec: 1,000,000 cheap iterations (fixed seed) of random
//! bytes, valid frames cut at every length, frames with corrupted length / header-length /
//! type fields, random JSON-ish headers, random ext fields, random bodies and batches.
//!
//! Asserted for every input: nothing panics; `frame::check` and `frame::parse` agree (a
//! frame `check` accepts parses or fails only on its header, a prefix `check` wants more
//! of is `Incomplete` to `parse`, garbage `check` rejects is rejected by `parse`); whatever
//! parses re-encodes to bytes that parse to the same encoding; valid commands roundtrip
//! exactly in both serializations. Set `CODEC_FUZZ_ITERS` to run longer.

use bytes::{Bytes, BytesMut};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rocketmq_protocol::batch::{decode_batch, encode_batch, BatchEntry};
use rocketmq_protocol::body::{self, RegisterBrokerBody};
use rocketmq_protocol::code::LanguageCode;
use rocketmq_protocol::frame::{self, FrameError};
use rocketmq_protocol::header::*;
use rocketmq_protocol::message_id::decode_offset_msg_id;
use rocketmq_protocol::{RemotingCommand, SerializeType};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const DEFAULT_ITERS: u64 = 1_000_000;
const TIME_BUDGET: Duration = Duration::from_secs(300);

fn random_string(rng: &mut StdRng, max: usize) -> String {
    const PIECES: &[&str] = &[
        "a", "Z", "0", "9", "-", " ", "\"", "\\", "\n", "\u{1}", "\u{2}", "\u{7f}", "é", "✓", "{",
        "}", ":", ",", "%RETRY%", "TagA", "||",
    ];
    let n = rng.random_range(0..=max);
    (0..n)
        .map(|_| PIECES[rng.random_range(0..PIECES.len())])
        .collect()
}

fn random_command(rng: &mut StdRng) -> RemotingCommand {
    let mut cmd = RemotingCommand::new_request(if rng.random_bool(0.9) {
        rng.random_range(-5..400)
    } else {
        rng.random()
    });
    cmd.language = LanguageCode::from_byte(rng.random_range(0..14));
    cmd.version = rng.random_range(-10..500);
    cmd.opaque = rng.random();
    cmd.flag = rng.random_range(0..4);
    if rng.random_bool(0.5) {
        cmd.set_remark(random_string(rng, 6));
    }
    for _ in 0..rng.random_range(0..4) {
        cmd.ext_fields
            .insert(random_string(rng, 3), random_string(rng, 5));
    }
    let body_len = rng.random_range(0..16);
    cmd.body = Bytes::from((0..body_len).map(|_| rng.random()).collect::<Vec<u8>>());
    cmd.serialize_type = if rng.random_bool(0.5) {
        SerializeType::Json
    } else {
        SerializeType::RocketMq
    };
    cmd
}

/// The check/parse agreement property, plus re-encoding stability of whatever parses.
fn check_and_parse(buf: &[u8]) {
    match frame::check(buf) {
        Ok(None) => assert!(
            matches!(frame::parse(buf), Err(FrameError::Incomplete { .. })),
            "check wants more but parse did not say Incomplete: {buf:?}"
        ),
        Ok(Some(n)) => {
            assert!(n <= buf.len() && n >= 8);
            match frame::parse(&buf[..n]) {
                Ok(cmd) => {
                    let once = cmd.to_frame();
                    let again = frame::parse(&once).expect("re-encoded frame parses");
                    assert_eq!(again.to_frame(), once, "re-encoding is stable");
                    decode_some_headers(&cmd.ext_fields);
                }
                Err(FrameError::BadJsonHeader(_)) | Err(FrameError::BadBinaryHeader(_)) => {}
                Err(e) => panic!("check accepted a frame parse rejects as {e}: {buf:?}"),
            }
            if n < buf.len() {
                assert!(matches!(
                    frame::parse(buf),
                    Err(FrameError::TrailingBytes { .. })
                ));
            }
        }
        Err(_) => assert!(frame::parse(buf).is_err()),
    }
    let mut bm = BytesMut::from(buf);
    let _ = frame::decode(&mut bm);
}

fn decode_some_headers(fields: &BTreeMap<String, String>) {
    let _ = SendMessageRequestHeader::decode(fields);
    let _ = SendMessageRequestHeaderV2::decode(fields);
    let _ = PullMessageRequestHeader::decode(fields);
    let _ = QueryConsumerOffsetRequestHeader::decode(fields);
    let _ = RegisterBrokerRequestHeader::decode(fields);
    let _ = EndTransactionRequestHeader::decode(fields);
    let _ = CreateTopicRequestHeader::decode(fields);
}

fn json_frame(header: &[u8], body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + header.len() + body.len());
    v.extend_from_slice(&((4 + header.len() + body.len()) as u32).to_be_bytes());
    v.extend_from_slice(&(header.len() as u32).to_be_bytes());
    v.extend_from_slice(header);
    v.extend_from_slice(body);
    v
}

fn random_jsonish(rng: &mut StdRng) -> Vec<u8> {
    const TOKENS: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        "\"code\"",
        "\"extFields\"",
        "\"language\"",
        "\"opaque\"",
        "\"flag\"",
        "\"remark\"",
        "\"version\"",
        "\"topic\"",
        "\"CPP\"",
        "0",
        "1",
        "-1",
        "105",
        "99999999999",
        "1.5",
        "true",
        "false",
        "null",
        "\"\\u0001\"",
        "\"x\"",
        " ",
        "\n",
        "0:",
        "\"queueId\"",
        "\"brokerAddrs\"",
        "\"clientID\"",
        "\"consumerDataSet\"",
        "\"mqSet\"",
    ];
    let mut out = Vec::new();
    if rng.random_bool(0.7) {
        out.extend_from_slice(b"{\"code\":");
        out.extend_from_slice(rng.random_range(-3..300).to_string().as_bytes());
        out.push(b',');
    }
    for _ in 0..rng.random_range(0..12) {
        out.extend_from_slice(TOKENS[rng.random_range(0..TOKENS.len())].as_bytes());
    }
    if rng.random_bool(0.5) {
        out.push(b'}');
    }
    out
}

fn valid_frames(rng: &mut StdRng) -> Vec<Vec<u8>> {
    (0..64)
        .map(|_| random_command(rng).to_frame().to_vec())
        .collect()
}

fn valid_batch(rng: &mut StdRng) -> Vec<u8> {
    let entries: Vec<BatchEntry> = (0..rng.random_range(1..4))
        .map(|_| BatchEntry {
            flag: rng.random(),
            body: Bytes::from(random_string(rng, 4).into_bytes()),
            properties: random_string(rng, 4),
        })
        .collect();
    encode_batch(&entries).unwrap().to_vec()
}

#[test]
fn codec_survives_random_and_corrupted_input() {
    let iters: u64 = std::env::var("CODEC_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_ITERS);
    let mut rng = StdRng::seed_from_u64(0x5EED_C0DEC);
    let frames = valid_frames(&mut rng);
    let started = Instant::now();
    let mut parsed_ok = 0u64;
    let mut buf: Vec<u8> = Vec::with_capacity(256);
    for i in 0..iters {
        assert!(
            started.elapsed() < TIME_BUDGET,
            "fuzz loop exceeded its time budget at iteration {i}"
        );
        buf.clear();
        match i % 10 {
            // Pure random bytes.
            0 => {
                let n = rng.random_range(0..48);
                buf.extend((0..n).map(|_| rng.random::<u8>()));
                if rng.random_bool(0.5) && buf.len() >= 8 {
                    // Make the prefix plausible so parsing gets past the length check.
                    let len = (buf.len() - 4) as u32;
                    buf[..4].copy_from_slice(&len.to_be_bytes());
                    buf[4] = rng.random_range(0..2);
                }
                check_and_parse(&buf);
            }
            // A valid frame cut at a random length (every length is hit many times).
            1 => {
                let f = &frames[rng.random_range(0..frames.len())];
                let cut = rng.random_range(0..=f.len());
                buf.extend_from_slice(&f[..cut]);
                check_and_parse(&buf);
                if cut < f.len() {
                    assert_eq!(frame::check(&buf), Ok(None));
                }
            }
            // A valid frame with a corrupted length, header length, type byte or any byte.
            2 => {
                let f = &frames[rng.random_range(0..frames.len())];
                buf.extend_from_slice(f);
                match rng.random_range(0..5) {
                    0 => buf[..4].copy_from_slice(&rng.random::<u32>().to_be_bytes()),
                    1 => {
                        let hl = rng.random_range(0..0x100u32) | (u32::from(buf[4]) << 24);
                        buf[4..8].copy_from_slice(&hl.to_be_bytes());
                    }
                    2 => buf[4] = rng.random(),
                    3 => {
                        let at = rng.random_range(8..buf.len().max(9)).min(buf.len() - 1);
                        buf[at] = rng.random();
                    }
                    _ => {
                        // Corrupt a 4-byte length inside a binary header.
                        if buf.len() >= 12 {
                            let at = rng.random_range(8..buf.len() - 3);
                            buf[at..at + 4].copy_from_slice(&rng.random::<i32>().to_be_bytes());
                        }
                    }
                }
                check_and_parse(&buf);
            }
            // Random JSON-ish header in a well-formed frame.
            3 => {
                let header = random_jsonish(&mut rng);
                let f = json_frame(&header, b"");
                check_and_parse(&f);
                if let Ok(cmd) = frame::parse(&f) {
                    parsed_ok += 1;
                    let _ = cmd.field_i64("queueId");
                }
            }
            // Random valid command: exact roundtrip in its serialization.
            4 => {
                let cmd = random_command(&mut rng);
                let f = cmd.to_frame();
                let back = frame::parse(&f).expect("valid command parses");
                let mut expected = cmd.clone();
                if i16::try_from(cmd.code).is_err() || i16::try_from(cmd.version).is_err() {
                    expected.serialize_type = SerializeType::Json;
                }
                assert_eq!(back, expected);
                parsed_ok += 1;
            }
            // Random bodies through every lenient JSON decoder.
            5 => {
                let text = random_jsonish(&mut rng);
                let _ = body::decode_json::<serde_json::Value>(&text);
                let _ = body::decode_json::<body::HeartbeatData>(&text);
                let _ = body::decode_json::<body::TopicRouteData>(&text);
                let _ = body::decode_json::<body::LockBatchRequestBody>(&text);
                let _ = body::decode_json::<body::ClusterInfo>(&text);
            }
            // Batches: valid ones roundtrip, corrupted/truncated ones never panic.
            6 => {
                let b = valid_batch(&mut rng);
                let cut = rng.random_range(0..=b.len());
                let mut bad = b[..cut].to_vec();
                if !bad.is_empty() && rng.random_bool(0.5) {
                    let at = rng.random_range(0..bad.len());
                    bad[at] = rng.random();
                }
                let parsed = decode_batch(&Bytes::from(b.clone())).expect("valid batch");
                assert_eq!(encode_batch(&parsed).unwrap().to_vec(), b);
                if let Ok(entries) = decode_batch(&Bytes::from(bad)) {
                    let _ = encode_batch(&entries);
                }
            }
            // Random ext fields through header decoders and typed re-encoding.
            7 => {
                let mut fields = BTreeMap::new();
                for key in ["topic", "queueId", "a", "e", "g", "sysFlag", "compressed"] {
                    if rng.random_bool(0.6) {
                        fields.insert(key.to_string(), random_string(&mut rng, 3));
                    }
                }
                decode_some_headers(&fields);
                if let Ok(h) = GetMaxOffsetRequestHeader::decode(&fields) {
                    let mut out = BTreeMap::new();
                    h.encode(&mut out);
                    assert_eq!(GetMaxOffsetRequestHeader::decode(&out).unwrap(), h);
                }
            }
            // Random bytes as compressed registration bodies and message ids.
            8 => {
                let n = rng.random_range(0..32);
                buf.extend((0..n).map(|_| rng.random::<u8>()));
                let _ = RegisterBrokerBody::decode(&buf, true);
                let id = random_string(&mut rng, 32);
                let _ = decode_offset_msg_id(&id);
            }
            // Pipelined valid frames split at a random point: decode yields them in order.
            _ => {
                let a = &frames[rng.random_range(0..frames.len())];
                let b = &frames[rng.random_range(0..frames.len())];
                let mut stream = BytesMut::new();
                stream.extend_from_slice(a);
                stream.extend_from_slice(b);
                let first = frame::decode(&mut stream).unwrap().expect("first frame");
                assert_eq!(first.to_frame().len(), a.len());
                let second = frame::decode(&mut stream).unwrap().expect("second frame");
                assert_eq!(second.to_frame().len(), b.len());
                assert!(stream.is_empty());
            }
        }
    }
    // The generators must actually reach the parsers, not just bounce off the checks.
    assert!(parsed_ok > iters / 10, "only {parsed_ok} inputs parsed");
}
