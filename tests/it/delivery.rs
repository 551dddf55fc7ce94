//! The outbound queue under failure: a follower instance that is down and comes back, the
//! circuit breaker, 429 with Retry-After, unavailable and suspended instances.

use serde_json::json;

use crate::support::fake_instance::FakeInstance;
use crate::support::{eventually, TestApp};

async fn shop_with_followers(app: &TestApp, fake: &FakeInstance, names: &[&str]) -> String {
    let token = app.seller_with_shop("seller", "teashop").await;
    let shop = app.state.urls.shop("teashop");
    for name in names {
        fake.follow(&app.state.store, &shop, name).await;
    }
    token
}

async fn publish(app: &TestApp, token: &str, title: &str) -> String {
    let p = app
        .product(
            token,
            "teashop",
            json!({"title": title, "price": "8.00", "currency": "EUR", "stock": 2, "status": "published"}),
        )
        .await;
    p["id"].as_str().unwrap().to_string()
}

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(app.state.store.pool())
        .await
        .unwrap()
}

/// Time passes: every queued delivery becomes due now.
async fn make_everything_due(app: &TestApp) {
    sqlx::query("UPDATE deliveries SET next_attempt_at = 0 WHERE state = 'pending'")
        .execute(app.state.store.pool())
        .await
        .unwrap();
    app.state.federation.delivery_wake.notify_one();
}

#[tokio::test]
async fn a_follower_instance_that_was_down_gets_everything_in_order_when_it_is_back() {
    let app = TestApp::spawn_federating().await;
    let fake = FakeInstance::start().await;
    fake.answer(Some(503), None);
    let token = shop_with_followers(&app, &fake, &["ann", "bob"]).await;

    // Each change is queued before the next one is made (the outbox federates the current
    // state, so quick successive changes may fold into one activity).
    let queued = |n: i64| {
        let app = &app;
        async move {
            eventually("the change queued for both inboxes", || async {
                (scalar(
                    app,
                    "SELECT COUNT(*) FROM deliveries WHERE state = 'pending'",
                )
                .await
                    == n)
                    .then_some(())
            })
            .await
        }
    };
    let id = publish(&app, &token, "Genmaicha").await;
    queued(2).await;
    let (status, _) = app
        .patch(
            &format!("/api/v1/products/{id}"),
            Some(&token),
            json!({"title": "Genmaicha, roasted"}),
        )
        .await;
    assert!(status.is_success());
    queued(4).await;
    let (status, _) = app
        .delete(&format!("/api/v1/products/{id}"), Some(&token))
        .await;
    assert!(status.is_success());
    // Create, Update and Delete are queued for both inboxes; only the Creates are tried.
    queued(6).await;
    eventually("the Creates tried and failed", || async {
        (scalar(&app, "SELECT COUNT(*) FROM deliveries WHERE attempts > 0").await == 2)
            .then_some(())
    })
    .await;
    assert!(fake.arrivals().is_empty());
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM deliveries WHERE attempts > 0 AND next_attempt_at > 0"
        )
        .await,
        2,
        "failed attempts wait for their retry"
    );
    let failures = scalar(&app, "SELECT consecutive_failures FROM instances").await;
    assert!(failures >= 1, "the instance is recorded as failing");

    // The instance is back; its retry comes round.
    fake.answer(None, None);
    make_everything_due(&app).await;
    let arrivals = eventually("everything arrives", || async {
        let a = fake.arrivals();
        (a.len() == 6).then_some(a)
    })
    .await;
    for inbox in ["ann", "bob"] {
        let kinds: Vec<&str> = arrivals
            .iter()
            .filter(|a| a.inbox == inbox)
            .map(|a| a.kind.as_str())
            .collect();
        assert_eq!(
            kinds,
            ["Create", "Update", "Delete"],
            "in order for {inbox}"
        );
    }
    assert!(arrivals.iter().all(|a| a.object.ends_with(&id)));
    eventually("the queue is empty and the instance healthy", || async {
        let left = scalar(&app, "SELECT COUNT(*) FROM deliveries").await;
        let failing = scalar(&app, "SELECT consecutive_failures FROM instances").await;
        (left == 0 && failing == 0).then_some(())
    })
    .await;
    assert_eq!(scalar(&app, "SELECT delivered FROM instances").await, 6);
}

#[tokio::test]
async fn an_instance_that_keeps_failing_is_paused_by_its_circuit_breaker() {
    let app = TestApp::spawn_federating().await;
    let fake = FakeInstance::start().await;
    fake.answer(Some(502), None);
    let names: Vec<String> = (0..12).map(|i| format!("f{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let token = shop_with_followers(&app, &fake, &names).await;
    publish(&app, &token, "Sencha").await;

    eventually("the circuit opens", || async {
        let now = fedishop::domain::now_ms();
        let open: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM instances WHERE circuit_open_until > $1")
                .bind(now)
                .fetch_one(app.state.store.pool())
                .await
                .unwrap();
        (open == 1).then_some(())
    })
    .await;
    let hits = fake.hits();
    assert!(hits >= 5, "{hits} attempts before the breaker opened");
    assert!(hits < 12, "the breaker stopped the rest: {hits}");
    // While it is open nothing is tried, and nothing is given up either.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    app.state.federation.delivery_wake.notify_one();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(fake.hits(), hits);
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM deliveries WHERE state = 'pending'"
        )
        .await,
        12
    );
    let open_until = scalar(&app, "SELECT circuit_open_until FROM instances").await;
    assert!(open_until - fedishop::domain::now_ms() > 30_000);
}

#[tokio::test]
async fn a_throttling_instance_is_left_alone_for_its_retry_after() {
    let app = TestApp::spawn_federating().await;
    let fake = FakeInstance::start().await;
    fake.answer(Some(429), Some("600"));
    let token = shop_with_followers(&app, &fake, &["ann"]).await;
    let before = fedishop::domain::now_ms();
    publish(&app, &token, "Hojicha").await;
    let open_until = eventually("the instance is paused", || async {
        let t = scalar(
            &app,
            "SELECT COALESCE(MAX(circuit_open_until), 0) FROM instances",
        )
        .await;
        (t > 0).then_some(t)
    })
    .await;
    assert!(open_until >= before + 600_000, "Retry-After is honoured");
    assert!(open_until <= fedishop::domain::now_ms() + 600_000);
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM deliveries WHERE state = 'pending' AND attempts = 1"
        )
        .await,
        1,
        "the delivery waits to be retried"
    );
}

#[tokio::test]
async fn nothing_goes_to_suspended_or_unavailable_instances_until_they_are_heard_from() {
    let app = TestApp::spawn_federating().await;
    let fake = FakeInstance::start().await;
    let token = shop_with_followers(&app, &fake, &["ann"]).await;

    // Suspended by the admin: activities are stored, nothing is queued for it.
    let mut tx = app.state.store.begin().await.unwrap();
    fedishop::db::instances::put_domain_block(
        &mut tx,
        &fedishop::db::instances::DomainBlock {
            domain: "127.0.0.1".into(),
            severity: "suspend".into(),
            reason: "test".into(),
            created_at: 0,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // A delivery queued before the block is given up, not sent.
    sqlx::query(
        "INSERT INTO deliveries (id, activity_id, sender, inbox, host, object_id, attempts, \
         next_attempt_at, state, created_at) VALUES ('early', 'a', $1, $2, $3, 'o', 0, 0, 'pending', 0)",
    )
    .bind(app.state.urls.shop("teashop"))
    .bind(fake.inbox("ann"))
    .bind(&fake.host)
    .execute(app.state.store.pool())
    .await
    .unwrap();
    sqlx::query("INSERT INTO activities (id, actor, kind, object, body, public, created_at) VALUES ('a', 'x', 'Announce', 'o', '{}', 0, 0)")
        .execute(app.state.store.pool())
        .await
        .unwrap();
    fedishop::federation::delivery::reload_health(&app.state).await;
    app.state.federation.delivery_wake.notify_one();
    eventually("the early delivery given up", || async {
        (scalar(
            &app,
            "SELECT COUNT(*) FROM deliveries WHERE state = 'failed'",
        )
        .await
            == 1)
            .then_some(())
    })
    .await;
    sqlx::query("DELETE FROM deliveries")
        .execute(app.state.store.pool())
        .await
        .unwrap();
    publish(&app, &token, "Kukicha").await;
    eventually("the Create is stored", || async {
        (scalar(
            &app,
            "SELECT COUNT(*) FROM activities WHERE kind = 'Create'",
        )
        .await
            == 1)
            .then_some(())
    })
    .await;
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM deliveries").await, 0);
    assert!(
        fedishop::db::instances::remove_domain_block(&app.state.store, "127.0.0.1")
            .await
            .unwrap()
    );

    // Unavailable after days of failures: the same, until it reaches us again.
    sqlx::query(
        "INSERT INTO instances (host, consecutive_failures, failing_since, unavailable_since) \
         VALUES ($1, 40, 1, 2)",
    )
    .bind(&fake.host)
    .execute(app.state.store.pool())
    .await
    .unwrap();
    // As the worker does every 30 s, and every process that shares the database.
    fedishop::federation::delivery::reload_health(&app.state).await;
    publish(&app, &token, "Bancha").await;
    eventually("the second Create is stored", || async {
        (scalar(
            &app,
            "SELECT COUNT(*) FROM activities WHERE kind = 'Create'",
        )
        .await
            == 2)
            .then_some(())
    })
    .await;
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM deliveries").await, 0);
    assert!(fake.arrivals().is_empty());

    fedishop::federation::delivery::heard_from(&app.state, &fake.host).await;
    let unavailable = scalar(
        &app,
        "SELECT COUNT(*) FROM instances WHERE unavailable_since IS NOT NULL OR consecutive_failures > 0",
    )
    .await;
    assert_eq!(unavailable, 0, "hearing from it clears the mark");
    publish(&app, &token, "Matcha").await;
    let arrivals = eventually("the next post arrives", || async {
        let a = fake.arrivals();
        (!a.is_empty()).then_some(a)
    })
    .await;
    assert_eq!(arrivals.len(), 1);
    assert_eq!(arrivals[0].kind, "Create");
}
