use super::*;

#[test]
fn public_key_pem_is_what_the_encoder_writes() {
    use ed25519_dalek::pkcs8::EncodePublicKey;
    for seed in [[7u8; 32], [0u8; 32], [255u8; 32]] {
        let key = SigningKey::from_bytes(&seed).verifying_key();
        let expected = key.to_public_key_pem(LineEnding::LF).unwrap();
        assert_eq!(public_key_pem(&key), expected);
        assert_eq!(read_verifying_key_pem(&public_key_pem(&key)), key);
    }
}

fn read_verifying_key_pem(pem: &str) -> ed25519_dalek::VerifyingKey {
    ed25519_dalek::VerifyingKey::from_public_key_pem(pem).unwrap()
}

fn keys() -> (SigningKey, TokenIssuer, TokenVerifier) {
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let issuer = TokenIssuer::new(&key, "cplds", 3600).unwrap();
    let verifier = TokenVerifier::new(&[key.verifying_key()], "cplds").unwrap();
    (key, issuer, verifier)
}

fn headers(token: &str) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    h.insert(
        http::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    h
}

fn policy() -> Policy {
    let mut p = Policy::new();
    p.allow("cplds.v1.S", "Decide", Access::Roles(&[Role::ExamOffice]));
    p.allow("cplds.v1.S", "Verify", Access::Public);
    p
}

#[test]
fn token_round_trip_and_roles() {
    let (_, issuer, verifier) = keys();
    let t = issuer
        .mint("dec@ac-toulouse.fr", "toulouse", &[Role::ExamOffice])
        .unwrap();
    let claims = verifier.verify(&t).unwrap();
    assert_eq!(claims.academy, "toulouse");
    let caller = policy()
        .authorize(&verifier, "toulouse", "/cplds.v1.S/Decide", &headers(&t))
        .unwrap()
        .unwrap();
    assert!(caller.has(Role::ExamOffice));
}

#[test]
fn refusals() {
    let (_, issuer, verifier) = keys();
    let p = policy();
    let candidate = issuer
        .mint("a@b.fr", "toulouse", &[Role::Candidate])
        .unwrap();
    let other_academy = issuer
        .mint("dec@ac-lyon.fr", "lyon", &[Role::ExamOffice])
        .unwrap();
    let code = |path: &str, h: &http::HeaderMap| {
        p.authorize(&verifier, "toulouse", path, h)
            .unwrap_err()
            .code()
    };
    assert_eq!(
        code("/cplds.v1.S/Decide", &headers(&candidate)),
        tonic::Code::PermissionDenied
    );
    assert_eq!(
        code("/cplds.v1.S/Decide", &headers(&other_academy)),
        tonic::Code::PermissionDenied
    );
    assert_eq!(
        code("/cplds.v1.S/Decide", &http::HeaderMap::new()),
        tonic::Code::Unauthenticated
    );
    assert_eq!(
        code("/cplds.v1.S/Decide", &headers("garbage")),
        tonic::Code::Unauthenticated
    );
    assert_eq!(
        code("/cplds.v1.S/Unknown", &headers(&candidate)),
        tonic::Code::PermissionDenied
    );
    assert!(
        p.authorize(
            &verifier,
            "toulouse",
            "/cplds.v1.S/Verify",
            &http::HeaderMap::new()
        )
        .unwrap()
        .is_none()
    );
    assert!(
        p.authorize(
            &verifier,
            "toulouse",
            "/grpc.health.v1.Health/Check",
            &http::HeaderMap::new()
        )
        .is_ok()
    );
}

#[test]
fn forged_and_expired_tokens_fail() {
    let (_, issuer, verifier) = keys();
    let other = TokenIssuer::new(&SigningKey::from_bytes(&[9u8; 32]), "cplds", 3600).unwrap();
    let forged = other.mint("x", "toulouse", &[Role::Recteur]).unwrap();
    assert!(verifier.verify(&forged).is_err());
    let now = chrono::Utc::now().timestamp();
    let expired = issuer
        .mint_claims(&Claims {
            sub: "x".into(),
            academy: "toulouse".into(),
            roles: [Role::Recteur].into(),
            iss: "cplds".into(),
            aud: audience("toulouse"),
            iat: now - 7200,
            exp: now - 3600,
        })
        .unwrap();
    assert!(verifier.verify(&expired).unwrap_err().contains("xpired"));
    // One changed character of the payload breaks the signature.
    let good = issuer.mint("x", "toulouse", &[Role::Candidate]).unwrap();
    let mut parts: Vec<String> = good.split('.').map(String::from).collect();
    let mut payload = parts[1].clone().into_bytes();
    payload[5] = if payload[5] == b'A' { b'B' } else { b'A' };
    parts[1] = String::from_utf8(payload).unwrap();
    assert!(verifier.verify(&parts.join(".")).is_err());
}

/// A token for toulouse signed by the node's own key, with claims bent by `bend`.
fn bent(issuer: &TokenIssuer, bend: impl FnOnce(&mut serde_json::Value)) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = serde_json::json!({
        "sub": "dec@ac-toulouse.fr", "academy": "toulouse", "roles": ["exam_office"],
        "iss": "cplds", "aud": audience("toulouse"), "iat": now, "exp": now + 600,
    });
    bend(&mut claims);
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(issuer.kid.clone());
    jsonwebtoken::encode(&header, &claims, &issuer.key).unwrap()
}

#[test]
fn tokens_are_bounded_in_time_and_bound_to_their_node() {
    let (_, issuer, verifier) = keys();
    let p = policy();
    let now = chrono::Utc::now().timestamp();
    let call = |t: &str| p.authorize(&verifier, "toulouse", "/cplds.v1.S/Decide", &headers(t));
    assert!(
        call(&bent(&issuer, |_| {})).is_ok(),
        "the reference token passes"
    );
    let refused = [
        (
            "a year-long token",
            bent(&issuer, |c| c["exp"] = (now + 365 * 86_400).into()),
        ),
        (
            "issued in the future",
            bent(&issuer, |c| c["iat"] = (now + 3_600).into()),
        ),
        (
            "without iat",
            bent(&issuer, |c| {
                c.as_object_mut().unwrap().remove("iat");
            }),
        ),
        (
            "not yet valid",
            bent(&issuer, |c| c["nbf"] = (now + 3_600).into()),
        ),
        (
            "another node's",
            bent(&issuer, |c| c["aud"] = audience("bordeaux").into()),
        ),
        (
            "for every node",
            bent(&issuer, |c| c["aud"] = "cplds".into()),
        ),
    ];
    for (what, token) in refused {
        let status = call(&token).expect_err(what);
        assert_eq!(
            status.code(),
            tonic::Code::Unauthenticated,
            "{what}: {status:?}"
        );
    }
    // Nor does a public method treat such a token as staff.
    let other = bent(&issuer, |c| c["aud"] = audience("bordeaux").into());
    let caller = p.authorize(
        &verifier,
        "toulouse",
        "/cplds.v1.S/Verify",
        &headers(&other),
    );
    assert_eq!(caller.unwrap(), None);
    // The issuer refuses to mint what nodes would refuse.
    assert!(TokenIssuer::new(&SigningKey::from_bytes(&[7u8; 32]), "cplds", 86_400).is_err());
}

#[test]
fn rotation_keeps_old_tokens_valid() {
    let old = SigningKey::from_bytes(&[1u8; 32]);
    let new = SigningKey::from_bytes(&[2u8; 32]);
    let verifier =
        TokenVerifier::new(&[new.verifying_key(), old.verifying_key()], "cplds").unwrap();
    for key in [&old, &new] {
        let t = TokenIssuer::new(key, "cplds", 60)
            .unwrap()
            .mint("x", "toulouse", &[Role::ItAdmin])
            .unwrap();
        assert!(verifier.verify(&t).is_ok());
    }
}

/// A verified token is taken from the cache while it lives, and refused once expired: the cache
/// never outlives the token.
#[test]
fn a_cached_token_expires_with_its_token() {
    let (_, issuer, verifier) = keys();
    let t = issuer
        .mint("dec@ac-toulouse.fr", "toulouse", &[Role::ExamOffice])
        .unwrap();
    let claims = verifier.verify(&t).unwrap();
    assert_eq!(verifier.verify(&t).unwrap(), claims, "the cached claims");
    let later = claims.exp + LEEWAY_SECS as i64 + 1;
    let refused = verifier.verify_at(&t, later).unwrap_err();
    assert!(refused.contains("expired"), "{refused}");
    // Nothing else is cached under another text: a token bent after signing still fails.
    let mut bent = t.clone();
    bent.push('A');
    assert!(verifier.verify(&bent).is_err());
}

#[test]
fn a_policy_must_cover_every_mounted_method_and_name_only_real_ones() {
    let reporting = "cplds.v1.ReportingService";
    let methods = [
        "SubmitMldsSurvey",
        "GetMldsSurveySubmission",
        "ApproveFigures",
        "ListFiguresApprovals",
    ];
    let mut p = Policy::new();
    for m in &methods[..3] {
        p.allow(reporting, m, Access::Roles(&[Role::ItAdmin]));
    }
    // Not mounted, not checked.
    assert_eq!(p.check_complete(&[]), Ok(()));
    assert_eq!(
        p.check_complete(&[reporting]),
        Err(vec![
            "/cplds.v1.ReportingService/ListFiguresApprovals (served, without an access)".into()
        ])
    );
    p.allow(reporting, methods[3], Access::Public);
    assert_eq!(p.check_complete(&[reporting]), Ok(()));
    p.allow(reporting, "ApproveFigure", Access::Public);
    assert_eq!(
        p.check_complete(&[reporting]),
        Err(vec![
            "/cplds.v1.ReportingService/ApproveFigure (no such method in the contracts)".into()
        ])
    );
}
