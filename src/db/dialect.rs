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
