//! One integration-test binary. Every test runs against a real instance on loopback with its
//! own database: SQLite by default, PostgreSQL when `FEDISHOP_TEST_POSTGRES_URL` is set.

mod api_products;
mod api_shops;
mod cli;
mod delivery;
mod discovery;
mod durability;
mod federated_orders;
mod federation;
mod inbox;
mod inbox_queue;
mod media;
mod ops;
mod orders;
mod schema;
mod support;
mod web;
mod web_orders;
mod web_remote_orders;
mod web_social;
