//! `ClientError`: the exception every failed client operation raises to Python, and the text
//! it carries.
//!
//! What must stay true: the message starts with the Rust error's text unchanged (the Python
//! layer wraps it into the originals' exception classes and tests match on its words); when
//! the error is one a user can cause and fix, a sentence saying what to do follows it.

use rocketmq_client::ClientError as Failure;
use rocketmq_protocol::code::response_code;

pyo3::create_exception!(
    _rocketmq,
    ClientError,
    pyo3::exceptions::PyException,
    "A client operation failed; the message says what and where, and what to do."
);

pyo3::create_exception!(
    _rocketmq,
    FilterExpressionRefused,
    ClientError,
    "A broker refused a subscription expression (CHECK_CLIENT_CONFIG); the message has the \
     broker's reason, for SQL92 the parse error and its position."
);

/// The text of a failed operation: the error, then what to do about it when that is known.
pub fn error_text(e: &Failure) -> String {
    match advice(e) {
        Some(advice) => format!("{e}. {advice}"),
        None => e.to_string(),
    }
}

/// The Python exception of a failed operation.
pub fn to_py_err(e: Failure) -> pyo3::PyErr {
    if matches!(e, Failure::ExpressionRefused(_)) {
        return FilterExpressionRefused::new_err(error_text(&e));
    }
    ClientError::new_err(error_text(&e))
}

fn advice(e: &Failure) -> Option<String> {
    match e {
        Failure::Connect { addr, .. } => Some(format!(
            "Check that a RocketMQ name server or broker is running at {addr} and that the \
             address given to set_namesrv_addr() (or NAMESRV_ADDR) is right"
        )),
        Failure::Timeout { addr, .. } => Some(format!(
            "The server at {addr} may be overloaded or unreachable: check it, or give the \
             client a longer timeout"
        )),
        Failure::ConnectionClosed { .. } => {
            Some("The server went away or restarted: retry once it is back".into())
        }
        Failure::NoRoute {
            topic,
            name_servers,
            cause,
        } => no_route_advice(topic, name_servers, cause),
        Failure::Remote { code, .. } => refusal_advice(*code),
        Failure::ShutDown => Some("Create and start a new client".into()),
        Failure::ExpressionRefused(_) => Some(
            "Fix the expression where the broker's reason points (RocketMQ's SQL92: =, <>, >, \
             >=, <, <=, BETWEEN, IN, IS NULL, AND/OR/NOT, CONTAINS, STARTSWITH, ENDSWITH over \
             property names and 'quoted strings'); an Apache broker filters by SQL92 only with \
             enablePropertyFilter=true"
                .into(),
        ),
        Failure::Protocol(_) | Failure::IllegalArgument(_) | Failure::WaitExpired(_) => None,
    }
}

fn no_route_advice(topic: &str, name_servers: &[String], cause: &str) -> Option<String> {
    let create = format!(
        "Create the topic first (rocketmq.admin.Admin(namesrv).create_topic({topic:?}), \
         mqadmin updateTopic -t {topic} -c <cluster>, or rocketmq.pytest_plugin's topic \
         fixtures in tests)"
    );
    if cause.contains("auto-creation is off") {
        Some(format!(
            "{create}, or let the broker create topics on first send (autoCreateTopicEnable=true)"
        ))
    } else if cause.contains("does not know this topic") {
        Some(format!("Check the topic name. {create}"))
    } else if cause.contains("no writable queue") {
        Some(format!(
            "Check the permissions of topic {topic} (mqadmin updateTopicPerm): its queues do \
             not take messages"
        ))
    } else if cause.starts_with("no address for broker") {
        Some("The broker is down or restarting: retry once it is back".into())
    } else if !name_servers.is_empty() && is_unreachable(cause) {
        Some(format!(
            "Check that a RocketMQ name server is running at {} and that the address given to \
             set_namesrv_addr() (or NAMESRV_ADDR) is right",
            name_servers.join(";")
        ))
    } else {
        // Among the rest, "no name server address is set (call set_namesrv_addr)" already
        // says what to do.
        None
    }
}

/// Whether a route lookup's cause is the name servers not answering (connect, timeout or a
/// closed connection: the texts of those `ClientError` variants).
fn is_unreachable(cause: &str) -> bool {
    ["cannot connect to ", "no response from ", "connection to "]
        .iter()
        .any(|start| cause.starts_with(start))
}

fn refusal_advice(code: i32) -> Option<String> {
    let advice = match code {
        response_code::MESSAGE_ILLEGAL => {
            "The broker refused the message: keep the body within the broker's maximum message \
             size (maxMessageSize) and the topic name and properties valid"
        }
        response_code::NO_PERMISSION => {
            "The broker refused the request: the topic or broker does not allow it (check the \
             topic's permissions, and the credentials given to set_session_credentials())"
        }
        response_code::TOPIC_NOT_EXIST => {
            "Create the topic first (mqadmin updateTopic), or let the broker create topics on \
             first send (autoCreateTopicEnable=true)"
        }
        response_code::SYSTEM_BUSY => "The broker is busy: retry a little later",
        _ => "The server refused the request for the reason it gave",
    };
    Some(advice.into())
}
