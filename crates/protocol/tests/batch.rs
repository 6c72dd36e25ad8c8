//! Batch body layout (spec 4.7): exact bytes, roundtrip, hostile lengths, compressed batch.

use bytes::Bytes;
use rocketmq_protocol::batch::{decode_batch, encode_batch, BatchEntry, BatchError};
use rocketmq_protocol::compression;

fn entry(flag: i32, body: &'static [u8], props: &str) -> BatchEntry {
    BatchEntry {
        flag,
        body: Bytes::from_static(body),
        properties: props.to_string(),
    }
}

#[test]
fn exact_layout() {
    let bytes = encode_batch(&[entry(7, b"hi", "TAGS\u{1}A\u{2}")]).unwrap();
    let mut expected = Vec::new();
    expected.extend_from_slice(&(20 + 2 + 2 + 7i32).to_be_bytes());
    expected.extend_from_slice(&0i32.to_be_bytes());
    expected.extend_from_slice(&0i32.to_be_bytes());
    expected.extend_from_slice(&7i32.to_be_bytes());
    expected.extend_from_slice(&2i32.to_be_bytes());
    expected.extend_from_slice(b"hi");
    expected.extend_from_slice(&7i16.to_be_bytes());
    expected.extend_from_slice(b"TAGS\x01A\x02");
    assert_eq!(&bytes[..], &expected[..]);
}

#[test]
fn roundtrip_several_entries() {
    let entries = vec![
        entry(0, b"first", "UNIQ_KEY\u{1}A1\u{2}WAIT\u{1}true\u{2}"),
        entry(1, b"", ""),
        entry(-1, b"third body", "KEYS\u{1}k1 k2\u{2}"),
    ];
    let bytes = encode_batch(&entries).unwrap();
    assert_eq!(decode_batch(&bytes).unwrap(), entries);
    assert_eq!(decode_batch(&Bytes::new()).unwrap(), vec![]);

    // cpp 1.2.3 compresses the whole blob; inflate first, then split.
    let z = compression::deflate(&bytes, 5);
    let inflated = Bytes::from(compression::inflate(&z, 1 << 20).unwrap());
    assert_eq!(decode_batch(&inflated).unwrap(), entries);
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = encode_batch(&[entry(0, b"abc", "P\u{1}v\u{2}"), entry(0, b"de", "")]).unwrap();
    let first_len = 20 + 3 + 2 + 4;
    for cut in 1..bytes.len() {
        let r = decode_batch(&bytes.slice(..cut));
        if cut == first_len {
            assert_eq!(r.unwrap().len(), 1);
        } else {
            assert!(matches!(r, Err(BatchError::Malformed { .. })), "cut {cut}");
        }
    }
}

#[test]
fn hostile_lengths() {
    let good = encode_batch(&[entry(0, b"abc", "P\u{1}v\u{2}")])
        .unwrap()
        .to_vec();
    let patch = |at: usize, v: &[u8]| {
        let mut b = good.clone();
        b[at..at + v.len()].copy_from_slice(v);
        decode_batch(&Bytes::from(b))
    };
    assert!(patch(0, &(-1i32).to_be_bytes()).is_err());
    assert!(patch(0, &i32::MAX.to_be_bytes()).is_err());
    assert!(patch(0, &5i32.to_be_bytes()).is_err());
    assert!(patch(16, &(-3i32).to_be_bytes()).is_err());
    assert!(patch(16, &i32::MAX.to_be_bytes()).is_err());
    assert!(patch(16, &2i32.to_be_bytes()).is_err());
    assert!(patch(23, &(-1i16).to_be_bytes()).is_err());
    assert!(patch(23, &100i16.to_be_bytes()).is_err());
    let e = patch(23, &3i16.to_be_bytes()).unwrap_err();
    assert!(e.to_string().contains("entry 0"));
}

#[test]
fn oversized_properties_rejected_on_encode() {
    let big = "x".repeat(40_000);
    assert_eq!(
        encode_batch(&[entry(0, b"", ""), entry(0, b"", &big)]),
        Err(BatchError::PropertiesTooLong {
            index: 1,
            len: 40_000
        })
    );
}
