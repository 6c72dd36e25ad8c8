//! What every RocketMQ 5 request carries besides its body: the `x-mq-*` metadata headers and
//! the `authorization` header signed with the client's secret key, the client id and the
//! client-side message ids, built as the official 5.x clients build them.
//!
//! What must stay true:
//! - the signature is hex(HMAC-SHA1(secret key, `x-mq-date-time`)) and the date is UTC in
//!   `yyyyMMddTHHmmssZ`, so a proxy with ACL on recomputes the same value;
//! - `authorization` is sent only when an access key is set (a proxy without ACL ignores it,
//!   one with ACL refuses a request whose signature does not match);
//! - message ids use the v1 layout (`01` + 6 bytes of host + pid + seconds since 2021-01-01
//!   + sequence, upper-case hex), unique per process.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The `x-mq-language` value: the official Python client's, so the proxy treats this client
/// as the one whose API it mirrors.
pub const LANGUAGE: &str = "PYTHON";
/// The `x-mq-protocol` value.
pub const PROTOCOL: &str = "GRPC_V2";
/// The `x-mq-client-version` value: the version of the 5.x API this client mirrors.
pub const CLIENT_VERSION: &str = "5.1.2";

/// The credentials and namespace every request is signed with.
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
}

/// `yyyyMMddTHHmmssZ` of `secs` since the Unix epoch, in UTC.
pub fn format_date_time(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// hex(HMAC-SHA1(`secret`, `date_time`)), lower case.
pub fn sign(secret: &str, date_time: &str) -> String {
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(date_time.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The `authorization` header value for `date_time`.
pub fn authorization(credentials: &Credentials, date_time: &str) -> String {
    format!(
        "MQv2-HMAC-SHA1 Credential={}, SignedHeaders=x-mq-date-time, Signature={}",
        credentials.access_key,
        sign(&credentials.secret_key, date_time)
    )
}

/// A random request id in the UUID v4 text layout.
pub fn request_id() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let v: u128 = rand::random();
    let v =
        (v & !(0xf000u128 << 64) | (0x4000u128 << 64)) & !(0xc000u128 << 48) | (0x8000u128 << 48);
    let mut text = [b'-'; 36];
    let mut digit = 0;
    for (i, slot) in text.iter_mut().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            continue;
        }
        *slot = HEX[((v >> (124 - 4 * digit)) & 0xf) as usize];
        digit += 1;
    }
    text.iter().map(|&b| b as char).collect()
}

/// The short host name, for client ids and `born_host`.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// A new client id: `host@pid@index@base36(nanoseconds)`, as the official clients make it.
pub fn new_client_id() -> String {
    static INDEX: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}@{}@{}@{}",
        host_name(),
        std::process::id(),
        INDEX.fetch_add(1, Ordering::Relaxed),
        base36(nanos)
    )
}

fn base36(mut n: u128) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    if n == 0 {
        return "0".into();
    }
    let mut out = Vec::new();
    while n > 0 {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Seconds of 2021-01-01T00:00:00Z since the Unix epoch (the v1 message id's time origin).
const MESSAGE_ID_EPOCH_SECS: u64 = 1_609_459_200;

/// A new message id (v1 layout, see the module header).
pub fn new_message_id() -> String {
    static PREFIX: OnceLock<String> = OnceLock::new();
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let host: [u8; 6] = rand::random();
        let pid = (std::process::id() & 0xffff) as u16;
        let mut s = String::from("01");
        for b in host.iter().chain(pid.to_be_bytes().iter()) {
            s.push_str(&format!("{b:02X}"));
        }
        s
    });
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .saturating_sub(MESSAGE_ID_EPOCH_SECS) as u32;
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed) as u32;
    format!("{prefix}{secs:08X}{seq:08X}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_in_the_signed_layout() {
        assert_eq!(format_date_time(0), "19700101T000000Z");
        // 2024-02-29T13:05:09Z
        assert_eq!(format_date_time(1_709_211_909), "20240229T130509Z");
    }

    #[test]
    fn signature_is_hex_hmac_sha1_of_the_date() {
        // python3 -c 'import hmac,hashlib;print(hmac.new(b"sk",b"20240229T130509Z",hashlib.sha1).hexdigest())'
        assert_eq!(
            sign("sk", "20240229T130509Z"),
            "31e6d2f6eb80c2aa6ea6e3a6dbe063a652b81997"
        );
        let auth = authorization(
            &Credentials {
                access_key: "ak".into(),
                secret_key: "sk".into(),
            },
            "20240229T130509Z",
        );
        assert_eq!(
            auth,
            "MQv2-HMAC-SHA1 Credential=ak, SignedHeaders=x-mq-date-time, \
             Signature=31e6d2f6eb80c2aa6ea6e3a6dbe063a652b81997"
        );
    }

    #[test]
    fn ids_have_the_official_layouts() {
        let id = new_message_id();
        assert_eq!(id.len(), 34);
        assert!(id.starts_with("01"));
        assert_ne!(id, new_message_id());
        let rid = request_id();
        assert_eq!(rid.len(), 36);
        assert_eq!(&rid[14..15], "4");
        assert!(matches!(&rid[19..20], "8" | "9" | "a" | "b"), "{rid}");
        for (i, c) in rid.chars().enumerate() {
            match i {
                8 | 13 | 18 | 23 => assert_eq!(c, '-', "{rid}"),
                _ => assert!(c.is_ascii_hexdigit() && !c.is_ascii_uppercase(), "{rid}"),
            }
        }
        assert_ne!(rid, request_id());
        assert_eq!(new_client_id().split('@').count(), 4);
    }
}
