//! RocketMQ's SQL92 message selector (Java `org.apache.rocketmq.filter`): parse an expression
//! once, then evaluate it against each message's properties.
//!
//! ```
//! use rocketmq_filter::Expression;
//! let e = Expression::parse("region = 'eu' AND amount > 100").unwrap();
//! let props = [("region", "eu"), ("amount", "250")];
//! assert!(e.evaluate(&|name| props.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)));
//! ```
//!
//! What must stay true:
//! - the grammar, the construction-time checks and the evaluation are Java's (see `parser`,
//!   `ast` and `value`); properties are strings, as the broker's evaluation context gives them;
//! - a message matches only when the expression evaluates to `TRUE`: null (unknown), a
//!   non-boolean or a failed evaluation (Java throws, the broker catches) is no match;
//! - evaluation allocates nothing; the crate does no I/O and depends on nothing.

mod ast;
mod error;
mod lexer;
mod parser;
mod value;

pub use error::ParseError;

use std::fmt;

/// A compiled selector.
#[derive(Clone, Debug, PartialEq)]
pub struct Expression {
    source: String,
    root: ast::Node,
}

impl Expression {
    /// Parses a selector, or says where and why it is invalid.
    pub fn parse(text: &str) -> Result<Expression, ParseError> {
        Ok(Expression {
            source: text.to_string(),
            root: parser::parse(text)?,
        })
    }

    /// Whether a message with these properties matches: `property(name)` is the value of the
    /// property `name` (user properties and system ones such as `TAGS`), `None` when absent.
    /// The values may borrow from anything that outlives the call (typically the message).
    pub fn evaluate<'p>(&self, property: &dyn Fn(&str) -> Option<&'p str>) -> bool {
        matches!(
            self.root.eval(&|name| property(name)),
            Ok(value::Value::Bool(true))
        )
    }

    /// The expression as it was given.
    pub fn source(&self) -> &str {
        &self.source
    }
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}
