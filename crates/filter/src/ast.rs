//! The parsed form of a selector and its evaluation (Java `filter/expression/*`).
//!
//! What must stay true:
//! - node kinds mirror Java's classes closely enough that the parser can apply Java's
//!   construction-time checks (what is a constant, a boolean expression, a property);
//! - evaluation is Java's three-valued logic: `AND`/`OR`/`NOT` pass null through, a
//!   comparison with a null operand is null, `=` with only its left side null is null and with
//!   only its right side null is false; `CONTAINS`/`STARTSWITH`/`ENDSWITH` (and their `NOT`
//!   forms) are false on null, non-strings and an empty search string;
//! - `>`, `>=`, `<`, `<=` between two strings compare them as `Double.valueOf` numbers;
//! - an evaluation failure ([`Failed`]) ends the whole evaluation (the broker then treats the
//!   message as not matching, as Java's filter does when the expression throws).

use crate::value::{java_compare, java_double, java_double_cmp, java_equals, Failed, Value};
use std::cmp::Ordering;
use std::collections::HashSet;

/// A literal (Java `ConstantExpression`; TRUE, FALSE and NULL are `BooleanConstantExpression`).
#[derive(Clone, Debug, PartialEq)]
pub enum Constant {
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Double(f64),
    Str(Box<str>),
}

impl Constant {
    fn value(&self) -> Value<'_> {
        match self {
            Constant::Null => Value::Null,
            Constant::Bool(b) => Value::Bool(*b),
            Constant::Int(i) => Value::Int(*i),
            Constant::Long(l) => Value::Long(*l),
            Constant::Double(d) => Value::Double(*d),
            Constant::Str(s) => Value::Str(s),
        }
    }
}

/// `>`, `>=`, `<`, `<=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Gt,
    Ge,
    Lt,
    Le,
}

impl Order {
    fn holds(self, o: Ordering) -> bool {
        match self {
            Order::Gt => o == Ordering::Greater,
            Order::Ge => o != Ordering::Less,
            Order::Lt => o == Ordering::Less,
            Order::Le => o != Ordering::Greater,
        }
    }
}

/// `CONTAINS`, `STARTSWITH`, `ENDSWITH`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextOp {
    Contains,
    StartsWith,
    EndsWith,
}

/// The string list of `IN`: a set when long (Java switches to a HashSet from 5 elements).
#[derive(Clone, Debug, PartialEq)]
pub enum InList {
    Few(Vec<Box<str>>),
    Many(HashSet<Box<str>>),
}

impl InList {
    pub fn new(items: Vec<Box<str>>) -> Self {
        if items.len() < 5 {
            InList::Few(items)
        } else {
            InList::Many(items.into_iter().collect())
        }
    }

    fn contains(&self, s: &str) -> bool {
        match self {
            InList::Few(v) => v.iter().any(|x| &**x == s),
            InList::Many(set) => set.contains(s),
        }
    }
}

/// A node of the expression tree.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Const(Constant),
    Property(Box<str>),
    /// Unary minus (null unless the operand is a number).
    Negate(Box<Node>),
    /// A property used as a boolean: true only for a `Boolean` value, which a string never is.
    BoolCast(Box<Node>),
    Not(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Equal(Box<Node>, Box<Node>),
    Compare(Order, Box<Node>, Box<Node>),
    IsNull(Box<Node>),
    In {
        property: Box<str>,
        list: InList,
        negated: bool,
    },
    Text {
        op: TextOp,
        target: Box<Node>,
        search: Box<str>,
        negated: bool,
    },
}

impl Node {
    /// Java `instanceof ConstantExpression`.
    pub fn is_constant(&self) -> bool {
        matches!(self, Node::Const(_))
    }

    /// Java `instanceof BooleanExpression`.
    pub fn is_boolean(&self) -> bool {
        match self {
            Node::Const(c) => matches!(c, Constant::Bool(_) | Constant::Null),
            Node::Property(_) | Node::Negate(_) => false,
            _ => true,
        }
    }

    /// Evaluates the node; `property` gives a message property by name.
    pub fn eval<'v>(
        &'v self,
        property: &dyn Fn(&str) -> Option<&'v str>,
    ) -> Result<Value<'v>, Failed> {
        match self {
            Node::Const(c) => Ok(c.value()),
            Node::Property(name) => Ok(property(name).map_or(Value::Null, Value::Str)),
            Node::Negate(x) => Ok(match x.eval(property)? {
                Value::Int(i) => Value::Int(i.wrapping_neg()),
                Value::Long(l) => Value::Long(l.wrapping_neg()),
                Value::Double(d) => Value::Double(-d),
                _ => Value::Null,
            }),
            Node::BoolCast(x) => Ok(match x.eval(property)? {
                Value::Null => Value::Null,
                Value::Bool(b) => Value::Bool(b),
                _ => Value::Bool(false),
            }),
            Node::Not(x) => Ok(match as_bool(x.eval(property)?)? {
                None => Value::Null,
                Some(b) => Value::Bool(!b),
            }),
            Node::And(l, r) => {
                let lv = as_bool(l.eval(property)?)?;
                if lv == Some(false) {
                    return Ok(Value::Bool(false));
                }
                let rv = as_bool(r.eval(property)?)?;
                Ok(match (lv, rv) {
                    (_, Some(false)) => Value::Bool(false),
                    (Some(true), Some(true)) => Value::Bool(true),
                    _ => Value::Null,
                })
            }
            Node::Or(l, r) => {
                let lv = as_bool(l.eval(property)?)?;
                if lv == Some(true) {
                    return Ok(Value::Bool(true));
                }
                let rv = as_bool(r.eval(property)?)?;
                Ok(match (lv, rv) {
                    (_, Some(true)) => Value::Bool(true),
                    (Some(false), Some(false)) => Value::Bool(false),
                    _ => Value::Null,
                })
            }
            Node::Equal(l, r) => {
                let lv = l.eval(property)?;
                let rv = r.eval(property)?;
                Ok(match (lv.is_null(), rv.is_null()) {
                    (true, true) => Value::Bool(true),
                    (true, false) => Value::Null,
                    (false, true) => Value::Bool(false),
                    (false, false) => {
                        Value::Bool(java_equals(lv, rv) || java_compare(lv, rv)? == Ordering::Equal)
                    }
                })
            }
            Node::Compare(op, l, r) => {
                let lv = l.eval(property)?;
                if lv.is_null() {
                    return Ok(Value::Null);
                }
                let rv = r.eval(property)?;
                if rv.is_null() {
                    return Ok(Value::Null);
                }
                let ordering = match (lv, rv) {
                    (Value::Str(a), Value::Str(b)) => {
                        java_double_cmp(java_double(a)?, java_double(b)?)
                    }
                    _ => java_compare(lv, rv)?,
                };
                Ok(Value::Bool(op.holds(ordering)))
            }
            Node::IsNull(x) => Ok(Value::Bool(x.eval(property)?.is_null())),
            Node::In {
                property: name,
                list,
                negated,
            } => Ok(match property(name) {
                None => Value::Null,
                Some(v) => Value::Bool(list.contains(v) ^ negated),
            }),
            Node::Text {
                op,
                target,
                search,
                negated,
            } => {
                if search.is_empty() {
                    return Ok(Value::Bool(false));
                }
                Ok(match target.eval(property)? {
                    Value::Str(s) => {
                        let found = match op {
                            TextOp::Contains => s.contains(&**search),
                            TextOp::StartsWith => s.starts_with(&**search),
                            TextOp::EndsWith => s.ends_with(&**search),
                        };
                        Value::Bool(found ^ negated)
                    }
                    _ => Value::Bool(false),
                })
            }
        }
    }
}

/// Java's `(Boolean)` cast of an operand of `AND`, `OR`, `NOT`.
fn as_bool(v: Value<'_>) -> Result<Option<bool>, Failed> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(b)),
        _ => Err(Failed),
    }
}
