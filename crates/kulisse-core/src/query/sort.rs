//! The `sort` list parameter (spec §2.2).

use kulisse_store::{Cond, Order, Term};

use super::error::FilterError;
use super::filter::{Resolver, resolve_sort_key};

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
/// A [`FilterError`] for unknown fields, too many terms and empty terms like `-`.
pub fn parse_sort(text: &str, r: &Resolver<'_>) -> Result<Sort, FilterError> {
    let mut out = Sort::default();
    let mut part_start = 0;
    for part in text.split(',') {
        let raw = part.trim();
        let raw_start = part_start + (part.len() - part.trim_start().len());
        part_start += part.len() + 1;
        // PB compat: an empty term (`a,,b`, `a,`) is an error; a blank parameter is no sort.
        if raw.is_empty() {
            if text.trim().is_empty() {
                continue;
            }
            return Err(FilterError::new("empty sort term").shifted(raw_start, 0));
        }
        if out.order.len() >= MAX_SORT_TERMS {
            return Err(FilterError::new(format!(
                "too many sort terms (at most {MAX_SORT_TERMS})"
            )));
        }
        if raw.len() > 255 {
            return Err(FilterError::new("a sort term is longer than 255 bytes"));
        }
        let (desc, name) = match raw.as_bytes()[0] {
            b'-' => (true, &raw[1..]),
            b'+' => (false, &raw[1..]),
            _ => (false, raw),
        };
        // Where the name starts in `text`: errors point into the whole parameter.
        let start = raw_start + (raw.len() - name.len());
        let order = match name {
            "@random" => Order::Random,
            "@rowid" => Order::RowId { desc },
            _ => Order::By {
                term: sort_term(name, r, &mut out.conditions)
                    .map_err(|e| e.shifted(start, name.len()))?,
                desc,
            },
        };
        out.order.push(order);
    }
    Ok(out)
}

/// A sort key as a term. A key through relations reads the first joined row's value; the
/// related collections' list rules filter the records like a client filter's do, and a
/// value the requester may only see under a condition (a hidden email) sorts as NULL
/// where it is not visible, so no order reveals it.
fn sort_term(
    name: &str,
    r: &Resolver<'_>,
    conditions: &mut Vec<Cond>,
) -> Result<Term, FilterError> {
    if name.is_empty() {
        return Err(FilterError::new("empty sort term"));
    }
    if name.starts_with('@') {
        return Err(FilterError::new(format!("cannot sort by \"{name}\"")));
    }
    let key = resolve_sort_key(name, r)?;
    if key.fan_out {
        return Err(FilterError::new(format!(
            "cannot sort by \"{name}\": it has several values per record"
        )));
    }
    if !key.rules.is_empty() {
        conditions.push(Cond::Exists {
            joins: key.joins.clone(),
            cond: Box::new(Cond::All(key.rules)),
        });
    }
    if key.joins.is_empty() && key.guards.is_empty() {
        return Ok(key.term);
    }
    Ok(Term::Lookup {
        joins: key.joins,
        term: Box::new(key.term),
        only_if: (!key.guards.is_empty()).then(|| Box::new(Cond::All(key.guards))),
    })
}
