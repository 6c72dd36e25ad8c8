//! Message ids the broker produces: the offset message id (store host + commit-log offset,
//! spec 4.10) and a `UNIQ_KEY` for messages whose producer did not set one.

use std::fmt::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// Uppercase hex of store IP (4 or 16 bytes) + port (4-byte int) + commit-log offset (8).
pub fn offset_msg_id(store_host: SocketAddr, commit_log_offset: i64) -> String {
    let mut s = String::with_capacity(56);
    match store_host.ip() {
        IpAddr::V4(ip) => ip.octets().iter().for_each(|b| {
            let _ = write!(s, "{b:02X}");
        }),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => v4.octets().iter().for_each(|b| {
                let _ = write!(s, "{b:02X}");
            }),
            None => ip.octets().iter().for_each(|b| {
                let _ = write!(s, "{b:02X}");
            }),
        },
    }
    let _ = write!(
        s,
        "{:08X}{:016X}",
        store_host.port() as u32,
        commit_log_offset as u64
    );
    s
}

/// Decodes an offset message id back into its commit-log offset.
pub fn commit_log_offset_of(msg_id: &str) -> Option<i64> {
    if msg_id.len() != 32 && msg_id.len() != 56 {
        return None;
    }
    let tail = msg_id.get(msg_id.len() - 16..)?;
    u64::from_str_radix(tail, 16).ok().map(|v| v as i64)
}

/// A 32-hex-digit unique id in the shape of Java's `MessageClientIDSetter` (IP, pid, random
/// prefix, time, counter). Clients treat it as opaque.
pub fn new_uniq_key(host: SocketAddr) -> String {
    static PREFIX: OnceLock<u32> = OnceLock::new();
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let prefix = *PREFIX.get_or_init(rand::random::<u32>);
    let ip = match host.ip() {
        IpAddr::V4(ip) => ip.octets(),
        IpAddr::V6(ip) => ip.to_ipv4_mapped().map_or([127, 0, 0, 1], |v| v.octets()),
    };
    let pid = std::process::id() as u16;
    let millis = crate::util::now_millis() as u32;
    let counter = COUNTER.fetch_add(1, Ordering::Relaxed) as u16;
    format!(
        "{:02X}{:02X}{:02X}{:02X}{pid:04X}{prefix:08X}{millis:08X}{counter:04X}",
        ip[0], ip[1], ip[2], ip[3]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_id_matches_the_spec_example() {
        let host: SocketAddr = "127.0.0.1:10911".parse().unwrap();
        assert_eq!(offset_msg_id(host, 0), "7F00000100002A9F0000000000000000");
        let id = offset_msg_id(host, 123456789);
        assert_eq!(commit_log_offset_of(&id), Some(123456789));
    }

    #[test]
    fn uniq_keys_are_distinct_32_hex() {
        let host: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let a = new_uniq_key(host);
        let b = new_uniq_key(host);
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
