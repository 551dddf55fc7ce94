//! THE business rules: accounts, catalog, media, money. Services take a `db::Store` and
//! enforce validation, authorisation and limits for every caller (web form, JSON API, and later
//! the federation inbox). Imports no axum and no activitypub_federation.

pub mod accounts;
pub mod catalog;
pub mod delivery;
pub mod events;
pub mod ids;
pub mod images;
pub mod markdown;
pub mod media;
pub mod money;
pub mod orders;
pub mod social;
pub mod text;

/// Milliseconds since the Unix epoch, UTC. Every stored timestamp uses this unit.
pub fn now_ms() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64 / 1_000_000
}

/// RFC 3339 rendering of a stored timestamp.
pub fn rfc3339(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
