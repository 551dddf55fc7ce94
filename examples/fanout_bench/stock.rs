//! The stock path: activitypub_federation's own types and send path (an actor that can sign,
//! an activity that is a JSON body, `SendActivityTask::prepare` + `sign_and_send`), and
//! what signing alone costs on each path.

use std::sync::Arc;
use std::time::{Duration, Instant};

use activitypub_federation::activity_sending::SendActivityTask;
use activitypub_federation::config::{Data, FederationConfig};
use activitypub_federation::traits::{Activity, Actor, Object};
use axum::body::Bytes;
use futures_util::stream::{self, StreamExt};
use url::Url;

use super::procfs::{cpu_reading, cpu_used};
use super::sinks::{arrivals, inbox_url, Sinks, STOCK_HOST};
use super::Opts;

#[derive(Debug)]
struct StockActor {
    id: Url,
    public_pem: String,
    private_pem: String,
}

#[async_trait::async_trait]
impl Object for StockActor {
    type DataType = ();
    type Kind = serde_json::Value;
    type Error = activitypub_federation::error::Error;

    fn id(&self) -> &Url {
        &self.id
    }
    async fn read_from_id(_: Url, _: &Data<()>) -> Result<Option<Self>, Self::Error> {
        Ok(None)
    }
    async fn into_json(self, _: &Data<()>) -> Result<serde_json::Value, Self::Error> {
        Ok(serde_json::json!({ "id": self.id }))
    }
    async fn verify(_: &serde_json::Value, _: &Url, _: &Data<()>) -> Result<(), Self::Error> {
        Ok(())
    }
    async fn from_json(_: serde_json::Value, _: &Data<()>) -> Result<Self, Self::Error> {
        Err(Self::Error::Other("not used by this benchmark".into()))
    }
}

impl Actor for StockActor {
    fn public_key_pem(&self) -> &str {
        &self.public_pem
    }
    fn private_key_pem(&self) -> Option<String> {
        Some(self.private_pem.clone())
    }
    fn inbox(&self) -> Url {
        self.id.clone()
    }
}

#[derive(Debug)]
struct StockActivity {
    id: Url,
    actor: Url,
    body: serde_json::Value,
}

impl serde::Serialize for StockActivity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.body.serialize(s)
    }
}

#[async_trait::async_trait]
impl Activity for StockActivity {
    type DataType = ();
    type Error = activitypub_federation::error::Error;

    fn id(&self) -> &Url {
        &self.id
    }
    fn actor(&self) -> &Url {
        &self.actor
    }
    async fn verify(&self, _: &Data<()>) -> Result<(), Self::Error> {
        Ok(())
    }
    async fn receive(self, _: &Data<()>) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Phase 2: the stock activitypub_federation path, the same body to the live inboxes.
/// Returns the seconds until the last one arrived (None when not all did), the arrival times,
/// how many sends failed (`usize::MAX` when the wait ran out) and the CPU seconds used.
pub async fn stock_phase(
    o: &Opts,
    sinks: &Arc<Sinks>,
    ports: &[u16],
    live: &[usize],
    body: &Bytes,
) -> anyhow::Result<(Option<f64>, Vec<f64>, usize, f64)> {
    let body: serde_json::Value = serde_json::from_slice(body)?;
    let field = |k: &str| Url::parse(body[k].as_str().unwrap_or_default());
    let activity = StockActivity {
        id: field("id")?,
        actor: Url::parse(&format!("http://{STOCK_HOST}/actor"))?,
        body: body.clone(),
    };
    let (public_pem, private_pem) = fedishop::federation::signatures::generate_key_pair()?;
    let actor = StockActor {
        id: activity.actor.clone(),
        public_pem,
        private_pem,
    };
    let config = FederationConfig::builder()
        .domain(STOCK_HOST)
        .app_data(())
        .debug(true)
        .build()
        .await?;
    let data = config.to_request_data();
    let inboxes = live
        .iter()
        .map(|&n| Url::parse(&inbox_url(ports, o, n)))
        .collect::<Result<Vec<_>, _>>()?;

    let cpu_before = cpu_reading();
    let start = Instant::now();
    let tasks = SendActivityTask::prepare(&activity, &actor, inboxes, &data).await?;
    anyhow::ensure!(tasks.len() == live.len(), "prepare dropped inboxes");
    let failed = tokio::time::timeout(
        Duration::from_secs(o.wait_secs),
        stream::iter(tasks)
            .map(|task| {
                let data = data.clone();
                async move { task.sign_and_send(&data).await.is_err() }
            })
            .buffer_unordered(o.concurrency)
            .filter(|failed| std::future::ready(*failed))
            .count(),
    )
    .await
    .unwrap_or(usize::MAX);
    let (cpu, by_thread) = cpu_used(&cpu_before, &cpu_reading());
    println!(
        "stock phase CPU: {cpu:.2} s in {:.2} s ({by_thread})",
        start.elapsed().as_secs_f64()
    );
    let times = arrivals(&sinks.phases[1], live, sinks.base, start);
    let done = (times.len() == live.len()).then(|| times.last().copied().unwrap_or(0.0));
    Ok((done, times, failed, cpu))
}

/// Signatures per second on one thread, as each path makes them: fedishop's (aws-lc-rs, what
/// `federation::signatures::sign` does) and the stock path's (the `rsa` crate's PKCS#1 v1.5
/// over SHA-256, as activitypub_federation's `sign_request` calls it), over the same kind of
/// signing string, about half a second each. Their ratio bounds `ratio_vs_stock` from above
/// while both phases are bound by CPU: every delivery is signed, and everything else a
/// delivery costs only lowers it.
pub fn signing_rates() -> anyhow::Result<(f64, f64)> {
    use fedishop::federation::signatures::{self, ToSign};
    use rsa::pkcs8::DecodePrivateKey;
    use sha2::{Digest, Sha256};

    let (_, pem) = signatures::generate_key_pair()?;
    let ours = signatures::parse_private_key(&pem)?;
    let theirs = rsa::RsaPrivateKey::from_pkcs8_pem(&pem)?;
    let rate = |f: &mut dyn FnMut(usize)| {
        let start = Instant::now();
        let mut n = 0;
        while start.elapsed() < Duration::from_millis(500) {
            f(n);
            n += 1;
        }
        n as f64 / start.elapsed().as_secs_f64()
    };
    let aws = rate(&mut |i| {
        let path = format!("/inbox/{i}");
        let request = ToSign {
            method: "POST",
            path_and_query: &path,
            headers: vec![
                ("host", "localhost:40000".into()),
                ("date", "Tue, 25 Nov 2026 10:00:00 GMT".into()),
            ],
        };
        std::hint::black_box(signatures::sign(&ours, "http://a/k", &request));
    });
    let stock = rate(&mut |i| {
        let text = format!("(request-target): post /inbox/{i}\nhost: localhost:40000");
        let digest = Sha256::digest(text.as_bytes());
        std::hint::black_box(
            theirs
                .sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &digest)
                .expect("rsa signing"),
        );
    });
    Ok((aws, stock))
}
