//! A filter's shape: its canonical text with the values left out, so that the filters an
//! app sends (`status = 'paid' && total > 20`, `status = 'open' && total > 5`) group as
//! one query (`status = ? && total > ?`) in the operator's analytics, and no user's data is
//! kept with them.

use crate::{Expr, Operand};

/// What stands for a left-out value.
const VALUE: &str = "?";

impl Expr {
    /// This filter's shape: [`Expr`]'s canonical text with every number and non-empty text
    /// literal written `?`. The empty text stays (`x = ''` asks whether `x` is empty, a
    /// different query), as do identifiers such as `null`, `true` and `@request.auth.id`.
    pub fn shape(&self) -> String {
        without_values(self).to_string()
    }
}

fn without_values(expr: &Expr) -> Expr {
    match expr {
        Expr::Cmp(cmp) => {
            let mut cmp = cmp.clone();
            cmp.left = operand_without_values(&cmp.left);
            cmp.right = operand_without_values(&cmp.right);
            Expr::Cmp(cmp)
        }
        Expr::And(children) => Expr::And(children.iter().map(without_values).collect()),
        Expr::Or(children) => Expr::Or(children.iter().map(without_values).collect()),
    }
}

fn operand_without_values(operand: &Operand) -> Operand {
    match operand {
        Operand::Number { span, .. } => Operand::Ident {
            name: VALUE.into(),
            span: *span,
        },
        Operand::Text { value, span } if !value.is_empty() => Operand::Ident {
            name: VALUE.into(),
            span: *span,
        },
        Operand::Call { name, args, span } => Operand::Call {
            name: name.clone(),
            args: args.iter().map(operand_without_values).collect(),
            span: *span,
        },
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use crate::parse;

    #[test]
    fn shapes_leave_values_out_and_keep_the_query() {
        let shape = |f: &str| parse(f).unwrap().shape();
        assert_eq!(
            shape("status='paid' && total > 20"),
            "status = ? && total > ?"
        );
        assert_eq!(
            shape("status = \"open\"&&total>5.5 // a comment"),
            "status = ? && total > ?"
        );
        assert_eq!(
            shape("(a = '' || b != null) && c = @request.auth.id"),
            "(a = '' || b != null) && c = @request.auth.id"
        );
        assert_eq!(
            shape("geoDistance(lon, lat, 13.4, 52.5) < 10"),
            "geoDistance(lon, lat, ?, ?) < ?"
        );
    }
}
