//! Accounts: roles, passwords (argon2), sessions and API bearer tokens. Secrets are random
//! 256-bit values; only their SHA-256 is stored, so a leaked database leaks no usable token.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::{users, Store};
use crate::domain::ids::{TokenId, UserId};
use crate::domain::{catalog, now_ms};
use crate::error::{Error, FieldErrors, Problem, Result};

/// What an account may do. Admins run the instance, sellers run shops, members buy and follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Seller,
    Member,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" => Some(Role::Admin),
            "seller" => Some(Role::Seller),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Seller => "seller",
            Role::Member => "member",
        }
    }
    /// Admins and sellers may open shops.
    pub fn can_open_shops(self) -> bool {
        matches!(self, Role::Admin | Role::Seller)
    }
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub created_at: i64,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// Web sessions last 30 days.
pub const SESSION_TTL_MS: i64 = 30 * 24 * 3600 * 1000;

pub struct NewUser {
    pub username: String,
    pub display_name: Option<String>,
    pub password: String,
    /// The password typed a second time, when the form asks for it.
    pub password_confirm: Option<String>,
    pub role: Role,
}

/// Creates an account. The username shares one namespace with shop handles, because both
/// become `@name@host` actors.
pub async fn create_user(store: &Store, input: NewUser) -> Result<User> {
    let mut errors = FieldErrors::new();
    let username = catalog::validate::handle(&mut errors, "username", &input.username);
    let display_name = crate::domain::text::check(
        &mut errors,
        "display_name",
        input.display_name.as_deref().unwrap_or(""),
        0,
        100,
        false,
    );
    let pw_len = input.password.chars().count();
    if pw_len < MIN_PASSWORD_CHARS {
        errors.add(
            "password",
            Problem::TooShort {
                min: MIN_PASSWORD_CHARS,
            },
        );
    } else if pw_len > MAX_PASSWORD_CHARS {
        errors.add(
            "password",
            Problem::TooLong {
                max: MAX_PASSWORD_CHARS,
            },
        );
    }
    errors.into_result()?;
    let username = username.expect("validated");
    let display_name = display_name
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| username.clone());
    let hash = hash_password(input.password).await?;
    let user = User {
        id: UserId::new(),
        username,
        display_name,
        role: input.role,
        created_at: now_ms(),
    };
    let mut tx = store.begin().await?;
    users::insert(&mut tx, &user, &hash).await?;
    tx.commit().await?;
    Ok(user)
}

/// Creates the first admin, but only while no admin exists (the first-run page).
pub async fn create_first_admin(store: &Store, mut input: NewUser) -> Result<User> {
    input.role = Role::Admin;
    if users::admin_exists(store).await? {
        return Err(Error::forbidden(
            "this instance already has an administrator",
        ));
    }
    create_user(store, input).await
}

/// Whether the instance has an administrator yet (the first-run page is open until it has).
pub async fn admin_exists(store: &Store) -> Result<bool> {
    users::admin_exists(store).await
}

/// Every account, by username.
/// An account by username (case-insensitive, as usernames are stored lower-case).
pub async fn user_by_username(store: &Store, username: &str) -> Result<Option<User>> {
    users::by_username(store, &username.trim().to_ascii_lowercase()).await
}

pub async fn list_users(store: &Store) -> Result<Vec<User>> {
    users::list(store).await
}

/// Checks a username and password. Unknown users cost the same time as wrong passwords.
pub async fn authenticate(store: &Store, username: &str, password: &str) -> Result<User> {
    let found = users::by_username_with_hash(store, &username.trim().to_ascii_lowercase()).await?;
    let (user, hash) = match found {
        Some((u, h)) => (Some(u), h),
        None => (None, dummy_hash().to_string()),
    };
    let ok = verify_password(password.to_string(), hash).await?;
    match user {
        Some(u) if ok => Ok(u),
        _ => Err(Error::unauthorized("wrong username or password")),
    }
}

async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(Error::internal)?
    .map_err(|e| Error::internal(anyhow::anyhow!("argon2: {e}")))
}

async fn verify_password(password: String, hash: String) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .map_err(Error::internal)
}

fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"not a real password", &salt)
            .expect("hash")
            .to_string()
    })
}

/// A new random secret, URL-safe base64 of 32 bytes.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What we store in place of a secret.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Starts a web session; returns the cookie secret.
pub async fn start_session(store: &Store, user: &User) -> Result<String> {
    let secret = new_secret();
    let now = now_ms();
    users::insert_session(
        store,
        &secret_hash(&secret),
        &user.id,
        now,
        now + SESSION_TTL_MS,
    )
    .await?;
    Ok(secret)
}

pub async fn session_user(store: &Store, secret: &str) -> Result<Option<User>> {
    users::session_user(store, &secret_hash(secret), now_ms()).await
}

pub async fn end_session(store: &Store, secret: &str) -> Result<()> {
    users::delete_session(store, &secret_hash(secret)).await
}

/// Issues an API bearer token for a user; returns the secret, shown once.
pub async fn issue_token(store: &Store, username: &str, label: &str) -> Result<String> {
    let user = users::by_username(store, &username.trim().to_ascii_lowercase())
        .await?
        .ok_or_else(|| Error::not_found("user"))?;
    let secret = new_secret();
    users::insert_token(
        store,
        &TokenId::new(),
        &user.id,
        &secret_hash(&secret),
        label,
        now_ms(),
    )
    .await?;
    Ok(secret)
}

pub async fn token_user(store: &Store, secret: &str) -> Result<Option<User>> {
    users::token_user(store, &secret_hash(secret)).await
}

/// Deletes expired web sessions; returns how many.
pub async fn purge_expired_sessions(store: &Store) -> Result<u64> {
    users::delete_expired_sessions(store, now_ms()).await
}
