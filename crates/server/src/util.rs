//! Small helpers shared by the name server and the broker.

use std::io::Read;
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Resolves once the watched flag is true (or its sender is gone). The borrow of the value
/// is released before returning, so the future stays `Send`.
pub async fn until_true(rx: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = rx.wait_for(|v| *v).await;
}

/// Inflates a zlib stream (RFC 1950), refusing to produce more than `limit` bytes so a small
/// hostile body cannot expand into gigabytes.
pub fn inflate_limited(data: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut decoder = flate2::read::ZlibDecoder::new(data).take(limit as u64 + 1);
    decoder
        .read_to_end(&mut out)
        .map_err(|e| format!("the body is not a valid zlib stream: {e}"))?;
    if out.len() > limit {
        return Err(format!("the inflated body is larger than {limit} bytes"));
    }
    Ok(out)
}

/// Deflates with zlib (used by tests and by the registration body when compressed).
pub fn deflate(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(5));
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inflate_respects_the_limit() {
        let data = vec![7u8; 10_000];
        let z = deflate(&data);
        assert_eq!(inflate_limited(&z, 10_000).unwrap(), data);
        assert!(inflate_limited(&z, 9_999).is_err());
        assert!(inflate_limited(b"not zlib", 100).is_err());
    }
}
