use super::*;
use std::collections::HashMap;
use std::sync::OnceLock;

fn keys() -> &'static (String, String) {
    static KEYS: OnceLock<(String, String)> = OnceLock::new();
    KEYS.get_or_init(|| generate_key_pair().unwrap())
}

const NOW: i64 = 1_790_000_000;

fn http_date(secs: i64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs as u64))
}

/// A signed POST to `/inbox` on `shop.example`, as (headers, body).
fn signed_post(body: &[u8], date: i64) -> HashMap<String, String> {
    let (_, private) = keys();
    let key = parse_private_key(private).unwrap();
    let mut h = HashMap::new();
    h.insert("host".to_string(), "shop.example".to_string());
    h.insert("date".to_string(), http_date(date));
    h.insert("digest".to_string(), digest_header(body));
    h.insert(
        "content-type".to_string(),
        "application/activity+json".to_string(),
    );
    let sig = sign(
        &key,
        "https://remote.example/users/a#main-key",
        &ToSign {
            method: "POST",
            path_and_query: "/inbox",
            headers: vec![
                ("host", h["host"].clone()),
                ("date", h["date"].clone()),
                ("digest", h["digest"].clone()),
                ("content-type", h["content-type"].clone()),
            ],
        },
    );
    h.insert("signature".to_string(), sig);
    h
}

fn check(h: &HashMap<String, String>, body: &[u8], path: &str) -> Result<(), SignatureError> {
    let lookup = |name: &str| h.get(name).cloned();
    let req = Incoming {
        method: "POST",
        path_and_query: path,
        header: &lookup,
        body: Some(body),
        our_host: "shop.example",
        now: NOW,
    };
    let sig = precheck(&req)?;
    assert_eq!(sig.key_id, "https://remote.example/users/a#main-key");
    verify(&req, &sig, &keys().0)
}

#[test]
fn a_signed_post_verifies() {
    let body = br#"{"type":"Like"}"#;
    let h = signed_post(body, NOW);
    assert_eq!(check(&h, body, "/inbox"), Ok(()));
}

#[test]
fn a_changed_body_is_refused() {
    let h = signed_post(b"{}", NOW);
    assert_eq!(
        check(&h, b"{\"x\":1}", "/inbox"),
        Err(SignatureError::DigestMismatch)
    );
}

#[test]
fn a_recomputed_digest_breaks_the_signature() {
    let body = b"{\"x\":1}";
    let mut h = signed_post(b"{}", NOW);
    h.insert("digest".into(), digest_header(body));
    assert_eq!(check(&h, body, "/inbox"), Err(SignatureError::Invalid));
}

#[test]
fn another_path_or_host_is_refused() {
    let h = signed_post(b"{}", NOW);
    assert_eq!(
        check(&h, b"{}", "/shops/tea/inbox"),
        Err(SignatureError::Invalid)
    );
    let mut h2 = h.clone();
    h2.insert("host".into(), "other.example".into());
    assert_eq!(check(&h2, b"{}", "/inbox"), Err(SignatureError::WrongHost));
}

#[test]
fn old_and_future_dates_are_refused() {
    let h = signed_post(b"{}", NOW - CLOCK_WINDOW_SECS - 5);
    assert_eq!(check(&h, b"{}", "/inbox"), Err(SignatureError::Expired));
    let h = signed_post(b"{}", NOW + CLOCK_WINDOW_SECS + 5);
    assert_eq!(check(&h, b"{}", "/inbox"), Err(SignatureError::Expired));
    let h = signed_post(b"{}", NOW - 600);
    assert_eq!(check(&h, b"{}", "/inbox"), Ok(()));
}

#[test]
fn weak_header_sets_are_refused() {
    let mut h = signed_post(b"{}", NOW);
    let sig = h["signature"].replace("(request-target) ", "");
    h.insert("signature".into(), sig);
    assert_eq!(
        check(&h, b"{}", "/inbox"),
        Err(SignatureError::NotCovered("(request-target)"))
    );
    let mut h = signed_post(b"{}", NOW);
    let sig = h["signature"].replace(" digest", "");
    h.insert("signature".into(), sig);
    assert_eq!(
        check(&h, b"{}", "/inbox"),
        Err(SignatureError::NotCovered("digest"))
    );
    let mut h = signed_post(b"{}", NOW);
    h.remove("signature");
    assert_eq!(check(&h, b"{}", "/inbox"), Err(SignatureError::Missing));
    h.insert(
        "signature".into(),
        "keyId=\"x\",algorithm=\"ed25519\",signature=\"AA==\"".into(),
    );
    assert!(matches!(
        check(&h, b"{}", "/inbox"),
        Err(SignatureError::Algorithm(_))
    ));
}

#[test]
fn another_key_does_not_verify() {
    let body = b"{}";
    let h = signed_post(body, NOW);
    let (other_public, _) = generate_key_pair().unwrap();
    let lookup = |name: &str| h.get(name).cloned();
    let req = Incoming {
        method: "POST",
        path_and_query: "/inbox",
        header: &lookup,
        body: Some(body),
        our_host: "shop.example",
        now: NOW,
    };
    let sig = precheck(&req).unwrap();
    assert_eq!(
        verify(&req, &sig, &other_public),
        Err(SignatureError::Invalid)
    );
    assert_eq!(verify(&req, &sig, "not a key"), Err(SignatureError::BadKey));
}

#[test]
fn header_parsing_tolerates_spacing_and_unknown_params() {
    let s = parse_signature_header(
        r#"keyId="https://a.example/u#k", algorithm="hs2019",created=1,headers="(request-target) host date",signature="AAAA",extra="x""#,
    )
    .unwrap();
    assert_eq!(s.key_id, "https://a.example/u#k");
    assert_eq!(s.headers, vec!["(request-target)", "host", "date"]);
    assert_eq!(s.created, Some(1));
    assert!(parse_signature_header("keyId=\"x\"").is_err());
    assert!(parse_signature_header("garbage").is_err());
}

#[test]
fn key_ids_map_to_actors() {
    assert_eq!(
        actor_of_key_id("https://m.example/users/a#main-key"),
        "https://m.example/users/a"
    );
}

#[test]
fn pkcs1_keys_as_older_servers_publish_them_work_too() {
    let private = parse_private_key(include_str!(
        "../../../tests/fixtures/keys/pkcs1-private.pem"
    ))
    .unwrap();
    let h = {
        let mut h = HashMap::new();
        h.insert("host".to_string(), "shop.example".to_string());
        h.insert("date".to_string(), http_date(NOW));
        h.insert("digest".to_string(), digest_header(b"{}"));
        let sig = sign(
            &private,
            "https://remote.example/users/a#main-key",
            &ToSign {
                method: "POST",
                path_and_query: "/inbox",
                headers: vec![
                    ("host", h["host"].clone()),
                    ("date", h["date"].clone()),
                    ("digest", h["digest"].clone()),
                ],
            },
        );
        h.insert("signature".to_string(), sig);
        h
    };
    let lookup = |name: &str| h.get(name).cloned();
    let req = Incoming {
        method: "POST",
        path_and_query: "/inbox",
        header: &lookup,
        body: Some(b"{}"),
        our_host: "shop.example",
        now: NOW,
    };
    let sig = precheck(&req).unwrap();
    assert_eq!(
        verify(
            &req,
            &sig,
            include_str!("../../../tests/fixtures/keys/pkcs1-public.pem")
        ),
        Ok(())
    );
    assert!(parse_private_key(
        "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----"
    )
    .is_err());
    assert!(parse_public_key("garbage").is_none());
}

#[test]
fn generated_keys_round_trip_through_pem() {
    let (public, private) = keys();
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    assert!(private.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    assert!(parse_private_key(private).is_ok());
    assert!(parse_public_key(public).is_some());
    assert!(public.lines().all(|l| l.len() <= 64));
}
