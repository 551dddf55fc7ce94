//! Operations: Prometheus text at `/metrics` (format, counters, queue gauges read from the
//! database, the optional token), and the federation status for admins (`/admin/federation`
//! with its retry buttons, `GET /api/v1/admin/federation`). Queue rows are written straight
//! into the database; they name activities that do not exist, so no delivery worker sends
//! them while a test looks at them.

use fedishop::domain::accounts::Role;
use fedishop::domain::now_ms;
use reqwest::StatusCode;
use sqlx::Row;

use crate::support::browser::{csrf_of, Browser};
use crate::support::TestApp;

const HOUR: i64 = 3_600_000;

/// Queues `n` deliveries to `host` in `state`, queued at `created_at`, due at `next_at`.
/// Queue rows to `host`. They are leased to another (imaginary) process of the instance for
/// an hour, so this process's delivery worker leaves them alone and the test sees exactly
/// what the admin's buttons changed.
async fn queue(app: &TestApp, host: &str, state: &str, n: usize, created_at: i64, next_at: i64) {
    for _ in 0..n {
        let id = uuid::Uuid::now_v7().to_string();
        sqlx::query(
            "INSERT INTO deliveries (id, activity_id, sender, inbox, attempts, next_attempt_at, \
             last_error, state, created_at, host, object_id, lease_owner, lease_until) \
             VALUES ($1, $2, $3, $4, 3, $5, $6, $7, $8, $9, $10, 'another-process', $11)",
        )
        .bind(&id)
        .bind(format!("https://local.test/activities/{id}"))
        .bind("https://local.test/shops/teashop")
        .bind(format!("https://{host}/inbox"))
        .bind(next_at)
        .bind("HTTP 503")
        .bind(state)
        .bind(created_at)
        .bind(host)
        .bind("https://local.test/shops/teashop/products/1")
        .bind(now_ms() + 3_600_000)
        .execute(app.state.store.pool())
        .await
        .expect("insert delivery");
    }
}

/// An `instances` row: failures in a row, circuit open until, unavailable since, last error.
async fn instance(
    app: &TestApp,
    host: &str,
    failures: i64,
    open_until: i64,
    unavailable_since: Option<i64>,
    error: Option<&str>,
) {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO instances (host, consecutive_failures, failing_since, circuit_open_until, \
         unavailable_since, last_success_at, last_failure_at, last_error, delivered, failed) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 10, 1)",
    )
    .bind(host)
    .bind(failures)
    .bind((failures > 0).then_some(now - 2 * HOUR))
    .bind(open_until)
    .bind(unavailable_since)
    .bind(now - 3 * HOUR)
    .bind((failures > 0).then_some(now - 60_000))
    .bind(error)
    .execute(app.state.store.pool())
    .await
    .expect("insert instance");
}

async fn scrape(app: &TestApp, token: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(app.url("/metrics"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("scrape")
}

/// The value of an unlabelled sample.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} missing in\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_counters_and_queue_gauges() {
    let app = TestApp::spawn().await;
    let resp = scrape(&app, None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = resp.text().await.unwrap();
    for line in [
        "# TYPE fedishop_inbox_activities_total counter",
        "# TYPE fedishop_inbox_processed_total counter",
        "# TYPE fedishop_deliveries_total counter",
        "# TYPE fedishop_delivery_queue_pending gauge",
        "# TYPE fedishop_delivery_queue_oldest_pending_seconds gauge",
        "# TYPE fedishop_instances_circuit_open gauge",
        "# TYPE fedishop_instances_unavailable gauge",
        "fedishop_inbox_activities_total{result=\"accepted\"} 0",
        "fedishop_inbox_activities_total{result=\"rate_limited\"} 0",
        "fedishop_inbox_processed_total{result=\"failed\"} 0",
        "fedishop_deliveries_total{result=\"deferred\"} 0",
        "fedishop_delivery_queue_pending 0",
        "fedishop_delivery_queue_oldest_pending_seconds 0.000",
        "fedishop_database_up 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
    }
    assert!(text.contains(&format!(
        "fedishop_build_info{{version=\"{}\"}} 1\n",
        env!("CARGO_PKG_VERSION")
    )));
    for l in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = l.split(' ').nth(2).unwrap();
        assert!(name.starts_with("fedishop_"), "{l}");
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} has no HELP"
        );
    }

    // Something queued, and a counter bumped, show at the next scrape.
    let now = now_ms();
    queue(
        &app,
        "slow.example",
        "pending",
        2,
        now - 120_000,
        now + HOUR,
    )
    .await;
    queue(&app, "slow.example", "failed", 1, now - HOUR, now).await;
    instance(&app, "slow.example", 4, now + HOUR, None, Some("HTTP 503")).await;
    instance(&app, "gone.example", 40, 0, Some(now - 8 * 24 * HOUR), None).await;
    let metrics = &app.state.federation.metrics;
    fedishop::metrics::Metrics::add(&metrics.deliveries_sent, 7);
    let text = scrape(&app, None).await.text().await.unwrap();
    assert_eq!(sample(&text, "fedishop_delivery_queue_pending"), 2.0);
    assert_eq!(sample(&text, "fedishop_delivery_queue_failed"), 1.0);
    let oldest = sample(&text, "fedishop_delivery_queue_oldest_pending_seconds");
    assert!((120.0..600.0).contains(&oldest), "{oldest}");
    assert_eq!(sample(&text, "fedishop_instances_circuit_open"), 1.0);
    assert_eq!(sample(&text, "fedishop_instances_unavailable"), 1.0);
    assert!(text.contains("fedishop_deliveries_total{result=\"delivered\"} 7\n"));
    assert!(!text.contains("slow.example"), "no per-instance labels");
}

#[tokio::test]
async fn the_metrics_token_is_required_when_configured() {
    let app = TestApp::spawn_with(|s| s.metrics_token = Some("scrape-s3cret".into())).await;
    let resp = scrape(&app, None).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    assert!(!resp
        .text()
        .await
        .unwrap()
        .contains("fedishop_deliveries_total"));
    assert_eq!(
        scrape(&app, Some("scrape-s3cre")).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // An API token is not the metrics token.
    let (_, api_token) = app.user("boss", Role::Admin).await;
    assert_eq!(
        scrape(&app, Some(&api_token)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let resp = scrape(&app, Some("scrape-s3cret")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("# TYPE fedishop_deliveries_total counter"));
}

#[tokio::test]
async fn only_admins_see_the_federation_status() {
    let app = TestApp::spawn().await;
    let (_, seller_token) = app.user("sam", Role::Seller).await;
    let (_, admin_token) = app.user("boss", Role::Admin).await;

    let resp = app
        .client
        .get(app.url("/admin/federation"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "anonymous: sign in");
    assert_eq!(resp.headers()["location"], "/login");
    let seller = Browser::signed_in(&app, "sam").await;
    let (status, _) = seller.get("/admin/federation").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, dashboard) = seller.get("/dashboard").await;
    assert!(!dashboard.contains("/admin/federation"));
    let csrf = csrf_of(&dashboard);
    let resp = seller
        .post(
            "/admin/federation/retry",
            &[("host", "x.example"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    let (status, _) = app.get("/api/v1/admin/federation", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = app
        .get("/api/v1/admin/federation", Some(&seller_token))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = app
        .get("/api/v1/admin/federation", Some(&admin_token))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totals"]["pending"], 0);
    assert_eq!(body["items"].as_array().unwrap().len(), 0);

    let admin = Browser::signed_in(&app, "boss").await;
    let (_, dashboard) = admin.get("/dashboard").await;
    assert!(dashboard.contains("href=\"/admin/federation\""));
    let (status, html) = admin.get("/admin/federation").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Nothing has been delivered to other servers yet."));
}

async fn delivery_rows(app: &TestApp, host: &str) -> Vec<(String, i64, i64)> {
    sqlx::query(
        "SELECT state, attempts, next_attempt_at FROM deliveries WHERE host = $1 ORDER BY id",
    )
    .bind(host)
    .fetch_all(app.state.store.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

#[tokio::test]
async fn the_admin_page_lists_failing_instances_and_retries_them() {
    let app = TestApp::spawn().await;
    let (_, admin_token) = app.user("boss", Role::Admin).await;
    let now = now_ms();
    queue(&app, "up.example", "pending", 1, now, now + 60_000).await;
    queue(
        &app,
        "down.example",
        "pending",
        2,
        now - 3 * HOUR,
        now + HOUR,
    )
    .await;
    queue(&app, "down.example", "failed", 1, now - 5 * HOUR, now).await;
    instance(&app, "up.example", 0, 0, None, None).await;
    let error = "HTTP 503 Service Unavailable from https://down.example/inbox";
    instance(&app, "down.example", 6, now + HOUR, None, Some(error)).await;
    instance(
        &app,
        "gone.example",
        30,
        0,
        Some(now - 8 * 24 * HOUR),
        Some("timed out"),
    )
    .await;

    let admin = Browser::signed_in(&app, "boss").await;
    let (status, html) = admin.get("/admin/federation").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<dd id=\"total-pending\">3</dd>"), "{html}");
    assert!(html.contains("<dd id=\"total-failed\">1</dd>"));
    assert!(html.contains("<dd id=\"total-oldest\">3 h ago</dd>"));
    let (gone, down, up) = (
        html.find("gone.example")
            .expect("unavailable instance listed"),
        html.find("down.example").expect("failing instance listed"),
        html.find("up.example").expect("healthy instance listed"),
    );
    assert!(gone < down && down < up, "problems first");
    assert!(html.contains("HTTP 503 Service Unavailable from https://down.example/inbox"));
    assert!(html.contains("Paused until "));
    assert!(html.contains("Unavailable since "));
    assert!(html.contains("Retry now") && html.contains("Retry failed"));
    assert!(
        !html.contains("local.test/activities"),
        "no delivery contents"
    );

    // A form without the CSRF token changes nothing.
    let resp = admin
        .post("/admin/federation/retry", &[("host", "down.example")])
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(delivery_rows(&app, "down.example")
        .await
        .iter()
        .any(|(_, _, next)| *next > now + HOUR / 2));

    let csrf = csrf_of(&html);
    let resp = admin
        .post(
            "/admin/federation/retry",
            &[("host", "down.example"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        resp.headers()["location"],
        "/admin/federation?retried=down.example"
    );
    let after = now_ms();
    for (state, attempts, next) in delivery_rows(&app, "down.example").await {
        if state == "pending" {
            assert!(next <= after, "due now");
            assert_eq!(attempts, 3, "attempts kept");
        } else {
            assert_eq!(state, "failed", "failed rows stay failed");
        }
    }
    let i = sqlx::query(
        "SELECT consecutive_failures, circuit_open_until, unavailable_since, last_error \
         FROM instances WHERE host = $1",
    )
    .bind("down.example")
    .fetch_one(app.state.store.pool())
    .await
    .unwrap();
    assert_eq!(i.get::<i64, _>(0), 0);
    assert_eq!(i.get::<i64, _>(1), 0, "circuit closed");
    assert_eq!(i.get::<Option<i64>, _>(2), None);
    assert_eq!(i.get::<Option<String>, _>(3).as_deref(), Some(error));
    let (_, html) = admin.get("/admin/federation?retried=down.example").await;
    assert!(html.contains("Deliveries to down.example will be tried again now."));

    // "Retry failed" puts the given-up delivery back in the queue, due now.
    let resp = admin
        .post(
            "/admin/federation/retry-failed",
            &[("host", "down.example"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let rows = delivery_rows(&app, "down.example").await;
    assert_eq!(rows.len(), 3);
    assert!(rows
        .iter()
        .all(|(state, _, next)| state == "pending" && *next <= now_ms()));
    assert!(rows.iter().any(|(_, attempts, _)| *attempts == 0));

    // An unknown host is 404.
    let resp = admin
        .post(
            "/admin/federation/retry",
            &[("host", "nobody.example"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // The JSON API has the same figures, problems first.
    let (status, body) = app
        .get("/api/v1/admin/federation", Some(&admin_token))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totals"]["pending"], 4);
    assert_eq!(body["totals"]["failed"], 0);
    assert_eq!(body["totals"]["unavailable"], 1);
    assert_eq!(body["totals"]["instances"], 3);
    let items = body["items"].as_array().unwrap();
    assert_eq!(items[0]["host"], "gone.example");
    assert_eq!(items[0]["state"], "unavailable");
    assert_eq!(items[0]["last_error"], "timed out");
    assert_eq!(items[1]["host"], "down.example");
    assert_eq!(items[1]["state"], "healthy");
    assert_eq!(items[1]["pending"], 3);
    assert_eq!(items[2]["host"], "up.example");
    assert!(items[0].get("body").is_none());
    let (_, body) = app
        .get("/api/v1/admin/federation?limit=1", Some(&admin_token))
        .await;
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    assert_eq!(body["totals"]["instances"], 3);
}
