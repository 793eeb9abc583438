//! Building SQL text and its arguments together, so one query body serves every database.
//!
//! Placeholders are written with [`Sql::arg`], which emits `?` or `$n` depending on the dialect, and the
//! few statements whose syntax differs between engines ask the [`Dialect`] for their spelling: upserts
//! ([`Sql::on_conflict_ignore`], [`Sql::on_conflict_update`]) and lists bound as one JSON value. On MySQL
//! the column names that are reserved words there (`key`, `schema`) are quoted as they are written.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

/// The SQL engine behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (the embedded default).
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL and MariaDB.
    MySql,
}

impl Dialect {
    /// How SQL text must be spelled for this engine (identifiers MySQL reserves, quoted).
    fn spell(self, text: &str) -> String {
        match self {
            Self::MySql => quote_reserved(text),
            Self::Sqlite | Self::Postgres => text.to_owned(),
        }
    }
}

/// Lower-case column names that MySQL reserves and our schema uses.
const MYSQL_RESERVED: &[&str] = &["key", "schema"];

/// Puts backticks around the bare words in [`MYSQL_RESERVED`] outside quoted literals.
fn quote_reserved(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut in_literal = false;
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if MYSQL_RESERVED.contains(&word.as_str()) {
            out.push('`');
            out.push_str(word);
            out.push('`');
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if in_literal {
            out.push(c);
            in_literal = c != '\'';
            continue;
        }
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        flush(&mut word, &mut out);
        in_literal = c == '\'';
        out.push(c);
    }
    flush(&mut word, &mut out);
    out
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
        Self { dialect, text: dialect.spell(text), args: Vec::new() }
    }

    /// The engine this statement is for.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Appends SQL text.
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(&self.dialect.spell(text));
        self
    }

    /// Appends a placeholder bound to `arg`.
    pub fn arg(&mut self, arg: impl Into<Arg>) -> &mut Self {
        self.args.push(arg.into());
        match self.dialect {
            Dialect::Sqlite | Dialect::MySql => self.text.push('?'),
            Dialect::Postgres => {
                self.text.push('$');
                self.text.push_str(&self.args.len().to_string());
            }
        }
        self
    }

    /// Makes this `INSERT` skip rows that collide with an existing key (`conflict` names the key
    /// columns, e.g. `(run_id, key)`; SQLite and PostgreSQL need it, MySQL ignores any collision).
    pub fn on_conflict_ignore(&mut self, conflict: &str) -> &mut Self {
        match self.dialect {
            Dialect::Sqlite | Dialect::Postgres => self.push(&format!(" ON CONFLICT {conflict} DO NOTHING")),
            Dialect::MySql => {
                self.text = self.text.replacen("INSERT INTO", "INSERT IGNORE INTO", 1);
                self
            }
        }
    }

    /// Makes this `INSERT` overwrite `columns` of a row that collides on `conflict`.
    pub fn on_conflict_update(&mut self, conflict: &str, columns: &[&str]) -> &mut Self {
        let sets: Vec<String> = match self.dialect {
            Dialect::Sqlite | Dialect::Postgres => columns.iter().map(|c| format!("{c} = excluded.{c}")).collect(),
            Dialect::MySql => columns.iter().map(|c| format!("{c} = VALUES({c})")).collect(),
        };
        match self.dialect {
            Dialect::Sqlite | Dialect::Postgres => {
                self.push(&format!(" ON CONFLICT {conflict} DO UPDATE SET {}", sets.join(", ")))
            }
            Dialect::MySql => self.push(&format!(" ON DUPLICATE KEY UPDATE {}", sets.join(", "))),
        }
    }

    /// Appends a parenthesised set of strings for `IN`, bound as one JSON array so a list of any length
    /// costs one parameter (engines cap the number of bound parameters).
    pub fn list<'a>(&mut self, items: impl IntoIterator<Item = &'a String>) -> &mut Self {
        let items: Vec<&String> = items.into_iter().collect();
        self.json_set(serde_json::to_string(&items).unwrap_or_else(|_| "[]".to_owned()))
    }

    /// Appends a parenthesised set of integers for `IN`, bound as one JSON array.
    pub fn int_list(&mut self, items: &[i64]) -> &mut Self {
        let json = serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned());
        self.json_values(json, "BIGINT", "::bigint")
    }

    fn json_set(&mut self, json: String) -> &mut Self {
        self.json_values(json, "VARCHAR(1024) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin", "")
    }

    /// `(SELECT <each element of the JSON array>)`, typed as `mysql_type` on MySQL and cast with
    /// `postgres_cast` on PostgreSQL.
    fn json_values(&mut self, json: String, mysql_type: &str, postgres_cast: &str) -> &mut Self {
        match self.dialect {
            Dialect::Sqlite => self.push("(SELECT value FROM json_each(").arg(json).push("))"),
            Dialect::Postgres => {
                self.push("(SELECT json_array_elements_text(").arg(json).push(&format!("::json){postgres_cast})"))
            }
            Dialect::MySql => self
                .push("(SELECT v FROM JSON_TABLE(")
                .arg(json)
                .push(&format!(", '$[*]' COLUMNS (v {mysql_type} PATH '$')) AS jt)")),
        }
    }

    /// The same statement and arguments between `prefix` and `suffix` (for wrapping as a subquery).
    /// PostgreSQL placeholders keep their numbers, so `prefix` must not bind arguments itself.
    pub fn wrapped(&self, prefix: &str, suffix: &str) -> Self {
        Self {
            dialect: self.dialect,
            text: format!("{}{}{}", self.dialect.spell(prefix), self.text, self.dialect.spell(suffix)),
            args: self.args.clone(),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_per_engine() {
        let mut pg = Sql::new(Dialect::Postgres, "SELECT 1 FROM t WHERE a = ");
        pg.arg(1).push(" AND b = ").arg("x");
        assert_eq!(pg.text, "SELECT 1 FROM t WHERE a = $1 AND b = $2");
        let mut my = Sql::new(Dialect::MySql, "SELECT k.key, d.schema FROM t k WHERE k.key = ");
        my.arg("x").push(" AND s = 'a key'");
        assert_eq!(my.text, "SELECT k.`key`, d.`schema` FROM t k WHERE k.`key` = ? AND s = 'a key'");
    }

    #[test]
    fn upserts_per_engine() {
        let mut lite = Sql::new(Dialect::Sqlite, "INSERT INTO t (a, key) VALUES (1, 2)");
        lite.on_conflict_update("(a, key)", &["value"]);
        assert_eq!(
            lite.text,
            "INSERT INTO t (a, key) VALUES (1, 2) ON CONFLICT (a, key) DO UPDATE SET value = excluded.value"
        );
        let mut my = Sql::new(Dialect::MySql, "INSERT INTO t (a) VALUES (1)");
        my.on_conflict_ignore("(a)");
        assert_eq!(my.text, "INSERT IGNORE INTO t (a) VALUES (1)");
        let mut my = Sql::new(Dialect::MySql, "INSERT INTO t (a, v) VALUES (1, 2)");
        my.on_conflict_update("(a)", &["v"]);
        assert_eq!(my.text, "INSERT INTO t (a, v) VALUES (1, 2) ON DUPLICATE KEY UPDATE v = VALUES(v)");
    }
}
