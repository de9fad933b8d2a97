//! PocketBase's validation error leaves: `{"code", "message", "params"?}` keyed by field.

use serde_json::{Map, Value, json};

/// One failed validation, as PocketBase reports it in an error's `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// Stable machine code such as `validation_required`.
    pub code: &'static str,
    /// Human message; sentenized (capitalised, trailing period) when serialised.
    pub message: String,
    /// Only present when the validator has parameters (min, max, value…).
    pub params: Option<Map<String, Value>>,
}

impl FieldError {
    /// An error without params.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            params: None,
        }
    }

    /// Adds one param (PocketBase only emits `params` when a validator has them).
    pub fn with_param(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.params
            .get_or_insert_with(Map::new)
            .insert(key.to_owned(), value.into());
        self
    }

    /// `validation_required` / "Cannot be blank."
    pub fn required() -> Self {
        Self::new("validation_required", "Cannot be blank.")
    }

    /// `validation_length_too_long` with PocketBase's `max`/`min` params: a list or text
    /// longer than `max` where nothing is too short.
    pub fn too_long(max: u64) -> Self {
        Self::new(
            "validation_length_too_long",
            format!("The length must be no more than {max}."),
        )
        .with_param("max", max)
        .with_param("min", 0)
    }

    /// `validation_length_out_of_range` with PocketBase's `min`/`max` params, as its
    /// length rule reports a name outside `min..=max` characters.
    pub fn length_out_of_range(min: u64, max: u64) -> Self {
        Self::new(
            "validation_length_out_of_range",
            format!("The length must be between {min} and {max}."),
        )
        .with_param("max", max)
        .with_param("min", min)
    }

    /// `validation_match_invalid` / "Must be in a valid format." (a pattern rule failed).
    pub fn invalid_format() -> Self {
        Self::new("validation_match_invalid", "Must be in a valid format.")
    }

    /// `validation_found_via`: a name containing `_via_`, which the filter language reads
    /// as a back-relation (`posts_via_author`).
    pub fn found_via() -> Self {
        Self::new(
            "validation_found_via",
            "The value cannot contain \"_via_\".",
        )
    }

    /// `validation_not_supported`: an option kulisse stores but does not enforce yet. It
    /// is refused rather than kept, so nobody believes their app protected by it.
    pub fn not_supported(message: impl Into<String>) -> Self {
        Self::new("validation_not_supported", message)
    }

    /// The JSON leaf.
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("code".into(), json!(self.code));
        obj.insert("message".into(), json!(sentenize(&self.message)));
        if let Some(params) = &self.params {
            obj.insert("params".into(), Value::Object(params.clone()));
        }
        Value::Object(obj)
    }
}

/// Errors keyed by field name (or nested path already rendered as JSON).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldErrors(pub Vec<(String, FieldErrorNode)>);

/// A field's error: a leaf, or a nested map (for options like `fields.3.name`).
#[derive(Debug, Clone, PartialEq)]
pub enum FieldErrorNode {
    /// A single validation failure.
    Leaf(FieldError),
    /// Errors of nested keys (array indexes are rendered as decimal keys, as PocketBase does).
    Nested(FieldErrors),
}

impl FieldErrors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a leaf error for `key`; the first error for a key wins, like PocketBase.
    pub fn add(&mut self, key: impl Into<String>, err: FieldError) {
        let key = key.into();
        if !self.0.iter().any(|(k, _)| *k == key) {
            self.0.push((key, FieldErrorNode::Leaf(err)));
        }
    }

    /// Records nested errors under `key` (ignored when empty).
    pub fn add_nested(&mut self, key: impl Into<String>, nested: FieldErrors) {
        let key = key.into();
        if nested.is_empty() {
            return;
        }
        if let Some((_, FieldErrorNode::Nested(existing))) =
            self.0.iter_mut().find(|(k, _)| *k == key)
        {
            existing.0.extend(nested.0);
        } else if !self.0.iter().any(|(k, _)| *k == key) {
            self.0.push((key, FieldErrorNode::Nested(nested)));
        }
    }

    /// True when nothing failed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when empty, else `Err(self)`; handy at the end of a validator.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }

    /// Whether `key` already has an error.
    pub fn contains(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// The `data` object of PocketBase's error body.
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        for (key, node) in &self.0 {
            let v = match node {
                FieldErrorNode::Leaf(e) => e.to_json(),
                FieldErrorNode::Nested(n) => n.to_json(),
            };
            obj.insert(key.clone(), v);
        }
        Value::Object(obj)
    }
}

/// PocketBase "sentenizes" messages: first letter upper-cased, trailing period added.
pub fn sentenize(msg: &str) -> String {
    let trimmed = msg.trim();
    if trimmed.is_empty() {
        return String::new();
    }
    let mut chars = trimmed.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_length_error_carries_pocketbase_min_and_max() {
        assert_eq!(
            FieldError::length_out_of_range(1, 255).to_json(),
            json!({"code": "validation_length_out_of_range",
                "message": "The length must be between 1 and 255.",
                "params": {"max": 255, "min": 1}})
        );
    }

    #[test]
    fn sentenize_capitalises_and_adds_period() {
        assert_eq!(
            sentenize("failed to create record"),
            "Failed to create record."
        );
        assert_eq!(sentenize("Done."), "Done.");
        assert_eq!(sentenize(""), "");
    }

    #[test]
    fn params_only_when_present() {
        assert_eq!(
            FieldError::required().to_json(),
            json!({"code":"validation_required","message":"Cannot be blank."})
        );
        let e = FieldError::new(
            "validation_min_text_constraint",
            "Must be at least 3 character(s).",
        )
        .with_param("min", 3);
        assert_eq!(e.to_json()["params"], json!({"min": 3}));
    }

    #[test]
    fn first_error_per_key_wins() {
        let mut errs = FieldErrors::new();
        errs.add("a", FieldError::required());
        errs.add("a", FieldError::new("x", "y"));
        assert_eq!(errs.to_json()["a"]["code"], "validation_required");
    }
}
