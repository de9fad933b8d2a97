//! Why a filter, sort, expand or rule text was refused, and where.
//!
//! PocketBase answers every unusable `filter` or `sort` with one generic 400 and an empty
//! `data`; a developer then has to guess. kulisse keeps that status and message and adds the
//! reason and position under `data` (see [`QueryError::problem`]). Reasons never tell
//! apart what a client may not know: an unknown field and a hidden one read the same.

use std::borrow::Cow;

use kulisse_filter::{ParseError, Span};

use crate::error::GENERIC_BAD_REQUEST;

/// A list's `filter`, `sort` or `expand`, or a stored rule, that cannot be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// A non-superuser's `filter` or `sort` reads `@request.*`.
    #[error("Only superusers can filter by @request.")]
    FilterByRequest,
    /// A non-superuser's `filter` or `sort` joins `@collection.*`.
    #[error("Only superusers can filter by @collection.")]
    FilterByCollection,
    /// A `filter` of only whitespace (PocketBase fails on it; an empty one is no filter).
    #[error("the filter is only whitespace")]
    BlankFilter,
    /// A `filter` that does not compile.
    #[error("invalid filter: {reason}")]
    InvalidFilter {
        /// What is wrong and where, e.g. `unknown or hidden field "x" at 1:1`.
        reason: String,
    },
    /// A `sort` that does not compile.
    #[error("invalid sort: {reason}")]
    InvalidSort {
        /// What is wrong and where.
        reason: String,
    },
    /// An `expand` would embed or read more records than one answer may hold (PocketBase
    /// has no such limit; see `records::MAX_EMBEDDED`).
    #[error("the expanded records would be more than {max}")]
    ExpandTooLarge {
        /// The limit.
        max: u64,
    },
    /// A stored rule that no longer compiles against the schema of the moment. Rules are
    /// checked when saved, so this means the schema changed under one; the client gets the
    /// generic 400 (rules are not theirs to read).
    #[error("a stored rule did not compile: {reason}")]
    BrokenRule {
        /// What is wrong and where in the rule.
        reason: String,
    },
}

/// The `data.<param>` entry of a refused parameter: `{"code", "message": reason}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamProblem {
    /// The query parameter: `filter`, `sort` or `expand`.
    pub param: &'static str,
    /// The machine code, e.g. `validation_invalid_filter`.
    pub code: &'static str,
    /// What is wrong, as is (not sentenized: it quotes the client's text).
    pub reason: String,
}

impl QueryError {
    /// `filter` refused for `error`; `text` is the parameter as sent.
    pub fn filter(error: &FilterError, text: &str) -> Self {
        QueryError::InvalidFilter {
            reason: error.describe(text),
        }
    }

    /// `sort` refused for `error`; `text` is the parameter as sent.
    pub fn sort(error: &FilterError, text: &str) -> Self {
        QueryError::InvalidSort {
            reason: error.describe(text),
        }
    }

    /// The stored `rule` refused for `error`; the reason is logged here, since the client
    /// never sees it.
    pub fn broken_rule(error: &FilterError, rule: &str) -> Self {
        let reason = error.describe(rule);
        tracing::warn!(%reason, rule, "a stored rule did not compile");
        QueryError::BrokenRule { reason }
    }

    /// What the client is told. PB compat: PocketBase's generic message for everything
    /// but the superuser-only references.
    pub fn message(&self) -> Cow<'static, str> {
        match self {
            QueryError::FilterByRequest | QueryError::FilterByCollection => self.to_string().into(),
            QueryError::BlankFilter
            | QueryError::InvalidFilter { .. }
            | QueryError::InvalidSort { .. }
            | QueryError::ExpandTooLarge { .. }
            | QueryError::BrokenRule { .. } => GENERIC_BAD_REQUEST.into(),
        }
    }

    /// The parameter at fault and why, for the client; `None` when nothing may be told.
    pub fn problem(&self) -> Option<ParamProblem> {
        let (param, code) = match self {
            QueryError::BlankFilter | QueryError::InvalidFilter { .. } => {
                ("filter", "validation_invalid_filter")
            }
            QueryError::InvalidSort { .. } => ("sort", "validation_invalid_sort"),
            QueryError::ExpandTooLarge { .. } => ("expand", "validation_expand_too_large"),
            QueryError::FilterByRequest
            | QueryError::FilterByCollection
            | QueryError::BrokenRule { .. } => return None,
        };
        let reason = match self {
            QueryError::InvalidFilter { reason } | QueryError::InvalidSort { reason } => {
                reason.clone()
            }
            other => other.to_string(),
        };
        Some(ParamProblem {
            param,
            code,
            reason,
        })
    }
}

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
