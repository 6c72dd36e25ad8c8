//! The SQL92 selector grammar (Java `SelectorParser.jj`) as a recursive-descent parser, with
//! the checks Java's expression constructors make while the tree is built.
//!
//! What must stay true:
//! - precedence and associativity are the grammar's: `OR` < `AND` < `=`/`<>`/`IS [NOT] NULL`
//!   < `>`/`>=`/`<`/`<=`/`[NOT] BETWEEN`/`[NOT] IN`/`[NOT] CONTAINS`/... < unary `+`/`-`/`NOT`;
//!   unary `NOT` binds tighter than a comparison, so `NOT a = 'x'` is `(NOT a) = 'x'`;
//! - a `NOT` or `IS` in operator position must start one of the operator forms, else the
//!   expression is rejected; text after a complete expression is ignored, as Java's parser
//!   (which never asks for end of input) ignores it;
//! - Java's construction-time errors are parse errors here: `NULL` as an `=` operand, a string,
//!   boolean or boolean expression as a `>`/`<` operand, a boolean constant compared with a
//!   non-boolean constant, a non-property before `IN`, a `BETWEEN` with constant bounds in the
//!   wrong order or null, an integer beyond `long`, a float literal that is infinite or below
//!   `Double.MIN_VALUE` (so `0.0`, as in Java), a non-boolean where a boolean is needed;
//! - the tree is at most [`MAX_TREE_DEPTH`] deep and parentheses/unary operators nest at most
//!   [`MAX_NESTING`] deep, so neither parsing, evaluating nor dropping it can exhaust a
//!   thread's stack (Java's parser fails with a `StackOverflowError` instead).

use crate::ast::{Constant, InList, Node, Order, TextOp};
use crate::error::ParseError;
use crate::lexer::{Keyword, Lexer, Token, TokenKind};

type Parsed = Result<Node, ParseError>;

/// Deepest expression tree accepted (operators chained or nested).
pub const MAX_TREE_DEPTH: usize = 1000;
/// Deepest nesting of parentheses and unary operators accepted.
pub const MAX_NESTING: usize = 64;

/// Parses a whole selector into its boolean root.
pub fn parse(src: &str) -> Parsed {
    let mut p = Parser {
        lx: Lexer::new(src),
        level: 0,
        nesting: 0,
    };
    let start = p.lx.peek(0)?;
    let root = p.or_expr()?;
    as_boolean(root, &start)
}

struct Parser<'s> {
    lx: Lexer<'s>,
    /// An upper bound of the depth of the node being built.
    level: usize,
    /// Parentheses and unary operators open around the current position.
    nesting: usize,
}

fn error_at(t: &Token<'_>, reason: impl Into<String>) -> ParseError {
    ParseError {
        line: t.line,
        column: t.column,
        reason: reason.into(),
    }
}

fn unexpected(t: &Token<'_>, expected: &str) -> ParseError {
    error_at(
        t,
        format!("encountered {}, was expecting {expected}", t.describe()),
    )
}

/// Java's `toString` of an operand, for messages.
fn describe(n: &Node) -> String {
    match n {
        Node::Const(Constant::Null) => "NULL".into(),
        Node::Const(Constant::Bool(b)) => if *b { "TRUE" } else { "FALSE" }.into(),
        Node::Const(Constant::Int(i)) => i.to_string(),
        Node::Const(Constant::Long(l)) => l.to_string(),
        Node::Const(Constant::Double(d)) => format!("{d:?}"),
        Node::Const(Constant::Str(s)) => format!("'{}'", s.replace('\'', "''")),
        Node::Property(p) => p.to_string(),
        _ => "a boolean expression".into(),
    }
}

/// Java `asBooleanExpression`: boolean expressions pass, a property becomes a boolean cast.
fn as_boolean(n: Node, at: &Token<'_>) -> Parsed {
    if n.is_boolean() {
        Ok(n)
    } else if matches!(n, Node::Property(_)) {
        Ok(Node::BoolCast(Box::new(n)))
    } else {
        Err(error_at(
            at,
            format!(
                "Expression will not result in a boolean value: {}",
                describe(&n)
            ),
        ))
    }
}

/// Java `checkLessThanOperand`.
fn check_orderable(n: &Node, op: &Token<'_>) -> Result<(), ParseError> {
    let bad = match n {
        Node::Const(c) => !matches!(
            c,
            Constant::Int(_) | Constant::Long(_) | Constant::Double(_)
        ),
        other => other.is_boolean(),
    };
    if bad {
        Err(error_at(
            op,
            format!("Value '{}' cannot be compared.", describe(n)),
        ))
    } else {
        Ok(())
    }
}

fn order(op: Order, l: Node, r: Node, at: &Token<'_>) -> Parsed {
    check_orderable(&l, at)?;
    check_orderable(&r, at)?;
    Ok(Node::Compare(op, Box::new(l), Box::new(r)))
}

/// Java `createEqual`: `NULL` is no operand, and a boolean constant only meets a boolean one.
fn equal(l: Node, r: Node, at: &Token<'_>) -> Parsed {
    for n in [&l, &r] {
        if matches!(n, Node::Const(Constant::Null)) {
            return Err(error_at(at, "'NULL' cannot be compared."));
        }
    }
    if l.is_constant() && r.is_constant() && l.is_boolean() && !r.is_boolean() {
        return Err(error_at(
            at,
            format!(
                "'{}' cannot be compared with '{}'",
                describe(&l),
                describe(&r)
            ),
        ));
    }
    Ok(Node::Equal(Box::new(l), Box::new(r)))
}

fn numeric(n: &Node) -> Option<f64> {
    match n {
        Node::Const(Constant::Int(i)) => Some(*i as f64),
        Node::Const(Constant::Long(l)) => Some(*l as f64),
        Node::Const(Constant::Double(d)) => Some(*d),
        _ => None,
    }
}

/// Java `createBetween`'s check of constant bounds.
fn check_between(low: &Node, high: &Node, at: &Token<'_>) -> Result<(), ParseError> {
    if !(low.is_constant() && high.is_constant()) {
        return Ok(());
    }
    if matches!(low, Node::Const(Constant::Null)) || matches!(high, Node::Const(Constant::Null)) {
        return Err(error_at(
            at,
            "Illegal values of between, values can not be null!",
        ));
    }
    if let (Some(lo), Some(hi)) = (numeric(low), numeric(high)) {
        let exact_long = |n: &Node| match n {
            Node::Const(Constant::Int(i)) => Some(*i as i64),
            Node::Const(Constant::Long(l)) => Some(*l),
            _ => None,
        };
        let reversed = match (exact_long(low), exact_long(high)) {
            (Some(a), Some(b)) => b < a,
            _ => hi < lo,
        };
        if reversed {
            return Err(error_at(
                at,
                format!(
                    "Illegal values of between, left value({}) must less than or equal to right value({})",
                    describe(low),
                    describe(high)
                ),
            ));
        }
    }
    Ok(())
}

impl Parser<'_> {
    /// One more level of tree depth (an operator applied).
    fn deeper(&mut self) -> Result<(), ParseError> {
        self.level += 1;
        if self.level > MAX_TREE_DEPTH {
            let t = self.lx.peek(0)?;
            return Err(error_at(
                &t,
                format!(
                    "expression too deep (more than {MAX_TREE_DEPTH} operators nested or chained)"
                ),
            ));
        }
        Ok(())
    }

    /// Enters a parenthesis or unary operator.
    fn nest(&mut self, at: &Token<'_>) -> Result<(), ParseError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(error_at(
                at,
                format!("expression nested too deeply (more than {MAX_NESTING} parentheses or unary operators)"),
            ));
        }
        self.deeper()
    }

    fn is(&mut self, k: usize, kind: TokenKind) -> Result<bool, ParseError> {
        Ok(self.lx.peek(k)?.kind == kind)
    }

    fn expect(&mut self, kind: TokenKind, what: &str) -> Result<Token<'_>, ParseError> {
        let t = self.lx.next()?;
        if t.kind == kind {
            Ok(t)
        } else {
            Err(unexpected(&t, what))
        }
    }

    fn or_expr(&mut self) -> Parsed {
        let saved = self.level;
        let start = self.lx.peek(0)?;
        let mut left = self.and_expr()?;
        while self.is(0, TokenKind::Keyword(Keyword::Or))? {
            self.lx.next()?;
            self.deeper()?;
            let right_start = self.lx.peek(0)?;
            let right = self.and_expr()?;
            left = Node::Or(
                Box::new(as_boolean(left, &start)?),
                Box::new(as_boolean(right, &right_start)?),
            );
        }
        self.level = saved;
        Ok(left)
    }

    fn and_expr(&mut self) -> Parsed {
        let saved = self.level;
        let start = self.lx.peek(0)?;
        let mut left = self.equality_expr()?;
        while self.is(0, TokenKind::Keyword(Keyword::And))? {
            self.lx.next()?;
            self.deeper()?;
            let right_start = self.lx.peek(0)?;
            let right = self.equality_expr()?;
            left = Node::And(
                Box::new(as_boolean(left, &start)?),
                Box::new(as_boolean(right, &right_start)?),
            );
        }
        self.level = saved;
        Ok(left)
    }

    fn equality_expr(&mut self) -> Parsed {
        let saved = self.level;
        let mut left = self.comparison_expr()?;
        loop {
            let op = self.lx.peek(0)?;
            // Two levels: `<>` and `IS NOT NULL` add a NOT above the comparison.
            self.deeper()?;
            self.deeper()?;
            left = match op.kind {
                TokenKind::Eq => {
                    self.lx.next()?;
                    let right = self.comparison_expr()?;
                    equal(left, right, &op)?
                }
                TokenKind::NotEq => {
                    self.lx.next()?;
                    let right = self.comparison_expr()?;
                    Node::Not(Box::new(equal(left, right, &op)?))
                }
                TokenKind::Keyword(Keyword::Is) => {
                    self.lx.next()?;
                    if self.is(0, TokenKind::Keyword(Keyword::Null))? {
                        self.lx.next()?;
                        Node::IsNull(Box::new(left))
                    } else {
                        self.expect(TokenKind::Keyword(Keyword::Not), "NULL or NOT NULL")?;
                        self.expect(TokenKind::Keyword(Keyword::Null), "NULL")?;
                        Node::Not(Box::new(Node::IsNull(Box::new(left))))
                    }
                }
                _ => {
                    self.level = saved;
                    return Ok(left);
                }
            };
        }
    }

    fn string_literal(&mut self) -> Result<Box<str>, ParseError> {
        let t = self.expect(TokenKind::Str, "a string literal")?;
        Ok(unquote(t.text).into_boxed_str())
    }

    fn comparison_expr(&mut self) -> Parsed {
        let saved = self.level;
        let mut left = self.unary_expr()?;
        loop {
            let op = self.lx.peek(0)?;
            // Two levels: BETWEEN builds an AND/OR above two comparisons.
            self.deeper()?;
            self.deeper()?;
            let mut negated = false;
            let mut kind = op.kind;
            if kind == TokenKind::Keyword(Keyword::Not) {
                let after = self.lx.peek(1)?;
                match after.kind {
                    TokenKind::Keyword(
                        Keyword::Contains
                        | Keyword::StartsWith
                        | Keyword::EndsWith
                        | Keyword::Between
                        | Keyword::In,
                    ) => {
                        self.lx.next()?;
                        negated = true;
                        kind = after.kind;
                    }
                    _ => {
                        return Err(unexpected(
                            &op,
                            "CONTAINS, STARTSWITH, ENDSWITH, BETWEEN or IN after NOT",
                        ))
                    }
                }
            }
            left = match kind {
                TokenKind::Gt | TokenKind::Ge | TokenKind::Lt | TokenKind::Le => {
                    self.lx.next()?;
                    let right = self.unary_expr()?;
                    let o = match kind {
                        TokenKind::Gt => Order::Gt,
                        TokenKind::Ge => Order::Ge,
                        TokenKind::Lt => Order::Lt,
                        _ => Order::Le,
                    };
                    order(o, left, right, &op)?
                }
                TokenKind::Keyword(
                    k @ (Keyword::Contains | Keyword::StartsWith | Keyword::EndsWith),
                ) => {
                    self.lx.next()?;
                    let search = self.string_literal()?;
                    let op = match k {
                        Keyword::Contains => TextOp::Contains,
                        Keyword::StartsWith => TextOp::StartsWith,
                        _ => TextOp::EndsWith,
                    };
                    Node::Text {
                        op,
                        target: Box::new(left),
                        search,
                        negated,
                    }
                }
                TokenKind::Keyword(Keyword::Between) => {
                    self.lx.next()?;
                    let low = self.unary_expr()?;
                    self.expect(TokenKind::Keyword(Keyword::And), "AND")?;
                    let high = self.unary_expr()?;
                    if negated {
                        Node::Or(
                            Box::new(order(Order::Lt, left.clone(), low, &op)?),
                            Box::new(order(Order::Gt, left, high, &op)?),
                        )
                    } else {
                        check_between(&low, &high, &op)?;
                        Node::And(
                            Box::new(order(Order::Ge, left.clone(), low, &op)?),
                            Box::new(order(Order::Le, left, high, &op)?),
                        )
                    }
                }
                TokenKind::Keyword(Keyword::In) => {
                    self.lx.next()?;
                    self.expect(TokenKind::LParen, "(")?;
                    let mut items = vec![self.string_literal()?];
                    while self.is(0, TokenKind::Comma)? {
                        self.lx.next()?;
                        items.push(self.string_literal()?);
                    }
                    self.expect(TokenKind::RParen, ", or )")?;
                    let Node::Property(property) = left else {
                        return Err(error_at(
                            &op,
                            format!(
                                "Expected a property for In expression, got: {}",
                                describe(&left)
                            ),
                        ));
                    };
                    Node::In {
                        property,
                        list: InList::new(items),
                        negated,
                    }
                }
                _ => {
                    self.level = saved;
                    return Ok(left);
                }
            };
        }
    }

    fn unary_expr(&mut self) -> Parsed {
        let t = self.lx.peek(0)?;
        let (saved_level, saved_nesting) = (self.level, self.nesting);
        let node = match t.kind {
            TokenKind::Plus => {
                self.lx.next()?;
                self.nest(&t)?;
                self.unary_expr()?
            }
            TokenKind::Minus => {
                self.lx.next()?;
                self.nest(&t)?;
                Node::Negate(Box::new(self.unary_expr()?))
            }
            TokenKind::Keyword(Keyword::Not) => {
                self.lx.next()?;
                self.nest(&t)?;
                let operand_start = self.lx.peek(0)?;
                let operand = self.unary_expr()?;
                Node::Not(Box::new(as_boolean(operand, &operand_start)?))
            }
            _ => self.primary_expr()?,
        };
        (self.level, self.nesting) = (saved_level, saved_nesting);
        Ok(node)
    }

    fn primary_expr(&mut self) -> Parsed {
        let t = self.lx.next()?;
        Ok(match t.kind {
            TokenKind::Str => Node::Const(Constant::Str(unquote(t.text).into_boxed_str())),
            TokenKind::Decimal => Node::Const(decimal(&t)?),
            TokenKind::Float => Node::Const(float(&t)?),
            TokenKind::Keyword(Keyword::True) => Node::Const(Constant::Bool(true)),
            TokenKind::Keyword(Keyword::False) => Node::Const(Constant::Bool(false)),
            TokenKind::Keyword(Keyword::Null) => Node::Const(Constant::Null),
            TokenKind::Identifier => Node::Property(t.text.into()),
            TokenKind::LParen => {
                let (saved_level, saved_nesting) = (self.level, self.nesting);
                self.nest(&t)?;
                let inner = self.or_expr()?;
                self.expect(TokenKind::RParen, ")")?;
                (self.level, self.nesting) = (saved_level, saved_nesting);
                inner
            }
            _ => return Err(unexpected(&t, "a literal, a property name or (")),
        })
    }
}

/// The text of a `'...'` token with `''` turned into `'`.
fn unquote(token: &str) -> String {
    token[1..token.len() - 1].replace("''", "'")
}

/// Java `ConstantExpression.createFromDecimal`: `Integer` when it fits, else `Long`.
fn decimal(t: &Token<'_>) -> Result<Constant, ParseError> {
    let digits = t.text.trim_end_matches(['l', 'L']);
    let v: i64 = digits.parse().map_err(|_| {
        error_at(
            t,
            format!("For input string: \"{digits}\" (beyond the range of long)"),
        )
    })?;
    Ok(match i32::try_from(v) {
        Ok(i) => Constant::Int(i),
        Err(_) => Constant::Long(v),
    })
}

/// Java `ConstantExpression.createFloat`: finite and not below `Double.MIN_VALUE`.
fn float(t: &Token<'_>) -> Result<Constant, ParseError> {
    let v: f64 = t
        .text
        .parse()
        .map_err(|_| error_at(t, format!("{} is not a number", t.text)))?;
    if v.is_infinite() {
        return Err(error_at(
            t,
            format!("{} is greater than 1.7976931348623157E308", t.text),
        ));
    }
    if v < f64::from_bits(1) {
        return Err(error_at(t, format!("{} is less than 4.9E-324", t.text)));
    }
    Ok(Constant::Double(v))
}
