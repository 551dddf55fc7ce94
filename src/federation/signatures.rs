//! HTTP Signatures (draft-cavage-http-signatures-12, `rsa-sha256`) with `Digest` (RFC 3230):
//! signing our requests and strictly checking incoming ones. Pure functions over headers and
//! bytes; fetching the signer's key is the caller's job. Imports nothing from `db` or axum.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rsa::signature::{RandomizedSigner, SignatureEncoding, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::{Digest as _, Sha256};

/// How far a signed `Date` (or `(created)`) may be from our clock, either way.
pub const CLOCK_WINDOW_SECS: i64 = 60 * 60;

/// A new RSA-2048 key pair as (public SPKI PEM, private PKCS#8 PEM). Takes ~0.2 s: call it
/// from a blocking task.
pub fn generate_key_pair() -> anyhow::Result<(String, String)> {
    let private = RsaPrivateKey::new(&mut rand::thread_rng(), 2048)?;
    let public = RsaPublicKey::from(&private);
    Ok((
        public.to_public_key_pem(LineEnding::LF)?,
        private.to_pkcs8_pem(LineEnding::LF)?.to_string(),
    ))
}

pub fn parse_private_key(pem: &str) -> anyhow::Result<RsaPrivateKey> {
    Ok(RsaPrivateKey::from_pkcs8_pem(pem)?)
}

/// Parses an SPKI (`BEGIN PUBLIC KEY`) or PKCS#1 (`BEGIN RSA PUBLIC KEY`) PEM.
pub fn parse_public_key(pem: &str) -> Option<RsaPublicKey> {
    let pem = pem.trim();
    RsaPublicKey::from_public_key_pem(pem).ok().or_else(|| {
        use rsa::pkcs1::DecodeRsaPublicKey;
        RsaPublicKey::from_pkcs1_pem(pem).ok()
    })
}

/// `SHA-256=<base64>` of a body, the value of a `Digest` header.
pub fn digest_header(body: &[u8]) -> String {
    format!("SHA-256={}", B64.encode(Sha256::digest(body)))
}

/// The headers of a request to sign, lower-case names, in the order they are signed.
pub struct ToSign<'a> {
    pub method: &'a str,
    /// Path and query of the target, e.g. `/inbox`.
    pub path_and_query: &'a str,
    pub headers: Vec<(&'static str, String)>,
}

/// The `Signature` header value for a request.
pub fn sign(key: &RsaPrivateKey, key_id: &str, req: &ToSign<'_>) -> String {
    let mut names = vec!["(request-target)".to_string()];
    let mut lines = vec![format!(
        "(request-target): {} {}",
        req.method.to_ascii_lowercase(),
        req.path_and_query
    )];
    for (name, value) in &req.headers {
        names.push((*name).to_string());
        lines.push(format!("{name}: {value}"));
    }
    let signing_string = lines.join("\n");
    let signer = SigningKey::<Sha256>::new(key.clone());
    let signature = signer.sign_with_rng(&mut rand::thread_rng(), signing_string.as_bytes());
    format!(
        "keyId=\"{key_id}\",algorithm=\"rsa-sha256\",headers=\"{}\",signature=\"{}\"",
        names.join(" "),
        B64.encode(signature.to_bytes())
    )
}

/// Why an incoming signature was refused. Every variant means "401".
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("no Signature header")]
    Missing,
    #[error("malformed Signature header")]
    Malformed,
    #[error("unsupported signature algorithm {0}")]
    Algorithm(String),
    #[error("the signature does not cover {0}")]
    NotCovered(&'static str),
    #[error("a signed header is missing: {0}")]
    MissingHeader(String),
    #[error("the Date is not a valid HTTP date")]
    BadDate,
    #[error("the signature is too old or from the future")]
    Expired,
    #[error("the Digest header does not match the body")]
    DigestMismatch,
    #[error("the signed Host is not this server")]
    WrongHost,
    #[error("the signer's key could not be used")]
    BadKey,
    #[error("the signature does not verify")]
    Invalid,
    #[error("the signer is not the activity's actor")]
    WrongActor,
}

/// The parsed `Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    pub key_id: String,
    pub algorithm: Option<String>,
    pub headers: Vec<String>,
    pub signature: Vec<u8>,
    pub created: Option<i64>,
    pub expires: Option<i64>,
}

/// Parses `keyId="…",algorithm="…",headers="…",signature="…"` (the `Signature` header, or the
/// part of `Authorization` after `Signature `).
pub fn parse_signature_header(value: &str) -> Result<SignatureHeader, SignatureError> {
    let mut key_id = None;
    let mut algorithm = None;
    let mut headers = None;
    let mut signature = None;
    let mut created = None;
    let mut expires = None;
    let mut rest = value.trim();
    while !rest.is_empty() {
        let (name, after) = rest.split_once('=').ok_or(SignatureError::Malformed)?;
        let name = name.trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (val, remaining) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').ok_or(SignatureError::Malformed)?;
            (&q[..end], &q[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim(), &after[end..])
        };
        match name.as_str() {
            "keyid" => key_id = Some(val.to_string()),
            "algorithm" => algorithm = Some(val.to_ascii_lowercase()),
            "headers" => {
                headers = Some(
                    val.split_ascii_whitespace()
                        .map(|h| h.to_ascii_lowercase())
                        .collect::<Vec<_>>(),
                )
            }
            "signature" => {
                signature = Some(B64.decode(val).map_err(|_| SignatureError::Malformed)?)
            }
            "created" => created = Some(val.parse().map_err(|_| SignatureError::Malformed)?),
            "expires" => expires = Some(val.parse().map_err(|_| SignatureError::Malformed)?),
            _ => {}
        }
        rest = remaining.trim_start();
        if let Some(r) = rest.strip_prefix(',') {
            rest = r.trim_start();
        } else if !rest.is_empty() {
            return Err(SignatureError::Malformed);
        }
    }
    Ok(SignatureHeader {
        key_id: key_id
            .filter(|k| !k.is_empty())
            .ok_or(SignatureError::Malformed)?,
        algorithm,
        // draft-cavage: a missing `headers` means just `date`.
        headers: headers.unwrap_or_else(|| vec!["date".into()]),
        signature: signature.ok_or(SignatureError::Malformed)?,
        created,
        expires,
    })
}

/// An incoming request as the verifier sees it.
pub struct Incoming<'a> {
    pub method: &'a str,
    pub path_and_query: &'a str,
    /// Header lookup by lower-case name; several values of one header joined with ", ".
    pub header: &'a (dyn Fn(&str) -> Option<String> + Sync),
    /// The body for POSTs (its Digest is checked), `None` for GETs.
    pub body: Option<&'a [u8]>,
    /// Our own `host[:port]`.
    pub our_host: &'a str,
    /// Unix seconds now.
    pub now: i64,
}

/// Checks everything about a signature that does not need the signer's key: parse, required
/// coverage, time window, Host and Digest. Run before fetching any key, so junk costs nothing.
pub fn precheck(req: &Incoming<'_>) -> Result<SignatureHeader, SignatureError> {
    let raw = (req.header)("signature")
        .or_else(|| {
            (req.header)("authorization")
                .and_then(|a| a.strip_prefix("Signature ").map(str::to_string))
        })
        .ok_or(SignatureError::Missing)?;
    let sig = parse_signature_header(&raw)?;
    match sig.algorithm.as_deref() {
        None | Some("rsa-sha256") | Some("hs2019") => {}
        Some(other) => return Err(SignatureError::Algorithm(other.to_string())),
    }
    let covers = |h: &str| sig.headers.iter().any(|x| x == h);
    if !covers("(request-target)") {
        return Err(SignatureError::NotCovered("(request-target)"));
    }
    if !covers("host") {
        return Err(SignatureError::NotCovered("host"));
    }
    let signed_time = if covers("date") {
        let date = (req.header)("date").ok_or(SignatureError::MissingHeader("date".into()))?;
        let t = httpdate::parse_http_date(date.trim()).map_err(|_| SignatureError::BadDate)?;
        t.duration_since(std::time::UNIX_EPOCH)
            .map_err(|_| SignatureError::BadDate)?
            .as_secs() as i64
    } else if covers("(created)") {
        sig.created.ok_or(SignatureError::Malformed)?
    } else {
        return Err(SignatureError::NotCovered("date"));
    };
    if (req.now - signed_time).abs() > CLOCK_WINDOW_SECS {
        return Err(SignatureError::Expired);
    }
    if sig.expires.is_some_and(|e| e < req.now) {
        return Err(SignatureError::Expired);
    }
    let host = (req.header)("host").ok_or(SignatureError::MissingHeader("host".into()))?;
    if !host
        .trim()
        .trim_end_matches('.')
        .eq_ignore_ascii_case(req.our_host)
    {
        return Err(SignatureError::WrongHost);
    }
    if let Some(body) = req.body {
        if !covers("digest") {
            return Err(SignatureError::NotCovered("digest"));
        }
        let given = (req.header)("digest").ok_or(SignatureError::MissingHeader("digest".into()))?;
        let expected = B64.encode(Sha256::digest(body));
        let matches = given.split(',').any(|part| {
            part.trim()
                .split_once('=')
                .is_some_and(|(alg, v)| alg.eq_ignore_ascii_case("sha-256") && v == expected)
        });
        if !matches {
            return Err(SignatureError::DigestMismatch);
        }
    }
    Ok(sig)
}

/// Rebuilds the signing string and verifies it with the signer's public key.
pub fn verify(
    req: &Incoming<'_>,
    sig: &SignatureHeader,
    public_key_pem: &str,
) -> Result<(), SignatureError> {
    let key = parse_public_key(public_key_pem).ok_or(SignatureError::BadKey)?;
    let mut lines = Vec::with_capacity(sig.headers.len());
    for name in &sig.headers {
        let line = match name.as_str() {
            "(request-target)" => format!(
                "(request-target): {} {}",
                req.method.to_ascii_lowercase(),
                req.path_and_query
            ),
            "(created)" => format!(
                "(created): {}",
                sig.created.ok_or(SignatureError::Malformed)?
            ),
            "(expires)" => format!(
                "(expires): {}",
                sig.expires.ok_or(SignatureError::Malformed)?
            ),
            h => {
                let v = (req.header)(h).ok_or_else(|| SignatureError::MissingHeader(h.into()))?;
                format!("{h}: {}", v.trim())
            }
        };
        lines.push(line);
    }
    let signature =
        Signature::try_from(sig.signature.as_slice()).map_err(|_| SignatureError::Invalid)?;
    VerifyingKey::<Sha256>::new(key)
        .verify(lines.join("\n").as_bytes(), &signature)
        .map_err(|_| SignatureError::Invalid)
}

/// The actor id a key id belongs to by convention (`actor#main-key`, GoToSocial's
/// `actor/main-key`); the key document itself is authoritative.
pub fn actor_of_key_id(key_id: &str) -> &str {
    key_id.split('#').next().unwrap_or(key_id)
}

#[cfg(test)]
mod tests;
