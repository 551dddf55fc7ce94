//! HTTP Signatures (draft-cavage-http-signatures-12, `rsa-sha256`) with `Digest` (RFC 3230):
//! signing our requests and strictly checking incoming ones. Pure functions over headers and
//! bytes; fetching the signer's key is the caller's job. Imports nothing from `db` or axum.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sha2::{Digest as _, Sha256};

/// How far a signed `Date` (or `(created)`) may be from our clock, either way.
pub const CLOCK_WINDOW_SECS: i64 = 60 * 60;

/// A private RSA key ready to sign (aws-lc-rs: constant-time, ~4,000 signatures/s per core
/// on the reference machine, against ~650 with the pure-Rust `rsa` crate).
pub type PrivateKey = aws_lc_rs::rsa::KeyPair;

fn pem(label: &str, der: &[u8]) -> String {
    let body = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The label and DER bytes of a PEM block.
fn pem_der(text: &str) -> Option<(String, Vec<u8>)> {
    let text = text.trim();
    let label = text
        .strip_prefix("-----BEGIN ")?
        .split_once("-----")?
        .0
        .to_string();
    let end = format!("-----END {label}-----");
    let body = text
        .split_once("-----\n")
        .or_else(|| text.split_once("-----\r\n"))?
        .1;
    let body = body.split_once(end.as_str())?.0;
    let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    Some((label, B64.decode(compact).ok()?))
}

/// A new RSA-2048 key pair as (public SPKI PEM, private PKCS#8 PEM). Takes a noticeable
/// fraction of a second: call it from a blocking task.
pub fn generate_key_pair() -> anyhow::Result<(String, String)> {
    let key = PrivateKey::generate(KeySize::Rsa2048)
        .map_err(|_| anyhow::anyhow!("RSA key generation failed"))?;
    let private: Pkcs8V1Der = key
        .as_der()
        .map_err(|_| anyhow::anyhow!("cannot encode the private key"))?;
    let public: PublicKeyX509Der = key
        .public_key()
        .as_der()
        .map_err(|_| anyhow::anyhow!("cannot encode the public key"))?;
    Ok((
        pem("PUBLIC KEY", public.as_ref()),
        pem("PRIVATE KEY", private.as_ref()),
    ))
}

/// Reads a PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`) PEM.
pub fn parse_private_key(text: &str) -> anyhow::Result<PrivateKey> {
    let (label, der) = pem_der(text).ok_or_else(|| anyhow::anyhow!("not a PEM private key"))?;
    let key = match label.as_str() {
        "PRIVATE KEY" => PrivateKey::from_pkcs8(&der),
        "RSA PRIVATE KEY" => PrivateKey::from_der(&der),
        other => anyhow::bail!("unsupported private key type {other}"),
    };
    key.map_err(|e| anyhow::anyhow!("unusable private key: {e}"))
}

/// The DER of an SPKI (`BEGIN PUBLIC KEY`) or PKCS#1 (`BEGIN RSA PUBLIC KEY`) PEM; both
/// forms are accepted by the verifier.
pub fn parse_public_key(text: &str) -> Option<Vec<u8>> {
    match pem_der(text)? {
        (label, der) if label == "PUBLIC KEY" || label == "RSA PUBLIC KEY" => Some(der),
        _ => None,
    }
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
pub fn sign(key: &PrivateKey, key_id: &str, req: &ToSign<'_>) -> String {
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
    let mut signature = vec![0; key.public_modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        signing_string.as_bytes(),
        &mut signature,
    )
    .expect("RSA signing with a valid key");
    format!(
        "keyId=\"{key_id}\",algorithm=\"rsa-sha256\",headers=\"{}\",signature=\"{}\"",
        names.join(" "),
        B64.encode(signature)
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

/// A remote actor's public key, parsed once and kept (verifying with it costs no PEM or DER
/// parsing).
pub type VerifyingKey = aws_lc_rs::signature::ParsedPublicKey;

/// Parses an SPKI or PKCS#1 PEM public key of 2,048 to 8,192 bits for verifying.
pub fn parse_verifying_key(public_key_pem: &str) -> Option<VerifyingKey> {
    let der = parse_public_key(public_key_pem)?;
    VerifyingKey::new(&RSA_PKCS1_2048_8192_SHA256, der).ok()
}

/// Rebuilds the signing string and verifies it with the signer's public key.
pub fn verify(
    req: &Incoming<'_>,
    sig: &SignatureHeader,
    public_key_pem: &str,
) -> Result<(), SignatureError> {
    let key = parse_verifying_key(public_key_pem).ok_or(SignatureError::BadKey)?;
    verify_with(req, sig, &key)
}

/// [`verify`] with a key parsed beforehand.
pub fn verify_with(
    req: &Incoming<'_>,
    sig: &SignatureHeader,
    key: &VerifyingKey,
) -> Result<(), SignatureError> {
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
    key.verify_sig(lines.join("\n").as_bytes(), &sig.signature)
        .map_err(|_| SignatureError::Invalid)
}

/// The actor id a key id belongs to by convention (`actor#main-key`, GoToSocial's
/// `actor/main-key`); the key document itself is authoritative.
pub fn actor_of_key_id(key_id: &str) -> &str {
    key_id.split('#').next().unwrap_or(key_id)
}

#[cfg(test)]
mod tests;
