//! The `sysFlag` bits of a message (spec 4.9, Java `MessageSysFlag`).

/// Body is compressed (zlib unless the compression-type bits say otherwise).
pub const COMPRESSED_FLAG: i32 = 0x1;
/// Set by the broker for MULTI_TAG topics.
pub const MULTI_TAGS_FLAG: i32 = 0x2;
/// Mask of the transaction type bits.
pub const TRANSACTION_TYPE_MASK: i32 = 0xC;
pub const TRANSACTION_NOT_TYPE: i32 = 0x0;
pub const TRANSACTION_PREPARED_TYPE: i32 = 0x4;
pub const TRANSACTION_COMMIT_TYPE: i32 = 0x8;
pub const TRANSACTION_ROLLBACK_TYPE: i32 = 0xC;
/// The born-host field is 20 bytes (IPv6 + port) instead of 8.
pub const BORNHOST_V6_FLAG: i32 = 0x10;
/// The store-host field is 20 bytes (IPv6 + port) instead of 8.
pub const STOREHOSTADDRESS_V6_FLAG: i32 = 0x20;
/// 5.x inner batch markers.
pub const NEED_UNWRAP_FLAG: i32 = 0x40;
pub const INNER_BATCH_FLAG: i32 = 0x80;
/// Compression type bits (value >> 8): 1 LZ4, 2 ZSTD, 3 ZLIB, 0 = ZLIB for old clients.
pub const COMPRESSION_TYPE_MASK: i32 = 0x700;
pub const COMPRESSION_TYPE_SHIFT: u32 = 8;
pub const COMPRESSION_LZ4: i32 = 1;
pub const COMPRESSION_ZSTD: i32 = 2;
pub const COMPRESSION_ZLIB: i32 = 3;

/// The transaction type bits of `flag` (one of the `TRANSACTION_*_TYPE` values).
pub fn transaction_type(flag: i32) -> i32 {
    flag & TRANSACTION_TYPE_MASK
}

/// `flag` with its transaction type replaced by `ty`.
pub fn with_transaction_type(flag: i32, ty: i32) -> i32 {
    (flag & !TRANSACTION_TYPE_MASK) | (ty & TRANSACTION_TYPE_MASK)
}

/// Whether a record of this type is dispatched to its consume queue. Prepared (half) and
/// rolled-back transactional records are not (they get queue offset 0 in the Java store).
pub fn is_dispatched(flag: i32) -> bool {
    matches!(
        transaction_type(flag),
        TRANSACTION_NOT_TYPE | TRANSACTION_COMMIT_TYPE
    )
}

pub fn is_compressed(flag: i32) -> bool {
    flag & COMPRESSED_FLAG != 0
}

/// The compression type of a compressed body; 0 (old clients) means ZLIB.
pub fn compression_type(flag: i32) -> i32 {
    match (flag & COMPRESSION_TYPE_MASK) >> COMPRESSION_TYPE_SHIFT {
        0 => COMPRESSION_ZLIB,
        t => t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_types() {
        assert_eq!(transaction_type(0x4 | 0x1), TRANSACTION_PREPARED_TYPE);
        assert_eq!(
            with_transaction_type(
                TRANSACTION_PREPARED_TYPE | COMPRESSED_FLAG,
                TRANSACTION_COMMIT_TYPE
            ),
            TRANSACTION_COMMIT_TYPE | COMPRESSED_FLAG
        );
        assert!(is_dispatched(0));
        assert!(is_dispatched(TRANSACTION_COMMIT_TYPE));
        assert!(!is_dispatched(TRANSACTION_PREPARED_TYPE));
        assert!(!is_dispatched(TRANSACTION_ROLLBACK_TYPE));
    }

    #[test]
    fn compression() {
        assert!(is_compressed(0x1));
        assert_eq!(compression_type(0x1), COMPRESSION_ZLIB);
        assert_eq!(compression_type(0x1 | 0x300), COMPRESSION_ZLIB);
        assert_eq!(compression_type(0x1 | 0x100), COMPRESSION_LZ4);
    }
}
