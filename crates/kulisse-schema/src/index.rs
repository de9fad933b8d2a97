//! Collection index definitions.
//!
//! PocketBase stores indexes as SQLite `CREATE INDEX` strings in the collection JSON. We keep
//! those strings as the wire form but never execute them: they are parsed here into an
//! [`IndexDef`] that each storage engine renders in its own dialect, so user text cannot reach
//! a database as SQL. Only the shapes PocketBase itself generates and documents are accepted:
//! plain or `COLLATE NOCASE` columns, `ASC`/`DESC`, and an optional `WHERE` made of
//! `column op literal` terms joined by `AND`.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Value, json};

/// A parsed index definition.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexDef {
    /// Index name (unique per database).
    pub name: String,
    /// Whether the index enforces uniqueness.
    pub unique: bool,
    /// Indexed columns in order.
    pub columns: Vec<IndexColumn>,
    /// Partial index predicate: all terms must hold.
    pub predicate: Vec<IndexPredicate>,
}

/// One indexed column.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexColumn {
    /// Column (field) name.
    pub name: String,
    /// `COLLATE NOCASE`: case-insensitive uniqueness and lookups.
    pub nocase: bool,
    /// Descending order.
    pub desc: bool,
}

/// One `column op literal` term of a partial index predicate.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexPredicate {
    /// Column (field) name.
    pub column: String,
    /// One of `=`, `!=`, `>`, `>=`, `<`, `<=`, `IS`, `IS NOT`.
    pub op: &'static str,
    /// Literal operand (string, number or null).
    pub value: Value,
}

impl IndexPredicate {
    /// The operand as SQL literal text: a quoted string, a number or `NULL`.
    ///
    /// Index DDL takes no bound parameters, so the literal is written into the statement;
    /// this is safe because [`IndexDef::parse`] only admits quoted strings, numbers and NULL.
    /// PocketBase's definition text and every engine's DDL write it the same way, here.
    pub fn literal_sql(&self) -> String {
        match &self.value {
            Value::String(s) => format!("'{}'", s.replace('\'', "''")),
            Value::Number(n) => n.to_string(),
            _ => "NULL".into(),
        }
    }
}

static CREATE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?is)^\s*CREATE\s+(UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?[`"\[]?(\w+)[`"\]]?\s+ON\s+[`"\[]?(\w+)[`"\]]?\s*\((.+?)\)\s*(?:WHERE\s+(.+?))?\s*;?\s*$"#)
        .expect("invariant: static regex")
});
static COLUMN_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)^\s*[`"\[]?(\w+)[`"\]]?(\s+COLLATE\s+NOCASE)?(\s+(ASC|DESC))?\s*$"#)
        .expect("invariant: static regex")
});
static TERM_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)^\s*[`"\[]?(\w+)[`"\]]?\s*(!=|<>|>=|<=|=|>|<|IS\s+NOT|IS)\s*('(?:[^']|'')*'|-?\d+(?:\.\d+)?|NULL)\s*$"#)
        .expect("invariant: static regex")
});
static AND_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\s+AND\s+").expect("invariant: static regex"));

impl IndexDef {
    /// Parses one index string; `None` when it is not a supported `CREATE INDEX` form.
    pub fn parse(sql: &str) -> Option<IndexDef> {
        let caps = CREATE_RE.captures(sql)?;
        let columns = caps[4]
            .split(',')
            .map(|c| {
                let cc = COLUMN_RE.captures(c)?;
                Some(IndexColumn {
                    name: cc[1].to_owned(),
                    nocase: cc.get(2).is_some(),
                    desc: cc
                        .get(4)
                        .is_some_and(|d| d.as_str().eq_ignore_ascii_case("desc")),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let predicate = match caps.get(5) {
            None => vec![],
            Some(w) => AND_RE
                .split(w.as_str())
                .map(parse_term)
                .collect::<Option<Vec<_>>>()?,
        };
        Some(IndexDef {
            name: caps[2].to_owned(),
            unique: caps.get(1).is_some(),
            columns,
            predicate,
        })
    }

    /// The table name written in an index string (to detect and rewrite on rename).
    pub fn table_of(sql: &str) -> Option<String> {
        CREATE_RE.captures(sql).map(|c| c[3].to_owned())
    }

    /// The canonical PocketBase-style string for this definition on `table`.
    pub fn to_definition(&self, table: &str) -> String {
        let cols: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                let mut s = format!("`{}`", c.name);
                if c.nocase {
                    s.push_str(" COLLATE NOCASE");
                }
                if c.desc {
                    s.push_str(" DESC");
                }
                s
            })
            .collect();
        let mut out = format!(
            "CREATE {}INDEX `{}` ON `{}` ({})",
            if self.unique { "UNIQUE " } else { "" },
            self.name,
            table,
            cols.join(", ")
        );
        if !self.predicate.is_empty() {
            let terms: Vec<String> = self
                .predicate
                .iter()
                .map(|p| format!("`{}` {} {}", p.column, p.op, p.literal_sql()))
                .collect();
            out.push_str(&format!(" WHERE {}", terms.join(" AND ")));
        }
        out
    }

    /// A single-column unique index on `column` (drives identity fields and `validation_not_unique`).
    pub fn is_unique_on(&self, column: &str) -> bool {
        self.unique && self.columns.len() == 1 && self.columns[0].name == column
    }
}

fn parse_term(t: &str) -> Option<IndexPredicate> {
    let caps = TERM_RE.captures(t)?;
    let op = match caps[2]
        .to_ascii_uppercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .as_str()
    {
        "=" => "=",
        "!=" | "<>" => "!=",
        ">" => ">",
        ">=" => ">=",
        "<" => "<",
        "<=" => "<=",
        "IS" => "IS",
        "IS NOT" => "IS NOT",
        _ => return None,
    };
    let lit = &caps[3];
    let value = if let Some(inner) = lit.strip_prefix('\'').and_then(|l| l.strip_suffix('\'')) {
        json!(inner.replace("''", "'"))
    } else if lit.eq_ignore_ascii_case("null") {
        Value::Null
    } else {
        json!(lit.parse::<f64>().ok()?)
    };
    Some(IndexPredicate {
        column: caps[1].to_owned(),
        op,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pocketbase_auth_indexes() {
        let d = IndexDef::parse(
            "CREATE UNIQUE INDEX `idx_email_x` ON `users` (`email`) WHERE `email` != ''",
        )
        .unwrap();
        assert!(d.unique && d.is_unique_on("email"));
        assert_eq!(
            d.predicate,
            vec![IndexPredicate {
                column: "email".into(),
                op: "!=",
                value: json!("")
            }]
        );
        assert_eq!(IndexDef::parse(&d.to_definition("users")).unwrap(), d);
        let multi =
            IndexDef::parse("create index idx_a on posts (title COLLATE NOCASE, views DESC)")
                .unwrap();
        assert!(!multi.unique && multi.columns[0].nocase && multi.columns[1].desc);
    }

    #[test]
    fn predicate_literals_are_written_back_as_sql() {
        let d = IndexDef::parse(
            "CREATE INDEX a ON t (x) WHERE x != 'it''s' AND y > 2.5 AND z IS NOT NULL AND w = 3",
        )
        .unwrap();
        let lits: Vec<String> = d
            .predicate
            .iter()
            .map(IndexPredicate::literal_sql)
            .collect();
        assert_eq!(lits, ["'it''s'", "2.5", "NULL", "3.0"]);
    }

    #[test]
    fn refuses_arbitrary_sql() {
        assert!(IndexDef::parse("DROP TABLE users").is_none());
        assert!(IndexDef::parse("CREATE INDEX a ON t (x) WHERE 1=1; DROP TABLE t").is_none());
        assert!(IndexDef::parse("CREATE INDEX a ON t (lower(x))").is_none());
    }
}
