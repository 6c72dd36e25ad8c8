//! Client errors. Every variant names what failed and where, so that a Python exception built
//! from it tells the user what to fix.

use std::fmt;

#[derive(Debug, Clone)]
pub enum ClientError {
    /// TCP connect to `addr` failed.
    Connect { addr: String, cause: String },
    /// No answer from `addr` within `millis`.
    Timeout { addr: String, millis: u64 },
    /// The connection to `addr` closed before the answer came.
    ConnectionClosed { addr: String },
    /// The broker or name server answered with an error code.
    Remote {
        addr: String,
        code: i32,
        remark: String,
    },
    /// No route for a topic: which topic, and which name servers were asked.
    NoRoute {
        topic: String,
        name_servers: Vec<String>,
        cause: String,
    },
    /// The peer sent something we cannot decode.
    Protocol(String),
    /// A caller mistake (empty topic, body too large, ...).
    IllegalArgument(String),
    /// A bounded wait (for a broker to register, a route to appear) ended first; the text
    /// says what was awaited and what to check.
    WaitExpired(String),
    /// The client was shut down.
    ShutDown,
    /// A broker refused a subscription expression (CHECK_CLIENT_CONFIG).
    ExpressionRefused(Box<ExpressionRefusal>),
}

/// What a broker answered to a subscription expression it refused. Boxed in
/// [`ClientError::ExpressionRefused`] to keep every `Result` of the crate small.
#[derive(Debug, Clone)]
pub struct ExpressionRefusal {
    pub addr: String,
    pub topic: String,
    pub expression_type: String,
    pub expression: String,
    pub code: i32,
    /// The broker's reason; for SQL92 the parse error with its position.
    pub remark: String,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Connect { addr, cause } => write!(f, "cannot connect to {addr}: {cause}"),
            ClientError::Timeout { addr, millis } => {
                write!(f, "no response from {addr} within {millis} ms")
            }
            ClientError::ConnectionClosed { addr } => {
                write!(f, "connection to {addr} closed before the response arrived")
            }
            ClientError::Remote { addr, code, remark } => {
                write!(f, "{addr} answered code {code}: {remark}")
            }
            ClientError::NoRoute {
                topic,
                name_servers,
                cause,
            } => write!(
                f,
                "no route info for topic {topic:?} from name server(s) [{}]: {cause}",
                name_servers.join(";")
            ),
            ClientError::Protocol(m) => write!(f, "protocol error: {m}"),
            ClientError::IllegalArgument(m) => write!(f, "illegal argument: {m}"),
            ClientError::WaitExpired(m) => write!(f, "{m}"),
            ClientError::ShutDown => write!(f, "the client has been shut down"),
            ClientError::ExpressionRefused(r) => write!(
                f,
                "broker {} refused the {} expression {:?} of topic {:?} (code {}): {}",
                r.addr, r.expression_type, r.expression, r.topic, r.code, r.remark
            ),
        }
    }
}

impl std::error::Error for ClientError {}

pub type Result<T> = std::result::Result<T, ClientError>;
