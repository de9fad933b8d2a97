//! The `sort` list parameter (spec §2.2).

use kulisse_store::{Order, Term};

use super::filter::Resolver;
use crate::error::CoreError;

/// Most sort terms PocketBase accepts.
pub const MAX_SORT_TERMS: usize = 8;

/// Parses `-a,+b,c,@random,@rowid` into orders.
///
/// # Errors
/// The generic 400 for unknown fields, too many terms and empty terms like `-`.
pub fn parse_sort(text: &str, r: &Resolver<'_>) -> Result<Vec<Order>, CoreError> {
    let mut out = Vec::new();
    for raw in text.split(',') {
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        if raw.len() > 255 || out.len() >= MAX_SORT_TERMS {
            return Err(CoreError::generic_bad_request());
        }
        let (desc, name) = match raw.as_bytes()[0] {
            b'-' => (true, &raw[1..]),
            b'+' => (false, &raw[1..]),
            _ => (false, raw),
        };
        let order = match name {
            "@random" => Order::Random,
            "@rowid" => Order::RowId { desc },
            _ => Order::By {
                term: sort_term(name, r)?,
                desc,
            },
        };
        out.push(order);
    }
    Ok(out)
}

fn sort_term(name: &str, r: &Resolver<'_>) -> Result<Term, CoreError> {
    if name.is_empty() || name.starts_with('@') {
        return Err(CoreError::generic_bad_request());
    }
    // A sort key is any field path the filter language accepts; compile `name = ''` and
    // take its left side so both share one resolver.
    let cond = super::compile_filter(&format!("{name} = ''"), r)?;
    match cond {
        Some(kulisse_store::Cond::Compare { left, .. }) => Ok(left),
        // A single-valued path through relations sorts by the related value.
        Some(kulisse_store::Cond::Exists { joins, cond }) => match *cond {
            kulisse_store::Cond::Compare { left, .. } => Ok(Term::Lookup {
                joins,
                term: Box::new(left),
            }),
            _ => Err(CoreError::generic_bad_request()),
        },
        _ => Err(CoreError::generic_bad_request()),
    }
}
