//! JSON bodies carried by remoting commands.
//!
//! Bodies are written as compact standard JSON (numeric map keys quoted, keys in fastjson's
//! alphabetical order by field declaration) and read leniently: every decode goes through
//! `lenient::quote_numeric_keys` (fastjson's unquoted numeric keys), trailing
//! whitespace/NUL is accepted, unknown keys are ignored, and the fields old clients send in
//! other shapes (numbers as strings, enums as ordinals) are coerced.

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;

pub mod admin;
pub mod assignment;
pub mod heartbeat;
pub mod lock;
pub mod queue_keyed;
pub mod register;
pub mod reset_offset;
pub mod route;
pub mod running_info;
pub mod subscription_group;
pub mod topic_config;

pub use admin::*;
pub use heartbeat::*;
pub use lock::*;
pub use queue_keyed::{decode_reset_offset_body, ConsumeStats, OffsetWrapper};
pub use register::*;
pub use reset_offset::*;
pub use route::*;
pub use running_info::{ConsumerRunningInfo, ProcessQueueInfo};
pub use subscription_group::{SubscriptionGroupConfig, SubscriptionGroupWrapper};
pub use topic_config::TopicConfig;

/// Why a body could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyError {
    /// Not JSON of the expected shape.
    Json(String),
    /// A compressed body failed to inflate.
    Compression(crate::compression::CompressionError),
    /// A binary layout is malformed (lengths, counts).
    Malformed(String),
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::Json(e) => write!(f, "bad JSON body: {e}"),
            BodyError::Compression(e) => write!(f, "bad compressed body: {e}"),
            BodyError::Malformed(e) => write!(f, "malformed body: {e}"),
        }
    }
}

impl std::error::Error for BodyError {}

impl From<crate::compression::CompressionError> for BodyError {
    fn from(e: crate::compression::CompressionError) -> Self {
        BodyError::Compression(e)
    }
}

/// Serializes `value` as compact JSON.
pub fn encode_json<T: Serialize>(value: &T) -> Bytes {
    // Our body types only have string or integer map keys, so serialization cannot fail;
    // an empty body is the safe fallback rather than a panic.
    serde_json::to_vec(value)
        .map(Bytes::from)
        .unwrap_or_default()
}

/// Parses a JSON body leniently (see the module docs).
pub fn decode_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, BodyError> {
    let end = body
        .iter()
        .rposition(|b| !matches!(b, 0 | b' ' | b'\t' | b'\n' | b'\r'))
        .map_or(0, |p| p + 1);
    let text = crate::lenient::quote_numeric_keys(&body[..end]);
    serde_json::from_slice(&text).map_err(|e| BodyError::Json(e.to_string()))
}
