//! fedishop: a self-hosted, federated shop server. See `docs/architecture.md` for the map.
//!
//! `domain` holds the business rules, `db` the only SQL, `web` the HTML pages, `api` the JSON
//! API; `server` wires them into one axum router and `cli` is the command line.

pub mod api;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod federation;
pub mod housekeeping;
pub mod mail;
pub mod metrics;
pub mod server;
pub mod urls;
pub mod web;
