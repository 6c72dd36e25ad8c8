//! The parse error of a selector: where (JavaCC's 1-based line and column) and why.
//!
//! What must stay true: every rejected expression gets a position inside (or just after) the
//! text and a reason a user can act on; the `Display` form names both.

use std::fmt;

/// Why an expression was rejected and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line of the offending token (or of the operator whose operands are invalid).
    pub line: u32,
    /// 1-based column, JavaCC style (tabs to multiples of 8).
    pub column: u32,
    /// What was wrong, e.g. `encountered "between", was expecting an expression`.
    pub reason: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Invalid SQL92 expression at line {}, column {}: {}",
            self.line, self.column, self.reason
        )
    }
}

impl std::error::Error for ParseError {}
