//! Why a filter, sort or rule text was refused, and where.
//!
//! PocketBase answers every unusable `filter` or `sort` with one generic 400 and an empty
//! `data`; a developer then has to guess. kulisse keeps that status and message and adds the
//! reason and position under `data` (see `CoreError::InvalidParam`). Reasons never tell
//! apart what a client may not know: an unknown field and a hidden one read the same.

use kulisse_filter::{ParseError, Span};

/// A refused filter, sort or rule: the reason, and the span of the offending text once known.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterError {
    /// Lower-case reason, e.g. `unknown or hidden field "nofield"`.
    pub reason: String,
    /// Byte span in the text, when the failure points at one token.
    pub span: Option<Span>,
}

impl FilterError {
    /// A reason without a position yet (the operand that failed supplies it).
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            span: None,
        }
    }

    /// Points the error at `span` unless a nested step already did.
    pub(crate) fn at(mut self, span: Span) -> Self {
        self.span.get_or_insert(span);
        self
    }

    /// The error of a part of a text that starts at `offset` in it and is `len` bytes long,
    /// pointing at the whole part when no narrower span is known.
    pub(crate) fn shifted(mut self, offset: usize, len: usize) -> Self {
        let span = self.span.map_or(Span::new(0, len), |s| s);
        self.span = Some(Span::new(offset + span.offset.min(len), span.len.min(len)));
        self
    }

    /// The reason with its 1-based `line:column` in `text`, e.g.
    /// `unknown or hidden field "nofield" at 1:1`.
    pub fn describe(&self, text: &str) -> String {
        let Some(span) = self.span else {
            return self.reason.clone();
        };
        let before = text.get(..span.offset).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        format!("{} at {line}:{column}", self.reason)
    }
}

impl From<ParseError> for FilterError {
    fn from(e: ParseError) -> Self {
        Self {
            reason: e.message,
            span: Some(e.span),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters_from_one() {
        let err = FilterError::new("unknown or hidden field \"x\"").at(Span::new(11, 1));
        assert_eq!(
            err.describe("a = 1 &&\n  x = 2"),
            "unknown or hidden field \"x\" at 2:3"
        );
        assert_eq!(FilterError::new("empty").describe("x"), "empty");
    }
}
