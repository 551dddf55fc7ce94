//! The servers under test as child processes: the release `fedishop` binary and nginx with a
//! generated config, each behind a guard that stops it however the benchmark ends.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use hyper::StatusCode;

use crate::load::get_once;

/// How long to wait for a child server to answer.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// A child server that is stopped (SIGTERM, then SIGKILL after 5 s) when the guard drops,
/// including on errors, panics and Ctrl-C.
pub struct ChildGuard {
    name: &'static str,
    child: Child,
    /// Where its output goes, quoted in error messages.
    log: PathBuf,
}

impl ChildGuard {
    fn spawn(name: &'static str, cmd: &mut Command, log: PathBuf) -> anyhow::Result<ChildGuard> {
        // Appending, so that nginx's stderr and its own error_log can share one file.
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        Ok(ChildGuard { name, child, log })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Polls `path` until it answers 200, the child exits, or [`STARTUP_TIMEOUT`] passes.
    pub async fn wait_until_ok(&mut self, addr: SocketAddr, path: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(why) = self.exited() {
                bail!("{why}{}", self.log_tail());
            }
            match get_once(addr, path).await {
                Ok(r) if r.status == StatusCode::OK => return Ok(()),
                Ok(r) if Instant::now() > deadline => {
                    bail!("GET {path} keeps answering {}{}", r.status, self.log_tail())
                }
                Err(e) if Instant::now() > deadline => {
                    bail!(
                        "{} not answering on {addr}: {e}{}",
                        self.name,
                        self.log_tail()
                    )
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// The end of the child's output, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n");
        format!("\n--- last lines of {} ---\n{tail}", self.log.display())
    }

    /// `Some(description)` if the process has exited.
    fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!("{} exited ({status})", self.name)),
            Ok(None) => None,
            Err(e) => Some(format!("{}: {e}", self.name)),
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        // SIGTERM lets fedishop shut down gracefully and makes the nginx master stop its
        // workers (SIGKILL on the master would leave the workers running).
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("{} did not stop on SIGTERM; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `FEDISHOP_BIN`, else the `fedishop` binary next to this example's directory
/// (`target/release/examples/..`), else `target/release/fedishop` in the crate.
pub fn fedishop_binary() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("FEDISHOP_BIN") {
        return Ok(PathBuf::from(p));
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("fedishop")));
    let in_crate = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/fedishop");
    if cfg!(not(debug_assertions)) {
        if let Some(p) = beside.filter(|p| p.is_file()) {
            return Ok(p);
        }
    }
    if in_crate.is_file() {
        return Ok(in_crate);
    }
    bail!(
        "no fedishop binary at {}: run `cargo build --release --bin fedishop` or set FEDISHOP_BIN",
        in_crate.display()
    )
}

/// Whether `bin` looks older than the sources (`cargo run --example` does not rebuild the
/// server binary).
pub fn older_than_sources(bin: &Path) -> bool {
    fn newest(dir: &Path) -> Option<std::time::SystemTime> {
        let mut best = None;
        for entry in std::fs::read_dir(dir).ok()?.flatten() {
            let path = entry.path();
            let t = if path.is_dir() {
                newest(&path)
            } else {
                entry.metadata().ok()?.modified().ok()
            };
            best = best.max(t);
        }
        best
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = ["src", "migrations"]
        .iter()
        .filter_map(|d| newest(&root.join(d)))
        .max();
    let built = std::fs::metadata(bin).and_then(|m| m.modified()).ok();
    matches!((src, built), (Some(src), Some(built)) if src > built)
}

/// Starts `fedishop --data-dir DATA serve` on `addr`, with `addr` as its public domain too.
pub fn start_fedishop(
    bin: &Path,
    tmp: &Path,
    data_dir: &Path,
    addr: SocketAddr,
) -> anyhow::Result<ChildGuard> {
    let domain = addr.to_string();
    let mut cmd = Command::new(bin);
    cmd.arg("--data-dir")
        .arg(data_dir)
        .args(["serve", "--bind", &domain, "--domain", &domain])
        .current_dir(tmp); // so that no stray ./fedishop.toml is read
    for (k, _) in std::env::vars() {
        if k.starts_with("FEDISHOP_") && k != "FEDISHOP_LOG" {
            cmd.env_remove(k);
        }
    }
    ChildGuard::spawn("fedishop", &mut cmd, tmp.join("fedishop.log"))
}

pub fn nginx_binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("nginx"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| Some(PathBuf::from("/usr/sbin/nginx")).filter(|p| p.is_file()))
}

pub fn nginx_version(bin: &Path) -> String {
    // `nginx -v` prints "nginx version: nginx/1.22.1" on stderr.
    Command::new(bin)
        .arg("-v")
        .output()
        .ok()
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stderr).into_owned();
            Some(text.trim().strip_prefix("nginx version: ")?.to_string())
        })
        .unwrap_or_else(|| "nginx".into())
}

/// Writes a minimal config under `tmp/nginx` and starts nginx in the foreground with it,
/// serving the files of `www` on `addr`.
pub fn start_nginx(
    bin: &Path,
    tmp: &Path,
    www: &Path,
    addr: SocketAddr,
) -> anyhow::Result<ChildGuard> {
    let prefix = tmp.join("nginx");
    std::fs::create_dir_all(&prefix)?;
    let p = |name: &str| prefix.join(name).display().to_string();
    // Temp paths inside the prefix, so that nothing outside the temp dir is needed.
    let conf = format!(
        "daemon off;
master_process on;
worker_processes 2;
error_log {error_log};
pid {pid};
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    open_file_cache max=100;
    keepalive_requests 100000;
    client_body_temp_path {body};
    proxy_temp_path {proxy};
    fastcgi_temp_path {fastcgi};
    uwsgi_temp_path {uwsgi};
    scgi_temp_path {scgi};
    server {{
        listen {addr};
        root {www};
        location / {{ default_type text/html; }}
    }}
}}
",
        error_log = p("error.log"),
        pid = p("nginx.pid"),
        body = p("client_body"),
        proxy = p("proxy"),
        fastcgi = p("fastcgi"),
        uwsgi = p("uwsgi"),
        scgi = p("scgi"),
        www = www.display(),
    );
    let conf_path = prefix.join("nginx.conf");
    std::fs::write(&conf_path, conf)?;
    let mut cmd = Command::new(bin);
    cmd.arg("-p").arg(&prefix).arg("-c").arg(&conf_path);
    ChildGuard::spawn("nginx", &mut cmd, prefix.join("error.log"))
}

/// A loopback address with a port that was free a moment ago.
pub fn free_addr() -> anyhow::Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// nginx workers run as an unprivileged user when started by root; they must read the page.
pub fn make_world_readable(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if path.is_dir() { 0o755 } else { 0o644 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}
