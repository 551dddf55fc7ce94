//! The real binary under crashes and scale-out: killed with SIGKILL in the middle of a
//! fan-out it resumes after restart and every inbox gets the post; two processes on one
//! PostgreSQL share the queue without losing or doubling deliveries.

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fedishop::db::Store;
use fedishop::domain::accounts::{self, NewUser, Role};
use fedishop::domain::catalog::{service, ShopForm};
use serde_json::json;

use crate::support::fake_instance::FakeInstance;
use crate::support::{eventually_within, fresh_postgres_database, postgres_url};

/// A `fedishop serve` process, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(data_dir: &std::path::Path, database_url: &str, domain: &str, port: u16) -> Server {
        let child = Command::new(env!("CARGO_BIN_EXE_fedishop"))
            .arg("serve")
            .env_remove("FEDISHOP_CONFIG")
            .env("FEDISHOP_DOMAIN", domain)
            .env("FEDISHOP_BIND", format!("127.0.0.1:{port}"))
            .env("FEDISHOP_DATA_DIR", data_dir)
            .env("FEDISHOP_DATABASE_URL", database_url)
            .env("FEDISHOP_DEV_FEDERATION", "true")
            .env("FEDISHOP_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run fedishop serve");
        Server { child, port }
    }

    async fn wait_ready(&self) {
        let url = format!("http://127.0.0.1:{}/healthz", self.port);
        eventually_within("the server to answer", Duration::from_secs(30), || {
            let url = url.clone();
            async move {
                let r = reqwest::get(&url).await.ok()?;
                r.status().is_success().then_some(())
            }
        })
        .await;
    }

    /// SIGKILL: no shutdown, no flushing.
    fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A seller with shop `teashop` and an API token, made straight in the database.
async fn seller(store: &Store) -> String {
    let user = accounts::create_user(
        store,
        NewUser {
            username: "seller".into(),
            display_name: None,
            password: "a long enough password".into(),
            password_confirm: None,
            role: Role::Seller,
        },
    )
    .await
    .unwrap();
    service::create_shop(
        store,
        &user,
        ShopForm {
            handle: "teashop".into(),
            name: "Tea".into(),
            summary: String::new(),
            avatar_image: None,
            banner_image: None,
            links: vec![],
            manually_approves_followers: false,
        },
    )
    .await
    .unwrap();
    accounts::issue_token(store, "seller", "test")
        .await
        .unwrap()
}

async fn publish(port: u16, token: &str, title: &str) {
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/v1/shops/teashop/products"))
        .bearer_auth(token)
        .json(&json!({"title": title, "price": "8.00", "currency": "EUR", "stock": 2, "status": "published"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
}

/// Followers spread over `fakes`, `per_instance` on each; returns how many.
async fn followers(
    store: &Store,
    fakes: &[FakeInstance],
    per_instance: usize,
    shop: &str,
) -> usize {
    for (i, fake) in fakes.iter().enumerate() {
        for n in 0..per_instance {
            fake.follow(store, shop, &format!("f{i}x{n}")).await;
        }
    }
    fakes.len() * per_instance
}

fn creates_per_inbox(fakes: &[FakeInstance]) -> (HashMap<(String, String), usize>, usize) {
    let mut seen = HashMap::new();
    let mut total = 0;
    for (i, fake) in fakes.iter().enumerate() {
        for a in fake.arrivals().into_iter().filter(|a| a.kind == "Create") {
            total += 1;
            *seen.entry((format!("{i}/{}", a.inbox), a.id)).or_insert(0) += 1;
        }
    }
    (seen, total)
}

#[tokio::test]
async fn a_fan_out_killed_with_sigkill_resumes_after_restart_and_reaches_every_inbox() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = match postgres_url() {
        Some(admin) => fresh_postgres_database(&admin).await,
        None => format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("fedishop.db").display()
        ),
    };
    let port = free_port();
    let domain = format!("127.0.0.1:{port}");
    let store = Store::connect(&database_url, 2).await.unwrap();
    store.migrate().await.unwrap();
    let token = seller(&store).await;
    let mut fakes = vec![];
    for _ in 0..4 {
        let fake = FakeInstance::start().await;
        fake.delay(25); // each inbox takes a while, so the fan-out lasts seconds
        fakes.push(fake);
    }
    let n = followers(
        &store,
        &fakes,
        400,
        &format!("http://{domain}/shops/teashop"),
    )
    .await;

    let mut server = Server::start(dir.path(), &database_url, &domain, port);
    server.wait_ready().await;
    publish(port, &token, "Genmaicha").await;
    let arrived = || fakes.iter().map(|f| f.arrivals().len()).sum::<usize>();
    eventually_within("the fan-out under way", Duration::from_secs(30), || async {
        (arrived() >= n / 5).then_some(())
    })
    .await;
    server.kill();
    let at_kill = arrived();
    assert!(at_kill < n, "killed mid fan-out ({at_kill} of {n} arrived)");
    let pending: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE state = 'pending'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert!(pending > 0, "the rest waits in the queue");

    let server = Server::start(dir.path(), &database_url, &domain, port);
    server.wait_ready().await;
    let (seen, total) = eventually_within(
        "every inbox gets the post",
        Duration::from_secs(60),
        || async {
            let (seen, total) = creates_per_inbox(&fakes);
            (seen.len() == n).then_some((seen, total))
        },
    )
    .await;
    let activities: HashSet<&String> = seen.keys().map(|(_, id)| id).collect();
    assert_eq!(
        activities.len(),
        1,
        "one Create, the same activity everywhere"
    );
    let duplicates = total - n;
    // At most what was in flight or not yet recorded when the process died.
    assert!(duplicates <= 200, "{duplicates} duplicates");
    eventually_within("the queue drains", Duration::from_secs(30), || async {
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries")
            .fetch_one(store.pool())
            .await
            .ok()?;
        (left == 0).then_some(())
    })
    .await;
    println!("killed after {at_kill}/{n} deliveries; {duplicates} sent twice after the restart");
}

#[tokio::test]
async fn two_processes_on_one_postgres_share_the_queue() {
    let Some(admin) = postgres_url() else {
        eprintln!("skipped: several processes share a queue only on PostgreSQL (set FEDISHOP_TEST_POSTGRES_URL)");
        return;
    };
    let database_url = fresh_postgres_database(&admin).await;
    let dir = tempfile::tempdir().unwrap();
    let (port_a, port_b) = (free_port(), free_port());
    let domain = format!("127.0.0.1:{port_a}");
    let store = Store::connect(&database_url, 2).await.unwrap();
    store.migrate().await.unwrap();
    let token = seller(&store).await;
    let mut fakes = vec![];
    for _ in 0..4 {
        let fake = FakeInstance::start().await;
        fake.delay(5);
        fakes.push(fake);
    }
    let n = followers(
        &store,
        &fakes,
        250,
        &format!("http://{domain}/shops/teashop"),
    )
    .await;

    // Two processes of one instance (same domain, same database), as behind a load balancer.
    for d in ["a", "b"] {
        std::fs::create_dir_all(dir.path().join(d)).unwrap();
    }
    let a = Server::start(&dir.path().join("a"), &database_url, &domain, port_a);
    let b = Server::start(&dir.path().join("b"), &database_url, &domain, port_b);
    a.wait_ready().await;
    b.wait_ready().await;
    for title in ["Sencha", "Hojicha", "Kukicha"] {
        publish(port_a, &token, title).await;
    }
    let (seen, total) = eventually_within(
        "each post reaches each inbox",
        Duration::from_secs(60),
        || async {
            let (seen, total) = creates_per_inbox(&fakes);
            (seen.len() == 3 * n).then_some((seen, total))
        },
    )
    .await;
    let activities: HashSet<&String> = seen.keys().map(|(_, id)| id).collect();
    assert_eq!(
        activities.len(),
        3,
        "each change federated once, not once per process"
    );
    // Once both processes have recorded every outcome, count what arrived twice.
    eventually_within("the queue drains", Duration::from_secs(30), || async {
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries")
            .fetch_one(store.pool())
            .await
            .ok()?;
        (left == 0).then_some(())
    })
    .await;
    let (_, total_after) = creates_per_inbox(&fakes);
    assert_eq!(total, 3 * n, "no delivery was claimed twice");
    assert_eq!(total_after, total);
    // Both processes took part.
    let a_sent = delivered_by(port_a).await;
    let b_sent = delivered_by(port_b).await;
    assert_eq!(a_sent + b_sent, 3 * n as u64);
    assert!(a_sent > 0 && b_sent > 0, "{a_sent} + {b_sent}");
    println!("process A delivered {a_sent}, process B {b_sent}");
}

/// `fedishop_deliveries_total{result="delivered"}` of the process on `port`.
async fn delivered_by(port: u16) -> u64 {
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("fedishop_deliveries_total{result=\"delivered\"} "))
        .and_then(|v| v.trim().parse().ok())
        .expect("delivered counter")
}
