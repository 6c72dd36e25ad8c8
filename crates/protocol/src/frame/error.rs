//! Why bytes are not a frame, or a command does not fit in one.

use std::fmt;

/// Why bytes are not a valid frame. Every variant except [`FrameError::Incomplete`] means
/// the stream is unusable and the connection should be closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The length prefix is smaller than the 4-byte header-length word it must cover.
    LengthTooSmall(u32),
    /// The frame (prefix included) is larger than [`MAX_FRAME_LEN`](super::MAX_FRAME_LEN).
    TooLong { len: u64, max: usize },
    /// The type byte is neither 0 (JSON) nor 1 (ROCKETMQ).
    UnknownSerializeType(u8),
    /// The header length exceeds the bytes the frame has after the header-length word.
    HeaderLengthOutOfRange { header_len: usize, available: usize },
    /// [`parse`](super::parse) was given fewer bytes than the frame declares.
    Incomplete { needed: usize, got: usize },
    /// [`parse`](super::parse) was given more bytes than the frame declares.
    TrailingBytes { frame_len: usize, got: usize },
    /// The JSON header is not valid JSON or lacks a usable field.
    BadJsonHeader(String),
    /// The ROCKETMQ binary header is malformed.
    BadBinaryHeader(String),
    /// Encoding: the command does not fit in a frame.
    CommandTooLarge { len: usize },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::LengthTooSmall(n) => {
                write!(
                    f,
                    "frame length {n} is smaller than the 4-byte header-length word"
                )
            }
            FrameError::TooLong { len, max } => {
                write!(f, "frame of {len} bytes exceeds the maximum of {max} bytes")
            }
            FrameError::UnknownSerializeType(t) => write!(f, "unknown serialize type byte {t}"),
            FrameError::HeaderLengthOutOfRange {
                header_len,
                available,
            } => write!(
                f,
                "header length {header_len} exceeds the {available} bytes left in the frame"
            ),
            FrameError::Incomplete { needed, got } => {
                write!(f, "incomplete frame: need {needed} bytes, have {got}")
            }
            FrameError::TrailingBytes { frame_len, got } => {
                write!(f, "frame is {frame_len} bytes but {got} bytes were given")
            }
            FrameError::BadJsonHeader(e) => write!(f, "bad JSON header: {e}"),
            FrameError::BadBinaryHeader(e) => write!(f, "bad ROCKETMQ header: {e}"),
            FrameError::CommandTooLarge { len } => {
                write!(f, "command needs {len} bytes, more than a frame can hold")
            }
        }
    }
}

impl std::error::Error for FrameError {}
