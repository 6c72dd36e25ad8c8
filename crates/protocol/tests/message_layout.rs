//! Golden and round-trip tests of the stored message layout (spec 4.8).

use bytes::Bytes;
use rocketmq_protocol::message::*;
use rocketmq_protocol::properties::{encode_pairs, get_property, TAGS};
use rocketmq_protocol::sysflag::{BORNHOST_V6_FLAG, STOREHOSTADDRESS_V6_FLAG};
use std::net::SocketAddr;

fn sample(topic: &str, body: &[u8], props: &str) -> StoredMessage {
    StoredMessage {
        total_size: 0,
        magic_code: 0,
        body_crc: 0,
        queue_id: 3,
        flag: 7,
        queue_offset: 42,
        physical_offset: 123_456,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        born_host: "10.1.2.3:54321".parse().unwrap(),
        store_timestamp: 1_700_000_000_123,
        store_host: "127.0.0.1:10911".parse().unwrap(),
        reconsume_times: 2,
        prepared_transaction_offset: 0,
        body: Bytes::copy_from_slice(body),
        topic: topic.to_string(),
        properties: props.to_string(),
    }
}

/// A 70-byte property string.
fn props70() -> String {
    let s = encode_pairs(&[
        ("TAGS", "TagA"),
        ("UNIQ_KEY", "0123456789ABCDEF0123456789ABCDEF"),
        ("KEYS", "k1 k2 k3 k4"),
        ("WAIT", "true"),
    ]);
    let mut s = s;
    while s.len() < 70 {
        s.push('x');
    }
    s.truncate(70);
    s
}

#[test]
fn golden_size_and_bytes() {
    let props = props70();
    assert_eq!(props.len(), 70);
    let m = sample("TopicA", b"Hello!!", &props);
    let bytes = encode_stored(&m).unwrap();
    assert_eq!(bytes.len(), 174);

    // Build the expected bytes field by field, independently of the encoder.
    let mut e: Vec<u8> = Vec::new();
    e.extend_from_slice(&174i32.to_be_bytes());
    e.extend_from_slice(&[0xDA, 0xA3, 0x20, 0xA7]);
    e.extend_from_slice(&((crc32fast::hash(b"Hello!!") & 0x7FFF_FFFF) as i32).to_be_bytes());
    e.extend_from_slice(&3i32.to_be_bytes());
    e.extend_from_slice(&7i32.to_be_bytes());
    e.extend_from_slice(&42i64.to_be_bytes());
    e.extend_from_slice(&123_456i64.to_be_bytes());
    e.extend_from_slice(&0i32.to_be_bytes());
    e.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
    e.extend_from_slice(&[10, 1, 2, 3, 0, 0, 0xD4, 0x31]);
    e.extend_from_slice(&1_700_000_000_123i64.to_be_bytes());
    e.extend_from_slice(&[127, 0, 0, 1, 0, 0, 0x2A, 0x9F]);
    e.extend_from_slice(&2i32.to_be_bytes());
    e.extend_from_slice(&0i64.to_be_bytes());
    e.extend_from_slice(&7i32.to_be_bytes());
    e.extend_from_slice(b"Hello!!");
    e.push(6);
    e.extend_from_slice(b"TopicA");
    e.extend_from_slice(&70i16.to_be_bytes());
    e.extend_from_slice(props.as_bytes());
    assert_eq!(bytes, e);

    assert_eq!(
        &bytes[POS_QUEUE_OFFSET..POS_QUEUE_OFFSET + 8],
        &42i64.to_be_bytes()
    );
    assert_eq!(
        &bytes[POS_PHYSICAL_OFFSET..POS_PHYSICAL_OFFSET + 8],
        &123_456i64.to_be_bytes()
    );
    let ts = pos_store_timestamp(0);
    assert_eq!(&bytes[ts..ts + 8], &1_700_000_000_123i64.to_be_bytes());
    assert_eq!(peek_store_timestamp(&bytes), Some(1_700_000_000_123));
    assert_eq!(record_header(&bytes), RecordHeader::Message { size: 174 });
}

#[test]
fn roundtrip_v1_v2_ipv6() {
    let long_topic = "T".repeat(200);
    let cases = [
        sample("TopicA", b"Hello!!", &props70()),
        sample("T", b"", ""),
        sample(&long_topic, &[0u8, 1, 2, 255], "a\u{1}b\u{2}"),
        {
            let mut m = sample("Six", b"body", "");
            m.born_host = "[2001:db8::1]:1234".parse().unwrap();
            m
        },
        {
            let mut m = sample("Mapped", b"body", "");
            m.store_host = "[::ffff:192.168.0.9]:10911".parse().unwrap();
            m.sys_flag = STOREHOSTADDRESS_V6_FLAG; // stale bit must be cleared
            m
        },
    ];
    for mut m in cases {
        let bytes = encode_stored(&m).unwrap();
        let (d, used) = decode_stored(&bytes).unwrap();
        assert_eq!(used, bytes.len());
        m.normalize();
        assert_eq!(d, m);
        assert_eq!(d.total_size as usize, bytes.len());
        // Followed by more bytes: only the first record is consumed.
        let mut two = bytes.clone();
        two.extend_from_slice(&bytes);
        let all = decode_stored_all(&two).unwrap();
        assert_eq!(all.len(), 2);
        assert!(view_record(&bytes, true).is_ok());
    }
    let long = encode_stored(&sample(&long_topic, b"x", "")).unwrap();
    assert_eq!(&long[4..8], &MAGIC_CODE_V2.to_be_bytes());

    let mut six = sample("Six", b"body", "");
    six.born_host = "[2001:db8::1]:1234".parse().unwrap();
    six.store_host = "[2001:db8::2]:10911".parse().unwrap();
    let b = encode_stored(&six).unwrap();
    assert_eq!(b.len(), MIN_RECORD_LEN + 24 + 4 + 3);
    let (d, _) = decode_stored(&b).unwrap();
    assert_eq!(d.sys_flag, BORNHOST_V6_FLAG | STOREHOSTADDRESS_V6_FLAG);
    assert_eq!(
        d.store_host,
        "[2001:db8::2]:10911".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(peek_store_timestamp(&b), Some(six.store_timestamp));

    let mapped = canonical_host("[::ffff:1.2.3.4]:5".parse().unwrap());
    assert_eq!(mapped, "1.2.3.4:5".parse::<SocketAddr>().unwrap());
}

#[test]
fn crc_and_blank_detection() {
    let m = sample("TopicA", b"payload", "TAGS\u{1}X\u{2}");
    let mut bytes = encode_stored(&m).unwrap();
    let v = view_record(&bytes, true).unwrap();
    assert_eq!(get_property(v.properties, TAGS), Some("X"));
    let body_pos = pos_body_len(0) + 4;
    bytes[body_pos] ^= 0xFF;
    assert!(matches!(
        view_record(&bytes, true),
        Err(MessageDecodeError::BodyCrcMismatch { .. })
    ));
    // Without CRC check the structure is still fine.
    assert!(view_record(&bytes, false).is_ok());

    let mut blank = vec![0u8; 64];
    write_blank(&mut blank, 64);
    assert_eq!(record_header(&blank), RecordHeader::Blank { size: 64 });
    assert!(matches!(
        decode_stored(&blank),
        Err(MessageDecodeError::Blank { size: 64 })
    ));
    assert_eq!(record_header(&[0u8; 100]), RecordHeader::End);
    assert_eq!(record_header(&[0u8; 3]), RecordHeader::End);
    assert_eq!(record_header(&[1u8; 100]), RecordHeader::Invalid);
    // Claims more bytes than available.
    let full = encode_stored(&m).unwrap();
    assert_eq!(
        record_header(&full[..full.len() - 1]),
        RecordHeader::Invalid
    );
    assert!(matches!(
        decode_stored(&full[..full.len() - 1]),
        Err(MessageDecodeError::Truncated { .. })
    ));
}

#[test]
fn encode_rejects_oversized_fields() {
    let props = "p".repeat(40_000);
    assert!(matches!(
        encode_stored(&sample("T", b"", &props)),
        Err(MessageEncodeError::PropertiesTooLong(40_000))
    ));
}
