//! The usage analytics' table, `_analytics`, as a collection: hourly sums the request log's
//! writer rolls up from every request it sees (and the slow queries the data store timed),
//! kept in the log's own store but not deleted with its entries, so the operator's charts
//! reach back further than `logs.maxDays`. Like `_logs`, it is a collection only so that
//! the engines' renderers read and write it.
//!
//! A row is one hour (`hour`), one `metric` and one set of dimensions: its `id` is made of
//! them, so every node adds to the same row instead of writing rows of its own.
//!
//! | metric     | collection | action      | route                   | key             | detail            |
//! |------------|------------|-------------|-------------------------|-----------------|-------------------|
//! | `requests` | its name   | PB's action | method and template     |                 |                   |
//! | `user`     |            |             |                         | hashed auth id  |                   |
//! | `filter`   | its name   | `list`      |                         | filter's shape  | fields it compares|
//! | `sort`     | its name   | `list`      |                         | sort's shape    | fields it sorts   |
//! | `slow`     |            |             |                         | the SQL         | its plan          |
//! | `dropped`  |            |             |                         |                 |                   |
//!
//! `user` rows are per day (`hour` is the day's midnight): the day's active users are its
//! rows. No address is ever kept here.

use super::{Collection, CollectionKind};
use crate::field::{Field, FieldKind};

/// The analytics table's name.
pub const ANALYTICS: &str = "_analytics";

/// The sums a row keeps, besides its dimensions.
const SUMS: [&str; 5] = [
    "count",
    "clientErrors",
    "serverErrors",
    "timeSum",
    "timeMax",
];

/// The `_analytics` collection.
pub fn analytics() -> Collection {
    let mut c = Collection::new(ANALYTICS, CollectionKind::Base);
    c.id = "_kulisse_analytics".into();
    c.system = true;
    let text = || FieldKind::Text {
        min: 0,
        max: 0,
        pattern: String::new(),
        autogenerate_pattern: String::new(),
        primary_key: false,
    };
    for name in [
        "hour",
        "metric",
        "collection",
        "action",
        "route",
        "key",
        "detail",
    ] {
        c.fields.push(Field::new(name, text()).system());
    }
    for name in SUMS {
        let number = FieldKind::Number {
            min: None,
            max: None,
            only_int: false,
        };
        c.fields.push(Field::new(name, number).system());
    }
    // Every read is a window of hours of one metric.
    c.indexes =
        vec!["CREATE INDEX `idx_analytics_metric_hour` ON `_analytics` (`metric`, `hour`)".into()];
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_analytics_collection_is_valid_and_indexed_by_metric_and_hour() {
        let c = analytics();
        assert!(c.validate().is_empty(), "{:?}", c.validate().to_json());
        assert!(
            c.index_defs()
                .iter()
                .any(|d| d.name == "idx_analytics_metric_hour")
        );
        assert!(c.fields.iter().any(|f| f.name == "timeMax"));
    }
}
