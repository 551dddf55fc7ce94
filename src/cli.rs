//! The command line: `serve`, `migrate`, `user add`, `token issue`, `demo`. Global flags override the
//! config file and the `FEDISHOP_*` environment.

use std::io::Read;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{FlagSettings, Settings};
use crate::domain::accounts::{self, NewUser, Role};
use crate::server;

#[derive(Parser, Debug)]
#[command(
    name = "fedishop",
    version,
    about = "A self-hosted, federated shop server"
)]
pub struct Cli {
    /// TOML settings file (also FEDISHOP_CONFIG). Without it, ./fedishop.toml is read if present.
    #[arg(long, global = true, env = "FEDISHOP_CONFIG")]
    pub config: Option<PathBuf>,
    /// Public host[:port] (FEDISHOP_DOMAIN).
    #[arg(long, global = true)]
    pub domain: Option<String>,
    /// Listen address (FEDISHOP_BIND).
    #[arg(long, global = true)]
    pub bind: Option<String>,
    /// Data directory (FEDISHOP_DATA_DIR).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// sqlite:// or postgres:// URL (FEDISHOP_DATABASE_URL).
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (applies pending migrations first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API bearer tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Start three local instances that federate with each other, with sample shops,
    /// products, members and follows (on localhost:PORT, PORT+1, PORT+2).
    Demo {
        #[arg(long, default_value_t = 8181)]
        base_port: u16,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account; the password is read from standard input.
    Add {
        username: String,
        #[arg(long, value_parser = ["admin", "seller", "member"], default_value = "member")]
        role: String,
        /// Name shown on pages (defaults to the username).
        #[arg(long)]
        display_name: Option<String>,
    },
    /// List accounts.
    List,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Issue a bearer token for USERNAME and print only the token.
    Issue {
        username: String,
        /// A note to recognise the token by.
        #[arg(long, default_value = "cli")]
        label: String,
    },
}

impl Cli {
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let default_file = PathBuf::from("fedishop.toml");
        let file = self
            .config
            .clone()
            .or_else(|| default_file.exists().then_some(default_file));
        let flags = FlagSettings {
            domain: self.domain.clone(),
            bind: self.bind.clone(),
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
        };
        Settings::load(file.as_deref(), |k| std::env::var(k).ok(), &flags)
    }
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = cli.settings()?;
    match cli.command {
        Command::Serve => serve(settings).await,
        Command::Demo { base_port } => crate::demo::run(base_port).await,
        Command::Migrate => {
            let store = server::open_store(&settings).await?;
            store.close().await;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Add {
                    username,
                    role,
                    display_name,
                },
        } => {
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password)?;
            let password = password.trim_end_matches(['\n', '\r']).to_string();
            let store = server::open_store(&settings).await?;
            let role = Role::parse(&role).expect("clap checked the role");
            let user = accounts::create_user(
                &store,
                NewUser {
                    username,
                    display_name,
                    password,
                    password_confirm: None,
                    role,
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            store.close().await;
            eprintln!("created {} {}", user.role.as_str(), user.username);
            Ok(())
        }
        Command::User {
            command: UserCommand::List,
        } => {
            let store = server::open_store(&settings).await?;
            for u in accounts::list_users(&store).await? {
                println!("{}\t{}\t{}", u.username, u.role.as_str(), u.display_name);
            }
            store.close().await;
            Ok(())
        }
        Command::Token {
            command: TokenCommand::Issue { username, label },
        } => {
            let store = server::open_store(&settings).await?;
            let token = accounts::issue_token(&store, &username, &label)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            store.close().await;
            println!("{token}");
            Ok(())
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let store = server::open_store(&settings).await?;
    let listener = tokio::net::TcpListener::bind(settings.bind)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.bind))?;
    let url = settings.base_url();
    let db = match store.backend() {
        crate::db::Backend::Sqlite => format!("SQLite in {}", settings.data_dir.display()),
        crate::db::Backend::Postgres => "PostgreSQL".to_string(),
    };
    let needs_admin = !accounts::admin_exists(&store).await?;
    tracing::info!(bind = %settings.bind, %url, "listening");
    println!(
        "fedishop is running at {url} (listening on {}, {db})",
        settings.bind
    );
    if needs_admin {
        println!(
            "No administrator yet: open {url}/setup, or run `fedishop user add NAME --role admin`."
        );
    }
    let janitor_store = store.clone();
    tokio::spawn(async move {
        let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every_hour.tick().await;
            match accounts::purge_expired_sessions(&janitor_store).await {
                Ok(n) if n > 0 => tracing::info!(removed = n, "expired sessions removed"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not remove expired sessions"),
            }
        }
    });
    server::serve(
        listener,
        server::AppState::new(store, settings),
        server::shutdown_signal(),
    )
    .await
}
