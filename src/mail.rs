//! Sending order mails: the transport chosen by `FEDISHOP_MAIL_TRANSPORT` (an `.eml` file per
//! message by default, a log line, or SMTP through `lettre`) and the worker that drains the
//! mail outbox (`db::mail`) with retries. Recipients and bodies are personal data: they are
//! never logged.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::Notify;

use crate::config::{MailTransport, Settings};
use crate::db::mail::{self, QueuedMail};
use crate::domain::now_ms;
use crate::server::AppState;

/// Attempts before a message is given up (about three days with the backoff below).
const MAX_ATTEMPTS: i64 = 20;

/// Checks an SMTP URL the way the transport will read it.
pub fn check_smtp_url(url: &str) -> Result<(), String> {
    AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Checks a `From:` value (`name <addr>` or `addr`).
pub fn check_from(from: &str) -> Result<(), String> {
    from.parse::<Mailbox>()
        .map(|_| ())
        .map_err(|e| e.to_string())
}

enum Sender {
    File(PathBuf),
    Log,
    Smtp(Result<AsyncSmtpTransport<Tokio1Executor>, String>),
}

/// The configured transport, the sender address, and the worker's wake-up.
pub struct Mailer {
    sender: Sender,
    from: String,
    wake: Notify,
}

impl Mailer {
    pub fn new(settings: &Settings) -> Mailer {
        let host = settings
            .domain
            .rsplit_once(':')
            .map_or(settings.domain.as_str(), |(h, _)| h);
        let from = settings
            .mail_from
            .clone()
            .unwrap_or_else(|| format!("fedishop <noreply@{host}>"));
        let sender = match &settings.mail_transport {
            MailTransport::File => Sender::File(settings.mail_dir()),
            MailTransport::Log => Sender::Log,
            MailTransport::Smtp(url) => Sender::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map(|b| b.build())
                    .map_err(|e| e.to_string()),
            ),
        };
        Mailer {
            sender,
            from,
            wake: Notify::new(),
        }
    }

    /// Tells the worker that messages may be waiting.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    fn message(&self, m: &QueuedMail) -> Result<Message, String> {
        let from: Mailbox = self.from.parse().map_err(|e| format!("from: {e}"))?;
        let to: Mailbox = m.recipient.parse().map_err(|e| format!("recipient: {e}"))?;
        Message::builder()
            .from(from)
            .to(to)
            .subject(m.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(m.body.clone())
            .map_err(|e| e.to_string())
    }

    /// Sends one message. The error text never contains an address.
    pub async fn send(&self, m: &QueuedMail) -> Result<(), String> {
        self.send_raw(m).await.map_err(|e| redact(&e))
    }

    async fn send_raw(&self, m: &QueuedMail) -> Result<(), String> {
        let message = self.message(m)?;
        match &self.sender {
            Sender::File(dir) => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| format!("mail dir: {e}"))?;
                let path = dir.join(format!("{}.eml", m.id));
                let tmp = dir.join(format!(".{}.tmp", m.id));
                tokio::fs::write(&tmp, message.formatted())
                    .await
                    .map_err(|e| format!("writing mail: {e}"))?;
                tokio::fs::rename(&tmp, &path)
                    .await
                    .map_err(|e| format!("writing mail: {e}"))?;
                tracing::debug!(mail = %m.id, "mail written");
                Ok(())
            }
            Sender::Log => {
                tracing::info!(mail = %m.id, subject = %m.subject, "mail (log transport, not sent)");
                Ok(())
            }
            Sender::Smtp(Ok(t)) => t
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| format!("smtp: {e}")),
            Sender::Smtp(Err(e)) => Err(format!("smtp transport: {e}")),
        }
    }
}

/// An error text fit for the log and the outbox row: any word with an `@` (an SMTP server may
/// quote the recipient, e.g. `550 <ann@example.org>: unknown user`) is replaced.
fn redact(error: &str) -> String {
    error
        .split(' ')
        .map(|w| if w.contains('@') { "[address]" } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Minutes before the next attempt: 1, 2, 4, ... up to 6 hours.
fn backoff_ms(attempts: i64) -> i64 {
    let minutes = 1_i64 << attempts.clamp(0, 9);
    minutes.min(360) * 60_000
}

/// Sends what is due, 50 at a time: one update takes the batch, one delete clears what was
/// sent. Returns how many were handled.
pub async fn drain(state: &AppState) -> crate::error::Result<usize> {
    let now = now_ms();
    let due = mail::due(&state.store, now, 50).await?;
    let ids: Vec<String> = due.iter().map(|m| m.id.clone()).collect();
    let taken = {
        let _turn = state.store.write_turn().await;
        mail::take(&state.store, &ids, now, now + 10 * 60_000).await?
    };
    let mut done = Vec::new();
    for m in due.iter().filter(|m| taken.contains(&m.id)) {
        match state.mail.send(m).await {
            Ok(()) => {
                done.push(m.id.clone());
                crate::metrics::Metrics::inc(&state.federation.metrics.mails_sent);
            }
            Err(e) if m.attempts + 1 >= MAX_ATTEMPTS => {
                tracing::error!(mail = %m.id, error = %e, "giving up on a mail");
                done.push(m.id.clone());
                crate::metrics::Metrics::inc(&state.federation.metrics.mails_failed);
            }
            Err(e) => {
                tracing::warn!(mail = %m.id, error = %e, "mail not sent; will retry");
                let _turn = state.store.write_turn().await;
                mail::failed(&state.store, &m.id, &e, now + backoff_ms(m.attempts)).await?;
                crate::metrics::Metrics::inc(&state.federation.metrics.mails_failed);
            }
        }
    }
    if !done.is_empty() {
        let _turn = state.store.write_turn().await;
        mail::sent(&state.store, &done).await?;
    }
    Ok(taken.len())
}

/// The mail worker: drains the outbox when woken, and at least every 30 seconds.
pub async fn run(state: AppState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        let handled = match drain(&state).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "mail worker");
                0
            }
        };
        if handled > 0 {
            continue;
        }
        tokio::select! {
            _ = state.mail.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(30)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_never_reach_the_log() {
        assert_eq!(
            redact("smtp: 550 <ann@example.org>: Recipient address rejected"),
            "smtp: 550 [address] Recipient address rejected"
        );
        assert_eq!(redact("connection refused"), "connection refused");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff_ms(0), 60_000);
        assert_eq!(backoff_ms(3), 8 * 60_000);
        assert_eq!(backoff_ms(20), 360 * 60_000);
    }

    #[test]
    fn smtp_urls_and_senders_are_checked() {
        assert!(check_smtp_url("smtps://user:pw@mail.example:465").is_ok());
        assert!(check_smtp_url("smtp://mail.example:587?tls=required").is_ok());
        assert!(check_smtp_url("http://mail.example").is_err());
        assert!(check_from("Tea shop <shop@tea.example>").is_ok());
        assert!(check_from("not a mailbox").is_err());
    }
}
