//! Random and truncated input to the stored-record decoders must never panic, and whatever
//! they accept must re-encode to the same bytes.

use bytes::Bytes;
use rand::{Rng, SeedableRng};
use rocketmq_protocol::message::*;

fn valid_record(rng: &mut impl Rng) -> Vec<u8> {
    let body: Vec<u8> = (0..rng.random_range(0..64)).map(|_| rng.random()).collect();
    let topic_len = if rng.random_bool(0.1) {
        130
    } else {
        rng.random_range(1..20)
    };
    let m = StoredMessage {
        total_size: 0,
        magic_code: 0,
        body_crc: 0,
        queue_id: rng.random_range(0..8),
        flag: rng.random(),
        queue_offset: rng.random_range(0..1 << 40),
        physical_offset: rng.random_range(0..1 << 40),
        sys_flag: rng.random_range(0..0x100),
        born_timestamp: rng.random(),
        born_host: if rng.random_bool(0.5) {
            "1.2.3.4:5".parse().unwrap()
        } else {
            "[fe80::1]:7".parse().unwrap()
        },
        store_timestamp: rng.random(),
        store_host: "127.0.0.1:10911".parse().unwrap(),
        reconsume_times: rng.random_range(0..16),
        prepared_transaction_offset: 0,
        body: Bytes::from(body),
        topic: "t".repeat(topic_len),
        properties: "k\u{1}v\u{2}".repeat(rng.random_range(0..5)),
    };
    encode_stored(&m).unwrap()
}

#[test]
fn random_and_truncated_input_never_panics() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5EED);
    for i in 0..20_000 {
        let rec = valid_record(&mut rng);
        // Every prefix shorter than the record must be rejected.
        let cut = rng.random_range(0..rec.len());
        assert!(decode_stored(&rec[..cut]).is_err());
        let _ = record_header(&rec[..cut]);
        // Random corruption: must not panic; if accepted, re-encoding reproduces the bytes
        // except for host-flag normalisation, so only check size consistency.
        let mut bad = rec.clone();
        for _ in 0..rng.random_range(1..4) {
            let p = rng.random_range(0..bad.len());
            bad[p] = rng.random();
        }
        if let Ok((m, used)) = decode_stored(&bad) {
            assert_eq!(used, m.total_size as usize);
            assert!(used <= bad.len());
        }
        let _ = view_record(&bad, true);
        let _ = peek_store_timestamp(&bad[..cut]);
        // Pure noise.
        let noise: Vec<u8> = (0..rng.random_range(0..200))
            .map(|_| rng.random())
            .collect();
        let _ = decode_stored(&noise);
        let _ = record_header(&noise);
        let _ = decode_stored_all(&noise);
        // The untouched record decodes and re-encodes byte for byte.
        if i % 10 == 0 {
            let (m, _) = decode_stored(&rec).unwrap();
            assert_eq!(encode_stored(&m).unwrap(), rec);
        }
    }
}

#[test]
fn hostile_lengths() {
    let rec = valid_record(&mut rand::rngs::StdRng::seed_from_u64(1));
    for size in [i32::MIN, -1, 0, 8, 90, i32::MAX] {
        let mut b = rec.clone();
        b[0..4].copy_from_slice(&size.to_be_bytes());
        assert!(decode_stored(&b).is_err());
    }
    // Body length field pointing beyond TOTALSIZE.
    let mut b = rec.clone();
    let sys = i32::from_be_bytes([b[36], b[37], b[38], b[39]]);
    let p = pos_body_len(sys);
    b[p..p + 4].copy_from_slice(&i32::MAX.to_be_bytes());
    assert!(decode_stored(&b).is_err());
    b[p..p + 4].copy_from_slice(&(-5i32).to_be_bytes());
    assert!(decode_stored(&b).is_err());
}
