//! Tokens of the SQL92 selector grammar (Java `SelectorParser.jj`), produced on demand.
//!
//! What must stay true:
//! - tokens are matched longest-first; on a tie the keyword wins over an identifier, and a
//!   decimal literal over a floating-point one, as JavaCC's declaration order makes it;
//! - keywords are case-insensitive; identifiers are `[A-Za-z_$][A-Za-z0-9_$]*`;
//! - a lexical error surfaces only when the parser asks for the token that contains it (Java's
//!   token manager is lazy: text after the last token the parser looks at is never read);
//! - positions are JavaCC's: 1-based lines and columns, a tab advances to the next multiple of
//!   8, a non-BMP character counts as two columns (Java counts UTF-16 units).

use crate::error::ParseError;

/// A reserved word of the grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keyword {
    Not,
    And,
    Or,
    Between,
    In,
    True,
    False,
    Null,
    Is,
    Contains,
    StartsWith,
    EndsWith,
}

const KEYWORDS: [(&str, Keyword); 12] = [
    ("NOT", Keyword::Not),
    ("AND", Keyword::And),
    ("OR", Keyword::Or),
    ("BETWEEN", Keyword::Between),
    ("IN", Keyword::In),
    ("TRUE", Keyword::True),
    ("FALSE", Keyword::False),
    ("NULL", Keyword::Null),
    ("IS", Keyword::Is),
    ("CONTAINS", Keyword::Contains),
    ("STARTSWITH", Keyword::StartsWith),
    ("ENDSWITH", Keyword::EndsWith),
];

/// What a token is. Texts are slices of the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Keyword(Keyword),
    Identifier,
    /// `0` or `[1-9][0-9]*` with an optional `l`/`L`.
    Decimal,
    Float,
    /// Quoted, with `''` escapes still in the text.
    Str,
    Eq,
    NotEq,
    Gt,
    Ge,
    Lt,
    Le,
    LParen,
    RParen,
    Comma,
    Plus,
    Minus,
    Eof,
}

/// One token: its kind, its text in the source and where it begins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token<'s> {
    pub kind: TokenKind,
    pub text: &'s str,
    pub line: u32,
    pub column: u32,
}

impl Token<'_> {
    /// How the token is named in an error message (JavaCC quotes its image).
    pub fn describe(&self) -> String {
        match self.kind {
            TokenKind::Eof => "<EOF>".to_string(),
            _ => format!("\"{}\"", self.text),
        }
    }
}

/// A position tracker that follows JavaCC's `SimpleCharStream` rules.
#[derive(Clone, Copy, Debug)]
struct Cursor {
    pos: usize,
    line: u32,
    column: u32,
    prev_cr: bool,
    prev_lf: bool,
}

impl Cursor {
    /// Line and column of the next character, as JavaCC would report it.
    fn next_position(&self) -> (u32, u32) {
        if self.prev_lf || self.prev_cr {
            (self.line + 1, 1)
        } else {
            (self.line, self.column + 1)
        }
    }

    fn advance(&mut self, c: char) {
        if self.prev_lf || (self.prev_cr && c != '\n') {
            self.line += 1;
            self.column = 0;
        }
        if self.prev_cr && c == '\n' {
            self.prev_cr = false;
            self.prev_lf = true;
            self.column += 1;
            self.pos += 1;
            return;
        }
        self.prev_cr = false;
        self.prev_lf = false;
        match c {
            '\r' => {
                self.prev_cr = true;
                self.column += 1;
            }
            '\n' => {
                self.prev_lf = true;
                self.column += 1;
            }
            '\t' => {
                // JavaCC: column++, then column-- and round up to the next tab stop.
                self.column += 8 - (self.column % 8);
            }
            c => self.column += c.len_utf16() as u32,
        }
        self.pos += c.len_utf8();
    }
}

/// Lexes a source on demand; [`Lexer::peek`] and [`Lexer::next`] fill a small buffer.
pub struct Lexer<'s> {
    src: &'s str,
    cursor: Cursor,
    buffer: Vec<Token<'s>>,
    /// Index of the next token to hand out.
    next: usize,
    /// Position of the last character read (where `<EOF>` is reported).
    last: (u32, u32),
}

impl<'s> Lexer<'s> {
    pub fn new(src: &'s str) -> Self {
        Lexer {
            src,
            cursor: Cursor {
                pos: 0,
                line: 1,
                column: 0,
                prev_cr: false,
                prev_lf: false,
            },
            buffer: Vec::new(),
            next: 0,
            last: (1, 1),
        }
    }

    /// The token `k` places ahead (0 = the next one), lexing as far as needed.
    pub fn peek(&mut self, k: usize) -> Result<Token<'s>, ParseError> {
        while self.buffer.len() <= self.next + k {
            let t = self.lex()?;
            self.buffer.push(t);
        }
        Ok(self.buffer[self.next + k])
    }

    /// Consumes and returns the next token.
    pub fn next(&mut self) -> Result<Token<'s>, ParseError> {
        let t = self.peek(0)?;
        if t.kind != TokenKind::Eof {
            self.next += 1;
        }
        Ok(t)
    }

    fn rest(&self) -> &'s str {
        &self.src[self.cursor.pos..]
    }

    fn bump(&mut self, n_bytes: usize) {
        let end = self.cursor.pos + n_bytes;
        while self.cursor.pos < end {
            let c = self.src[self.cursor.pos..].chars().next().unwrap_or('\0');
            self.cursor.advance(c);
            self.last = (self.cursor.line, self.cursor.column.max(1));
        }
    }

    /// Skips blanks and comments; `false` when a `/*` comment is not closed.
    fn skip_blank(&mut self) -> bool {
        loop {
            let rest = self.rest();
            let Some(c) = rest.chars().next() else {
                return true;
            };
            if matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{c}') {
                self.bump(1);
            } else if rest.starts_with("--") {
                // A line comment needs its line end; without one "-" is a token.
                match rest.find(['\n', '\r']) {
                    Some(end) => {
                        let len = if rest[end..].starts_with("\r\n") {
                            end + 2
                        } else {
                            end + 1
                        };
                        self.bump(len);
                    }
                    None => return true,
                }
            } else if let Some(body) = rest.strip_prefix("/*") {
                match body.find("*/") {
                    Some(end) => self.bump(end + 4),
                    None => return false,
                }
            } else {
                return true;
            }
        }
    }

    fn lex(&mut self) -> Result<Token<'s>, ParseError> {
        let closed = self.skip_blank();
        let (line, column) = self.cursor.next_position();
        let rest = self.rest();
        let Some(c) = rest.chars().next() else {
            return Ok(Token {
                kind: TokenKind::Eof,
                text: "",
                line: self.last.0,
                column: self.last.1,
            });
        };
        if !closed {
            return Err(lexical_error(line, column, '/'));
        }
        let (kind, len) = match c {
            '=' => (TokenKind::Eq, 1),
            '<' if rest.starts_with("<>") => (TokenKind::NotEq, 2),
            '<' if rest.starts_with("<=") => (TokenKind::Le, 2),
            '<' => (TokenKind::Lt, 1),
            '>' if rest.starts_with(">=") => (TokenKind::Ge, 2),
            '>' => (TokenKind::Gt, 1),
            '(' => (TokenKind::LParen, 1),
            ')' => (TokenKind::RParen, 1),
            ',' => (TokenKind::Comma, 1),
            '+' => (TokenKind::Plus, 1),
            '-' => (TokenKind::Minus, 1),
            '\'' => match string_len(rest) {
                Some(len) => (TokenKind::Str, len),
                None => {
                    // Java reports the end of input, just after the last character.
                    let mut end = self.cursor;
                    rest.chars().for_each(|ch| end.advance(ch));
                    return Err(ParseError {
                        line: end.line,
                        column: end.column + 1,
                        reason: format!(
                            "Lexical error: encountered <EOF> after {:?} (a string literal is not closed)",
                            rest
                        ),
                    });
                }
            },
            '0'..='9' | '.' => match number(rest) {
                Some(found) => found,
                None => return Err(lexical_error(line, column, c)),
            },
            c if c.is_ascii_alphabetic() || c == '_' || c == '$' => {
                let len = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
                    .unwrap_or(rest.len());
                let word = &rest[..len];
                let kind = KEYWORDS
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(word))
                    .map_or(TokenKind::Identifier, |(_, k)| TokenKind::Keyword(*k));
                (kind, len)
            }
            c => return Err(lexical_error(line, column, c)),
        };
        let text = &rest[..len];
        self.bump(len);
        Ok(Token {
            kind,
            text,
            line,
            column,
        })
    }
}

fn lexical_error(line: u32, column: u32, c: char) -> ParseError {
    ParseError {
        line,
        column,
        reason: format!(
            "Lexical error: encountered \"{}\" ({})",
            c.escape_default(),
            c as u32
        ),
    }
}

/// Length of a `'...'` literal with `''` escapes, or `None` when it is not closed.
fn string_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 1;
    while i < b.len() {
        if b[i] == b'\'' {
            if b.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return Some(i + 1);
        }
        i += 1;
    }
    None
}

fn digits(b: &[u8], from: usize) -> usize {
    b[from..].iter().take_while(|c| c.is_ascii_digit()).count()
}

/// Length of an exponent (`E[+-]digits`) at `from`, 0 when there is none.
fn exponent(b: &[u8], from: usize) -> usize {
    if !matches!(b.get(from), Some(b'e' | b'E')) {
        return 0;
    }
    let sign = usize::from(matches!(b.get(from + 1), Some(b'+' | b'-')));
    let n = digits(b, from + 1 + sign);
    if n == 0 {
        0
    } else {
        1 + sign + n
    }
}

/// The longest numeric literal at the start of `s`.
fn number(s: &str) -> Option<(TokenKind, usize)> {
    let b = s.as_bytes();
    let int_digits = digits(b, 0);
    // DECIMAL_LITERAL: "0" | [1-9][0-9]* [lL]?
    let decimal = match b.first() {
        Some(b'0') => 1,
        Some(b'1'..=b'9') => {
            int_digits + usize::from(matches!(b.get(int_digits), Some(b'l' | b'L')))
        }
        _ => 0,
    };
    // FLOATING_POINT_LITERAL
    let float = if int_digits > 0 {
        if b.get(int_digits) == Some(&b'.') {
            let frac = digits(b, int_digits + 1);
            let end = int_digits + 1 + frac;
            end + exponent(b, end)
        } else {
            let e = exponent(b, int_digits);
            if e > 0 {
                int_digits + e
            } else {
                0
            }
        }
    } else if b.first() == Some(&b'.') {
        let frac = digits(b, 1);
        if frac > 0 {
            1 + frac + exponent(b, 1 + frac)
        } else {
            0
        }
    } else {
        0
    };
    if decimal == 0 && float == 0 {
        None
    } else if float > decimal {
        Some((TokenKind::Float, float))
    } else {
        Some((TokenKind::Decimal, decimal))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(TokenKind, String)> {
        let mut lx = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let t = lx.next().unwrap();
            if t.kind == TokenKind::Eof {
                return out;
            }
            out.push((t.kind, t.text.to_string()));
        }
    }

    #[test]
    fn numbers_take_the_longest_form() {
        use TokenKind::*;
        let k = kinds("0 007 12L 5. .5 5.5E10 5E-3 1e x1");
        let got: Vec<_> = k.iter().map(|(k, t)| (*k, t.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (Decimal, "0"),
                (Decimal, "0"),
                (Decimal, "0"),
                (Decimal, "7"),
                (Decimal, "12L"),
                (Float, "5."),
                (Float, ".5"),
                (Float, "5.5E10"),
                (Float, "5E-3"),
                (Decimal, "1"),
                (Identifier, "e"),
                (Identifier, "x1"),
            ]
        );
    }

    #[test]
    fn keywords_ignore_case_and_identifiers_do_not_swallow_them() {
        let k = kinds("not NoT notx $a_1 'it''s'");
        assert_eq!(k[0].0, TokenKind::Keyword(Keyword::Not));
        assert_eq!(k[1].0, TokenKind::Keyword(Keyword::Not));
        assert_eq!(k[2].0, TokenKind::Identifier);
        assert_eq!(k[3].0, TokenKind::Identifier);
        assert_eq!(k[4], (TokenKind::Str, "'it''s'".to_string()));
    }

    #[test]
    fn comments_and_positions() {
        let mut lx = Lexer::new("a /* x */ =\n -- c\n\t'b'");
        let a = lx.next().unwrap();
        assert_eq!((a.line, a.column), (1, 1));
        let eq = lx.next().unwrap();
        assert_eq!((eq.kind, eq.line, eq.column), (TokenKind::Eq, 1, 11));
        let b = lx.next().unwrap();
        assert_eq!((b.kind, b.line, b.column), (TokenKind::Str, 3, 9));
    }

    #[test]
    fn lexical_errors_name_the_position() {
        let mut lx = Lexer::new("a = #");
        lx.next().unwrap();
        lx.next().unwrap();
        let e = lx.next().unwrap_err();
        assert_eq!((e.line, e.column), (1, 5));
        let mut lx = Lexer::new("a = 'open");
        lx.next().unwrap();
        lx.next().unwrap();
        assert_eq!(lx.next().unwrap_err().column, 10);
    }
}
