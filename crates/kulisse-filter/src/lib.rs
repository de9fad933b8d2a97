//! The PocketBase filter language (`fexpr`): lexer, parser and syntax tree.
//!
//! Filters arrive as the `filter` query parameter and as collection API rules. [`parse`]
//! turns the text into an [`Expr`] tree of [`Comparison`]s joined by `&&`/`||`, or a
//! [`ParseError`] whose [`Span`] points at the offending token so the API can return a
//! precise 400. This crate is purely syntactic: what an identifier such as
//! `@request.auth.id` or `tags:each` means, and which functions exist, is decided by the
//! resolver of a later stage. [`Expr`]'s `Display` renders canonical text that parses back to
//! the same tree.
//!
//! # Grammar
//!
//! ```text
//! filter      = ws, expr, ws ;
//! expr        = and-chain, { ws, "||", ws, and-chain } ;     (* && binds tighter than || *)
//! and-chain   = term, { ws, "&&", ws, term } ;
//! term        = "(", ws, expr, ws, ")" | comparison ;         (* groups nest <= 64 *)
//! comparison  = operand, ws, sign, ws, operand ;
//! operand     = identifier | number | text | call ;
//! call        = identifier, "(", ws, [ operand, { ws, ",", ws, operand } ], ws, ")" ;
//!                                          (* no space before "(", calls nest <= 3 *)
//! sign        = "=" | "!=" | ">" | ">=" | "<" | "<=" | "~" | "!~"
//!             | "?=" | "?!=" | "?>" | "?>=" | "?<" | "?<=" | "?~" | "?!~" ;
//! identifier  = id-start, { id-char } ;   (* not ending in "." or ":"; not a lone "_" "@" "#" *)
//! id-start    = ascii-letter | "_" | "@" | "#" ;
//! id-char     = ascii-letter | digit | "_" | "." | ":" ;
//! number      = [ "-" ], digit, { digit }, [ ".", digit, { digit } ] ;   (* no exponent *)
//! text        = "'", { any - "'" | "\'" }, "'" | '"', { any - '"' | '\"' }, '"' ;
//! ws          = { " " | "\t" | "\n" | "\r" | comment } ;
//! comment     = "//", { any - "\n" } ;
//! ```
//!
//! Characters outside text literals must be ASCII. Any other run of `= ? ! > < ~` (such as
//! `==` or `<>`) and a single `&` or `|` are errors. A backslash only escapes the literal's own
//! quote and is otherwise kept, so a text can never end in a backslash.
//!
//! Limits: [`MAX_FILTER_LEN`] bytes, [`MAX_COMPARISONS`] comparisons, [`MAX_CALL_DEPTH`]
//! nested calls, [`MAX_GROUP_DEPTH`] nested groups.
//!
//! # Examples
//!
//! ```
//! use kulisse_filter::{parse, CmpOp, Expr, Operand};
//!
//! let expr = parse("views > 10 || published = true && title ~ 'rust'").unwrap();
//! let Expr::Or(terms) = &expr else { panic!("|| is the outermost join") };
//! assert!(matches!(terms[1], Expr::And(_)));
//! assert_eq!(expr.comparisons().count(), 3);
//!
//! let first = expr.comparisons().next().unwrap();
//! assert_eq!(first.op.cmp, CmpOp::Gt);
//! assert!(matches!(&first.right, Operand::Number { value, .. } if *value == 10.0));
//!
//! // Display is canonical and parses back.
//! let text = parse("a=1&&(b?~\"x\"||c<2) // note").unwrap().to_string();
//! assert_eq!(text, "a = 1 && (b ?~ 'x' || c < 2)");
//! ```
//!
//! Errors carry a byte span:
//!
//! ```
//! let err = kulisse_filter::parse("title == 'x'").unwrap_err();
//! assert_eq!(err.message, "invalid operator `==`");
//! assert_eq!((err.span.offset, err.span.len), (6, 2));
//! ```
//!
//! Must not depend on: any other kulisse crate, SQL.

mod ast;
mod error;
mod lexer;
mod parser;
mod shape;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use ast::{CmpOp, Comparison, Expr, Op, Operand, Span};
pub use error::ParseError;

/// PB compat: PocketBase rejects filters longer than 3500 (Go `len`, i.e. bytes).
pub const MAX_FILTER_LEN: usize = 3500;
/// PB compat: at most 200 comparisons per filter.
pub const MAX_COMPARISONS: usize = 200;
/// PB compat: `f(g(h(x)))` is the deepest call nesting allowed.
pub const MAX_CALL_DEPTH: usize = 3;
/// Bounds recursion on parenthesised groups so hostile input cannot overflow the stack;
/// PocketBase has no explicit limit, but no real filter comes close.
pub const MAX_GROUP_DEPTH: usize = 64;

/// Parses a complete filter expression. `&&` binds tighter than `||`; parentheses group.
///
/// Callers treat an empty filter as "no filter" before calling, so empty input (or input
/// with only whitespace and comments) is an error here.
///
/// # Errors
///
/// Returns a [`ParseError`] pointing at the first offending token for any lexical or
/// syntax error, and when a limit ([`MAX_FILTER_LEN`], [`MAX_COMPARISONS`],
/// [`MAX_CALL_DEPTH`], [`MAX_GROUP_DEPTH`]) is exceeded.
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    if input.len() > MAX_FILTER_LEN {
        let mut cut = MAX_FILTER_LEN;
        while !input.is_char_boundary(cut) {
            cut -= 1;
        }
        let span = Span::new(cut, input.len() - cut);
        let msg = format!("filter too long (max {MAX_FILTER_LEN} bytes)");
        return Err(ParseError::new(span, msg));
    }
    parser::Parser::new(input).parse_filter()
}
