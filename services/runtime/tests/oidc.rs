//! Access tokens of an OpenID Connect provider, through the real server: a provider started by
//! the test serves its discovery document and JWKS (keys made by openssl, JWKs written by
//! Python's `cryptography`: `fixtures/oidc/make.py`), tokens are minted with the `jsonwebtoken`
//! crate from the private keys, and the node's admin API (it_admin) is called with them. RS256,
//! ES256 and EdDSA are accepted; an unknown key id, a wrong algorithm, an expired token, another
//! audience, another issuer and a role the mapping does not give are refused; a key rotation at
//! the provider is picked up, and made-up key ids do not make the node hammer the provider.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{Json, Router, extract::State, routing::get};
use cplds_proto::v1::{GetNodeStatusRequest, admin_service_client::AdminServiceClient};
use cplds_runtime::{
    auth::authed,
    config::OidcProvider,
    testing::{TestNode, TestNodeOptions},
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tonic::Code;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/oidc");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()
}

fn jwk(kid: &str) -> Value {
    serde_json::from_str(&fixture(&format!("{kid}.jwk.json"))).unwrap()
}

/// The identity provider: its discovery document and its keys, which the test rotates.
struct Provider {
    addr: SocketAddr,
    keys: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct ProviderState {
    issuer: String,
    keys: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
}

impl Provider {
    async fn start(kids: &[&str]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let keys = Arc::new(Mutex::new(kids.iter().map(|k| jwk(k)).collect()));
        let fetches = Arc::new(AtomicUsize::new(0));
        let state = ProviderState {
            issuer: format!("http://{addr}/realms/cplds"),
            keys: keys.clone(),
            fetches: fetches.clone(),
        };
        let app = Router::new()
            .route(
                "/realms/cplds/.well-known/openid-configuration",
                get(|State(s): State<ProviderState>| async move {
                    Json(json!({
                        "issuer": s.issuer,
                        "jwks_uri": format!("{}/protocol/openid-connect/certs", s.issuer),
                        "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
                    }))
                }),
            )
            .route(
                "/realms/cplds/protocol/openid-connect/certs",
                get(|State(s): State<ProviderState>| async move {
                    s.fetches.fetch_add(1, Ordering::SeqCst);
                    // Keycloak also publishes an encryption key: never used to verify.
                    let mut keys = s.keys.lock().unwrap().clone();
                    keys.push(json!({
                        "kid": "enc-1", "kty": "RSA", "use": "enc", "alg": "RSA-OAEP",
                        "n": jwk("rsa-2")["n"], "e": "AQAB"
                    }));
                    Json(json!({ "keys": keys }))
                }),
            )
            .with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            addr,
            keys,
            fetches,
        }
    }

    fn issuer(&self) -> String {
        format!("http://{}/realms/cplds", self.addr)
    }

    fn publish(&self, kids: &[&str]) {
        *self.keys.lock().unwrap() = kids.iter().map(|k| jwk(k)).collect();
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// A Toulouse node trusting the provider, its Keycloak realm role `cplds-it` being it_admin.
async fn node(provider: &Provider, min_refresh_secs: u64) -> TestNode {
    let oidc = OidcProvider {
        issuer: provider.issuer(),
        subject_claim: "/email".into(),
        roles: BTreeMap::from([("cplds-it".into(), "it_admin".into())]),
        min_refresh_secs,
        ..Default::default()
    };
    let mut opts = TestNodeOptions::new("toulouse", vec![]);
    opts.tweak_config = Some(Box::new(move |c| c.auth.oidc = vec![oidc]));
    TestNode::start(opts).await.unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Claims as Keycloak writes them, for the it_admin role, valid for five minutes.
fn claims(issuer: &str) -> Value {
    json!({
        "iss": issuer,
        "sub": "f2c1a8e0-5d7e-4b1c-9a53-3b1c2d4e5f60",
        "aud": ["account", "cplds:toulouse"],
        "azp": "cplds",
        "iat": now(),
        "exp": now() + 300,
        "email": "admin@ac-toulouse.fr",
        "realm_access": { "roles": ["offline_access", "cplds-it"] },
    })
}

/// A token signed with the fixture key `key`, its header naming `kid` and `alg`.
fn mint(key: &str, alg: Algorithm, kid: &str, claims: &Value) -> String {
    let pem = fixture(&format!("{key}.pem"));
    let key = match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        Algorithm::ES256 => EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(pem.as_bytes()).unwrap(),
        other => panic!("no fixture key for {other:?}"),
    };
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

/// The node's answer to an it_admin call with `token`.
async fn call(t: &TestNode, token: &str) -> Result<(), tonic::Status> {
    AdminServiceClient::new(t.channel().await)
        .get_node_status(authed(GetNodeStatusRequest::default(), token))
        .await
        .map(drop)
}

#[tokio::test]
async fn rs256_es256_and_eddsa_tokens_of_the_provider_are_accepted() {
    let idp = Provider::start(&["rsa-1", "ec-1", "ed-1"]).await;
    let t = node(&idp, 30).await;
    let c = claims(&idp.issuer());
    for (key, alg) in [
        ("rsa-1", Algorithm::RS256),
        ("ec-1", Algorithm::ES256),
        ("ed-1", Algorithm::EdDSA),
    ] {
        call(&t, &mint(key, alg, key, &c))
            .await
            .unwrap_or_else(|e| panic!("{alg:?}: {e:?}"));
    }
    // Discovery once, keys once: the cache answered the rest.
    assert_eq!(idp.fetches(), 1);
    // The node's own tokens still work beside the provider's.
    let own = t.token(
        "admin@ac-toulouse.fr",
        &[cplds_runtime::auth::Role::ItAdmin],
    );
    call(&t, &own).await.unwrap();
}

#[tokio::test]
async fn tokens_that_fail_a_check_are_refused() {
    let idp = Provider::start(&["rsa-1", "ec-1"]).await;
    let t = node(&idp, 30).await;
    let issuer = idp.issuer();
    let c = claims(&issuer);
    call(&t, &mint("rsa-1", Algorithm::RS256, "rsa-1", &c))
        .await
        .unwrap();
    let with = |changes: Value| {
        let mut c = c.clone();
        for (k, v) in changes.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let refused = [
        // A key the provider does not publish.
        ("unknown kid", mint("rsa-2", Algorithm::RS256, "rsa-2", &c)),
        // The EC key's signature under the RSA key's id; then an HMAC over the RSA key's id.
        ("wrong alg", mint("ec-1", Algorithm::ES256, "rsa-1", &c)),
        ("hmac", {
            let mut h = Header::new(Algorithm::HS256);
            h.kid = Some("rsa-1".into());
            jsonwebtoken::encode(&h, &c, &EncodingKey::from_secret(b"public")).unwrap()
        }),
        (
            "expired",
            mint(
                "rsa-1",
                Algorithm::RS256,
                "rsa-1",
                &with(json!({"iat": now() - 3600, "exp": now() - 3000})),
            ),
        ),
        (
            "other audience",
            mint(
                "rsa-1",
                Algorithm::RS256,
                "rsa-1",
                &with(json!({"aud": ["account", "cplds:lyon"]})),
            ),
        ),
        (
            "issued in the future",
            mint(
                "rsa-1",
                Algorithm::RS256,
                "rsa-1",
                &with(json!({"iat": now() + 600, "exp": now() + 900})),
            ),
        ),
        (
            "lives too long",
            mint(
                "rsa-1",
                Algorithm::RS256,
                "rsa-1",
                &with(json!({"exp": now() + 13 * 3600})),
            ),
        ),
        (
            "another issuer",
            mint(
                "rsa-1",
                Algorithm::RS256,
                "rsa-1",
                &with(json!({"iss": format!("{issuer}-other")})),
            ),
        ),
        (
            "no subject",
            mint(
                "rsa-1",
                Algorithm::RS256,
                "rsa-1",
                &with(json!({"email": null})),
            ),
        ),
    ];
    for (why, token) in refused {
        let e = call(&t, &token).await.unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated, "{why}: {e:?}");
    }
    // Authenticated, but the provider's roles give no role of the node.
    let e = call(
        &t,
        &mint(
            "rsa-1",
            Algorithm::RS256,
            "rsa-1",
            &with(json!({"realm_access": {"roles": ["cplds-trainer"]}})),
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
}

#[tokio::test]
async fn a_key_rotation_at_the_provider_is_picked_up() {
    let idp = Provider::start(&["rsa-1"]).await;
    let t = node(&idp, 1).await;
    let c = claims(&idp.issuer());
    let old = mint("rsa-1", Algorithm::RS256, "rsa-1", &c);
    call(&t, &old).await.unwrap();

    idp.publish(&["rsa-2"]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let new = mint("rsa-2", Algorithm::RS256, "rsa-2", &c);
    call(&t, &new).await.unwrap();
    assert_eq!(idp.fetches(), 2, "fetched again for the new key id");
    // The retired key is no longer published: its tokens are refused.
    let e = call(&t, &old).await.unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
}

#[tokio::test]
async fn made_up_key_ids_do_not_hammer_the_provider() {
    let idp = Provider::start(&["rsa-1"]).await;
    let t = node(&idp, 60).await;
    let c = claims(&idp.issuer());
    call(&t, &mint("rsa-1", Algorithm::RS256, "rsa-1", &c))
        .await
        .unwrap();
    for n in 0..20 {
        let e = call(
            &t,
            &mint("rsa-2", Algorithm::RS256, &format!("made-up-{n}"), &c),
        )
        .await
        .unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated);
    }
    assert_eq!(idp.fetches(), 1, "at most one fetch per min_refresh_secs");
}

#[tokio::test]
async fn a_provider_configured_wrong_stops_the_start() {
    for (oidc, expected) in [
        (
            OidcProvider {
                issuer: "http://sso.example.fr/realms/cplds".into(),
                ..Default::default()
            },
            "https://",
        ),
        (
            OidcProvider {
                issuer: "https://sso.example.fr/realms/cplds".into(),
                roles: BTreeMap::from([("x".into(), "superuser".into())]),
                ..Default::default()
            },
            "superuser",
        ),
        (
            OidcProvider {
                issuer: "https://sso.example.fr/realms/cplds".into(),
                algorithms: vec!["HS256".into()],
                ..Default::default()
            },
            "HS256",
        ),
    ] {
        let mut opts = TestNodeOptions::new("toulouse", vec![]);
        opts.tweak_config = Some(Box::new(move |c| c.auth.oidc = vec![oidc]));
        let err = format!("{:#}", TestNode::start(opts).await.err().expect("refused"));
        assert!(err.contains(expected), "{err}");
    }
}
