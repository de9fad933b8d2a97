//! The syntax tree produced by [`crate::parse`] and its canonical text form.
//!
//! The tree is purely syntactic: identifiers are kept as written (`@request.auth.id`,
//! `tags:each`, `null`) and are interpreted by a resolver outside this crate. Spans are byte
//! offsets into the parsed input so that later stages can point their errors at the source.
//!
//! Invariants upheld by the parser: `And`/`Or` have at least two children, and parenthesised
//! groups are kept as nested nodes (never flattened), so `Display` can reproduce the structure
//! exactly and `parse(&expr.to_string())` yields the same tree (modulo spans).

use std::fmt;

/// Byte span in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// Byte offset of the first byte.
    pub offset: usize,
    /// Length in bytes; 0 for positions such as "end of input".
    pub len: usize,
}

impl Span {
    /// Builds a span; a convenience for callers that report their own errors.
    pub fn new(offset: usize, len: usize) -> Self {
        Self { offset, len }
    }

    /// Byte offset just past the span.
    pub fn end(self) -> usize {
        self.offset + self.len
    }

    /// Smallest span covering both `self` and `other`.
    pub(crate) fn to(self, other: Span) -> Span {
        let start = self.offset.min(other.offset);
        Span::new(start, self.end().max(other.end()) - start)
    }
}

/// Comparison kind, independent of the "any" (`?`) flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=`
    Neq,
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `~` (contains / LIKE)
    Like,
    /// `!~` (does not contain / NOT LIKE)
    NotLike,
}

impl CmpOp {
    /// Every comparison kind, in PocketBase's documentation order.
    pub const ALL: [CmpOp; 8] = [
        CmpOp::Eq,
        CmpOp::Neq,
        CmpOp::Gt,
        CmpOp::Gte,
        CmpOp::Lt,
        CmpOp::Lte,
        CmpOp::Like,
        CmpOp::NotLike,
    ];

    /// The sign without the `?` prefix, e.g. `!=`.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Neq => "!=",
            CmpOp::Gt => ">",
            CmpOp::Gte => ">=",
            CmpOp::Lt => "<",
            CmpOp::Lte => "<=",
            CmpOp::Like => "~",
            CmpOp::NotLike => "!~",
        }
    }
}

/// A comparison sign as written in the filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Op {
    /// What is compared.
    pub cmp: CmpOp,
    /// The `?` variants: "at least one" instead of "every" value of a multi-valued operand.
    pub any: bool,
}

impl Op {
    /// The PocketBase sign text, e.g. `?!=`.
    pub fn as_str(self) -> &'static str {
        match (self.any, self.cmp) {
            (false, cmp) => cmp.as_str(),
            (true, CmpOp::Eq) => "?=",
            (true, CmpOp::Neq) => "?!=",
            (true, CmpOp::Gt) => "?>",
            (true, CmpOp::Gte) => "?>=",
            (true, CmpOp::Lt) => "?<",
            (true, CmpOp::Lte) => "?<=",
            (true, CmpOp::Like) => "?~",
            (true, CmpOp::NotLike) => "?!~",
        }
    }

    /// Looks up a sign by its exact text; `None` for anything PocketBase rejects (`==`, `<>`).
    pub fn from_sign(sign: &str) -> Option<Op> {
        let (any, rest) = match sign.strip_prefix('?') {
            Some(rest) => (true, rest),
            None => (false, sign),
        };
        let cmp = CmpOp::ALL.into_iter().find(|c| c.as_str() == rest)?;
        Some(Op { cmp, any })
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One side of a comparison, or a function argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// Identifier as written, e.g. "title", "author.name", "@request.auth.id", "tags:each",
    /// "null", "true", "@now".
    Ident {
        /// The identifier text.
        name: String,
        /// Where it was written.
        span: Span,
    },
    /// Number literal; `raw` is the source text, `value` its f64 value.
    Number {
        /// Source text, e.g. `-1.50`; kept because SQL rendering may want the exact digits.
        raw: String,
        /// Parsed value.
        value: f64,
        /// Where it was written.
        span: Span,
    },
    /// Text literal with escapes resolved.
    Text {
        /// The unquoted value.
        value: String,
        /// Where it was written, including the quotes.
        span: Span,
    },
    /// Function call `name(args…)`; nesting depth limited to [`crate::MAX_CALL_DEPTH`].
    Call {
        /// Function name as written.
        name: String,
        /// Arguments in order.
        args: Vec<Operand>,
        /// From the name to the closing parenthesis.
        span: Span,
    },
}

impl Operand {
    /// Where the operand was written.
    pub fn span(&self) -> Span {
        match self {
            Operand::Ident { span, .. }
            | Operand::Number { span, .. }
            | Operand::Text { span, .. }
            | Operand::Call { span, .. } => *span,
        }
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Ident { name, .. } => f.write_str(name),
            Operand::Number { raw, .. } => f.write_str(raw),
            Operand::Text { value, .. } => write_text(f, value),
            Operand::Call { name, args, .. } => {
                write!(f, "{name}(")?;
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    arg.fmt(f)?;
                }
                f.write_str(")")
            }
        }
    }
}

/// Writes `value` as a single-quoted literal.
///
/// NOTE: the grammar cannot express a text that ends in a backslash (the closing quote would
/// count as escaped), so such values, which the parser never produces, do not round-trip.
fn write_text(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    f.write_str("'")?;
    for part in value.split_inclusive('\'') {
        match part.strip_suffix('\'') {
            Some(head) => {
                f.write_str(head)?;
                f.write_str("\\'")?;
            }
            None => f.write_str(part)?,
        }
    }
    f.write_str("'")
}

/// `left op right`.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Left operand.
    pub left: Operand,
    /// The sign.
    pub op: Op,
    /// Right operand.
    pub right: Operand,
    /// From the start of `left` to the end of `right`.
    pub span: Span,
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.left, self.op, self.right)
    }
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A single comparison.
    Cmp(Comparison),
    /// All must hold (`&&`); always >= 2 children.
    And(Vec<Expr>),
    /// Any must hold (`||`); always >= 2 children.
    Or(Vec<Expr>),
}

impl Expr {
    /// All comparisons (leaves), left to right.
    pub fn comparisons(&self) -> impl Iterator<Item = &Comparison> + '_ {
        Comparisons { stack: vec![self] }
    }
}

/// Depth-first walk with an explicit stack, so it never recurses however deep the tree.
struct Comparisons<'a> {
    stack: Vec<&'a Expr>,
}

impl<'a> Iterator for Comparisons<'a> {
    type Item = &'a Comparison;

    fn next(&mut self) -> Option<&'a Comparison> {
        while let Some(expr) = self.stack.pop() {
            match expr {
                Expr::Cmp(cmp) => return Some(cmp),
                Expr::And(children) | Expr::Or(children) => {
                    self.stack.extend(children.iter().rev());
                }
            }
        }
        None
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `&&` binds tighter than `||`, so only a group that the parser would otherwise merge
        // into its parent's sequence needs parentheses.
        let (children, join, needs_parens): (_, _, fn(&Expr) -> bool) = match self {
            Expr::Cmp(cmp) => return cmp.fmt(f),
            Expr::And(children) => (children, " && ", |e| !matches!(e, Expr::Cmp(_))),
            Expr::Or(children) => (children, " || ", |e| matches!(e, Expr::Or(_))),
        };
        for (i, child) in children.iter().enumerate() {
            if i > 0 {
                f.write_str(join)?;
            }
            if needs_parens(child) {
                write!(f, "({child})")?;
            } else {
                child.fmt(f)?;
            }
        }
        Ok(())
    }
}
