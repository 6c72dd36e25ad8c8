//! The errors of the RocketMQ 5 client: a non-OK `Status` the server answered (its code and
//! message, which the Python layer maps onto the official exception classes), a transport
//! failure (connection, timeout, stream cut), or a misuse the client refuses itself.
//!
//! What must stay true: `Status` carries the server's code unchanged, so callers can tell
//! `TOO_MANY_REQUESTS` (back off) from `BAD_REQUEST` (never retry).

use rocketmq_grpc::v2::{Code, Status};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GrpcError {
    /// The server answered with this non-OK status code and message.
    Status { code: i32, message: String },
    /// No answer: connection refused or cut, deadline passed, malformed stream.
    Transport(String),
    /// The call cannot be made in the client's state (not started, shut down).
    IllegalState(String),
    /// The caller's arguments cannot be sent as they are.
    IllegalArgument(String),
}

pub type GrpcResult<T> = std::result::Result<T, GrpcError>;

impl GrpcError {
    /// The server's status code, when the server answered.
    pub fn code(&self) -> Option<i32> {
        match self {
            GrpcError::Status { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether sending the same request again may succeed (transport failures, server-side
    /// errors and throttling; never a request the server called bad).
    pub fn is_retryable(&self) -> bool {
        match self {
            GrpcError::Transport(_) => true,
            GrpcError::Status { code, .. } => {
                *code == Code::TooManyRequests as i32 || *code >= Code::InternalError as i32
            }
            _ => false,
        }
    }
}

impl fmt::Display for GrpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GrpcError::Status { code, message } => write!(f, "{code}, {message}"),
            GrpcError::Transport(m) => write!(f, "transport error: {m}"),
            GrpcError::IllegalState(m) | GrpcError::IllegalArgument(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for GrpcError {}

impl From<tonic::Status> for GrpcError {
    fn from(s: tonic::Status) -> Self {
        GrpcError::Transport(format!("{:?}: {}", s.code(), s.message()))
    }
}

/// `Ok` for `OK`, `MULTIPLE_RESULTS` and `MESSAGE_NOT_FOUND` (an empty receive), the
/// status as an error otherwise; a missing status is a malformed answer.
pub fn check_status(status: Option<&Status>) -> GrpcResult<()> {
    let Some(status) = status else {
        return Err(GrpcError::Transport(
            "the response carries no status".into(),
        ));
    };
    let code = status.code;
    if code == Code::Ok as i32
        || code == Code::MultipleResults as i32
        || code == Code::MessageNotFound as i32
    {
        Ok(())
    } else {
        Err(GrpcError::Status {
            code,
            message: status.message.clone(),
        })
    }
}
