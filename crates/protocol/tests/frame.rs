//! Frame and header golden tests: exact bytes of the spec 1.3 worked example in both
//! serializations, the captured cpp 1.2.3 request of spec 1.2/7, and roundtrips.

use bytes::{BufMut, Bytes, BytesMut};
use rocketmq_protocol::code::{request_code, LanguageCode};
use rocketmq_protocol::frame::{self, FrameError, MAX_FRAME_LEN};
use rocketmq_protocol::{RemotingCommand, SerializeType};

fn route_request(serialize_type: SerializeType) -> RemotingCommand {
    let mut cmd = RemotingCommand::new_request(request_code::GET_ROUTEINFO_BY_TOPIC)
        .with_opaque(1)
        .with_field("topic", "T");
    cmd.language = LanguageCode::Java;
    cmd.version = 401;
    cmd.serialize_type = serialize_type;
    cmd
}

#[test]
fn json_worked_example_exact_bytes() {
    let header = br#"{"code":105,"extFields":{"topic":"T"},"flag":0,"language":"JAVA","opaque":1,"serializeTypeCurrentRPC":"JSON","version":401}"#;
    assert_eq!(header.len(), 123);
    let mut expected = vec![0x00, 0x00, 0x00, 0x7F, 0x00, 0x00, 0x00, 0x7B];
    expected.extend_from_slice(header);
    assert_eq!(expected.len(), 131);

    let frame = route_request(SerializeType::Json).to_frame();
    assert_eq!(&frame[..], &expected[..]);
    assert_eq!(frame::check(&expected), Ok(Some(131)));
    let parsed = frame::parse(&expected).unwrap();
    assert_eq!(parsed, route_request(SerializeType::Json));
}

#[test]
fn rocketmq_worked_example_exact_bytes() {
    let mut expected = vec![0x00, 0x00, 0x00, 0x25, 0x01, 0x00, 0x00, 0x21];
    expected.extend_from_slice(&[0x00, 0x69, 0x00, 0x01, 0x91]);
    expected.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0C]);
    expected.extend_from_slice(&[0x00, 0x05]);
    expected.extend_from_slice(b"topic");
    expected.extend_from_slice(&[0, 0, 0, 1]);
    expected.extend_from_slice(b"T");
    assert_eq!(expected.len(), 41);

    let frame = route_request(SerializeType::RocketMq).to_frame();
    assert_eq!(&frame[..], &expected[..]);
    let parsed = frame::parse(&expected).unwrap();
    assert_eq!(parsed, route_request(SerializeType::RocketMq));
    assert_eq!(parsed.serialize_type, SerializeType::RocketMq);
}

fn json_frame(header: &str, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&((4 + header.len() + body.len()) as u32).to_be_bytes());
    v.extend_from_slice(&(header.len() as u32).to_be_bytes());
    v.extend_from_slice(header.as_bytes());
    v.extend_from_slice(body);
    v
}

#[test]
fn cpp_send_request_parses() {
    // Captured from cpp 1.2.3 (spec sec 7): numbers among extFields, trailing newline.
    let header = concat!(
        r#"{"code":10,"extFields":{"AccessKey":"","OnsChannel":"ALIYUN","Signature":"..","batch":"0","#,
        r#""bornTimestamp":"1795666352078","defaultTopic":"TBW102","defaultTopicQueueNums":4,"flag":0,"#,
        r#""producerGroup":"PG1","properties":"KEYS\u0001k1 k2\u0002TAGS\u0001TagA\u0002WAIT\u0001true\u0002","#,
        r#""queueId":0,"reconsumeTimes":"0","sysFlag":0,"topic":"TopicA","unitMode":"0"},"#,
        r#""flag":0,"language":"CPP","opaque":1,"remark":"","version":63}"#,
        "\n"
    );
    let bytes = json_frame(header, b"hello");
    assert_eq!(frame::check(&bytes), Ok(Some(bytes.len())));
    let cmd = frame::parse(&bytes).unwrap();
    assert_eq!(cmd.code, 10);
    assert_eq!(cmd.language, LanguageCode::Cpp);
    assert_eq!(cmd.version, 63);
    assert_eq!(cmd.opaque, 1);
    assert_eq!(cmd.remark, None);
    assert_eq!(cmd.field("defaultTopicQueueNums"), Some("4"));
    assert_eq!(cmd.field_i32("queueId"), Some(0));
    assert_eq!(cmd.field_i64("bornTimestamp"), Some(1795666352078));
    assert_eq!(cmd.field_bool("batch"), Some(false));
    assert_eq!(
        cmd.field("properties"),
        Some("KEYS\u{1}k1 k2\u{2}TAGS\u{1}TagA\u{2}WAIT\u{1}true\u{2}")
    );
    assert_eq!(&cmd.body[..], b"hello");
}

#[test]
fn cpp_route_request_parses() {
    let header = "{\"code\":105,\"extFields\":{\"AccessKey\":\"\",\"OnsChannel\":\"ALIYUN\",\"Signature\":\"Sf55=\",\"topic\":\"TopicA\"},\"flag\":0,\"language\":\"CPP\",\"opaque\":0,\"remark\":\"\",\"version\":63}\n";
    let cmd = frame::parse(&json_frame(header, b"")).unwrap();
    assert_eq!(cmd.code, 105);
    assert_eq!(cmd.field("topic"), Some("TopicA"));
    assert!(cmd.body.is_empty());
}

#[test]
fn lenient_json_header_values() {
    let header = r#"{"code":"34","extFields":{"b":true,"n":null,"f":1.5,"neg":-3},"language":9,"opaque":7,"flag":1,"remark":null,"unknown":{"x":[1]},"serializeTypeCurrentRPC":"JSON","version":479}"#;
    let cmd = frame::parse(&json_frame(header, b"")).unwrap();
    assert_eq!(cmd.code, 34);
    assert_eq!(cmd.language, LanguageCode::Go);
    assert_eq!(cmd.field("b"), Some("true"));
    assert_eq!(cmd.field("n"), None);
    assert_eq!(cmd.field("f"), Some("1.5"));
    assert_eq!(cmd.field_i32("neg"), Some(-3));
    assert!(cmd.is_response());
    assert_eq!(cmd.remark, None);
    let unknown_lang = r#"{"code":1,"language":"KOTLIN"}"#;
    let cmd = frame::parse(&json_frame(unknown_lang, b"")).unwrap();
    assert_eq!(cmd.language, LanguageCode::Other);
}

#[test]
fn bad_json_headers_are_errors() {
    for h in [
        "",
        "[]",
        "{",
        r#"{"opaque":1}"#,
        r#"{"code":99999999999}"#,
        r#"{"code":1,"extFields":[1]}"#,
        r#"{"code":1} x"#,
        r#"{"code":1,"opaque":"abc"}"#,
    ] {
        let r = frame::parse(&json_frame(h, b""));
        assert!(matches!(r, Err(FrameError::BadJsonHeader(_))), "{h}: {r:?}");
    }
}

#[test]
fn json_writes_strings_and_escapes_control_chars() {
    let cmd = RemotingCommand::response_to(&RemotingCommand::new_request(10).with_opaque(9))
        .with_remark("a\"b\\c\nd")
        .with_field("queueId", 3)
        .with_field("properties", "K\u{1}v\u{2}é");
    let frame = cmd.to_frame();
    let header = std::str::from_utf8(&frame[8..]).unwrap();
    assert_eq!(
        header,
        r#"{"code":0,"extFields":{"properties":"K\u0001v\u0002é","queueId":"3"},"flag":1,"language":"JAVA","opaque":9,"remark":"a\"b\\c\u000ad","serializeTypeCurrentRPC":"JSON","version":401}"#
    );
    assert_eq!(frame::parse(&frame).unwrap(), cmd);
}

#[test]
fn json_writes_empty_ext_fields_for_a_custom_header_only() {
    let plain = RemotingCommand::response_to(&RemotingCommand::new_request(34).with_opaque(2));
    let header_of = |cmd: &RemotingCommand| {
        let frame = cmd.to_frame();
        String::from_utf8(frame[8..].to_vec()).unwrap()
    };
    assert_eq!(
        header_of(&plain),
        r#"{"code":0,"flag":1,"language":"JAVA","opaque":2,"serializeTypeCurrentRPC":"JSON","version":401}"#
    );
    let with_header = plain.clone().with_custom_header();
    assert_eq!(
        header_of(&with_header),
        r#"{"code":0,"extFields":{},"flag":1,"language":"JAVA","opaque":2,"serializeTypeCurrentRPC":"JSON","version":401}"#
    );
    assert_ne!(with_header, plain);
    let back = frame::parse(&with_header.to_frame()).unwrap();
    assert!(back.keep_empty_ext_fields);
    assert_eq!(back, with_header);
    assert_eq!(frame::parse(&plain.to_frame()).unwrap(), plain);
}

#[test]
fn roundtrip_both_serializations_with_body() {
    for st in [SerializeType::Json, SerializeType::RocketMq] {
        let mut cmd = RemotingCommand::new_request(11)
            .with_opaque(-5)
            .with_remark("remark ✓")
            .with_field("consumerGroup", "CG1")
            .with_field("empty", "")
            .with_body(Bytes::from_static(b"\x00\x01body"));
        cmd.serialize_type = st;
        cmd.language = LanguageCode::Cpp;
        cmd.set_oneway(true);
        let frame = cmd.to_frame();
        assert_eq!(frame::check(&frame), Ok(Some(frame.len())));
        let back = frame::parse(&frame).unwrap();
        assert_eq!(back, cmd);

        let mut without_body = BytesMut::new();
        cmd.encode_without_body(&mut without_body);
        without_body.put_slice(&cmd.body);
        assert_eq!(&without_body[..], &frame[..]);
    }
}

#[test]
fn rocketmq_falls_back_to_json_for_large_codes() {
    let mut cmd = RemotingCommand::new_request(request_code::POP_MESSAGE);
    cmd.serialize_type = SerializeType::RocketMq;
    let frame = cmd.to_frame();
    assert_eq!(frame[4], 0);
    let back = frame::parse(&frame).unwrap();
    assert_eq!(back.code, 200050);
    assert_eq!(back.serialize_type, SerializeType::Json);
}

#[test]
fn check_reports_partial_and_garbage() {
    let frame = route_request(SerializeType::Json).to_frame();
    for cut in 0..frame.len() {
        assert_eq!(frame::check(&frame[..cut]), Ok(None), "cut {cut}");
        assert!(matches!(
            frame::parse(&frame[..cut]),
            Err(FrameError::Incomplete { .. })
        ));
    }
    let mut longer = frame.to_vec();
    longer.extend_from_slice(b"next");
    assert_eq!(frame::check(&longer), Ok(Some(frame.len())));
    assert!(matches!(
        frame::parse(&longer),
        Err(FrameError::TrailingBytes { .. })
    ));

    assert_eq!(
        frame::check(&[0, 0, 0, 3]),
        Err(FrameError::LengthTooSmall(3))
    );
    let too_long = ((MAX_FRAME_LEN - 3) as u32).to_be_bytes();
    assert!(matches!(
        frame::check(&too_long),
        Err(FrameError::TooLong { .. })
    ));
    let max_ok = ((MAX_FRAME_LEN - 4) as u32).to_be_bytes();
    assert_eq!(frame::check(&max_ok), Ok(None));
    assert_eq!(
        frame::check(&[0, 0, 0, 4, 2, 0, 0, 0]),
        Err(FrameError::UnknownSerializeType(2))
    );
    assert!(matches!(
        frame::check(&[0, 0, 0, 8, 0, 0, 0, 5]),
        Err(FrameError::HeaderLengthOutOfRange {
            header_len: 5,
            available: 4
        })
    ));
}

#[test]
fn binary_header_lengths_are_checked() {
    let good = route_request(SerializeType::RocketMq).to_frame().to_vec();
    // remark length (offset 8 + 13) pointing past the header
    let mut bad = good.clone();
    bad[8 + 13..8 + 17].copy_from_slice(&100u32.to_be_bytes());
    assert!(matches!(
        frame::parse(&bad),
        Err(FrameError::BadBinaryHeader(_))
    ));
    // negative ext length
    let mut bad = good.clone();
    bad[8 + 17..8 + 21].copy_from_slice(&(-1i32).to_be_bytes());
    assert!(matches!(
        frame::parse(&bad),
        Err(FrameError::BadBinaryHeader(_))
    ));
    // key length past the ext block
    let mut bad = good.clone();
    bad[8 + 21..8 + 23].copy_from_slice(&40u16.to_be_bytes());
    assert!(matches!(
        frame::parse(&bad),
        Err(FrameError::BadBinaryHeader(_))
    ));
    // value length past the ext block
    let mut bad = good;
    bad[8 + 28..8 + 32].copy_from_slice(&2u32.to_be_bytes());
    assert!(matches!(
        frame::parse(&bad),
        Err(FrameError::BadBinaryHeader(_))
    ));
}

#[test]
fn decode_splits_pipelined_frames() {
    let a = route_request(SerializeType::Json).with_opaque(1);
    let b = route_request(SerializeType::RocketMq)
        .with_opaque(2)
        .with_body(&b"xyz"[..]);
    let mut buf = BytesMut::new();
    a.encode(&mut buf);
    b.encode(&mut buf);
    let full = buf.clone();
    // Feed byte by byte: frames come out exactly once and in order.
    let mut feed = BytesMut::new();
    let mut out = Vec::new();
    for byte in full.iter() {
        feed.put_u8(*byte);
        while let Some(cmd) = frame::decode(&mut feed).unwrap() {
            out.push(cmd);
        }
    }
    assert_eq!(out, vec![a, b]);
    assert!(feed.is_empty());
}

#[test]
fn frame_error_displays() {
    let e = FrameError::UnknownSerializeType(7);
    assert_eq!(e.to_string(), "unknown serialize type byte 7");
    let e: Box<dyn std::error::Error> = Box::new(FrameError::LengthTooSmall(1));
    assert!(e.to_string().contains("smaller"));
}
