//! THE only SQL. `Store` wraps one connection pool, SQLite or PostgreSQL, chosen at runtime
//! from the database URL. Queries are runtime-typed and written once with `$1` placeholders,
//! which both backends accept; the few dialect differences live in `dialect.rs`.
//! One file per aggregate. Imports no axum and nothing from `web`, `api` or `federation`.

pub mod actor_keys;
pub mod checkout;
pub mod deliveries;
pub mod dialect;
pub mod follows;
pub mod images;
pub mod inbox;
pub mod instances;
pub mod mail;
pub mod orders;
pub mod outbox;
pub mod products;
pub mod queue_stats;
pub mod reactions;
pub mod remote_actors;
pub mod remote_orders;
pub mod remote_products;
pub mod shops;
pub mod users;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

use crate::error::{Error, Result};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Which database a store talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database handle every service takes. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite has one write lock; writers that take a turn here queue for it in order instead
    /// of polling with `busy_timeout`'s growing sleeps (which cost tens of milliseconds under
    /// contention). Shared by every clone of the store.
    write_gate: std::sync::Arc<tokio::sync::Mutex<()>>,
}

pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

impl Store {
    /// Opens a pool. For SQLite the file is created if missing and the connection is tuned
    /// (WAL, busy timeout, foreign keys, NORMAL sync).
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let options = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // Per connection. The journal mode is a property of the file, set
                        // once below: asking for it on every new connection needs a lock
                        // and fails with "database is locked" while others write.
                        conn.execute(
                            "PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        if backend == Backend::Sqlite {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        Ok(Store {
            pool,
            backend,
            write_gate: Default::default(),
        })
    }

    /// Applies the migrations of this backend that are not yet applied.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// Waits for this process's turn at SQLite's write lock (hold the guard until the write
    /// transaction ends); PostgreSQL needs no turn. For writers that contend: the inbox, orders.
    pub async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.backend {
            Backend::Sqlite => Some(self.write_gate.lock().await),
            Backend::Postgres => None,
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// `true` when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Starts a write transaction. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so a transaction that reads and then writes waits for other writers
    /// (busy_timeout) instead of failing when it upgrades its lock.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match dialect::begin_write(self.backend) {
            Some(statement) => self.pool.begin_with(statement).await?,
            None => self.pool.begin().await?,
        })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Table name -> sorted column names, for the test that both backends have the same schema.
    pub async fn schema(&self) -> Result<Vec<(String, Vec<String>)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(dialect::schema_query(self.backend))
            .fetch_all(&self.pool)
            .await?;
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for (table, column) in rows {
            if table.starts_with("_sqlx") {
                continue;
            }
            match out.last_mut() {
                Some((t, cols)) if *t == table => cols.push(column),
                _ => out.push((table, vec![column])),
            }
        }
        for (_, cols) in &mut out {
            cols.sort();
        }
        Ok(out)
    }
}

/// A unique-constraint violation becomes `Conflict`; anything else is internal.
pub(crate) fn unique_to_conflict(e: sqlx::Error, message: &str) -> Error {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => Error::conflict(message),
        _ => Error::internal(e),
    }
}

/// The backend a connection (or transaction) talks to.
pub(crate) fn backend_of(conn: &sqlx::AnyConnection) -> Backend {
    if conn.backend_name() == <sqlx::Sqlite as sqlx::Database>::NAME {
        Backend::Sqlite
    } else {
        Backend::Postgres
    }
}

/// Builds `$start, $start+1, ...` for an `IN (...)` list of `n` values.
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}
