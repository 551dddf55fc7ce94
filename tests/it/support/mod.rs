//! Test harness: `TestApp` spawns a whole instance on 127.0.0.1:0 with a fresh database —
//! a SQLite file in a temp dir, or, when `FEDISHOP_TEST_POSTGRES_URL` is set, a fresh
//! PostgreSQL database created for this test alone.

#![allow(dead_code)]

pub mod browser;
pub mod fake_instance;
pub mod orders;

use std::net::SocketAddr;

use fedishop::config::Settings;
use fedishop::domain::accounts::{self, NewUser, Role, User};
use fedishop::server::{self, AppState};
use reqwest::StatusCode;
use serde_json::Value;

pub struct TestApp {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub state: AppState,
    pub database_url: String,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

/// The PostgreSQL server to test against, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("FEDISHOP_TEST_POSTGRES_URL")
        .ok()
        .filter(|s| !s.trim().is_empty())
}

/// Creates an empty PostgreSQL database and returns its URL.
pub async fn fresh_postgres_database(admin_url: &str) -> String {
    use sqlx::Connection;
    let name = format!("fedishop_test_{}", uuid_simple());
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("connect to FEDISHOP_TEST_POSTGRES_URL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    conn.close().await.ok();
    let mut url = url::Url::parse(admin_url).expect("postgres url");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

fn uuid_simple() -> String {
    fedishop::domain::ids::ImageId::new()
        .as_str()
        .replace('-', "")
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Spawns with settings adjusted by `tweak`.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().unwrap();
        let database_url = match postgres_url() {
            Some(admin) => fresh_postgres_database(&admin).await,
            None => format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("fedishop.db").display()
            ),
        };
        let mut settings = Settings {
            domain: format!("127.0.0.1:{}", addr.port()),
            bind: addr,
            data_dir: dir.path().to_path_buf(),
            database_url: Some(database_url.clone()),
            ..Settings::default()
        };
        tweak(&mut settings);
        settings.validate().expect("valid test settings");
        let store = server::open_store(&settings).await.expect("open store");
        let state = AppState::new(store, settings);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let serve_state = state.clone();
        tokio::spawn(async move {
            server::serve(listener, serve_state, async {
                let _ = rx.await;
            })
            .await
            .expect("server");
        });
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .unwrap();
        TestApp {
            addr,
            base: format!("http://{addr}"),
            state,
            database_url,
            client,
            dir,
            shutdown: Some(tx),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Creates an account directly through the domain and issues it an API token.
    pub async fn user(&self, name: &str, role: Role) -> (User, String) {
        let user = accounts::create_user(
            &self.state.store,
            NewUser {
                username: name.into(),
                display_name: None,
                password: "correct horse battery".into(),
                password_confirm: None,
                role,
            },
        )
        .await
        .expect("create user");
        let token = accounts::issue_token(&self.state.store, name, "test")
            .await
            .expect("token");
        (user, token)
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, json)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.send(reqwest::Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::PATCH, path, token, Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.send(reqwest::Method::DELETE, path, token, None).await
    }

    /// A seller with a shop `handle`; returns the seller's token.
    pub async fn seller_with_shop(&self, username: &str, handle: &str) -> String {
        let (_, token) = self.user(username, Role::Seller).await;
        let (status, body) = self
            .post(
                "/api/v1/shops",
                Some(&token),
                serde_json::json!({"handle": handle, "name": "Shop", "summary": ""}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        token
    }

    /// Creates a published product and returns its JSON.
    pub async fn product(&self, token: &str, handle: &str, body: Value) -> Value {
        let (status, json) = self
            .post(
                &format!("/api/v1/shops/{handle}/products"),
                Some(token),
                body,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{json}");
        json
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A small valid PNG, `w`×`h`, one colour.
pub fn png(w: u32, h: u32, rgb: [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(w, h, image::Rgb(rgb));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

impl TestApp {
    /// An instance that federates with others on loopback (`FEDISHOP_DEV_FEDERATION`).
    pub async fn spawn_federating() -> TestApp {
        Self::spawn_with(|s| s.dev_federation = true).await
    }

    /// `host:port` of this instance, as in `@name@host:port`.
    pub fn domain(&self) -> String {
        self.state.settings.domain.clone()
    }
}

/// Polls `check` until it returns `Some` (every 50 ms, at most 15 s); panics with `what`.
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    eventually_within(what, std::time::Duration::from_secs(15), check).await
}

/// Polls `check` until it returns `Some` (every 50 ms, at most `limit`); panics with `what`.
pub async fn eventually_within<T, F, Fut>(what: &str, limit: std::time::Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
