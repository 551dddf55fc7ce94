//! Typed settings. Load order: defaults -> TOML file -> `FEDISHOP_*` environment -> command-line
//! flags, then `validate()`. Nothing else in the crate reads the environment.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// Every setting the server knows, with its default.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Public host[:port] of this instance, e.g. `shop.example` or `localhost:8080`.
    pub domain: String,
    /// Address the HTTP server listens on.
    pub bind: SocketAddr,
    /// Directory for the SQLite file and uploaded media.
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`. `None` = `data_dir/fedishop.db`.
    pub database_url: Option<String>,
    /// Whether anybody may sign up as a member from the web.
    pub open_registrations: bool,
    /// Largest accepted upload in bytes.
    pub max_upload_bytes: usize,
    /// Connections in the database pool.
    pub db_max_connections: u32,
    /// A reverse proxy in front appends the client address to `X-Forwarded-For`; trust it for
    /// per-client rate limits. Leave off when clients reach the server directly.
    pub behind_proxy: bool,
    /// Local federation for tests and demos: allow plain http, explicit ports and loopback /
    /// private addresses in remote URLs. Never on in production.
    pub dev_federation: bool,
    /// Require a valid HTTP signature on ActivityPub GETs of actors and objects (the instance
    /// actor stays public), like Mastodon's AUTHORIZED_FETCH.
    pub authorized_fetch: bool,
    /// Deliveries in flight at once, over all destination instances.
    pub delivery_concurrency: usize,
    /// Deliveries in flight at once to one destination instance.
    pub delivery_per_host: usize,
    /// Activities per second one remote instance may post to our inboxes (a burst of ten
    /// seconds' worth is allowed); more are answered 429 with Retry-After. 0 = no limit.
    pub inbox_rate_limit: u32,
    /// When set, `/metrics` requires `Authorization: Bearer <token>`.
    pub metrics_token: Option<String>,
    /// How order mails leave: written as `.eml` files under `data_dir/mail` (the default),
    /// only noted in the log (subject, never the recipient), or sent over SMTP.
    pub mail_transport: MailTransport,
    /// `From:` of order mails. Default `fedishop <noreply@{domain host}>`.
    pub mail_from: Option<String>,
    /// Days a closed order keeps the buyer's address and contact before they are erased.
    pub order_retention_days: i64,
}

/// Where order mails go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailTransport {
    /// `data_dir/mail/<id>.eml`, one RFC 5322 file per message.
    File,
    /// A log line per message (subject only): for instances that send no mail.
    Log,
    /// An SMTP relay: `smtps://user:pass@host:465` or `smtp://host:587?tls=required`.
    Smtp(String),
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            domain: "localhost:8080".into(),
            bind: "127.0.0.1:8080".parse().expect("valid default bind"),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            open_registrations: false,
            max_upload_bytes: 10 * 1024 * 1024,
            db_max_connections: 8,
            behind_proxy: false,
            dev_federation: false,
            authorized_fetch: false,
            delivery_concurrency: 128,
            delivery_per_host: 4,
            inbox_rate_limit: 100,
            metrics_token: None,
            mail_transport: MailTransport::File,
            mail_from: None,
            order_retention_days: 365,
        }
    }
}

/// The TOML file: every key optional, same names as the env vars without the prefix, lowercase.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    pub domain: Option<String>,
    pub bind: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub open_registrations: Option<bool>,
    pub max_upload_bytes: Option<usize>,
    pub db_max_connections: Option<u32>,
    pub behind_proxy: Option<bool>,
    pub dev_federation: Option<bool>,
    pub authorized_fetch: Option<bool>,
    pub delivery_concurrency: Option<usize>,
    pub delivery_per_host: Option<usize>,
    pub inbox_rate_limit: Option<u32>,
    pub metrics_token: Option<String>,
    pub mail_transport: Option<String>,
    pub smtp_url: Option<String>,
    pub mail_from: Option<String>,
    pub order_retention_days: Option<i64>,
}

/// Values given as command-line flags (highest precedence).
#[derive(Debug, Default, Clone)]
pub struct FlagSettings {
    pub domain: Option<String>,
    pub bind: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
}

impl Settings {
    /// Builds settings from an optional TOML file, an environment lookup and flags.
    /// `env` is a function so tests can pass a map instead of the process environment.
    pub fn load(
        file: Option<&std::path::Path>,
        env: impl Fn(&str) -> Option<String>,
        flags: &FlagSettings,
    ) -> anyhow::Result<Settings> {
        let mut s = Settings::default();
        let mut bind: Option<String> = None;
        let mut mail: Option<String> = None;
        let mut smtp_url: Option<String> = None;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
            let f: FileSettings = toml::from_str(&text)
                .map_err(|e| anyhow::anyhow!("invalid config file {}: {e}", path.display()))?;
            if let Some(v) = f.domain {
                s.domain = v;
            }
            bind = f.bind.or(bind);
            if let Some(v) = f.data_dir {
                s.data_dir = v;
            }
            s.database_url = f.database_url.or(s.database_url);
            if let Some(v) = f.open_registrations {
                s.open_registrations = v;
            }
            if let Some(v) = f.max_upload_bytes {
                s.max_upload_bytes = v;
            }
            if let Some(v) = f.db_max_connections {
                s.db_max_connections = v;
            }
            if let Some(v) = f.behind_proxy {
                s.behind_proxy = v;
            }
            if let Some(v) = f.dev_federation {
                s.dev_federation = v;
            }
            if let Some(v) = f.authorized_fetch {
                s.authorized_fetch = v;
            }
            if let Some(v) = f.delivery_concurrency {
                s.delivery_concurrency = v;
            }
            if let Some(v) = f.delivery_per_host {
                s.delivery_per_host = v;
            }
            if let Some(v) = f.inbox_rate_limit {
                s.inbox_rate_limit = v;
            }
            s.metrics_token = f.metrics_token.or(s.metrics_token);
            mail = f.mail_transport.or(mail);
            smtp_url = f.smtp_url.or(smtp_url);
            s.mail_from = f.mail_from.or(s.mail_from);
            if let Some(v) = f.order_retention_days {
                s.order_retention_days = v;
            }
        }
        let env = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        if let Some(v) = env("FEDISHOP_DOMAIN") {
            s.domain = v;
        }
        if let Some(v) = env("FEDISHOP_BIND") {
            bind = Some(v);
        }
        if let Some(v) = env("FEDISHOP_DATA_DIR") {
            s.data_dir = v.into();
        }
        if let Some(v) = env("FEDISHOP_DATABASE_URL") {
            s.database_url = Some(v);
        }
        if let Some(v) = env("FEDISHOP_OPEN_REGISTRATIONS") {
            s.open_registrations = parse_bool("FEDISHOP_OPEN_REGISTRATIONS", &v)?;
        }
        if let Some(v) = env("FEDISHOP_MAX_UPLOAD_BYTES") {
            s.max_upload_bytes = v.parse().map_err(|_| {
                anyhow::anyhow!("FEDISHOP_MAX_UPLOAD_BYTES must be a number of bytes")
            })?;
        }
        if let Some(v) = env("FEDISHOP_DB_MAX_CONNECTIONS") {
            s.db_max_connections = v
                .parse()
                .map_err(|_| anyhow::anyhow!("FEDISHOP_DB_MAX_CONNECTIONS must be a number"))?;
        }
        if let Some(v) = env("FEDISHOP_BEHIND_PROXY") {
            s.behind_proxy = parse_bool("FEDISHOP_BEHIND_PROXY", &v)?;
        }
        if let Some(v) = env("FEDISHOP_DEV_FEDERATION") {
            s.dev_federation = parse_bool("FEDISHOP_DEV_FEDERATION", &v)?;
        }
        if let Some(v) = env("FEDISHOP_AUTHORIZED_FETCH") {
            s.authorized_fetch = parse_bool("FEDISHOP_AUTHORIZED_FETCH", &v)?;
        }
        if let Some(v) = env("FEDISHOP_DELIVERY_CONCURRENCY") {
            s.delivery_concurrency = parse_number("FEDISHOP_DELIVERY_CONCURRENCY", &v)?;
        }
        if let Some(v) = env("FEDISHOP_DELIVERY_PER_HOST") {
            s.delivery_per_host = parse_number("FEDISHOP_DELIVERY_PER_HOST", &v)?;
        }
        if let Some(v) = env("FEDISHOP_INBOX_RATE_LIMIT") {
            s.inbox_rate_limit = parse_number("FEDISHOP_INBOX_RATE_LIMIT", &v)?;
        }
        if let Some(v) = env("FEDISHOP_METRICS_TOKEN") {
            s.metrics_token = Some(v);
        }
        if let Some(v) = env("FEDISHOP_MAIL_TRANSPORT") {
            mail = Some(v);
        }
        if let Some(v) = env("FEDISHOP_SMTP_URL") {
            smtp_url = Some(v);
        }
        if let Some(v) = env("FEDISHOP_MAIL_FROM") {
            s.mail_from = Some(v);
        }
        if let Some(v) = env("FEDISHOP_ORDER_RETENTION_DAYS") {
            s.order_retention_days = parse_number("FEDISHOP_ORDER_RETENTION_DAYS", &v)?;
        }
        s.mail_transport = match (mail.as_deref().map(str::trim), smtp_url) {
            (None | Some("file"), None) => MailTransport::File,
            (Some("log"), None) => MailTransport::Log,
            (None | Some("smtp"), Some(url)) => MailTransport::Smtp(url),
            (Some("smtp"), None) => {
                anyhow::bail!("FEDISHOP_MAIL_TRANSPORT=smtp needs FEDISHOP_SMTP_URL")
            }
            (Some("file" | "log"), Some(_)) => {
                anyhow::bail!("FEDISHOP_SMTP_URL is set but FEDISHOP_MAIL_TRANSPORT is not smtp")
            }
            (Some(other), _) => {
                anyhow::bail!("FEDISHOP_MAIL_TRANSPORT must be file, log or smtp (got {other:?})")
            }
        };
        if let Some(v) = &flags.domain {
            s.domain = v.clone();
        }
        if let Some(v) = &flags.bind {
            bind = Some(v.clone());
        }
        if let Some(v) = &flags.data_dir {
            s.data_dir = v.clone();
        }
        if let Some(v) = &flags.database_url {
            s.database_url = Some(v.clone());
        }
        if let Some(b) = bind {
            s.bind = b.parse().map_err(|_| {
                anyhow::anyhow!("bind address {b:?} is not host:port (e.g. 127.0.0.1:8080)")
            })?;
        }
        s.validate()?;
        Ok(s)
    }

    /// Checks values that parsing alone cannot.
    pub fn validate(&self) -> anyhow::Result<()> {
        let d = &self.domain;
        let host_ok = !d.is_empty()
            && d.len() <= 253
            && d.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
            && !d.starts_with(['.', '-', ':']);
        if !host_ok {
            anyhow::bail!("FEDISHOP_DOMAIN {d:?} must be a host name with an optional port, like shop.example or localhost:8080");
        }
        if self.max_upload_bytes < 1024 {
            anyhow::bail!("FEDISHOP_MAX_UPLOAD_BYTES must be at least 1024");
        }
        if self.db_max_connections == 0 {
            anyhow::bail!("FEDISHOP_DB_MAX_CONNECTIONS must be at least 1");
        }
        if !(1..=4096).contains(&self.delivery_concurrency) {
            anyhow::bail!("FEDISHOP_DELIVERY_CONCURRENCY must be between 1 and 4096");
        }
        if !(1..=64).contains(&self.delivery_per_host) {
            anyhow::bail!("FEDISHOP_DELIVERY_PER_HOST must be between 1 and 64");
        }
        if !(1..=3650).contains(&self.order_retention_days) {
            anyhow::bail!("FEDISHOP_ORDER_RETENTION_DAYS must be between 1 and 3650");
        }
        if let MailTransport::Smtp(url) = &self.mail_transport {
            crate::mail::check_smtp_url(url)
                .map_err(|e| anyhow::anyhow!("FEDISHOP_SMTP_URL is not usable: {e}"))?;
        }
        if let Some(from) = &self.mail_from {
            crate::mail::check_from(from)
                .map_err(|e| anyhow::anyhow!("FEDISHOP_MAIL_FROM is not a mailbox: {e}"))?;
        }
        if let Some(url) = &self.database_url {
            if !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
            {
                anyhow::bail!(
                    "FEDISHOP_DATABASE_URL must start with sqlite:, postgres:// or postgresql://"
                );
            }
        }
        Ok(())
    }

    /// The database URL actually used: the configured one, or a SQLite file in the data dir.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(u) => u.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("fedishop.db").display()
            ),
        }
    }

    /// `http` for loopback development hosts, `https` for everything else.
    pub fn scheme(&self) -> &'static str {
        let host = self
            .domain
            .rsplit_once(':')
            .map_or(self.domain.as_str(), |(h, p)| {
                if p.chars().all(|c| c.is_ascii_digit()) {
                    h
                } else {
                    &self.domain
                }
            });
        if host == "localhost"
            || host.ends_with(".localhost")
            || host.starts_with("127.")
            || host == "[::1]"
        {
            "http"
        } else {
            "https"
        }
    }

    /// `scheme://domain` without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme(), self.domain)
    }

    /// Where the file mail transport writes messages.
    pub fn mail_dir(&self) -> PathBuf {
        self.data_dir.join("mail")
    }

    /// Where uploaded media files live.
    pub fn media_dir(&self) -> PathBuf {
        self.data_dir.join("media")
    }
}

fn parse_number<T: std::str::FromStr>(key: &str, v: &str) -> anyhow::Result<T> {
    v.trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("{key} must be a whole number"))
}

fn parse_bool(key: &str, v: &str) -> anyhow::Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => anyhow::bail!("{key} must be true or false"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn defaults_match_the_contract() {
        let s = Settings::load(None, env_of(&[]), &FlagSettings::default()).unwrap();
        assert_eq!(s.domain, "localhost:8080");
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.data_dir, PathBuf::from("./data"));
        assert!(s
            .effective_database_url()
            .starts_with("sqlite://./data/fedishop.db"));
        assert_eq!(s.base_url(), "http://localhost:8080");
    }

    #[test]
    fn file_then_env_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.toml");
        std::fs::write(
            &path,
            "domain = \"file.example\"\nbind = \"127.0.0.1:1\"\ndata_dir = \"/tmp/x\"\n",
        )
        .unwrap();
        let s = Settings::load(
            Some(&path),
            env_of(&[
                ("FEDISHOP_BIND", "127.0.0.1:2"),
                ("FEDISHOP_DATA_DIR", "/tmp/y"),
            ]),
            &FlagSettings {
                data_dir: Some("/tmp/z".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(s.domain, "file.example");
        assert_eq!(s.bind.port(), 2);
        assert_eq!(s.data_dir, PathBuf::from("/tmp/z"));
        assert_eq!(s.base_url(), "https://file.example");
    }

    #[test]
    fn bad_values_are_refused_with_the_setting_name() {
        let e = Settings::load(
            None,
            env_of(&[("FEDISHOP_BIND", "nope")]),
            &FlagSettings::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("bind"));
        let e = Settings::load(
            None,
            env_of(&[("FEDISHOP_DOMAIN", "bad domain/")]),
            &FlagSettings::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("FEDISHOP_DOMAIN"));
        let e = Settings::load(
            None,
            env_of(&[("FEDISHOP_DATABASE_URL", "mysql://x")]),
            &FlagSettings::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("FEDISHOP_DATABASE_URL"));
    }

    #[test]
    fn unknown_file_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.toml");
        std::fs::write(&path, "domian = \"typo\"\n").unwrap();
        assert!(Settings::load(Some(&path), env_of(&[]), &FlagSettings::default()).is_err());
    }
}
