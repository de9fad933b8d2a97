use serde_json::json;

use super::*;

fn field(def: Value) -> Field {
    Field::from_json(&def).unwrap()
}

fn code(f: &Field, input: Value) -> Option<&'static str> {
    validate(f, &normalize(&f.kind, &input))
        .err()
        .map(|e| e.code)
}

#[test]
fn coercion_matches_pocketbase_examples() {
    let cases = [
        (
            json!({"type":"number","name":"n"}),
            json!("12.5"),
            json!(12.5),
        ),
        (json!({"type":"number","name":"n"}), json!("7"), json!(7)),
        (json!({"type":"number","name":"n"}), json!("abc"), json!(0)),
        (json!({"type":"number","name":"n"}), json!([3]), json!(0)),
        (json!({"type":"number","name":"n"}), json!(true), json!(1)),
        (
            json!({"type":"bool","name":"b"}),
            json!("true"),
            json!(true),
        ),
        (
            json!({"type":"bool","name":"b"}),
            json!("yes"),
            json!(false),
        ),
        (json!({"type":"bool","name":"b"}), json!("1"), json!(true)),
        (
            json!({"type":"select","name":"s","values":["a","b"],"maxSelect":2}),
            json!("a"),
            json!(["a"]),
        ),
        (
            json!({"type":"select","name":"s","values":["a","b"],"maxSelect":2}),
            json!("[\"a\",\"b\",\"a\"]"),
            json!(["a", "b"]),
        ),
        (
            json!({"type":"select","name":"s","values":["a","b"]}),
            json!(["a", "b"]),
            json!("b"),
        ),
        (
            json!({"type":"relation","name":"r","collectionId":"x","maxSelect":3}),
            json!("bob000000000001"),
            json!(["bob000000000001"]),
        ),
        (
            json!({"type":"json","name":"j"}),
            json!("{\"b\":1,\"a\":2}"),
            json!({"a":2,"b":1}),
        ),
        (json!({"type":"json","name":"j"}), json!("5"), json!(5)),
        (
            json!({"type":"json","name":"j"}),
            json!("null"),
            Value::Null,
        ),
        (
            json!({"type":"json","name":"j"}),
            json!("hello"),
            json!("hello"),
        ),
        (
            json!({"type":"date","name":"d"}),
            json!("2024-05-05"),
            json!("2024-05-05 00:00:00.000Z"),
        ),
        (
            json!({"type":"date","name":"d"}),
            json!(1700000000),
            json!(""),
        ),
        (
            json!({"type":"date","name":"d"}),
            json!("garbage"),
            json!(""),
        ),
        (json!({"type":"text","name":"t"}), json!(12), json!("12")),
        (json!({"type":"text","name":"t"}), Value::Null, json!("")),
        (
            json!({"type":"geoPoint","name":"g"}),
            json!({"lon":23.3,"lat":42.7}),
            json!({"lon":23.3,"lat":42.7}),
        ),
    ];
    for (def, input, want) in cases {
        let f = field(def.clone());
        assert_eq!(normalize(&f.kind, &input), want, "{def} <- {input}");
    }
}

#[test]
fn validation_codes_per_type() {
    let text = field(
        json!({"type":"text","name":"t","min":3,"max":5,"pattern":"^[a-z]+$","required":true}),
    );
    assert_eq!(code(&text, json!("")), Some("validation_required"));
    assert_eq!(
        code(&text, json!("ab")),
        Some("validation_min_text_constraint")
    );
    assert_eq!(
        code(&text, json!("abcdef")),
        Some("validation_max_text_constraint")
    );
    assert_eq!(code(&text, json!("ABC")), Some("validation_invalid_format"));
    assert_eq!(code(&text, json!("abc")), None);

    let num = field(json!({"type":"number","name":"n","min":1,"max":10,"onlyInt":true}));
    assert_eq!(code(&num, json!(0)), None, "0 is blank and skips min");
    assert_eq!(
        code(&num, json!(-1)),
        Some("validation_min_number_constraint")
    );
    assert_eq!(
        code(&num, json!(11)),
        Some("validation_max_number_constraint")
    );
    assert_eq!(
        code(&num, json!(1.5)),
        Some("validation_only_int_constraint")
    );

    let email = field(json!({"type":"email","name":"e","onlyDomains":["example.com"]}));
    assert_eq!(code(&email, json!("nope")), Some("validation_is_email"));
    assert_eq!(
        code(&email, json!("a@other.com")),
        Some("validation_email_domain_not_allowed")
    );
    assert_eq!(code(&email, json!("a@example.com")), None);

    let url = field(json!({"type":"url","name":"u"}));
    assert_eq!(
        code(&url, json!("not a url")),
        Some("validation_invalid_url")
    );
    assert_eq!(code(&url, json!("https://example.com/x?y=1")), None);

    let sel = field(json!({"type":"select","name":"s","values":["a","b","c"],"maxSelect":2}));
    assert_eq!(
        code(&sel, json!(["a", "z"])),
        Some("validation_invalid_value")
    );
    assert_eq!(
        code(&sel, json!(["a", "b", "c"])),
        Some("validation_too_many_values")
    );

    let rel =
        field(json!({"type":"relation","name":"r","collectionId":"x","minSelect":2,"maxSelect":3}));
    assert_eq!(
        code(&rel, json!(["a"])),
        Some("validation_not_enough_values")
    );

    let date = field(json!({"type":"date","name":"d","min":"2020-01-01"}));
    assert_eq!(
        code(&date, json!("2019-01-01")),
        Some("validation_min_greater_equal_than_required")
    );

    let geo = field(json!({"type":"geoPoint","name":"g","required":true}));
    assert_eq!(
        code(&geo, json!({"lon":0,"lat":0})),
        Some("validation_required")
    );
    assert_eq!(
        code(&geo, json!({"lon":0,"lat":91})),
        Some("validation_invalid_latitude")
    );

    let json_field = field(json!({"type":"json","name":"j","required":true,"maxSize":5}));
    assert_eq!(code(&json_field, json!({})), Some("validation_required"));
    assert_eq!(
        code(&json_field, json!({"long":"value"})),
        Some("validation_json_size_limit")
    );

    let flag = field(json!({"type":"bool","name":"b","required":true}));
    assert_eq!(code(&flag, json!(false)), Some("validation_required"));
}

#[test]
fn numbers_print_like_go() {
    assert_eq!(number(10.0).to_string(), "10");
    assert_eq!(number(1.5).to_string(), "1.5");
    assert_eq!(
        number(123456789012345678.0).to_string(),
        "123456789012345680"
    );
}
