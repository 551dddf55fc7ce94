//! The `fedishop` binary's contract: `migrate`, `user add` (password on stdin), `token issue`
//! (prints only the token).

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::StatusCode;

use crate::support::TestApp;

fn fedishop(app: &TestApp, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fedishop"))
        .args([
            "--data-dir",
            app.dir.path().to_str().unwrap(),
            "--database-url",
            &app.database_url,
        ])
        .args(args)
        .env_remove("FEDISHOP_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run fedishop");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn user_add_and_token_issue_work_against_the_running_instance() {
    let app = TestApp::spawn().await;
    let out = fedishop(&app, &["migrate"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = fedishop(
        &app,
        &["user", "add", "carol", "--role", "seller"],
        "a long enough password\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = fedishop(&app, &["token", "issue", "carol"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = stdout.trim_end_matches('\n');
    assert_eq!(
        stdout.lines().count(),
        1,
        "only the token on stdout: {stdout:?}"
    );
    assert!(token.len() >= 40 && !token.contains(' '));

    let (status, me) = app.get("/api/v1/me", Some(token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["username"], "carol");
    assert_eq!(me["role"], "seller");

    let out = fedishop(&app, &["user", "add", "dave", "--role", "admin"], "short\n");
    assert!(!out.status.success(), "a too-short password is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("password"));
    let out = fedishop(
        &app,
        &["user", "add", "carol", "--role", "member"],
        "another long password\n",
    );
    assert!(!out.status.success(), "a taken username is refused");
    let out = fedishop(&app, &["token", "issue", "nobody"], "");
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
}

/// Three consecutive free loopback ports (best effort: free when checked).
fn three_free_ports() -> u16 {
    for _ in 0..50 {
        let first = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let p = first.local_addr().unwrap().port();
        if p > 65_000 {
            continue;
        }
        let others: Vec<_> = [p + 1, p + 2]
            .iter()
            .map(|q| std::net::TcpListener::bind(("127.0.0.1", *q)))
            .collect();
        if others.iter().all(|o| o.is_ok()) {
            return p;
        }
    }
    panic!("no three consecutive free ports");
}

#[tokio::test]
async fn demo_starts_three_instances_that_follow_each_other() {
    use std::io::BufRead;
    let port = three_free_ports();
    /// Kills the demo if the test fails before stopping it.
    struct Guard(std::process::Child);
    impl Drop for Guard {
        fn drop(&mut self) {
            if let Ok(None) = self.0.try_wait() {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
    }
    let child = Command::new(env!("CARGO_BIN_EXE_fedishop"))
        .args(["demo", "--base-port", &port.to_string()])
        .env_remove("FEDISHOP_CONFIG")
        .env("FEDISHOP_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run fedishop demo");
    let mut child = Guard(child);
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut printed = vec![];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !printed
        .iter()
        .any(|l: &String| l.contains("Ctrl-C stops all three"))
    {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => printed.push(line),
            Err(_) => panic!("the demo did not start: {printed:?}"),
        }
    }
    let data_dir = printed[0]
        .split("(data in ")
        .nth(1)
        .and_then(|s| s.split(", removed").next())
        .map(std::path::PathBuf::from)
        .expect("the data dir is printed");
    assert!(data_dir.exists());
    let client = reqwest::Client::new();
    let count = |url: String| {
        let client = client.clone();
        async move {
            let v: serde_json::Value = client
                .get(url)
                .header("accept", "application/activity+json")
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            v["totalItems"].as_i64()
        }
    };
    // Cleo (third instance) follows both shops; Anna's shop has Cleo and Ben as followers.
    crate::support::eventually("the demo's follows", || async {
        let cleo = count(format!(
            "http://127.0.0.1:{}/users/cleo/following",
            port + 2
        ))
        .await;
        let tea = count(format!("http://127.0.0.1:{port}/shops/teashop/followers")).await;
        (cleo == Some(2) && tea == Some(2)).then_some(())
    })
    .await;
    let status = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.0.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(!data_dir.exists(), "the demo removes its data");
}
