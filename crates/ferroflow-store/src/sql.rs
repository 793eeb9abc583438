//! Building SQL text and its arguments together, so one query body serves every database.
//!
//! Placeholders are written with [`Sql::arg`], which emits `?` or `$n` depending on the dialect, and the
//! few statements whose syntax differs between engines ask the [`Dialect`] for their spelling: upserts
//! ([`Sql::on_conflict_ignore`], [`Sql::on_conflict_update`]) and lists bound as one JSON value. On MySQL
//! the column names that are reserved words there (`key`, `schema`) are quoted as they are written.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, Database, Encode, Type};

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

/// The most items an `IN` list binds one by one; longer lists are bound as one JSON array.
const LIST_PLACEHOLDERS_MAX: usize = 16;

/// The items of an `IN` list: each as an argument, all as one JSON array, and the length of the
/// longest (`None` for integers).
struct Members {
    items: Vec<Arg>,
    json: String,
    max_chars: Option<usize>,
}

impl Members {
    fn text<'a>(items: impl IntoIterator<Item = &'a String>) -> Self {
        let items: Vec<&String> = items.into_iter().collect();
        let max_chars = items.iter().map(|item| item.chars().count()).max().unwrap_or(0);
        Self {
            json: serde_json::to_string(&items).unwrap_or_else(|_| "[]".to_owned()),
            items: items.into_iter().map(|item| Arg::Text(item.clone())).collect(),
            max_chars: Some(max_chars),
        }
    }

    fn ints(ids: &[i64]) -> Self {
        Self {
            items: ids.iter().map(|id| Arg::Int(*id)).collect(),
            json: serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned()),
            max_chars: None,
        }
    }
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

    /// Appends `column IN (items)`. The items are bound as one JSON array, so a list of any length
    /// costs one parameter (engines cap the number of bound parameters).
    pub fn in_list<'a>(&mut self, column: &str, items: impl IntoIterator<Item = &'a String>) -> &mut Self {
        self.membership(column, false, &Members::text(items))
    }

    /// Appends `column NOT IN (items)`, bound as [`Sql::in_list`] binds.
    pub fn not_in_list<'a>(&mut self, column: &str, items: impl IntoIterator<Item = &'a String>) -> &mut Self {
        self.membership(column, true, &Members::text(items))
    }

    /// Appends `column IN (ids)` for integers, bound as one JSON array.
    pub fn in_ints(&mut self, column: &str, ids: &[i64]) -> &mut Self {
        self.membership(column, false, &Members::ints(ids))
    }

    /// Appends `column NOT IN (ids)` for integers, bound as one JSON array.
    pub fn not_in_ints(&mut self, column: &str, ids: &[i64]) -> &mut Self {
        self.membership(column, true, &Members::ints(ids))
    }

    /// Appends ` AND <the caller may read column>`: nothing for [`Visible::All`], a `NOT IN` or `IN`
    /// list otherwise. With `integers`, ids that are not integers match nothing.
    ///
    /// [`Visible::All`]: ferroflow_auth::Visible::All
    pub fn and_visible(&mut self, column: &str, visible: &ferroflow_auth::Visible, integers: bool) -> &mut Self {
        use ferroflow_auth::Visible;
        let (ids, negated) = match visible {
            Visible::All => return self,
            Visible::AllExcept(ids) => (ids, true),
            Visible::Only(ids) => (ids, false),
        };
        if ids.is_empty() {
            return if negated { self } else { self.push(" AND 1 = 0") };
        }
        self.push(" AND ");
        if integers {
            let ints: Vec<i64> = ids.iter().filter_map(|id| id.parse().ok()).collect();
            if ints.is_empty() {
                return self.push(if negated { "1 = 1" } else { "1 = 0" });
            }
            self.membership(column, negated, &Members::ints(&ints))
        } else {
            self.membership(column, negated, &Members::text(ids))
        }
    }

    /// The membership test, spelled so that each engine's planner can use the index on `column`. A
    /// short list binds each item, which the planners treat as constants (an index range per item, and
    /// estimates from the column's statistics). A longer one is one JSON array, so the statement text
    /// stays the same whatever its length: PostgreSQL compares with `ANY`/`ALL` of an array (an `IN`
    /// over a set-returning function is planned as a hash join over the whole table), and MySQL's
    /// JSON_TABLE column is only as wide as the longest item (MariaDB cannot index a wide temporary
    /// column, and a narrower one than an item would truncate it).
    fn membership(&mut self, column: &str, negated: bool, members: &Members) -> &mut Self {
        self.push(column);
        if (1..=LIST_PLACEHOLDERS_MAX).contains(&members.items.len()) {
            self.push(if negated { " NOT IN (" } else { " IN (" });
            for (i, item) in members.items.iter().enumerate() {
                if i > 0 {
                    self.push(", ");
                }
                self.arg(item.clone());
            }
            return self.push(")");
        }
        match self.dialect {
            Dialect::Sqlite => {
                self.push(if negated { " NOT IN " } else { " IN " });
                self.push("(SELECT value FROM json_each(").arg(members.json.clone()).push("))")
            }
            Dialect::Postgres => {
                self.push(if negated {
                    " <> ALL(ARRAY(SELECT json_array_elements_text("
                } else {
                    " = ANY(ARRAY(SELECT json_array_elements_text("
                });
                let cast = if members.max_chars.is_none() { "::bigint" } else { "" };
                self.arg(members.json.clone()).push(&format!("::json){cast}))"))
            }
            Dialect::MySql => {
                self.push(if negated { " NOT IN (SELECT v FROM " } else { " IN (SELECT v FROM " });
                self.json_table(members, "jt").push(")")
            }
        }
    }

    /// On MySQL: appends a table named `alias` whose column `v` holds the given strings, one row each.
    /// A join with it lets MariaDB look each item up in an index, where `IN` over the same items may
    /// scan the whole index instead.
    pub fn mysql_items_table<'a>(&mut self, items: impl IntoIterator<Item = &'a String>, alias: &str) -> &mut Self {
        self.json_table(&Members::text(items), alias)
    }

    fn json_table(&mut self, members: &Members, alias: &str) -> &mut Self {
        let column_type = match members.max_chars {
            None => "BIGINT",
            Some(0..=32) => "VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
            Some(33..=255) => "VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
            Some(256..=1024) => "VARCHAR(1024) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
            Some(_) => "LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
        };
        self.push("JSON_TABLE(")
            .arg(members.json.clone())
            .push(&format!(", '$[*]' COLUMNS (v {column_type} PATH '$')) AS {alias}"))
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
        self.query_for::<Any>()
    }

    /// The statement with its arguments bound, for any of sqlx's drivers (`Any`, or a native one).
    pub(crate) fn query_for<'q, DB: Database>(&'q self) -> Query<'q, DB, <DB as Database>::Arguments<'q>>
    where
        i64: Encode<'q, DB> + Type<DB>,
        f64: Encode<'q, DB> + Type<DB>,
        &'q str: Encode<'q, DB> + Type<DB>,
        Option<&'q str>: Encode<'q, DB> + Type<DB>,
        Option<i64>: Encode<'q, DB> + Type<DB>,
    {
        let mut query = sqlx::query::<DB>(&self.text);
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
    fn short_lists_bind_each_item() {
        let ids = vec!["0123456789abcdef0123456789abcdef".to_owned(), "fedcba9876543210fedcba9876543210".to_owned()];
        let mut pg = Sql::new(Dialect::Postgres, "SELECT 1 FROM t WHERE ");
        pg.in_list("a", &ids).push(" AND ").not_in_ints("b", &[1, 2]);
        assert_eq!(pg.text, "SELECT 1 FROM t WHERE a IN ($1, $2) AND b NOT IN ($3, $4)");
        assert_eq!(pg.args.len(), 4);
        let mut my = Sql::new(Dialect::MySql, "SELECT 1 FROM t WHERE ");
        my.in_list("k.key", &ids[..1]);
        assert_eq!(my.text, "SELECT 1 FROM t WHERE k.`key` IN (?)");
        // No items: `IN ()` is not SQL, so the empty JSON array stands in.
        let mut lite = Sql::new(Dialect::Sqlite, "");
        lite.in_ints("e", &[]);
        assert_eq!(lite.text, "e IN (SELECT value FROM json_each(?))");
    }

    #[test]
    fn long_lists_bind_one_json_array() {
        let ids: Vec<String> = (0..=LIST_PLACEHOLDERS_MAX).map(|i| format!("{i:032x}")).collect();
        let numbers: Vec<i64> = (0..=LIST_PLACEHOLDERS_MAX as i64).collect();
        let mut pg = Sql::new(Dialect::Postgres, "SELECT 1 FROM t WHERE ");
        pg.in_list("a", &ids).push(" AND ").not_in_ints("b", &numbers);
        assert_eq!(
            pg.text,
            "SELECT 1 FROM t WHERE a = ANY(ARRAY(SELECT json_array_elements_text($1::json))) \
             AND b <> ALL(ARRAY(SELECT json_array_elements_text($2::json)::bigint))"
        );
        let mut my = Sql::new(Dialect::MySql, "SELECT 1 FROM t WHERE ");
        my.in_list("k.key", &ids);
        assert_eq!(
            my.text,
            "SELECT 1 FROM t WHERE k.`key` IN (SELECT v FROM JSON_TABLE(?, '$[*]' COLUMNS (v VARCHAR(32) \
             CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$')) AS jt)"
        );
        // The column is as wide as the longest item, so no item is cut short.
        let mut long = ids.clone();
        long[0] = "x".repeat(2000);
        let mut my = Sql::new(Dialect::MySql, "");
        my.not_in_list("v", &long);
        assert!(my.text.contains("NOT IN (SELECT v FROM JSON_TABLE(?, '$[*]' COLUMNS (v LONGTEXT"), "{}", my.text);
        let mut lite = Sql::new(Dialect::Sqlite, "");
        lite.in_ints("e", &numbers);
        assert_eq!(lite.text, "e IN (SELECT value FROM json_each(?))");
        assert_eq!(lite.args.len(), 1);
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
