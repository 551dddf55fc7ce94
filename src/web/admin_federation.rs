//! Federation operations for admins: the delivery queue in totals and per remote instance
//! (problems first), with "Retry now" and "Retry failed" per instance. Reads and writes
//! through `db::queue_stats`; never shows what was being delivered.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use crate::db::queue_stats::{self, Health, InstanceStats, QueueTotals};
use crate::domain::now_ms;
use crate::error::Error;
use crate::server::AppState;
use crate::web::admin::require_admin;
use crate::web::ctx::Visitor;
use crate::web::errors::WebResult;
use crate::web::forms::FormData;
use crate::web::i18n::Lang;
use crate::web::render::{private_page, see_other, Chrome};

/// Instances listed on the page (problems first; the total says how many there are).
const LIST_LIMIT: i64 = 200;
/// Characters of an instance's last error shown in the table (the whole text is its title).
const ERROR_CHARS: usize = 120;
/// Longest host a retry form may name (a DNS name is at most 253 characters, plus a port).
const MAX_HOST_LEN: usize = 260;
const PAGE: &str = "/admin/federation";

struct TotalsView {
    pending: i64,
    failed: i64,
    oldest: String,
    circuits_open: i64,
    unavailable: i64,
}

struct InstanceRow {
    host: String,
    pending: i64,
    failed: i64,
    oldest: String,
    health: &'static str,
    state: String,
    last_success: String,
    last_error: String,
    /// The whole error, when `last_error` was cut.
    last_error_title: Option<String>,
    can_retry: bool,
}

#[derive(Template)]
#[template(path = "admin_federation.html")]
struct FederationPage {
    t: Lang,
    c: Chrome,
    totals: TotalsView,
    rows: Vec<InstanceRow>,
    total_instances: i64,
    /// The instance just retried, when it is listed.
    retried: Option<String>,
}

#[derive(Deserialize)]
pub struct PageQuery {
    retried: Option<String>,
}

/// "3 h ago" in the visitor's language; "—" for never.
fn ago(t: Lang, now: i64, at: Option<i64>) -> String {
    let Some(at) = at else {
        return "—".to_string();
    };
    let secs = (now - at).max(0) / 1000;
    match secs {
        s if s < 60 => t.f1("ops.ago_seconds", s),
        s if s < 3600 => t.f1("ops.ago_minutes", s / 60),
        s if s < 48 * 3600 => t.f1("ops.ago_hours", s / 3600),
        s => t.f1("ops.ago_days", s / 86_400),
    }
}

/// `YYYY-MM-DD HH:MM UTC`.
fn when(ms: i64) -> String {
    let full = crate::domain::rfc3339(ms);
    format!("{} {} UTC", &full[..10], &full[11..16])
}

/// The first `ERROR_CHARS` characters, with an ellipsis when cut.
fn truncate(s: &str) -> String {
    let mut out: String = s.chars().take(ERROR_CHARS).collect();
    if s.chars().nth(ERROR_CHARS).is_some() {
        out.push('…');
    }
    out
}

fn state_text(t: Lang, h: Health) -> String {
    match h {
        Health::Unavailable { since } => t.f1("ops.state_unavailable", when(since)),
        Health::Paused { until } => t.f1("ops.state_paused", when(until)),
        Health::Failing { in_a_row } => t.f1("ops.state_failing", in_a_row),
        Health::Healthy => t.s("ops.state_healthy").to_string(),
    }
}

fn totals_view(t: Lang, now: i64, q: &QueueTotals) -> TotalsView {
    TotalsView {
        pending: q.pending,
        failed: q.failed,
        oldest: ago(t, now, q.oldest_pending_at),
        circuits_open: q.circuits_open,
        unavailable: q.unavailable,
    }
}

fn row(t: Lang, now: i64, s: &InstanceStats) -> InstanceRow {
    let health = s.health(now);
    let error = s.last_error.as_deref().unwrap_or_default();
    InstanceRow {
        host: s.host.clone(),
        pending: s.pending,
        failed: s.failed,
        oldest: ago(t, now, s.oldest_pending_at),
        health: health.as_str(),
        state: state_text(t, health),
        last_success: ago(t, now, s.last_success_at),
        last_error: truncate(error),
        last_error_title: (error.chars().count() > ERROR_CHARS).then(|| error.to_string()),
        can_retry: s.pending > 0 || health != Health::Healthy,
    }
}

/// `GET /admin/federation`.
pub async fn page(
    State(state): State<AppState>,
    v: Visitor,
    Query(q): Query<PageQuery>,
) -> WebResult {
    require_admin(&v)?;
    let t = v.lang;
    let now = now_ms();
    let totals = queue_stats::totals(&state.store, now).await?;
    let list = queue_stats::instances(&state.store, now, LIST_LIMIT).await?;
    let retried = q
        .retried
        .filter(|h| list.items.iter().any(|s| &s.host == h));
    let tpl = FederationPage {
        t,
        c: Chrome::with_forms(&v),
        totals: totals_view(t, now, &totals),
        rows: list.items.iter().map(|s| row(t, now, s)).collect(),
        total_instances: list.total,
        retried,
    };
    private_page(StatusCode::OK, &v, &tpl)
}

/// The `host` field of a retry form.
fn host_of(form: &FormData) -> Result<String, Error> {
    let host = form.text("host").trim();
    if host.is_empty() || host.len() > MAX_HOST_LEN || host.chars().any(char::is_control) {
        return Err(Error::bad_request("no such instance"));
    }
    Ok(host.to_string())
}

/// The page again, naming the retried instance; the delivery worker is woken.
fn retried(state: &AppState, host: &str, outcome: queue_stats::Retried) -> WebResult {
    if outcome.is_empty() {
        return Err(Error::not_found("instance").into());
    }
    // This process's delivery worker keeps its own copy of failing instances' health.
    crate::federation::delivery::forget_health(state, host);
    state.federation.delivery_wake.notify_one();
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("retried", host)
        .finish();
    Ok(see_other(&format!("{PAGE}?{q}")))
}

/// `POST /admin/federation/retry`: forget the instance's failures, send its queue now.
pub async fn retry_now(State(state): State<AppState>, v: Visitor, form: FormData) -> WebResult {
    v.check_csrf(form.csrf())?;
    require_admin(&v)?;
    let host = host_of(&form)?;
    let outcome = queue_stats::retry_now(&state.store, &host, now_ms()).await?;
    retried(&state, &host, outcome)
}

/// `POST /admin/federation/retry-failed`: also put its given-up deliveries back in the queue.
pub async fn retry_failed(State(state): State<AppState>, v: Visitor, form: FormData) -> WebResult {
    v.check_csrf(form.csrf())?;
    require_admin(&v)?;
    let host = host_of(&form)?;
    let outcome = queue_stats::retry_failed(&state.store, &host, now_ms()).await?;
    retried(&state, &host, outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_errors_read_well() {
        let t = Lang::En;
        assert_eq!(ago(t, 10_000, None), "—");
        assert_eq!(ago(t, 10_000, Some(5_000)), "5 s ago");
        assert_eq!(ago(t, 3 * 3_600_000 + 1, Some(1)), "3 h ago");
        assert_eq!(ago(t, 50 * 3_600_000, Some(0)), "2 d ago");
        assert_eq!(ago(Lang::ZhHans, 120_000, Some(0)), "2 分钟前");
        assert_eq!(when(0), "1970-01-01 00:00 UTC");
        assert_eq!(truncate("short"), "short");
        let long = "é".repeat(ERROR_CHARS + 5);
        assert_eq!(truncate(&long).chars().count(), ERROR_CHARS + 1);
        assert!(truncate(&long).ends_with('…'));
    }
}
