//! Tokenizer for the filter language, mirroring PocketBase's `fexpr` scanner rules.
//!
//! Tokens are produced on demand, so errors are reported in source order. Whitespace and
//! `//` comments are skipped here; the only place where adjacency matters (an identifier
//! immediately followed by `(` is a call) is decided here too.
//!
//! Invariant: `pos` always sits on a UTF-8 char boundary. Every byte the lexer steps over
//! one at a time is ASCII, and text literals are only ever cut at an ASCII quote, so slicing
//! `src` never panics.

use crate::{Op, ParseError, Span};

/// A lexical token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    /// An identifier; `call` is set when `(` follows with no space in between.
    Ident {
        name: String,
        call: bool,
    },
    Number {
        raw: String,
        value: f64,
    },
    Text(String),
    Sign(Op),
    And,
    Or,
    LParen,
    RParen,
    Comma,
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

pub(crate) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || matches!(b, b'_' | b'@' | b'#')
}

fn is_ident_continue(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':')
}

fn is_sign_char(b: u8) -> bool {
    matches!(b, b'=' | b'?' | b'!' | b'>' | b'<' | b'~')
}

/// `-?digits(.digits)?` — deliberately stricter than a float parser: no exponent, no `+`,
/// no leading or trailing `.`.
fn is_valid_number(raw: &str) -> bool {
    let unsigned = raw.strip_prefix('-').unwrap_or(raw);
    let (int, frac) = match unsigned.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(int) && frac.is_none_or(digits)
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Self { src, pos: 0 }
    }

    fn peek_byte(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn starts_with(&self, prefix: &str) -> bool {
        self.src.as_bytes()[self.pos..].starts_with(prefix.as_bytes())
    }

    /// Advances over bytes matching `pred`; callers only pass ASCII-only predicates.
    fn eat_while(&mut self, pred: impl Fn(u8) -> bool) {
        while self.peek_byte().is_some_and(&pred) {
            self.pos += 1;
        }
    }

    fn skip_trivia(&mut self) {
        loop {
            match self.peek_byte() {
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.pos += 1,
                Some(b'/') if self.starts_with("//") => self.eat_while(|b| b != b'\n'),
                _ => return,
            }
        }
    }

    fn span_from(&self, start: usize) -> Span {
        Span::new(start, self.pos - start)
    }

    pub(crate) fn next_token(&mut self) -> Result<Token, ParseError> {
        self.skip_trivia();
        let start = self.pos;
        let Some(b) = self.peek_byte() else {
            return Ok(Token {
                kind: TokenKind::Eof,
                span: Span::new(start, 0),
            });
        };
        let kind = match b {
            b'(' | b')' | b',' => {
                self.pos += 1;
                match b {
                    b'(' => TokenKind::LParen,
                    b')' => TokenKind::RParen,
                    _ => TokenKind::Comma,
                }
            }
            b'\'' | b'"' => self.text(b)?,
            b'-' | b'0'..=b'9' => self.number()?,
            b'&' | b'|' => self.join()?,
            b if is_ident_start(b) => self.identifier()?,
            b if is_sign_char(b) => self.sign()?,
            _ => return Err(self.unexpected_char()),
        };
        Ok(Token {
            kind,
            span: self.span_from(start),
        })
    }

    fn unexpected_char(&self) -> ParseError {
        let c = self.src[self.pos..].chars().next().unwrap_or('\u{FFFD}');
        let span = Span::new(self.pos, c.len_utf8());
        ParseError::new(span, format!("unexpected character `{}`", c.escape_debug()))
    }

    /// PB compat: a quote preceded by a backslash never closes the literal, and `\q` is the
    /// only escape. So `'a\\'` is unterminated and `'a\\'b'` is `a\'b`; a text cannot end in
    /// a backslash.
    fn text(&mut self, quote: u8) -> Result<TokenKind, ParseError> {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let mut prev = quote;
        let mut i = start + 1;
        while let Some(&b) = bytes.get(i) {
            if b == quote && prev != b'\\' {
                self.pos = i + 1;
                let body = &self.src[start + 1..i];
                let q = char::from(quote);
                let value = body.replace(&format!("\\{q}"), &q.to_string());
                return Ok(TokenKind::Text(value));
            }
            prev = b;
            i += 1;
        }
        let span = Span::new(start, self.src.len() - start);
        Err(ParseError::new(span, "unterminated text literal"))
    }

    /// Takes a whole run of word characters so that `1e5` or `1.2.3` is reported as one bad
    /// number rather than as a number followed by a confusing second token.
    fn number(&mut self) -> Result<TokenKind, ParseError> {
        let start = self.pos;
        self.pos += 1;
        self.eat_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.'));
        let raw = &self.src[start..self.pos];
        let value = match raw.parse::<f64>() {
            Ok(value) if is_valid_number(raw) => value,
            _ => {
                let msg = format!("invalid number `{raw}`");
                return Err(ParseError::new(self.span_from(start), msg));
            }
        };
        Ok(TokenKind::Number {
            raw: raw.to_owned(),
            value,
        })
    }

    fn identifier(&mut self) -> Result<TokenKind, ParseError> {
        let start = self.pos;
        self.pos += 1;
        self.eat_while(is_ident_continue);
        let name = &self.src[start..self.pos];
        let lone_prefix = matches!(name, "_" | "@" | "#");
        if lone_prefix || name.ends_with('.') || name.ends_with(':') {
            let msg = format!("invalid identifier `{name}`");
            return Err(ParseError::new(self.span_from(start), msg));
        }
        Ok(TokenKind::Ident {
            name: name.to_owned(),
            call: self.peek_byte() == Some(b'('),
        })
    }

    fn sign(&mut self) -> Result<TokenKind, ParseError> {
        let start = self.pos;
        self.eat_while(is_sign_char);
        let text = &self.src[start..self.pos];
        match Op::from_sign(text) {
            Some(op) => Ok(TokenKind::Sign(op)),
            None => {
                let msg = format!("invalid operator `{text}`");
                Err(ParseError::new(self.span_from(start), msg))
            }
        }
    }

    fn join(&mut self) -> Result<TokenKind, ParseError> {
        let start = self.pos;
        self.eat_while(|b| matches!(b, b'&' | b'|'));
        match &self.src[start..self.pos] {
            "&&" => Ok(TokenKind::And),
            "||" => Ok(TokenKind::Or),
            other => {
                let msg = format!("invalid operator `{other}` (expected `&&` or `||`)");
                Err(ParseError::new(self.span_from(start), msg))
            }
        }
    }
}
