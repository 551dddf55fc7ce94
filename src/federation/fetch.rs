//! Outgoing HTTP: signed GETs of remote ActivityPub documents and WebFinger, and signed POSTs
//! to inboxes. Every remote URL is treated as hostile: https only, no explicit ports, no
//! private, loopback or link-local addresses (checked again at connect time by the resolver,
//! which closes DNS rebinding), no redirects to such places, bounded sizes and times, and
//! only ActivityPub media types. `FEDISHOP_DEV_FEDERATION` relaxes scheme, port and address
//! checks for local networks of instances, nothing else.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode};
use url::Url;

use super::signatures::{self, ToSign};

/// Largest document we read from another server.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
const MAX_REDIRECTS: usize = 3;
pub const AP_ACCEPT: &str =
    "application/activity+json, application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"";

/// Why a fetch or delivery failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("refused URL {0}: {1}")]
    Refused(String, &'static str),
    #[error("{0} is gone")]
    Gone(String),
    #[error("{0} answered {1}")]
    Status(String, StatusCode),
    #[error("{0} is not an ActivityPub document (content type {1:?})")]
    NotActivityPub(String, String),
    #[error("{0} is larger than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge(String),
    #[error("{0} is not valid JSON")]
    BadJson(String),
    #[error("{0}: the document id {1} does not match")]
    IdMismatch(String, String),
    #[error("network error for {0}: {1}")]
    Network(String, String),
    /// 429, with the Retry-After the server gave, in seconds.
    #[error("{0} asked us to slow down (429)")]
    Throttled(String, Option<i64>),
}

impl FetchError {
    /// Whether a retry later may succeed (for deliveries).
    pub fn is_temporary(&self) -> bool {
        match self {
            FetchError::Network(..) | FetchError::Throttled(..) => true,
            // 401: the receiver could not fetch our key just now (Mastodon answers so).
            FetchError::Status(_, s) => {
                s.is_server_error()
                    || *s == StatusCode::TOO_MANY_REQUESTS
                    || *s == StatusCode::REQUEST_TIMEOUT
                    || *s == StatusCode::UNAUTHORIZED
            }
            _ => false,
        }
    }
}

/// A Retry-After value (seconds, or an HTTP date) as seconds from now.
pub fn retry_after_secs(value: &str) -> Option<i64> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<i64>() {
        return Some(secs.max(0));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let secs = at
        .duration_since(std::time::SystemTime::now())
        .map_or(0, |d| d.as_secs());
    Some(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// Whether an address may be contacted. Private, loopback, link-local, multicast,
/// documentation, unspecified, broadcast, unique-local and IPv4-mapped ones may not.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64/10 shared address space
                || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0/24 protocol assignments
                || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18/15 benchmarking
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_ip(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64
                || s[0] == 0x2002) // 6to4 may embed a private v4
        }
    }
}

/// Checks a remote URL before any connection: scheme, host form, port. With `dev`, plain
/// http, explicit ports and IP literals are allowed.
pub fn check_url(raw: &str, dev: bool) -> Result<Url, FetchError> {
    let refuse = |why| FetchError::Refused(raw.chars().take(200).collect(), why);
    let url = Url::parse(raw).map_err(|_| refuse("not a URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if dev => {}
        _ => return Err(refuse("only https URLs are fetched")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("credentials in URL"));
    }
    let host = url.host().ok_or_else(|| refuse("no host"))?;
    match host {
        url::Host::Domain(d) => {
            let d = d.trim_end_matches('.');
            if !dev && (d == "localhost" || d.ends_with(".localhost")) {
                return Err(refuse("local host name"));
            }
            if d.is_empty() || !d.contains('.') && !dev {
                return Err(refuse("not a public host name"));
            }
        }
        url::Host::Ipv4(ip) => {
            if !dev && !is_public_ip(IpAddr::V4(ip)) {
                return Err(refuse("private address"));
            }
            if !dev {
                return Err(refuse("IP address hosts are not fetched"));
            }
        }
        url::Host::Ipv6(ip) => {
            if !dev && !is_public_ip(IpAddr::V6(ip)) {
                return Err(refuse("private address"));
            }
            if !dev {
                return Err(refuse("IP address hosts are not fetched"));
            }
        }
    }
    if url.port().is_some() && !dev {
        return Err(refuse("explicit ports are not fetched"));
    }
    Ok(url)
}

/// `host[:port]` of a URL as it appears in ids (lower-case, no trailing dot).
pub fn authority(url: &Url) -> Option<String> {
    let host = url.host_str()?.trim_end_matches('.').to_ascii_lowercase();
    Some(match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    })
}

/// Resolves names and refuses non-public addresses at connect time.
struct PublicOnlyResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow_private || is_public_ip(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The key a request is signed with: the signing actor's key id and private key.
#[derive(Clone)]
pub struct SigningKey {
    pub key_id: String,
    pub key: Arc<super::signatures::PrivateKey>,
}

/// An activity ready to be POSTed to any number of inboxes: its bytes, shared by every
/// request instead of copied into each, and its `Digest` header, computed once.
#[derive(Clone, Debug)]
pub struct OutgoingBody {
    bytes: Bytes,
    digest: HeaderValue,
    digest_text: String,
}

impl OutgoingBody {
    pub fn new(body: impl Into<Bytes>) -> OutgoingBody {
        let bytes = body.into();
        let digest_text = signatures::digest_header(&bytes);
        OutgoingBody {
            digest: HeaderValue::from_str(&digest_text).expect("digest header"),
            digest_text,
            bytes,
        }
    }

    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }
}

/// An HTTP client for federation.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    dev: bool,
    user_agent: String,
}

impl Client {
    pub fn new(dev: bool, base_url: &str) -> Client {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .dns_resolver(Arc::new(PublicOnlyResolver { allow_private: dev }))
            .pool_max_idle_per_host(4)
            .build()
            .expect("HTTP client");
        Client {
            http,
            dev,
            user_agent: format!("fedishop/{} (+{base_url})", env!("CARGO_PKG_VERSION")),
        }
    }

    pub fn dev(&self) -> bool {
        self.dev
    }

    /// GETs an ActivityPub document, signed by `signer`. The returned document's `id` must be
    /// the URL finally fetched.
    pub async fn get_object(
        &self,
        url: &str,
        signer: &SigningKey,
    ) -> Result<serde_json::Value, FetchError> {
        let (final_url, body) = self.get(url, AP_ACCEPT, signer, true).await?;
        let doc: serde_json::Value =
            serde_json::from_slice(&body).map_err(|_| FetchError::BadJson(final_url.clone()))?;
        let id = doc.get("id").and_then(|v| v.as_str()).unwrap_or_default();
        if id != final_url {
            return Err(FetchError::IdMismatch(
                final_url,
                id.chars().take(200).collect(),
            ));
        }
        Ok(doc)
    }

    /// GETs the document behind a key id (fragment dropped). Unlike `get_object` its `id` may
    /// differ from the URL (GoToSocial serves its actor stub at `…/main-key`); callers must
    /// only read the key's owner from it and fetch that actor with `get_object`.
    pub async fn get_key_document(
        &self,
        key_id: &str,
        signer: &SigningKey,
    ) -> Result<serde_json::Value, FetchError> {
        let url = key_id.split('#').next().unwrap_or(key_id);
        let (final_url, body) = self.get(url, AP_ACCEPT, signer, true).await?;
        serde_json::from_slice(&body).map_err(|_| FetchError::BadJson(final_url))
    }

    /// GETs a JSON document (WebFinger, NodeInfo) without the ActivityPub type check.
    pub async fn get_json(
        &self,
        url: &str,
        accept: &str,
        signer: &SigningKey,
    ) -> Result<serde_json::Value, FetchError> {
        let (final_url, body) = self.get(url, accept, signer, false).await?;
        serde_json::from_slice(&body).map_err(|_| FetchError::BadJson(final_url))
    }

    async fn get(
        &self,
        url: &str,
        accept: &str,
        signer: &SigningKey,
        activitypub: bool,
    ) -> Result<(String, Vec<u8>), FetchError> {
        let mut current = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let target = check_url(&current, self.dev)?;
            let mut headers = HeaderMap::new();
            headers.insert(
                ACCEPT,
                HeaderValue::from_str(accept).expect("accept header"),
            );
            let response = self
                .send_signed(Method::GET, &target, headers, None, signer)
                .await?;
            let status = response.status();
            if status.is_redirection() {
                let next = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|l| target.join(l).ok())
                    .ok_or_else(|| FetchError::Status(current.clone(), status))?;
                current = next.to_string();
                continue;
            }
            if status == StatusCode::GONE {
                return Err(FetchError::Gone(current));
            }
            if !status.is_success() {
                return Err(FetchError::Status(current, status));
            }
            if activitypub {
                let ct = response
                    .headers()
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                if !is_activitypub_type(&ct) {
                    return Err(FetchError::NotActivityPub(current, ct));
                }
            }
            let body = read_limited(response, &current).await?;
            return Ok((current, body));
        }
        Err(FetchError::Refused(url.to_string(), "too many redirects"))
    }

    /// POSTs an activity to an inbox, signed with Digest.
    pub async fn post_activity(
        &self,
        inbox: &str,
        body: &OutgoingBody,
        signer: &SigningKey,
    ) -> Result<(), FetchError> {
        let target = check_url(inbox, self.dev)?;
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/activity+json"),
        );
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/activity+json"),
        );
        let response = self
            .send_signed(Method::POST, &target, headers, Some(body), signer)
            .await?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status == StatusCode::TOO_MANY_REQUESTS {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(retry_after_secs);
            Err(FetchError::Throttled(inbox.to_string(), retry_after))
        } else if status == StatusCode::GONE {
            Err(FetchError::Gone(inbox.to_string()))
        } else {
            Err(FetchError::Status(inbox.to_string(), status))
        }
    }

    async fn send_signed(
        &self,
        method: Method,
        target: &Url,
        mut headers: HeaderMap,
        body: Option<&OutgoingBody>,
        signer: &SigningKey,
    ) -> Result<reqwest::Response, FetchError> {
        let host =
            authority(target).ok_or_else(|| FetchError::Refused(target.to_string(), "no host"))?;
        let date = httpdate::fmt_http_date(std::time::SystemTime::now());
        let mut path = target.path().to_string();
        if let Some(q) = target.query() {
            path.push('?');
            path.push_str(q);
        }
        let mut signed: Vec<(&'static str, String)> =
            vec![("host", host.clone()), ("date", date.clone())];
        if let Some(b) = body {
            headers.insert("digest", b.digest.clone());
            signed.push(("digest", b.digest_text.clone()));
            signed.push(("content-type", "application/activity+json".into()));
        } else if let Some(accept) = headers.get(ACCEPT).and_then(|v| v.to_str().ok()) {
            signed.push(("accept", accept.to_string()));
        }
        let signature = signatures::sign(
            &signer.key,
            &signer.key_id,
            &ToSign {
                method: method.as_str(),
                path_and_query: &path,
                headers: signed,
            },
        );
        headers.insert("date", HeaderValue::from_str(&date).expect("date header"));
        headers.insert(
            "signature",
            HeaderValue::from_str(&signature)
                .map_err(|_| FetchError::Refused(target.to_string(), "bad key id"))?,
        );
        headers.insert(
            reqwest::header::USER_AGENT,
            HeaderValue::from_str(&self.user_agent).expect("user agent"),
        );
        let mut request = self.http.request(method, target.clone()).headers(headers);
        if let Some(b) = body {
            request = request.body(b.bytes.clone());
        }
        request
            .send()
            .await
            .map_err(|e| FetchError::Network(target.to_string(), error_chain(&e)))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// `application/activity+json`, or `application/ld+json` with the ActivityStreams profile.
pub fn is_activitypub_type(content_type: &str) -> bool {
    let lower = content_type.to_ascii_lowercase();
    let essence = lower.split(';').next().unwrap_or_default().trim();
    essence == "application/activity+json"
        || (essence == "application/ld+json"
            && lower.contains("https://www.w3.org/ns/activitystreams"))
}

async fn read_limited(mut response: reqwest::Response, url: &str) -> Result<Vec<u8>, FetchError> {
    if response
        .content_length()
        .is_some_and(|n| n as usize > MAX_DOCUMENT_BYTES)
    {
        return Err(FetchError::TooLarge(url.to_string()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| FetchError::Network(url.to_string(), error_chain(&e)))?
    {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(FetchError::TooLarge(url.to_string()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "224.0.0.1",
        ] {
            assert!(!is_public_ip(ip.parse().unwrap()), "{ip}");
        }
        assert!(is_public_ip("93.184.216.34".parse().unwrap()));
        assert!(is_public_ip("2606:4700::1111".parse().unwrap()));
    }

    #[test]
    fn urls_are_checked_before_connecting() {
        assert!(check_url("https://mastodon.example/users/a", false).is_ok());
        for bad in [
            "http://mastodon.example/users/a",
            "https://mastodon.example:8443/users/a",
            "https://127.0.0.1/users/a",
            "https://localhost/users/a",
            "https://user:pw@mastodon.example/",
            "ftp://mastodon.example/",
            "https://[::1]/x",
            "not a url",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
        assert!(check_url("http://127.0.0.1:8080/users/a", true).is_ok());
        assert!(check_url("http://localhost:8080/users/a", true).is_ok());
    }

    #[test]
    fn only_activitypub_media_types_pass() {
        assert!(is_activitypub_type(
            "application/activity+json; charset=utf-8"
        ));
        assert!(is_activitypub_type(
            "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\""
        ));
        assert!(!is_activitypub_type("application/ld+json"));
        assert!(!is_activitypub_type("application/json"));
        assert!(!is_activitypub_type("text/html"));
    }
}
