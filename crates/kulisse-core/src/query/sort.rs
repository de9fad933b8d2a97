//! The `sort` list parameter (spec §2.2).

use kulisse_store::{Cond, Order, Term};

use super::filter::Resolver;
use crate::error::CoreError;

/// Most sort terms PocketBase accepts.
pub const MAX_SORT_TERMS: usize = 8;

/// Parsed sort terms, plus conditions the sort adds to the query: sorting a client's list
/// through a relation applies the related collection's list rule like a filter does.
#[derive(Debug, Default)]
pub struct Sort {
    /// Ordering terms.
    pub order: Vec<Order>,
    /// Conditions to AND into the query.
    pub conditions: Vec<Cond>,
}

/// Parses `-a,+b,c,@random,@rowid`.
///
/// # Errors
/// The generic 400 for unknown fields, too many terms and empty terms like `-`.
pub fn parse_sort(text: &str, r: &Resolver<'_>) -> Result<Sort, CoreError> {
    let mut out = Sort::default();
    for raw in text.split(',') {
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        if raw.len() > 255 || out.order.len() >= MAX_SORT_TERMS {
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
                term: sort_term(name, r, &mut out.conditions)?,
                desc,
            },
        };
        out.order.push(order);
    }
    Ok(out)
}

fn sort_term(name: &str, r: &Resolver<'_>, conditions: &mut Vec<Cond>) -> Result<Term, CoreError> {
    let bad = CoreError::generic_bad_request;
    if name.is_empty() || name.starts_with('@') {
        return Err(bad());
    }
    // A sort key is any single-valued path the filter language accepts; compile
    // `name = ''` and take its left side so both share one resolver.
    match super::compile_filter(&format!("{name} = ''"), r)? {
        Some(Cond::Compare { left, .. }) => Ok(left),
        Some(Cond::Exists { joins, cond }) => {
            let (compare, rules) = match *cond {
                Cond::All(mut items) if !items.is_empty() => {
                    let first = items.remove(0);
                    (first, items)
                }
                other => (other, vec![]),
            };
            let Cond::Compare { left, .. } = compare else {
                return Err(bad());
            };
            if !rules.is_empty() {
                conditions.push(Cond::Exists {
                    joins: joins.clone(),
                    cond: Box::new(Cond::All(rules)),
                });
            }
            Ok(Term::Lookup {
                joins,
                term: Box::new(left),
            })
        }
        _ => Err(bad()),
    }
}
