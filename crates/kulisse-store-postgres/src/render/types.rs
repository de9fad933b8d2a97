//! Static types of terms: what the renderer knows about a value before run time, from
//! the schema (numbers and text compare natively; the rest is a dynamic value).

use std::collections::HashMap;
use std::sync::Arc;

use kulisse_schema::{Collection, FieldKind};
use kulisse_store::{Affinity, Literal, Term};

/// Static type of a term.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Ty {
    /// Always a number or NULL.
    Num,
    /// Always text or NULL.
    Text,
    /// Unknown until run time (JSON values, JSON-stored columns).
    Dyn,
}

/// What the aliases in scope are.
#[derive(Clone)]
pub(super) enum AliasKind {
    Table(Arc<Collection>),
    Elements,
}

/// Rendering context: the current row's table and the aliases joined so far.
pub(super) struct Ctx {
    pub(super) table: String,
    pub(super) main: Arc<Collection>,
    pub(super) aliases: HashMap<String, AliasKind>,
}

impl Ctx {
    pub(super) fn column_kind(&self, alias: Option<&str>, column: &str) -> Option<FieldKind> {
        let c = match alias {
            None => &self.main,
            Some(a) => match self.aliases.get(a)? {
                AliasKind::Table(c) => c,
                AliasKind::Elements => return None,
            },
        };
        c.field(column).map(|f| f.kind.clone())
    }

    pub(super) fn ty(&self, t: &Term) -> Ty {
        match t {
            Term::Column(c) => column_ty(self.column_kind(None, c)),
            Term::Field { alias, column } => column_ty(self.column_kind(Some(alias), column)),
            Term::JsonPath { .. } => Ty::Dyn,
            Term::JsonLength(_) | Term::GeoDistance(_) | Term::Condition(_) => Ty::Num,
            Term::Lower(_) | Term::Strftime { .. } => Ty::Text,
            Term::Lookup { term, .. } => self.ty(term),
            Term::Value(Literal::Text(_)) => Ty::Text,
            Term::Value(Literal::Null) => Ty::Dyn,
            Term::Value(_) => Ty::Num,
        }
    }

    /// SQLite column affinity of a term (see [`Affinity`]).
    pub(super) fn affinity(&self, t: &Term) -> Affinity {
        let kind = match t {
            Term::Column(c) => self.column_kind(None, c),
            Term::Field { alias, column } => self.column_kind(Some(alias), column),
            _ => return Affinity::None,
        };
        Affinity::of_column(kind.as_ref())
    }
}

pub(super) fn column_ty(kind: Option<FieldKind>) -> Ty {
    match kind {
        Some(FieldKind::Number { .. } | FieldKind::Bool) => Ty::Num,
        Some(k) if k.is_json_stored() => Ty::Dyn,
        Some(_) => Ty::Text,
        None => Ty::Dyn,
    }
}
