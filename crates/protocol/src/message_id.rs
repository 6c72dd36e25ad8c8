//! Message ids (spec 4.10).
//!
//! * Offset message id: uppercase hex of store host IP (4 or 16 bytes), port (4-byte int)
//!   and commit-log offset (8 bytes): 32 hex chars for IPv4, 56 for IPv6. Clients decode
//!   it to find the broker and physical offset (VIEW_MESSAGE_BY_ID, END_TRANSACTION).
//! * Client unique id (`UNIQ_KEY`): 32 uppercase hex chars = IPv4 (4) + pid (2) + random
//!   (4) + time (4) + counter (2). Peers must treat it as an opaque string.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::OnceLock;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageIdError {
    /// Not 32 or 56 characters.
    BadLength(usize),
    /// A character is not a hex digit.
    NotHex,
}

impl fmt::Display for MessageIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageIdError::BadLength(n) => {
                write!(f, "offset message id has {n} characters, expected 32 or 56")
            }
            MessageIdError::NotHex => f.write_str("offset message id is not hexadecimal"),
        }
    }
}

impl std::error::Error for MessageIdError {}

/// Appends `bytes` as uppercase hex. A table lookup per nibble instead of `core::fmt`: ids
/// are made for every stored and every received message, and `write!("{b:02X}")` per byte
/// was 5-7% of the broker's CPU with batched sends.
fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xF)] as char);
    }
}

/// The offset message id of the record at commit-log `offset` on `store_host`.
/// IPv4-mapped IPv6 addresses are written as IPv4 (32 chars), as the broker stores them.
pub fn create_offset_msg_id(store_host: SocketAddr, offset: i64) -> String {
    let mut out = String::with_capacity(56);
    let ip = match store_host.ip() {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => push_hex(&mut out, &v4.octets()),
        IpAddr::V6(v6) => push_hex(&mut out, &v6.octets()),
    }
    push_hex(&mut out, &i32::from(store_host.port()).to_be_bytes());
    push_hex(&mut out, &offset.to_be_bytes());
    out
}

fn hex_to_bytes(s: &str) -> Result<Vec<u8>, MessageIdError> {
    let b = s.as_bytes();
    let pairs = b.chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return Err(MessageIdError::BadLength(b.len()));
    }
    pairs
        .map(|pair| {
            let hi = (pair[0] as char)
                .to_digit(16)
                .ok_or(MessageIdError::NotHex)?;
            let lo = (pair[1] as char)
                .to_digit(16)
                .ok_or(MessageIdError::NotHex)?;
            Ok((hi * 16 + lo) as u8)
        })
        .collect()
}

/// Decodes an offset message id (either case) into store host and commit-log offset.
pub fn decode_offset_msg_id(id: &str) -> Result<(SocketAddr, i64), MessageIdError> {
    let ip_len = match id.len() {
        32 => 4,
        56 => 16,
        n => return Err(MessageIdError::BadLength(n)),
    };
    let bytes = hex_to_bytes(id)?;
    let ip = if ip_len == 4 {
        IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
    } else {
        let mut octets = [0u8; 16];
        octets.copy_from_slice(&bytes[..16]);
        IpAddr::V6(Ipv6Addr::from(octets))
    };
    let p = &bytes[ip_len..ip_len + 4];
    // The port is written as a 4-byte int; only the low 16 bits are meaningful.
    let port = i32::from_be_bytes([p[0], p[1], p[2], p[3]]) as u16;
    let o = &bytes[ip_len + 4..ip_len + 12];
    let offset = i64::from_be_bytes([o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7]]);
    Ok((SocketAddr::new(ip, port), offset))
}

/// Generates client unique ids (`UNIQ_KEY`). Thread-safe; cheap per call.
#[derive(Debug)]
pub struct UniqIdGenerator {
    /// Hex of IP + pid + random, fixed for the generator's life.
    prefix: String,
    counter: AtomicU16,
}

impl UniqIdGenerator {
    /// A generator for a host whose IPv4 address is `ip` (loopback if unknown).
    pub fn new(ip: Option<Ipv4Addr>) -> Self {
        let ip = ip.unwrap_or(Ipv4Addr::LOCALHOST);
        // RandomState is seeded from OS randomness; good enough to separate processes.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        let random = h.finish() as u32;
        let mut prefix = String::with_capacity(20);
        push_hex(&mut prefix, &ip.octets());
        push_hex(&mut prefix, &(std::process::id() as u16).to_be_bytes());
        push_hex(&mut prefix, &random.to_be_bytes());
        UniqIdGenerator {
            prefix,
            counter: AtomicU16::new(0),
        }
    }

    /// The next id: 32 uppercase hex characters.
    pub fn next_id(&self) -> String {
        // The low 32 bits of the time, as the id layout has room for.
        let millis = crate::clock::now_millis() as u32;
        let count = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut id = String::with_capacity(32);
        id.push_str(&self.prefix);
        push_hex(&mut id, &millis.to_be_bytes());
        push_hex(&mut id, &count.to_be_bytes());
        id
    }
}

/// A process-wide generator for callers that do not keep their own.
pub fn global_uniq_id_generator() -> &'static UniqIdGenerator {
    static GENERATOR: OnceLock<UniqIdGenerator> = OnceLock::new();
    GENERATOR.get_or_init(|| UniqIdGenerator::new(None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn offset_msg_id_golden_and_roundtrip() {
        let addr: SocketAddr = "127.0.0.1:10911".parse().unwrap();
        assert_eq!(
            create_offset_msg_id(addr, 0),
            "7F00000100002A9F0000000000000000"
        );
        let id = create_offset_msg_id(addr, 0x1234_5678_9ABC);
        assert_eq!(id, "7F00000100002A9F0000123456789ABC");
        assert_eq!(decode_offset_msg_id(&id).unwrap(), (addr, 0x1234_5678_9ABC));
        assert_eq!(
            decode_offset_msg_id(&id.to_lowercase()).unwrap(),
            (addr, 0x1234_5678_9ABC)
        );
        let mapped: SocketAddr = "[::ffff:10.0.0.1]:10911".parse().unwrap();
        assert_eq!(create_offset_msg_id(mapped, 1).len(), 32);
    }

    #[test]
    fn ipv6_offset_msg_id() {
        let addr: SocketAddr = "[2001:db8::1]:10911".parse().unwrap();
        let id = create_offset_msg_id(addr, 4096);
        assert_eq!(id.len(), 56);
        assert_eq!(
            id,
            "20010DB800000000000000000000000100002A9F0000000000001000"
        );
        assert_eq!(decode_offset_msg_id(&id).unwrap(), (addr, 4096));
    }

    #[test]
    fn bad_offset_msg_ids() {
        assert_eq!(
            decode_offset_msg_id("ABC"),
            Err(MessageIdError::BadLength(3))
        );
        assert_eq!(
            decode_offset_msg_id("7F00000100002A9F000000000000000G"),
            Err(MessageIdError::NotHex)
        );
        // Multi-byte characters: length counts bytes and hex check rejects them.
        assert!(decode_offset_msg_id("é7F00000100002A9F0000000000000").is_err());
        assert!(decode_offset_msg_id(&"é".repeat(16)).is_err());
    }

    #[test]
    fn uniq_ids_are_32_upper_hex_and_distinct() {
        let g = UniqIdGenerator::new(Some(Ipv4Addr::new(10, 0, 0, 2)));
        let mut seen = HashSet::new();
        for _ in 0..1000 {
            let id = g.next_id();
            assert_eq!(id.len(), 32);
            assert!(id
                .chars()
                .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)));
            assert!(id.starts_with("0A000002"));
            assert!(seen.insert(id));
        }
        assert_eq!(global_uniq_id_generator().next_id().len(), 32);
    }
}
