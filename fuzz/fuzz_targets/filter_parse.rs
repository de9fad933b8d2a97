//! Parsing arbitrary UTF-8 must never panic, and whatever parses must survive a
//! `Display` round trip.

#![no_main]

use kulisse_filter::{Comparison, Expr, MAX_FILTER_LEN, Operand, Span, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let expr = match parse(src) {
        Ok(expr) => expr,
        Err(err) => {
            assert!(err.span.end() <= src.len(), "{err:?} outside the input");
            assert!(src.is_char_boundary(err.span.offset) && src.is_char_boundary(err.span.end()));
            return;
        }
    };
    let rendered = expr.to_string();
    // Canonical spacing and escaping can push a near-limit filter over the length limit.
    if rendered.len() > MAX_FILTER_LEN {
        return;
    }
    match parse(&rendered) {
        Ok(again) => assert_eq!(
            strip(&again),
            strip(&expr),
            "{src:?} rendered as {rendered:?}"
        ),
        Err(err) => panic!("{src:?} rendered as {rendered:?}, which fails: {err}"),
    }
});

/// Zeroes spans so trees parsed from different texts compare structurally.
fn strip(expr: &Expr) -> Expr {
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
    let mut out = operand.clone();
    match &mut out {
        Operand::Ident { span, .. } | Operand::Number { span, .. } | Operand::Text { span, .. } => {
            *span = Span::default();
        }
        Operand::Call { args, span, .. } => {
            *span = Span::default();
            *args = args.iter().map(strip_operand).collect();
        }
    }
    out
}
