//! Helpers shared by benchmark examples: flags, peak memory, and throw-away PostgreSQL
//! databases. Included with `#[path = "support/mod.rs"] mod support;`.

#![allow(dead_code)]

/// `--name value` from the command line, or `default`.
pub fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Whether `--flag` was given.
pub fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

/// Peak resident memory of this process (VmHWM), MiB.
pub fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

/// Resident memory of this process now (VmRSS), MiB.
pub fn rss_mib() -> f64 {
    status_mib("VmRSS:")
}

fn status_mib(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

/// The PostgreSQL server benchmarks use: `FEDISHOP_BENCH_POSTGRES_URL`, or the local one.
pub fn postgres_admin_url() -> String {
    std::env::var("FEDISHOP_BENCH_POSTGRES_URL")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// Throw-away PostgreSQL databases.
pub mod pg {
    use sqlx::Connection;

    async fn admin(url: &str) -> anyhow::Result<sqlx::PgConnection> {
        Ok(tokio::time::timeout(
            std::time::Duration::from_secs(5),
            sqlx::PgConnection::connect(url),
        )
        .await
        .map_err(|_| anyhow::anyhow!("connection timed out"))??)
    }

    /// Creates a fresh database; returns its URL and name.
    pub async fn create(admin_url: &str, prefix: &str) -> anyhow::Result<(String, String)> {
        let mut conn = admin(admin_url).await?;
        let name = format!("{prefix}_{}", uuid::Uuid::now_v7().simple());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        let mut url = url::Url::parse(admin_url)?;
        url.set_path(&format!("/{name}"));
        Ok((url.to_string(), name))
    }

    pub async fn drop(admin_url: &str, name: &str) -> anyhow::Result<()> {
        let mut conn = admin(admin_url).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Ok(())
    }
}

/// Creates an account with `role` (password "bench password").
pub async fn account(
    store: &fedishop::db::Store,
    username: &str,
    role: fedishop::domain::accounts::Role,
) -> anyhow::Result<fedishop::domain::accounts::User> {
    Ok(fedishop::domain::accounts::create_user(
        store,
        fedishop::domain::accounts::NewUser {
            username: username.into(),
            display_name: None,
            password: "bench password".into(),
            password_confirm: None,
            role,
        },
    )
    .await?)
}

/// A seller `seller` with an empty shop `handle` named `name`.
pub async fn seller_with_shop(
    store: &fedishop::db::Store,
    handle: &str,
    name: &str,
) -> anyhow::Result<(
    fedishop::domain::accounts::User,
    fedishop::domain::catalog::Shop,
)> {
    let seller = account(store, "seller", fedishop::domain::accounts::Role::Seller).await?;
    let shop = fedishop::domain::catalog::service::create_shop(
        store,
        &seller,
        fedishop::domain::catalog::ShopForm {
            handle: handle.into(),
            name: name.into(),
            ..Default::default()
        },
    )
    .await?;
    Ok((seller, shop))
}
