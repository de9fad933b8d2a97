use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::tests::strip;
use crate::{CmpOp, Comparison, Expr, MAX_FILTER_LEN, Op, Operand, Span, parse};

fn ident_name() -> impl Strategy<Value = String> {
    "[a-zA-Z]|[a-zA-Z_@#][a-zA-Z0-9_.:]{0,10}[a-zA-Z0-9_]"
}

fn text_value() -> impl Strategy<Value = String> {
    let arbitrary = vec(any::<char>(), 0..12).prop_map(String::from_iter);
    let quoting = "[a'\"\\\\ /]{0,8}".prop_map(String::from);
    // The grammar cannot express a text ending in a backslash, see `ast::write_text`.
    prop_oneof![arbitrary, quoting].prop_map(|mut s| {
        if s.ends_with('\\') {
            s.push('x');
        }
        s
    })
}

fn operand() -> impl Strategy<Value = Operand> {
    let span = Span::default();
    let leaf = prop_oneof![
        ident_name().prop_map(move |name| Operand::Ident { name, span }),
        "-?[0-9]{1,6}(\\.[0-9]{1,4})?".prop_map(move |raw| Operand::Number {
            value: raw.parse().unwrap(),
            raw,
            span,
        }),
        text_value().prop_map(move |value| Operand::Text { value, span }),
    ];
    // Depth 3 keeps calls within MAX_CALL_DEPTH.
    leaf.prop_recursive(3, 12, 4, move |inner| {
        (ident_name(), vec(inner, 0..4)).prop_map(move |(name, args)| Operand::Call {
            name,
            args,
            span,
        })
    })
}

fn comparison() -> impl Strategy<Value = Expr> {
    let op = (proptest::sample::select(CmpOp::ALL.to_vec()), any::<bool>())
        .prop_map(|(cmp, any)| Op { cmp, any });
    (operand(), op, operand()).prop_map(|(left, op, right)| {
        Expr::Cmp(Comparison {
            left,
            op,
            right,
            span: Span::default(),
        })
    })
}

fn expr() -> impl Strategy<Value = Expr> {
    comparison().prop_recursive(4, 48, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 2..5).prop_map(Expr::And),
            vec(inner, 2..5).prop_map(Expr::Or),
        ]
    })
}

/// Fragments that exercise every lexer branch, glued without separators.
fn grammar_soup() -> impl Strategy<Value = String> {
    const PIECES: &[&str] = &[
        "a", "b.c", "@x", "#y", "_", "x:", "1", "-2.5", "1.", "'t'", "\"u\"", "'", "\"", "\\", "=",
        "!=", "?", "!", ">", "<", "~", "&&", "||", "&", "|", "(", ")", ",", " ", "\n", "//", "f(",
        ".", ":", "é", "-",
    ];
    vec(proptest::sample::select(PIECES), 0..40).prop_map(|pieces| pieces.concat())
}

/// Parsing never panics, errors point inside the input on char boundaries, and whatever
/// parses renders to text that parses back to the same tree.
fn check(src: &str) -> Result<(), TestCaseError> {
    match parse(src) {
        Err(err) => {
            prop_assert!(err.span.end() <= src.len(), "{err:?} outside {src:?}");
            prop_assert!(src.is_char_boundary(err.span.offset));
            prop_assert!(src.is_char_boundary(err.span.end()));
        }
        Ok(expr) => {
            let rendered = expr.to_string();
            // Canonical spacing and escaping can push a near-limit filter over the limit.
            if rendered.len() <= MAX_FILTER_LEN {
                let again = parse(&rendered)
                    .map_err(|e| TestCaseError::fail(format!("{rendered:?}: {e}")))?;
                prop_assert_eq!(strip(&again), strip(&expr));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_unicode_never_panics(src in any::<String>()) {
        check(&src)?;
    }

    #[test]
    fn grammar_soup_never_panics(src in grammar_soup()) {
        check(&src)?;
    }

    #[test]
    fn generated_trees_round_trip_through_display(expr in expr()) {
        let rendered = expr.to_string();
        prop_assume!(rendered.len() <= MAX_FILTER_LEN);
        let parsed = parse(&rendered)
            .map_err(|e| TestCaseError::fail(format!("{rendered:?}: {e}")))?;
        prop_assert_eq!(strip(&parsed), strip(&expr));
    }

    #[test]
    fn mutated_valid_filters_never_panic(
        expr in expr(),
        edits in vec((any::<prop::sample::Index>(), any::<char>(), any::<bool>()), 1..4),
    ) {
        let mut chars: Vec<char> = expr.to_string().chars().collect();
        for (at, c, insert) in edits {
            if insert {
                chars.insert(at.index(chars.len() + 1), c);
            } else if !chars.is_empty() {
                chars.remove(at.index(chars.len()));
            }
        }
        check(&String::from_iter(chars))?;
    }
}
