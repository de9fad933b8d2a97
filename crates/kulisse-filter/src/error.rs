//! The one error type of this crate.
//!
//! Messages are short, lower-case and name the offending text in backticks; the API layer
//! shows them to clients in a 400 together with the span.

use std::fmt;

use crate::Span;

/// Why a filter was rejected, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The offending token or character; zero-length at the end of input.
    pub span: Span,
    /// Human-readable reason, e.g. "invalid operator `==`".
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(span: Span, message: impl Into<String>) -> Self {
        Self {
            span,
            message: message.into(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.span.offset)
    }
}

impl std::error::Error for ParseError {}
