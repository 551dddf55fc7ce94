//! Both backends' migrations produce the same tables and columns.

use crate::support::{fresh_postgres_database, postgres_url};

fn migration_names(dir: &str) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
    names.sort();
    names
}

#[tokio::test]
async fn sqlite_and_postgres_migrations_match() {
    assert_eq!(
        migration_names("sqlite"),
        migration_names("postgres"),
        "same numbering and names"
    );

    let dir = tempfile::tempdir().unwrap();
    let sqlite = fedishop::db::Store::connect(
        &format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display()),
        1,
    )
    .await
    .unwrap();
    sqlite.migrate().await.unwrap();
    let sqlite_schema = sqlite.schema().await.unwrap();
    assert!(sqlite_schema.iter().any(|(t, _)| t == "products"));

    let Some(admin) = postgres_url() else {
        eprintln!("FEDISHOP_TEST_POSTGRES_URL not set: compared migration names only");
        return;
    };
    let pg = fedishop::db::Store::connect(&fresh_postgres_database(&admin).await, 1)
        .await
        .unwrap();
    pg.migrate().await.unwrap();
    assert_eq!(sqlite_schema, pg.schema().await.unwrap());
}
