use crate::{CmpOp, Comparison, Expr, MAX_FILTER_LEN, Op, Operand, Span, parse};

/// Zeroes every span so trees from different source texts compare structurally.
pub(crate) fn strip(expr: &Expr) -> Expr {
    match expr {
        Expr::Cmp(c) => Expr::Cmp(Comparison {
            left: strip_operand(&c.left),
            op: c.op,
            right: strip_operand(&c.right),
            span: Span::default(),
        }),
        Expr::And(children) => Expr::And(children.iter().map(strip).collect()),
        Expr::Or(children) => Expr::Or(children.iter().map(strip).collect()),
    }
}

fn strip_operand(operand: &Operand) -> Operand {
    let span = Span::default();
    match operand {
        Operand::Ident { name, .. } => Operand::Ident {
            name: name.clone(),
            span,
        },
        Operand::Number { raw, value, .. } => Operand::Number {
            raw: raw.clone(),
            value: *value,
            span,
        },
        Operand::Text { value, .. } => Operand::Text {
            value: value.clone(),
            span,
        },
        Operand::Call { name, args, .. } => Operand::Call {
            name: name.clone(),
            args: args.iter().map(strip_operand).collect(),
            span,
        },
    }
}

fn ok(src: &str) -> Expr {
    parse(src).unwrap_or_else(|e| panic!("{src:?} should parse: {e}"))
}

fn cmp(src: &str) -> Comparison {
    match ok(src) {
        Expr::Cmp(c) => c,
        other => panic!("{src:?} is not a single comparison: {other:?}"),
    }
}

/// Renders the tree back to text: the easiest way to assert structure in a table.
fn canon(src: &str) -> String {
    ok(src).to_string()
}

fn ident(name: &str) -> Operand {
    Operand::Ident {
        name: name.into(),
        span: Span::default(),
    }
}

fn text(value: &str) -> Operand {
    Operand::Text {
        value: value.into(),
        span: Span::default(),
    }
}

fn num(raw: &str) -> Operand {
    Operand::Number {
        raw: raw.into(),
        value: raw.parse().unwrap(),
        span: Span::default(),
    }
}

#[test]
fn every_sign_parses_to_its_op() {
    let table = [
        ("=", CmpOp::Eq, false),
        ("!=", CmpOp::Neq, false),
        (">", CmpOp::Gt, false),
        (">=", CmpOp::Gte, false),
        ("<", CmpOp::Lt, false),
        ("<=", CmpOp::Lte, false),
        ("~", CmpOp::Like, false),
        ("!~", CmpOp::NotLike, false),
        ("?=", CmpOp::Eq, true),
        ("?!=", CmpOp::Neq, true),
        ("?>", CmpOp::Gt, true),
        ("?>=", CmpOp::Gte, true),
        ("?<", CmpOp::Lt, true),
        ("?<=", CmpOp::Lte, true),
        ("?~", CmpOp::Like, true),
        ("?!~", CmpOp::NotLike, true),
    ];
    for (sign, cmp_op, any) in table {
        for src in [format!("a {sign} 1"), format!("a{sign}1")] {
            let c = cmp(&src);
            assert_eq!(c.op, Op { cmp: cmp_op, any }, "{src}");
            assert_eq!(c.op.as_str(), sign);
        }
    }
}

#[test]
fn precedence_and_groups_shape_the_tree() {
    let table = [
        ("a > 1 || b = 2 && c < 3", "a > 1 || b = 2 && c < 3"),
        ("a=1&&b=2||c=3", "a = 1 && b = 2 || c = 3"),
        ("(a = 1 || b = 2) && c = 3", "(a = 1 || b = 2) && c = 3"),
        ("((a = 1))", "a = 1"),
        ("(a = 1 && b = 2) && c = 3", "(a = 1 && b = 2) && c = 3"),
        ("a = 1 || (b = 2 || c = 3)", "a = 1 || (b = 2 || c = 3)"),
        ("a = 1 || (b = 2 && c = 3)", "a = 1 || b = 2 && c = 3"),
        ("( a = 1 )||( b = 2 )", "a = 1 || b = 2"),
    ];
    for (src, want) in table {
        assert_eq!(canon(src), want, "{src}");
    }
    let Expr::Or(terms) = ok("a > 1 || b = 2 && c < 3") else {
        panic!("expected Or")
    };
    assert!(matches!(terms[0], Expr::Cmp(_)));
    assert!(matches!(&terms[1], Expr::And(inner) if inner.len() == 2));
}

#[test]
fn comments_and_whitespace_are_ignored() {
    let table = [
        "a = 1 // trailing",
        "// leading\na = 1",
        "a // x\n = // y\n 1",
        "\t\r\na\n=\n1\n",
        "f( // c\n 1 // d\n , 2 // e\n ) = 1",
    ];
    for src in table {
        assert_eq!(ok(src).comparisons().count(), 1, "{src}");
    }
}

#[test]
fn literals_may_stand_on_either_side() {
    let c = cmp("'Hello World' = title");
    assert_eq!(
        (strip_operand(&c.left), strip_operand(&c.right)),
        (text("Hello World"), ident("title"))
    );
    let c = cmp("10 < views");
    assert_eq!(strip_operand(&c.left), num("10"));
    let c = cmp("\"a\" != 2.5");
    assert_eq!(
        (strip_operand(&c.left), strip_operand(&c.right)),
        (text("a"), num("2.5"))
    );
}

#[test]
fn text_escapes_follow_pocketbase() {
    let table = [
        (r"a = 'a\'b'", r"a'b"),
        (r#"a = "a\"b""#, r#"a"b"#),
        (r"a = 'a\b'", r"a\b"),
        (r#"a = 'a\"b'"#, r#"a\"b"#),
        (r#"a = "it's""#, "it's"),
        (r"a = 'a\\'b'", r"a\'b"),
        ("a = ''", ""),
        ("a = 'ünïcödé ✓'", "ünïcödé ✓"),
        ("a = 'x // not a comment'", "x // not a comment"),
    ];
    for (src, want) in table {
        assert_eq!(strip_operand(&cmp(src).right), text(want), "{src}");
    }
}

#[test]
fn numbers_follow_pocketbase() {
    for (raw, value) in [("-1.5", -1.5), ("0", 0.0), ("007", 7.0), ("12.250", 12.25)] {
        let c = cmp(&format!("a = {raw}"));
        let Operand::Number {
            raw: got, value: v, ..
        } = c.right
        else {
            panic!("{raw} is not a number")
        };
        assert_eq!((got.as_str(), v), (raw, value));
    }
}

#[test]
fn identifiers_accept_prefixes_paths_and_modifiers() {
    for name in [
        "title",
        "author.name",
        "@request.auth.id",
        "tags:each",
        "@collection.posts:p.title",
        "#x",
        "_id",
        "null",
        "TRUE",
        "@now",
        "a1.b_2:lower",
    ] {
        assert_eq!(
            strip_operand(&cmp(&format!("{name} = 1")).left),
            ident(name)
        );
    }
}

#[test]
fn function_calls_parse_with_nested_args() {
    let c = cmp("geoDistance(a.lon, a.lat, 23.3, 42.7) < 10");
    let Operand::Call { name, args, span } = &c.left else {
        panic!("expected a call")
    };
    assert_eq!(name, "geoDistance");
    assert_eq!(args.len(), 4);
    assert_eq!(strip_operand(&args[2]), num("23.3"));
    assert_eq!(*span, Span::new(0, 37));

    let c = cmp("strftime('%Y', created) = '2024'");
    assert_eq!(c.left.to_string(), "strftime('%Y', created)");
    assert_eq!(canon("f()=1"), "f() = 1");
    assert_eq!(canon("f(g(h(1)))=1"), "f(g(h(1))) = 1");
    assert_eq!(canon("1 = f(g(h(1)), 'x')"), "1 = f(g(h(1)), 'x')");
}

#[test]
fn spans_cover_operands_and_comparisons() {
    let c = cmp("  title   ?!= 'x' ");
    assert_eq!(c.left.span(), Span::new(2, 5));
    assert_eq!(c.right.span(), Span::new(14, 3));
    assert_eq!(c.span, Span::new(2, 15));
}

#[test]
fn comparisons_iterates_leaves_in_order() {
    let e = ok("(a = 1 || b = 2) && (c = 3 && (d = 4 || e = 5))");
    let names: Vec<String> = e.comparisons().map(|c| c.left.to_string()).collect();
    assert_eq!(names, ["a", "b", "c", "d", "e"]);
}

#[test]
fn invalid_input_is_rejected_with_a_span() {
    #[rustfmt::skip]
    let table: &[(&str, usize, usize, &str)] = &[
        ("", 0, 0, "empty filter expression"),
        ("  // only a comment", 0, 19, "empty filter expression"),
        ("title == 'x'", 6, 2, "invalid operator `==`"),
        ("a =~ 1", 2, 2, "invalid operator `=~`"),
        ("a <> 1", 2, 2, "invalid operator `<>`"),
        ("a ?? 1", 2, 2, "invalid operator `??`"),
        ("a = 1 & b = 2", 6, 1, "invalid operator `&` (expected `&&` or `||`)"),
        ("a = 1 | b = 2", 6, 1, "invalid operator `|` (expected `&&` or `||`)"),
        ("a = 1 &&& b = 2", 6, 3, "invalid operator `&&&` (expected `&&` or `||`)"),
        ("a = 'x", 4, 2, "unterminated text literal"),
        (r"a = 'x\'", 4, 4, "unterminated text literal"),
        (r"a = 'a\\'", 4, 5, "unterminated text literal"),
        ("a = 1.", 4, 2, "invalid number `1.`"),
        ("a = 1e5", 4, 3, "invalid number `1e5`"),
        ("a = 1.2.3", 4, 5, "invalid number `1.2.3`"),
        ("a = -", 4, 1, "invalid number `-`"),
        ("a = -.5", 4, 3, "invalid number `-.5`"),
        ("a = .5", 4, 1, "unexpected character `.`"),
        ("a = +1", 4, 1, "unexpected character `+`"),
        ("a. = 1", 0, 2, "invalid identifier `a.`"),
        ("a: = 1", 0, 2, "invalid identifier `a:`"),
        ("_ = 1", 0, 1, "invalid identifier `_`"),
        ("@ = 1", 0, 1, "invalid identifier `@`"),
        ("# = 1", 0, 1, "invalid identifier `#`"),
        ("tïtle = 1", 1, 2, "unexpected character `ï`"),
        ("a = 1 ✓", 6, 3, "unexpected character `✓`"),
        ("a = 1 / 2", 6, 1, "unexpected character `/`"),
        ("title", 5, 0, "expected a comparison operator, found end of input"),
        ("title 'x'", 6, 3, "expected a comparison operator, found `'x'`"),
        ("a =", 3, 0, "expected an operand, found end of input"),
        ("a = (1)", 4, 1, "expected an operand, found `(`"),
        ("a = 1 &&", 8, 0, "expected a comparison, found end of input"),
        ("|| a = 1", 0, 2, "expected a comparison, found `||`"),
        ("a = 1 b = 2", 6, 1, "expected `&&` or `||`, found `b`"),
        ("a = 1 = 2", 6, 1, "expected `&&` or `||`, found `=`"),
        ("()", 0, 2, "empty group `()`"),
        ("( )", 0, 3, "empty group `()`"),
        ("(a = 1", 0, 1, "unclosed `(`"),
        ("(a = 1 b", 7, 1, "expected `&&`, `||` or `)`, found `b`"),
        ("a = 1)", 5, 1, "unmatched `)`"),
        ("a = 1, b = 2", 5, 1, "expected `&&` or `||`, found `,`"),
        ("f (1) = 1", 2, 1, "expected a comparison operator, found `(`"),
        ("f(1 = 1", 4, 1, "expected `,` or `)`, found `=`"),
        ("f(1,) = 1", 4, 1, "expected a function argument, found `)`"),
        ("f(1", 1, 1, "unclosed function call `(`"),
        ("f((1)) = 1", 2, 1, "expected a function argument, found `(`"),
        ("f(g(h(i(1)))) = 1", 6, 1, "function calls nested too deeply (max 3)"),
    ];
    for &(src, offset, len, message) in table {
        let err = parse(src).expect_err(src);
        assert_eq!(
            (err.span, err.message.as_str()),
            (Span::new(offset, len), message),
            "{src}"
        );
    }
}

#[test]
fn length_limit_counts_bytes() {
    let base = "a = ''";
    let fill = |n: usize| format!("a = '{}'", "x".repeat(n - base.len()));
    assert!(parse(&fill(MAX_FILTER_LEN)).is_ok());
    let err = parse(&fill(MAX_FILTER_LEN + 1)).unwrap_err();
    assert_eq!(err.span, Span::new(MAX_FILTER_LEN, 1));
    assert_eq!(err.message, "filter too long (max 3500 bytes)");

    // The span never splits a multi-byte character.
    let wide = format!("a = '{}'", "é".repeat(2000));
    let err = parse(&wide).unwrap_err();
    assert!(wide.is_char_boundary(err.span.offset));
    assert_eq!(err.span.end(), wide.len());
}

#[test]
fn comparison_limit_is_two_hundred() {
    let filter = |n: usize| vec!["a=1"; n].join("&&");
    assert_eq!(ok(&filter(200)).comparisons().count(), 200);
    let err = parse(&filter(201)).unwrap_err();
    assert_eq!(err.message, "too many comparisons (max 200)");
    assert_eq!(err.span, Span::new(200 * 5, 3));
}

#[test]
fn group_nesting_is_limited_without_overflowing() {
    let nested = |n: usize| format!("{}a = 1{}", "(".repeat(n), ")".repeat(n));
    assert!(parse(&nested(64)).is_ok());
    let err = parse(&nested(65)).unwrap_err();
    assert_eq!(err.span, Span::new(64, 1));
    assert_eq!(err.message, "groups nested too deeply (max 64)");
    assert!(parse(&"(".repeat(3000)).is_err());
    assert!(parse(&"f(".repeat(1000)).is_err());
}

#[test]
fn display_round_trips_parsed_filters() {
    for src in [
        r#"a = "it's" && b ~ 'x\'y' || c ?!~ "q\"" "#,
        "(a = 1 || b = 2) && ((c = 3 && d = 4) || e = 5)",
        "geoDistance(a.lon, a.lat, 23.3, -42.7) < 10 // km",
        r"x = 'back\slash' && y = 'a\\'b'",
    ] {
        let expr = ok(src);
        assert_eq!(
            strip(&ok(&expr.to_string())),
            strip(&expr),
            "{src} -> {expr}"
        );
    }
}

#[test]
fn parse_error_displays_message_and_position() {
    let err = parse("a == 1").unwrap_err();
    assert_eq!(err.to_string(), "invalid operator `==` (at byte 2)");
}
