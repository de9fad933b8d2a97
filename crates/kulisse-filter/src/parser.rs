//! Recursive-descent parser from tokens to [`Expr`].
//!
//! Recursion is bounded by [`MAX_GROUP_DEPTH`] for groups and [`MAX_CALL_DEPTH`] for calls,
//! so hostile input cannot overflow the stack. Explicit groups are kept as nested nodes
//! rather than flattened into their parent, which keeps `Display` a faithful inverse.

use crate::lexer::{Lexer, Token, TokenKind};
use crate::{
    Comparison, Expr, MAX_CALL_DEPTH, MAX_COMPARISONS, MAX_GROUP_DEPTH, Operand, ParseError, Span,
};

pub(crate) struct Parser<'a> {
    src: &'a str,
    lexer: Lexer<'a>,
    peeked: Option<Token>,
    comparisons: usize,
    group_depth: usize,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Self {
            src,
            lexer: Lexer::new(src),
            peeked: None,
            comparisons: 0,
            group_depth: 0,
        }
    }

    fn peek(&mut self) -> Result<&Token, ParseError> {
        let token = match self.peeked.take() {
            Some(token) => token,
            None => self.lexer.next_token()?,
        };
        Ok(self.peeked.insert(token))
    }

    fn bump(&mut self) -> Result<Token, ParseError> {
        match self.peeked.take() {
            Some(token) => Ok(token),
            None => self.lexer.next_token(),
        }
    }

    /// "found `x`" / "found end of input", for messages about an unexpected token.
    fn found(&self, token: &Token) -> String {
        match token.kind {
            TokenKind::Eof => "found end of input".to_owned(),
            _ => {
                let text = self.src.get(token.span.offset..token.span.end());
                format!("found `{}`", text.unwrap_or_default())
            }
        }
    }

    fn error(&self, token: &Token, expected: &str) -> ParseError {
        let message = format!("expected {expected}, {}", self.found(token));
        ParseError::new(token.span, message)
    }

    pub(crate) fn parse_filter(mut self) -> Result<Expr, ParseError> {
        if self.peek()?.kind == TokenKind::Eof {
            let span = Span::new(0, self.src.len());
            return Err(ParseError::new(span, "empty filter expression"));
        }
        let expr = self.parse_or()?;
        let token = self.bump()?;
        match token.kind {
            TokenKind::Eof => Ok(expr),
            TokenKind::RParen => Err(ParseError::new(token.span, "unmatched `)`")),
            _ => Err(self.error(&token, "`&&` or `||`")),
        }
    }

    fn parse_or(&mut self) -> Result<Expr, ParseError> {
        let mut terms = vec![self.parse_and()?];
        while self.peek()?.kind == TokenKind::Or {
            self.bump()?;
            terms.push(self.parse_and()?);
        }
        Ok(collapse(terms, Expr::Or))
    }

    fn parse_and(&mut self) -> Result<Expr, ParseError> {
        let mut terms = vec![self.parse_term()?];
        while self.peek()?.kind == TokenKind::And {
            self.bump()?;
            terms.push(self.parse_term()?);
        }
        Ok(collapse(terms, Expr::And))
    }

    fn parse_term(&mut self) -> Result<Expr, ParseError> {
        if self.peek()?.kind != TokenKind::LParen {
            return self.parse_comparison().map(Expr::Cmp);
        }
        let open = self.bump()?;
        if self.group_depth >= MAX_GROUP_DEPTH {
            let msg = format!("groups nested too deeply (max {MAX_GROUP_DEPTH})");
            return Err(ParseError::new(open.span, msg));
        }
        if let TokenKind::RParen = self.peek()?.kind {
            let close = self.bump()?;
            return Err(ParseError::new(
                open.span.to(close.span),
                "empty group `()`",
            ));
        }
        self.group_depth += 1;
        let inner = self.parse_or()?;
        self.group_depth -= 1;
        let close = self.bump()?;
        match close.kind {
            TokenKind::RParen => Ok(inner),
            TokenKind::Eof => Err(ParseError::new(open.span, "unclosed `(`")),
            _ => Err(self.error(&close, "`&&`, `||` or `)`")),
        }
    }

    fn parse_comparison(&mut self) -> Result<Comparison, ParseError> {
        let left = self.parse_operand(0, "a comparison")?;
        let sign = self.bump()?;
        let TokenKind::Sign(op) = sign.kind else {
            return Err(self.error(&sign, "a comparison operator"));
        };
        let right = self.parse_operand(0, "an operand")?;
        let span = left.span().to(right.span());
        self.comparisons += 1;
        if self.comparisons > MAX_COMPARISONS {
            let msg = format!("too many comparisons (max {MAX_COMPARISONS})");
            return Err(ParseError::new(span, msg));
        }
        Ok(Comparison {
            left,
            op,
            right,
            span,
        })
    }

    /// `depth` is the number of calls enclosing this operand.
    fn parse_operand(&mut self, depth: usize, expected: &str) -> Result<Operand, ParseError> {
        let token = self.bump()?;
        let span = token.span;
        match token.kind {
            TokenKind::Ident { name, call: false } => Ok(Operand::Ident { name, span }),
            TokenKind::Ident { name, call: true } => self.parse_call(name, span, depth + 1),
            TokenKind::Number { raw, value } => Ok(Operand::Number { raw, value, span }),
            TokenKind::Text(value) => Ok(Operand::Text { value, span }),
            _ => Err(self.error(&token, expected)),
        }
    }

    /// Parses the argument list after `name`; the lexer guarantees `(` comes next.
    fn parse_call(
        &mut self,
        name: String,
        name_span: Span,
        depth: usize,
    ) -> Result<Operand, ParseError> {
        if depth > MAX_CALL_DEPTH {
            let msg = format!("function calls nested too deeply (max {MAX_CALL_DEPTH})");
            return Err(ParseError::new(name_span, msg));
        }
        let open = self.bump()?;
        let mut args = Vec::new();
        if self.peek()?.kind == TokenKind::RParen {
            let close = self.bump()?;
            let span = name_span.to(close.span);
            return Ok(Operand::Call { name, args, span });
        }
        loop {
            args.push(self.parse_operand(depth, "a function argument")?);
            let token = self.bump()?;
            match token.kind {
                TokenKind::Comma => {}
                TokenKind::RParen => {
                    let span = name_span.to(token.span);
                    return Ok(Operand::Call { name, args, span });
                }
                TokenKind::Eof => {
                    return Err(ParseError::new(open.span, "unclosed function call `(`"));
                }
                _ => return Err(self.error(&token, "`,` or `)`")),
            }
        }
    }
}

/// One term stays itself; several become the join node, so `And`/`Or` never hold one child.
fn collapse(mut terms: Vec<Expr>, join: fn(Vec<Expr>) -> Expr) -> Expr {
    match terms.len() {
        1 => terms.remove(0),
        _ => join(terms),
    }
}
