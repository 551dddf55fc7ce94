//! The statements that differ between SQLite and PostgreSQL, in one place.

use super::Backend;

/// Lists (table, column) for every user table, ordered by table.
pub fn schema_query(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid"
        }
        Backend::Postgres => {
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
        }
    }
}

/// The statement that opens a write transaction, when it differs from a plain `BEGIN`.
pub fn begin_write(backend: Backend) -> Option<&'static str> {
    match backend {
        Backend::Sqlite => Some("BEGIN IMMEDIATE"),
        Backend::Postgres => None,
    }
}

/// `n` comma-separated bind markers, the first being number `start`, for statements with many
/// values: `$start, $start+1, …` on PostgreSQL, plain `?` on SQLite. sqlx asks SQLite for the
/// name of every numbered marker and SQLite finds it by scanning all the statement's names,
/// so `$N` markers cost time quadratic in their number (queuing 10,000 deliveries in
/// statements of 3,500 values spent over half a second there); unnamed ones are numbered by
/// position at no cost. A statement must take all its markers from here, in order, and bind
/// its values in that order.
pub fn bulk_markers(backend: Backend, start: usize, n: usize) -> String {
    let mut out = String::with_capacity(n * 6);
    for i in 0..n {
        if i > 0 {
            out.push_str(", ");
        }
        match backend {
            Backend::Sqlite => out.push('?'),
            Backend::Postgres => {
                out.push('$');
                out.push_str(&(start + i).to_string());
            }
        }
    }
    out
}
