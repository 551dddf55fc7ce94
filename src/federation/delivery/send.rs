//! One delivery attempt: signs (at send time, so every retry has a fresh Date) and POSTs the
//! activity, then says what became of it and what that tells about the instance.

use super::Done;
use crate::db::deliveries::{Claimed, Outcome};
use crate::domain::delivery::{self as policy, HostSignal};
use crate::domain::now_ms;
use crate::federation::fetch::{FetchError, OutgoingBody};
use crate::federation::keys;
use crate::server::AppState;

/// Sends one delivery and says what became of it.
pub(super) async fn attempt(state: &AppState, d: Claimed, body: &OutgoingBody) -> Done {
    let sent = match keys::signing_key(&state.store, &state.federation.keys, &d.sender).await {
        Ok(key) => {
            state
                .federation
                .client
                .post_activity(&d.inbox, body, &key)
                .await
        }
        Err(e) => Err(FetchError::Network(
            d.inbox.clone(),
            format!("signing key: {e}"),
        )),
    };
    let (outcome, signal) = match sent {
        Ok(()) => {
            tracing::debug!(inbox = %d.inbox, "delivered");
            (Outcome::Delivered, Some(HostSignal::Up))
        }
        Err(e) => {
            let attempts = d.attempts + 1;
            let signal = host_signal(&e);
            let error = e.to_string();
            let outcome = if e.is_temporary() && policy::may_retry(attempts) {
                let delay = policy::retry_delay_secs(attempts, rand::random::<f64>());
                tracing::info!(inbox = %d.inbox, error = %error, attempt = attempts, retry_in_secs = delay, "delivery failed; will retry");
                Outcome::Retry {
                    next_attempt_at: now_ms() + delay * 1000,
                    error,
                }
            } else {
                tracing::info!(inbox = %d.inbox, error = %error, attempts, "delivery failed for good");
                Outcome::Failed { error }
            };
            (outcome, signal)
        }
    };
    let error = match &outcome {
        Outcome::Retry { error, .. } | Outcome::Failed { error } => Some(error.as_str()),
        _ => None,
    };
    let health = signal.map(|s| {
        state
            .federation
            .health
            .observe(&d.host, &s, error, now_ms())
    });
    Done {
        id: d.id,
        host: d.host,
        outcome,
        health,
    }
}

/// What a failed attempt says about the instance; None when the request never left.
fn host_signal(e: &FetchError) -> Option<HostSignal> {
    match e {
        FetchError::Network(..) => Some(HostSignal::Down),
        FetchError::Throttled(_, retry_after) => Some(HostSignal::Throttled {
            retry_after_secs: *retry_after,
        }),
        FetchError::Status(_, s) if s.is_server_error() || s.as_u16() == 408 => {
            Some(HostSignal::Down)
        }
        FetchError::Refused(..) => None,
        // It answered: the instance is up, whatever it thought of the request.
        _ => Some(HostSignal::Up),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    #[test]
    fn failures_are_read_as_signals_about_the_instance() {
        let s = |e: FetchError| host_signal(&e);
        assert_eq!(
            s(FetchError::Network("i".into(), "refused".into())),
            Some(HostSignal::Down)
        );
        assert_eq!(
            s(FetchError::Status("i".into(), StatusCode::BAD_GATEWAY)),
            Some(HostSignal::Down)
        );
        assert_eq!(
            s(FetchError::Status("i".into(), StatusCode::REQUEST_TIMEOUT)),
            Some(HostSignal::Down)
        );
        assert_eq!(
            s(FetchError::Status("i".into(), StatusCode::UNAUTHORIZED)),
            Some(HostSignal::Up)
        );
        assert_eq!(s(FetchError::Gone("i".into())), Some(HostSignal::Up));
        assert_eq!(
            s(FetchError::Throttled("i".into(), Some(30))),
            Some(HostSignal::Throttled {
                retry_after_secs: Some(30)
            })
        );
        assert_eq!(s(FetchError::Refused("i".into(), "private address")), None);
    }
}
