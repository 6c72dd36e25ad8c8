//! The one-pass JSON header decoder against the `serde_json::Value` decoder it replaced,
//! kept here as the reference: same command for every accepted header, and an error for
//! the same inputs.
use super::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn reference_i32(v: &Value) -> Option<i32> {
    let n = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    n.and_then(|n| i32::try_from(n).ok())
}

fn reference_parse(header: &[u8]) -> Option<RemotingCommand> {
    let Value::Object(map) = serde_json::from_slice(header).ok()? else {
        return None;
    };
    let mut cmd = RemotingCommand {
        code: reference_i32(map.get("code")?)?,
        ..Default::default()
    };
    cmd.language = match map.get("language") {
        Some(Value::String(s)) => LanguageCode::from_name(s),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(LanguageCode::from_i64)
            .unwrap_or(LanguageCode::Other),
        _ => LanguageCode::Other,
    };
    for (key, slot) in [
        ("version", &mut cmd.version),
        ("opaque", &mut cmd.opaque),
        ("flag", &mut cmd.flag),
    ] {
        *slot = match map.get(key) {
            None | Some(Value::Null) => 0,
            Some(v) => reference_i32(v)?,
        };
    }
    cmd.remark = match map.get("remark") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    match map.get("extFields") {
        None | Some(Value::Null) => {}
        Some(Value::Object(fields)) => {
            cmd.keep_empty_ext_fields = true;
            for (k, v) in fields {
                let s = match v {
                    Value::Null => continue,
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                cmd.ext_fields.insert(k.clone(), s);
            }
        }
        Some(_) => return None,
    }
    Some(cmd)
}

const KEYS: &[&str] = &[
    "code",
    "language",
    "version",
    "opaque",
    "flag",
    "remark",
    "extFields",
    "serializeTypeCurrentRPC",
    "topic",
    "a\\u0062c",
];

const SCALARS: &[&str] = &[
    "0",
    "1",
    "-1",
    "105",
    "2147483648",
    "-2147483649",
    "9223372036854775808",
    "18446744073709551615",
    "1.5",
    "1e3",
    "-0.0",
    "1E+2",
    "true",
    "false",
    "null",
    "\"\"",
    "\"CPP\"",
    "\"JAVA\"",
    "\" 42 \"",
    "\"7\"",
    "\"x\\\"y\\\\z\\/\"",
    "\"\\u00e9\\uD83D\\uDE00\\n\\t\"",
    "\"caf\u{e9}\"",
    "[]",
    "[1,\"a\",null,{\"k\":[true]}]",
    "{}",
    "{\"n\":{\"m\":1.25},\"b\":false}",
];

fn random_value(rng: &mut StdRng, out: &mut String, depth: u32) {
    if depth > 0 && rng.random_bool(0.3) {
        random_object(rng, out, depth - 1);
    } else {
        out.push_str(SCALARS[rng.random_range(0..SCALARS.len())]);
    }
}

fn random_object(rng: &mut StdRng, out: &mut String, depth: u32) {
    out.push('{');
    for i in 0..rng.random_range(0..8) {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        out.push_str(KEYS[rng.random_range(0..KEYS.len())]);
        out.push_str("\":");
        random_value(rng, out, depth);
    }
    out.push('}');
}

fn assert_same(header: &[u8]) {
    let ours = parse_json_header(header).ok();
    let reference = reference_parse(header);
    assert_eq!(ours, reference, "{}", String::from_utf8_lossy(header));
}

#[test]
fn one_pass_decoder_matches_the_value_decoder() {
    let fixed: &[&str] = &[
        "{\"code\":1}",
        "{\"code\":1} \n\t",
        "{\"code\":1}x",
        "{\"code\":\"12\",\"code\":13}",
        "{\"code\":true,\"code\":13}",
        "{\"code\":13,\"code\":null}",
        "{\"code\":1,\"extFields\":{\"a\":\"x\",\"a\":null}}",
        "{\"code\":1,\"extFields\":{\"a\":null,\"a\":\"y\"}}",
        "{\"code\":1,\"extFields\":[1],\"extFields\":{\"k\":2}}",
        "{\"code\":1,\"extFields\":{\"k\":2},\"extFields\":\"s\"}",
        "{\"code\":1,\"extFields\":{\"f\":1.0e2,\"g\":-7,\"h\":true,\"i\":[1,{}]}}",
        "{\"code\":1,\"language\":1,\"remark\":null,\"version\":\"\"}",
        "{\"code\":1,\"language\":1.0,\"remark\":5}",
        "{\"code\":1,\"extFields\":{\"s\":\"\\ud800\"}}",
        "{\"code\":1,\"extFields\":{\"s\":\"\\uD83D\\uDE00\"}}",
        "[1]",
        "\"code\"",
        "",
    ];
    for h in fixed {
        assert_same(h.as_bytes());
    }
    let mut rng = StdRng::seed_from_u64(0x6a73_6f6e);
    let mut text = String::new();
    for _ in 0..20_000 {
        text.clear();
        random_object(&mut rng, &mut text, 2);
        assert_same(text.as_bytes());
        // The same header damaged at one byte.
        let mut damaged = text.clone().into_bytes();
        if !damaged.is_empty() {
            let i = rng.random_range(0..damaged.len());
            damaged[i] = b"{}[]:,\"\\ 0a"[rng.random_range(0..11)];
            assert_same(&damaged);
        }
    }
}
