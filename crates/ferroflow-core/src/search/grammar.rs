//! The hand-written recursive-descent parser behind [`super`]: text in, untyped comparisons out.

use crate::error::{invalid, Result};

/// `[entity.]key` as written, with quotes removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identifier {
    /// The part before the first dot, if any (`metrics`, `tags`, ...).
    pub entity: Option<String>,
    /// The key (`loss`, `mlflow.runName`, `f1-score`).
    pub key: String,
}

/// A comparator as written (case-insensitive keywords).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparator {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Like,
    ILike,
    In,
    NotIn,
    IsNull,
    IsNotNull,
}

impl Comparator {
    /// The canonical spelling, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Like => "LIKE",
            Self::ILike => "ILIKE",
            Self::In => "IN",
            Self::NotIn => "NOT IN",
            Self::IsNull => "IS NULL",
            Self::IsNotNull => "IS NOT NULL",
        }
    }
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A bare number.
    Number(f64),
    /// A quoted string.
    Text(String),
    /// A parenthesised list.
    List(Vec<String>),
    /// No operand (`IS NULL`, `IS NOT NULL`).
    None,
}

impl Operand {
    /// A short description for error messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Number(n) => format!("the number {n}"),
            Self::Text(s) => format!("the string '{s}'"),
            Self::List(_) => "a list".to_owned(),
            Self::None => "no value".to_owned(),
        }
    }
}

/// One `identifier comparator operand` clause.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub identifier: Identifier,
    pub comparator: Comparator,
    pub operand: Operand,
}

/// Most clauses one filter may have; each becomes a subquery, and databases bound query complexity.
pub const MAX_FILTER_CLAUSES: usize = 100;

/// Parses `clause (AND clause)*`; an empty or blank filter is an empty list.
pub fn parse_filter(input: &str) -> Result<Vec<Comparison>> {
    let mut parser = Parser::new(input);
    let mut clauses = Vec::new();
    parser.skip_whitespace();
    if parser.at_end() {
        return Ok(clauses);
    }
    loop {
        if clauses.len() == MAX_FILTER_CLAUSES {
            return Err(invalid(format!("A filter can have at most {MAX_FILTER_CLAUSES} clauses")));
        }
        clauses.push(parser.comparison()?);
        parser.skip_whitespace();
        if parser.at_end() {
            return Ok(clauses);
        }
        if !parser.keyword("AND") {
            return Err(invalid(format!(
                "Invalid clause(s) in filter string: '{}'. Clauses can only be joined with AND.",
                parser.rest()
            )));
        }
    }
}

/// Parses `identifier [ASC|DESC]`, returning the identifier and whether the order is ascending.
pub fn parse_order_clause(input: &str) -> Result<(Identifier, bool)> {
    let mut parser = Parser::new(input);
    parser.skip_whitespace();
    let identifier = parser.identifier().map_err(|e| invalid(format!("Invalid order_by clause '{input}': {e}")))?;
    parser.skip_whitespace();
    let ascending = if parser.keyword("DESC") {
        false
    } else {
        parser.keyword("ASC");
        true
    };
    parser.skip_whitespace();
    if !parser.at_end() {
        return Err(invalid(format!(
            "Invalid order_by clause '{input}': unexpected '{}'. Expected '<key> [ASC|DESC]'.",
            parser.rest()
        )));
    }
    Ok((identifier, ascending))
}

struct Parser<'a> {
    input: &'a str,
    pos: usize,
}

fn is_bare_identifier_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '/')
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Self {
        Self { input, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        &self.input[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    /// Consumes `word` (case-insensitive) when it stands as a whole word at the cursor, after whitespace.
    fn keyword(&mut self, word: &str) -> bool {
        self.skip_whitespace();
        let rest = self.rest();
        let Some(candidate) = rest.get(..word.len()) else {
            return false;
        };
        let boundary = rest[word.len()..].chars().next().is_none_or(|c| !is_bare_identifier_char(c));
        if candidate.eq_ignore_ascii_case(word) && boundary {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    fn quoted(&mut self, quote: char) -> Result<String> {
        let start = self.pos;
        self.bump();
        let mut text = String::new();
        loop {
            match self.bump() {
                None => {
                    return Err(invalid(format!("Unterminated quoted string starting at {}", &self.input[start..])))
                }
                // A doubled quote stands for one literal quote.
                Some(c) if c == quote && self.peek() == Some(quote) => {
                    self.bump();
                    text.push(quote);
                }
                Some(c) if c == quote => return Ok(text),
                Some('\\') if self.peek() == Some(quote) => {
                    self.bump();
                    text.push(quote);
                }
                Some(c) => text.push(c),
            }
        }
    }

    fn bare_word(&mut self) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(is_bare_identifier_char) {
            self.bump();
        }
        &self.input[start..self.pos]
    }

    fn identifier(&mut self) -> Result<Identifier> {
        self.skip_whitespace();
        match self.peek() {
            Some(q @ ('`' | '"')) => {
                let first = self.quoted(q)?;
                if self.peek() == Some('.') {
                    self.bump();
                    let key = self.identifier_part()?;
                    Ok(Identifier { entity: Some(first), key })
                } else {
                    Ok(Identifier { entity: None, key: first })
                }
            }
            Some(c) if is_bare_identifier_char(c) => {
                let word = self.bare_word();
                match word.split_once('.') {
                    // `metrics.` directly followed by a quoted key.
                    Some((entity, "")) => {
                        let key = self.identifier_part()?;
                        Ok(Identifier { entity: Some(entity.to_owned()), key })
                    }
                    Some((entity, key)) => Ok(Identifier { entity: Some(entity.to_owned()), key: key.to_owned() }),
                    None => Ok(Identifier { entity: None, key: word.to_owned() }),
                }
            }
            Some(c) => Err(invalid(format!("Expected an identifier at '{}', found '{c}'", self.rest()))),
            None => Err(invalid("Expected an identifier, found the end of the filter")),
        }
    }

    fn identifier_part(&mut self) -> Result<String> {
        match self.peek() {
            Some(q @ ('`' | '"')) => self.quoted(q),
            Some(c) if is_bare_identifier_char(c) => Ok(self.bare_word().to_owned()),
            _ => Err(invalid(format!("Expected a key after '.' at '{}'", self.rest()))),
        }
    }

    fn comparator(&mut self) -> Result<Comparator> {
        self.skip_whitespace();
        let rest = self.rest();
        if self.keyword("OR") {
            return Err(invalid(format!(
                "Invalid clause(s) in filter string: '{rest}'. OR is not supported: join clauses with AND."
            )));
        }
        for (symbol, comparator) in [
            ("!=", Comparator::Ne),
            (">=", Comparator::Ge),
            ("<=", Comparator::Le),
            ("=", Comparator::Eq),
            (">", Comparator::Gt),
            ("<", Comparator::Lt),
        ] {
            if self.rest().starts_with(symbol) {
                self.pos += symbol.len();
                return Ok(comparator);
            }
        }
        if self.keyword("LIKE") {
            Ok(Comparator::Like)
        } else if self.keyword("ILIKE") {
            Ok(Comparator::ILike)
        } else if self.keyword("IN") {
            Ok(Comparator::In)
        } else if self.keyword("NOT") {
            if self.keyword("IN") {
                Ok(Comparator::NotIn)
            } else {
                Err(invalid(format!("Expected 'IN' after 'NOT' at '{}'", self.rest())))
            }
        } else if self.keyword("IS") {
            let negated = self.keyword("NOT");
            if !self.keyword("NULL") {
                return Err(invalid(format!("Expected 'NULL' after 'IS' at '{}'", self.rest())));
            }
            Ok(if negated { Comparator::IsNotNull } else { Comparator::IsNull })
        } else {
            Err(invalid(format!(
                "Invalid comparator at '{}'. Valid comparators are =, !=, >, >=, <, <=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL",
                self.rest()
            )))
        }
    }

    fn number(&mut self) -> Result<f64> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')) {
            self.bump();
        }
        let text = &self.input[start..self.pos];
        text.parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .ok_or_else(|| invalid(format!("Invalid number '{text}' in filter")))
    }

    fn list(&mut self) -> Result<Vec<String>> {
        self.bump(); // '('
        let mut items = Vec::new();
        loop {
            self.skip_whitespace();
            match self.peek() {
                Some(q @ ('\'' | '"')) => items.push(self.quoted(q)?),
                Some(c) if c.is_ascii_digit() || c == '-' => {
                    let start = self.pos;
                    self.number()?;
                    items.push(self.input[start..self.pos].to_owned());
                }
                Some(')') if items.is_empty() => return Err(invalid("An IN list must contain at least one value")),
                _ => return Err(invalid(format!("Expected a quoted string in the list at '{}'", self.rest()))),
            }
            self.skip_whitespace();
            match self.bump() {
                Some(',') => continue,
                Some(')') => return Ok(items),
                _ => return Err(invalid("Expected ',' or ')' in the IN list")),
            }
        }
    }

    fn operand(&mut self, comparator: Comparator) -> Result<Operand> {
        if matches!(comparator, Comparator::IsNull | Comparator::IsNotNull) {
            return Ok(Operand::None);
        }
        self.skip_whitespace();
        match self.peek() {
            Some(q @ ('\'' | '"')) => self.quoted(q).map(Operand::Text),
            Some('(') => self.list().map(Operand::List),
            Some(c) if c.is_ascii_digit() || matches!(c, '-' | '+' | '.') => self.number().map(Operand::Number),
            None => Err(invalid(format!("Missing value after comparator '{}'", comparator.as_str()))),
            Some(_) => {
                let word = self.bare_word();
                let shown = if word.is_empty() { self.rest() } else { word };
                Err(invalid(format!("Invalid value '{shown}': strings must be quoted with single or double quotes")))
            }
        }
    }

    fn comparison(&mut self) -> Result<Comparison> {
        let identifier = self.identifier()?;
        let comparator = self.comparator()?;
        let operand = self.operand(comparator)?;
        Ok(Comparison { identifier, comparator, operand })
    }
}
