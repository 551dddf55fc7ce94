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
