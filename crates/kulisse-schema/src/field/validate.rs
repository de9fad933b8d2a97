//! Checks of a field's own definition, with PocketBase's error codes.

use super::{Field, FieldKind};
use crate::errors::{FieldError, FieldErrors};
use crate::ids;

/// Field names that PocketBase reserves in record JSON or the filter language.
pub const RESERVED_FIELD_NAMES: &[&str] = &[
    "null",
    "true",
    "false",
    "_rowid_",
    "collectionid",
    "collectionname",
    "expand",
];

impl Field {
    /// Checks the field's own definition; errors are keyed by option name.
    pub fn validate(&self) -> FieldErrors {
        let mut errs = FieldErrors::new();
        validate_name(&self.name, &mut errs);
        if self.id.is_empty() || self.id.len() > 100 {
            errs.add(
                "id",
                FieldError::new(
                    "validation_length_out_of_range",
                    "The length must be between 1 and 100.",
                ),
            );
        }
        if self.help.chars().count() > 300 {
            errs.add(
                "help",
                FieldError::new(
                    "validation_length_too_long",
                    "The length must be no more than 300.",
                )
                .with_param("max", 300),
            );
        }
        match &self.kind {
            FieldKind::Text {
                min,
                max,
                pattern,
                autogenerate_pattern,
                ..
            } => {
                if *max > 0 && min > max {
                    errs.add(
                        "max",
                        FieldError::new(
                            "validation_min_greater_equal_than_required",
                            format!("Must be no less than {min}."),
                        )
                        .with_param("threshold", *min),
                    );
                }
                check_regex(pattern, "pattern", &mut errs);
                if !autogenerate_pattern.is_empty()
                    && ids::generate_from_pattern(autogenerate_pattern).is_none()
                {
                    errs.add(
                        "autogeneratePattern",
                        FieldError::new(
                            "validation_invalid_regex",
                            "Unsupported autogenerate pattern (use e.g. [a-z0-9]{15}).",
                        ),
                    );
                }
            }
            FieldKind::Number { min, max, only_int } => {
                if let (Some(min), Some(max)) = (min, max)
                    && min > max
                {
                    let n = crate::value::number(*min);
                    errs.add(
                        "max",
                        FieldError::new(
                            "validation_min_number_constraint",
                            format!("Must be greater or equal than {n}."),
                        )
                        .with_param("min", n),
                    );
                }
                if *only_int && [min, max].into_iter().flatten().any(|v| v.fract() != 0.0) {
                    errs.add(
                        "max",
                        FieldError::new(
                            "validation_only_int_constraint",
                            "Decimal numbers are not allowed.",
                        ),
                    );
                }
            }
            FieldKind::Email {
                only_domains,
                except_domains,
            }
            | FieldKind::Url {
                only_domains,
                except_domains,
            } if !only_domains.is_empty() && !except_domains.is_empty() => {
                errs.add(
                    "onlyDomains",
                    FieldError::new(
                        "validation_only_domains_conflict",
                        "Only one of onlyDomains and exceptDomains may be set.",
                    ),
                );
            }
            FieldKind::Date { min, max } => {
                for (key, v) in [("min", min), ("max", max)] {
                    if !v.is_empty() && crate::datetime::parse(v).is_none() {
                        errs.add(
                            key,
                            FieldError::new("validation_invalid_date", "Must be a valid date."),
                        );
                    }
                }
            }
            FieldKind::Autodate {
                on_create,
                on_update,
            } if !on_create && !on_update => {
                for key in ["onCreate", "onUpdate"] {
                    errs.add(
                        key,
                        FieldError::new(
                            "validation_required",
                            "Either onCreate or onUpdate must be enabled.",
                        ),
                    );
                }
            }
            FieldKind::Select { values, max_select } => {
                if values.is_empty() {
                    errs.add("values", FieldError::required());
                } else if *max_select > values.len() as u64 {
                    let n = values.len();
                    errs.add(
                        "maxSelect",
                        FieldError::new(
                            "validation_max_less_equal_than_required",
                            format!("Must be no greater than {n}."),
                        )
                        .with_param("threshold", n),
                    );
                }
            }
            FieldKind::Relation {
                collection_id,
                min_select,
                max_select,
                ..
            } => {
                if collection_id.is_empty() {
                    errs.add("collectionId", FieldError::required());
                }
                if *max_select > 0 && min_select > max_select {
                    errs.add(
                        "maxSelect",
                        FieldError::new(
                            "validation_min_greater_equal_than_required",
                            format!("Must be no less than {min_select}."),
                        )
                        .with_param("threshold", *min_select),
                    );
                }
            }
            FieldKind::File { thumbs, .. } => {
                let mut nested = FieldErrors::new();
                for (i, t) in thumbs.iter().enumerate() {
                    if t.starts_with("0x0") {
                        nested.add(
                            i.to_string(),
                            FieldError::new("validation_not_in_invalid", "Must not be in list."),
                        );
                    } else if !is_valid_thumb(t) {
                        nested.add(
                            i.to_string(),
                            FieldError::new(
                                "validation_match_invalid",
                                "Must be in a valid format.",
                            ),
                        );
                    }
                }
                errs.add_nested("thumbs", nested);
            }
            FieldKind::Password {
                min,
                max,
                pattern,
                cost,
            } => {
                for (key, v) in [("min", min), ("max", max)] {
                    if *v > 71 {
                        errs.add(
                            key,
                            FieldError::new(
                                "validation_max_less_equal_than_required",
                                "Must be no greater than 71.",
                            )
                            .with_param("threshold", 71),
                        );
                    }
                }
                if *cost != 0 && !(4..=31).contains(cost) {
                    errs.add(
                        "cost",
                        FieldError::new("validation_out_of_range", "Must be between 4 and 31."),
                    );
                }
                check_regex(pattern, "pattern", &mut errs);
            }
            _ => {}
        }
        errs
    }
}

/// `^\w+$`, 1..=100 chars, not reserved, no `_via_`.
fn validate_name(name: &str, errs: &mut FieldErrors) {
    if name.is_empty() {
        errs.add("name", FieldError::required());
    } else if name.chars().count() > 100 {
        errs.add("name", FieldError::length_out_of_range(1, 100));
    } else if !is_word(name) {
        errs.add("name", FieldError::invalid_format());
    } else if RESERVED_FIELD_NAMES.contains(&name.to_ascii_lowercase().as_str()) {
        errs.add(
            "name",
            FieldError::new("validation_not_in_invalid", "Must not be in list."),
        );
    } else if name.to_ascii_lowercase().contains("_via_") {
        errs.add("name", FieldError::found_via());
    }
}

/// Go's `\w`: ASCII letters, digits and underscore.
pub fn is_word(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn is_valid_thumb(t: &str) -> bool {
    let body = t.strip_suffix(['t', 'b', 'f']).unwrap_or(t);
    match body.split_once('x') {
        Some((w, h)) => {
            let (Ok(w), Ok(h)) = (w.parse::<u32>(), h.parse::<u32>()) else {
                return false;
            };
            !(w == 0 && h == 0)
        }
        None => false,
    }
}

fn check_regex(pattern: &str, key: &str, errs: &mut FieldErrors) {
    if !pattern.is_empty() && crate::value::compiled_pattern(pattern).is_none() {
        errs.add(
            key,
            FieldError::new("validation_invalid_regex", "Invalid regular expression."),
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn invalid_definitions_are_reported() {
        let f = Field::from_json(&json!({"type":"select","name":"bad name"})).unwrap();
        let errs = f.validate().to_json();
        assert_eq!(errs["name"]["code"], "validation_match_invalid");
        assert_eq!(errs["values"]["code"], "validation_required");
        assert!(Field::from_json(&json!({"type":"nope","name":"x"})).is_err());
        let reserved = Field::from_json(&json!({"type":"text","name":"expand"})).unwrap();
        assert!(reserved.validate().contains("name"));
        assert!(!is_valid_thumb("0x0"));
        assert!(is_valid_thumb("100x50f"));
    }
}
