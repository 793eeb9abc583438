//! Building SQL text and its arguments together, so one query body serves every database.
//!
//! Placeholders are written with [`Sql::arg`], which emits `?` or `$n` depending on the dialect, and the
//! few statements whose syntax differs between engines ask the [`Dialect`] for their spelling.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

/// The SQL engine behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (the embedded default).
    Sqlite,
}

/// One bound argument.
#[derive(Debug, Clone)]
pub enum Arg {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Text(String),
    /// A string or NULL.
    OptText(Option<String>),
    /// An integer or NULL.
    OptInt(Option<i64>),
}

/// SQL text with its arguments.
#[derive(Debug, Clone)]
pub struct Sql {
    dialect: Dialect,
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    /// Starts a statement.
    pub fn new(dialect: Dialect, text: &str) -> Self {
        Self { dialect, text: text.to_owned(), args: Vec::new() }
    }

    /// Appends SQL text.
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `arg`.
    pub fn arg(&mut self, arg: impl Into<Arg>) -> &mut Self {
        self.args.push(arg.into());
        match self.dialect {
            Dialect::Sqlite => self.text.push('?'),
        }
        self
    }

    /// Appends a parenthesised set of strings for `IN`, bound as one JSON array so a list of any length
    /// costs one parameter (engines cap the number of bound parameters).
    pub fn list<'a>(&mut self, items: impl IntoIterator<Item = &'a String>) -> &mut Self {
        let items: Vec<&String> = items.into_iter().collect();
        self.json_set(serde_json::to_string(&items).unwrap_or_else(|_| "[]".to_owned()))
    }

    /// Appends a parenthesised set of integers for `IN`, bound as one JSON array.
    pub fn int_list(&mut self, items: &[i64]) -> &mut Self {
        self.json_set(serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned()))
    }

    fn json_set(&mut self, json: String) -> &mut Self {
        match self.dialect {
            Dialect::Sqlite => self.push("(SELECT value FROM json_each(").arg(json).push("))"),
        }
    }

    /// The same statement and arguments between `prefix` and `suffix` (for wrapping as a subquery).
    pub fn wrapped(&self, prefix: &str, suffix: &str) -> Self {
        Self { dialect: self.dialect, text: format!("{prefix}{}{suffix}", self.text), args: self.args.clone() }
    }

    /// The statement, ready to run.
    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut query = sqlx::query(&self.text);
        for arg in &self.args {
            query = match arg {
                Arg::Int(v) => query.bind(*v),
                Arg::Float(v) => query.bind(*v),
                Arg::Text(v) => query.bind(v.as_str()),
                Arg::OptText(v) => query.bind(v.as_deref()),
                Arg::OptInt(v) => query.bind(*v),
            };
        }
        query
    }
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}
impl From<f64> for Arg {
    fn from(v: f64) -> Self {
        Self::Float(v)
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Self::OptText(v)
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Self::OptInt(v)
    }
}
