//! Renders the query IR as PostgreSQL SQL with SQLite's comparison semantics.
//!
//! kulisse promises the same filter results on both engines, and PocketBase's filter
//! language was defined by SQLite's dynamic typing. Every term therefore has a static type
//! here: numbers and text compare natively (and use indexes) when both sides are known;
//! otherwise a term is rendered as a "dynamic value", a pair of a number expression and a
//! text expression of which at most one is non-NULL, and comparisons follow SQLite's rules
//! (NULL unknown, numbers before text, column affinity converting literals). Text always
//! compares with `COLLATE "C"` (SQLite's binary order) and LIKE/lower fold ASCII only.
//! Values are always `$n` parameters; identifiers always pass through [`quote`].
//!
//! One concept per file: the statements (`statement.rs`), conditions (`condition.rs`), the
//! static types of terms (`types.rs`), terms as SQL (`term.rs`) and the SQLite-semantics
//! emulation (`semantics.rs`).

mod condition;
mod semantics;
mod statement;
mod term;
mod types;

pub(crate) use statement::{count_per, count_rows, select_rows};

use crate::codec::Param;

/// SQL text plus its parameters, in order.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    pub text: String,
    pub params: Vec<Param>,
}

impl Sql {
    fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    fn bind(&mut self, p: Param) {
        self.params.push(p);
        self.text.push_str(&format!("${}", self.params.len()));
    }
}

/// Quotes an identifier: the only way a name enters SQL text.
pub(crate) fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// ASCII-only case folding, as SQLite's `lower()` and `LIKE` do.
const ASCII_FOLD: &str = "'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'";
