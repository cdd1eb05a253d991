//! Access tokens of OpenID Connect providers (`[[auth.oidc]]`): an académie's Keycloak realm, or
//! any provider publishing its keys as a JWKS. The provider's keys are found by discovery (or a
//! configured JWKS address), cached, and fetched again when they get old or a token names a key
//! id the cache does not hold (a rotation at the provider), at most once per `min_refresh_secs`,
//! so made-up key ids cannot make the node hammer the provider. RS256, ES256 and EdDSA; each key
//! verifies only its own algorithm (a token claiming another is refused). The usual checks hold:
//! issuer, audience, `exp`/`nbf`/`iat` with the leeway, the longest lifetime; then the provider's
//! claims become a caller by the configured mapping (subject, roles, académie).

use std::{
    collections::BTreeMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use anyhow::Context as _;
use jsonwebtoken::{
    Algorithm, DecodingKey, Header, Validation,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse},
};
use serde::Deserialize;
use serde_json::Value;

use super::{Claims, LEEWAY_SECS, Role, audience, check_lifetime};
use crate::config::OidcProvider;

/// Largest discovery document or JWKS read from a provider.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// Most keys kept of one provider's JWKS.
const MAX_KEYS: usize = 64;

/// The providers a node trusts, by issuer.
#[derive(Default)]
pub struct Providers {
    by_issuer: BTreeMap<String, Arc<Provider>>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.by_issuer.keys()).finish()
    }
}

impl Providers {
    /// The configured providers, for a node serving `node` (its code: its tokens' audience).
    pub fn new(configs: &[OidcProvider], node: &str) -> anyhow::Result<Self> {
        let mut by_issuer = BTreeMap::new();
        for c in configs {
            let p = Provider::new(c, node)
                .with_context(|| format!("auth.oidc provider {:?}", c.issuer))?;
            anyhow::ensure!(
                by_issuer.insert(c.issuer.clone(), Arc::new(p)).is_none(),
                "auth.oidc names the issuer {:?} twice",
                c.issuer
            );
        }
        Ok(Self { by_issuer })
    }

    pub fn is_empty(&self) -> bool {
        self.by_issuer.is_empty()
    }

    /// The provider that issued `token`, as its (not yet verified) `iss` claims.
    pub fn of(&self, token: &str) -> Option<&Arc<Provider>> {
        #[derive(Deserialize)]
        struct Issuer {
            iss: String,
        }
        let claimed: Issuer = jsonwebtoken::dangerous::insecure_decode_claims(token).ok()?;
        self.by_issuer.get(&claimed.iss)
    }
}

/// One provider: its checks, its claim mapping and its cached keys.
pub struct Provider {
    issuer: String,
    jwks_url: Option<String>,
    audience: String,
    algorithms: Vec<Algorithm>,
    subject: String,
    roles_claim: String,
    academy_claim: Option<String>,
    node: String,
    roles: BTreeMap<String, Role>,
    min_refresh: Duration,
    max_cache: Duration,
    http: reqwest::Client,
    keys: RwLock<KeyCache>,
    /// One fetch at a time; the others wait for its keys.
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct KeyCache {
    keys: Vec<Key>,
    /// When the keys were last fetched (successfully), and last tried.
    fetched: Option<Instant>,
    tried: Option<Instant>,
}

struct Key {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

/// Why a token of a provider was not verified from the cache.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Its key is not in the cache and the keys may be fetched now.
    FetchKeys,
    Invalid(String),
}

impl Provider {
    fn new(c: &OidcProvider, node: &str) -> anyhow::Result<Self> {
        anyhow::ensure!(!c.issuer.is_empty(), "issuer is required");
        check_url(&c.issuer).context("issuer")?;
        if let Some(url) = &c.jwks_url {
            check_url(url).context("jwks_url")?;
        }
        let algorithms = c
            .algorithms
            .iter()
            .map(|a| match a.as_str() {
                "RS256" => Ok(Algorithm::RS256),
                "ES256" => Ok(Algorithm::ES256),
                "EdDSA" => Ok(Algorithm::EdDSA),
                other => Err(anyhow::anyhow!(
                    "algorithm {other:?} is not accepted (RS256, ES256, EdDSA)"
                )),
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        anyhow::ensure!(!algorithms.is_empty(), "at least one algorithm is needed");
        for pointer in [&c.subject_claim, &c.roles_claim]
            .into_iter()
            .chain(c.academy_claim.as_ref())
        {
            anyhow::ensure!(
                pointer.starts_with('/'),
                "claim {pointer:?} must be a JSON pointer, e.g. /realm_access/roles"
            );
        }
        let roles = c
            .roles
            .iter()
            .map(|(theirs, ours)| {
                Role::parse(ours)
                    .map(|r| (theirs.clone(), r))
                    .map_err(|e| anyhow::anyhow!("roles.{theirs:?}: {e}"))
            })
            .collect::<anyhow::Result<_>>()?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(c.http_timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            issuer: c.issuer.clone(),
            jwks_url: c.jwks_url.clone(),
            audience: c.audience.clone().unwrap_or_else(|| audience(node)),
            algorithms,
            subject: c.subject_claim.clone(),
            roles_claim: c.roles_claim.clone(),
            academy_claim: c.academy_claim.clone(),
            node: node.to_owned(),
            roles,
            min_refresh: Duration::from_secs(c.min_refresh_secs),
            max_cache: Duration::from_secs(c.max_cache_secs),
            http,
            keys: RwLock::new(KeyCache::default()),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    /// Verifies `token` with the cached keys and maps its claims.
    pub fn verify_cached(&self, token: &str, header: &Header) -> Result<Claims, Refusal> {
        let cache = self
            .keys
            .read()
            .map_err(|_| Refusal::Invalid("identity provider keys unavailable".into()))?;
        let now = Instant::now();
        let stale = cache
            .fetched
            .is_none_or(|at| now.duration_since(at) >= self.max_cache);
        let may_fetch = cache
            .tried
            .is_none_or(|at| now.duration_since(at) >= self.min_refresh);
        let candidates: Vec<&Key> = cache
            .keys
            .iter()
            .filter(|k| header.kid.is_none() || k.kid == header.kid)
            .collect();
        if (candidates.is_empty() || stale) && may_fetch {
            return Err(Refusal::FetchKeys);
        }
        if candidates.is_empty() {
            return Err(Refusal::Invalid(
                "token signed with a key its identity provider does not publish".into(),
            ));
        }
        let mut last = String::new();
        for k in candidates {
            if k.algorithm != header.alg {
                last = format!(
                    "token claims {:?}, its key is for {:?}",
                    header.alg, k.algorithm
                );
                continue;
            }
            match jsonwebtoken::decode::<Value>(token, &k.key, &self.validation(k.algorithm)) {
                Ok(data) => return self.claims(&data.claims).map_err(Refusal::Invalid),
                Err(e) => last = e.to_string(),
            }
        }
        Err(Refusal::Invalid(format!("invalid token: {last}")))
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut v = Validation::new(algorithm);
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[&self.audience]);
        v.set_required_spec_claims(&["exp", "iat", "iss", "aud"]);
        v.validate_nbf = true;
        v.leeway = LEEWAY_SECS;
        v
    }

    /// The caller the provider's claims make, by the configured mapping.
    fn claims(&self, c: &Value) -> Result<Claims, String> {
        let text = |pointer: &str| {
            c.pointer(pointer)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| format!("invalid token: claim {pointer} is missing or not text"))
        };
        let sub = text(&self.subject)?;
        let academy = match &self.academy_claim {
            Some(pointer) => text(pointer)?,
            None => self.node.clone(),
        };
        let theirs: Vec<&str> = match c.pointer(&self.roles_claim) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(one)) => vec![one.as_str()],
            _ => Vec::new(),
        };
        let roles = theirs
            .into_iter()
            .filter_map(|r| self.roles.get(r).copied())
            .collect();
        let time = |name: &str| c.get(name).and_then(Value::as_i64).unwrap_or_default();
        let claims = Claims {
            sub,
            academy,
            roles,
            iss: self.issuer.clone(),
            // The audience was checked against this provider's; the caller is this node's.
            aud: audience(&self.node),
            iat: time("iat"),
            exp: time("exp"),
        };
        check_lifetime(claims, chrono::Utc::now().timestamp())
    }

    /// Fetches the provider's keys, unless another caller did while this one waited or the last
    /// try is too recent.
    pub async fn fetch_keys(&self) -> Result<(), String> {
        let _one = self.fetching.lock().await;
        let now = Instant::now();
        {
            let cache = self
                .keys
                .read()
                .map_err(|_| "identity provider keys unavailable".to_owned())?;
            if cache
                .tried
                .is_some_and(|at| now.duration_since(at) < self.min_refresh)
            {
                return Ok(());
            }
        }
        if let Ok(mut cache) = self.keys.write() {
            cache.tried = Some(now);
        }
        let keys = self.download().await.inspect_err(|e| {
            tracing::warn!(issuer = %self.issuer, error = %e, "fetching the identity provider's keys failed");
        })?;
        tracing::info!(issuer = %self.issuer, keys = keys.len(), "identity provider keys fetched");
        let mut cache = self
            .keys
            .write()
            .map_err(|_| "identity provider keys unavailable".to_owned())?;
        cache.keys = keys;
        cache.fetched = Some(now);
        Ok(())
    }

    async fn download(&self) -> Result<Vec<Key>, String> {
        let jwks_url = match &self.jwks_url {
            Some(url) => url.clone(),
            None => {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    self.issuer.trim_end_matches('/')
                );
                let doc: Discovery = self.get_json(&url).await?;
                // OpenID Connect Discovery 1.0 §4.3: the document names the issuer asked for.
                if doc.issuer != self.issuer {
                    return Err(format!(
                        "discovery at {url} names the issuer {:?}, not {:?}",
                        doc.issuer, self.issuer
                    ));
                }
                check_url(&doc.jwks_uri).map_err(|e| format!("jwks_uri: {e}"))?;
                doc.jwks_uri
            }
        };
        let set: JwkSet = self.get_json(&jwks_url).await?;
        Ok(set
            .keys
            .into_iter()
            .filter_map(|v| serde_json::from_value::<Jwk>(v).ok())
            .filter_map(|jwk| self.key(&jwk))
            .take(MAX_KEYS)
            .collect())
    }

    /// A signing key of an accepted algorithm; others (encryption keys, HMAC secrets, other
    /// curves) are left out.
    fn key(&self, jwk: &Jwk) -> Option<Key> {
        if jwk.common.public_key_use == Some(PublicKeyUse::Encryption) {
            return None;
        }
        let algorithm = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => Algorithm::RS256,
            AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
                Algorithm::ES256
            }
            AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
                Algorithm::EdDSA
            }
            _ => return None,
        };
        let declared = jwk.common.key_algorithm;
        let agrees = match declared {
            None => true,
            Some(KeyAlgorithm::RS256) => algorithm == Algorithm::RS256,
            Some(KeyAlgorithm::ES256) => algorithm == Algorithm::ES256,
            Some(KeyAlgorithm::EdDSA) => algorithm == Algorithm::EdDSA,
            Some(_) => false,
        };
        if !agrees || !self.algorithms.contains(&algorithm) {
            return None;
        }
        Some(Key {
            kid: jwk.common.key_id.clone(),
            algorithm,
            key: DecodingKey::from_jwk(jwk).ok()?,
        })
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let mut response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("{url}: {e}"))? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(format!("{url}: larger than {MAX_DOCUMENT_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| format!("{url}: {e}"))
    }
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

/// The keys as values: one key this build cannot read does not hide the others.
#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<Value>,
}

/// Providers are reached over HTTPS; plain HTTP only on the loopback (a provider beside the
/// node, tests).
fn check_url(url: &str) -> anyhow::Result<()> {
    let parsed = reqwest::Url::parse(url).with_context(|| format!("{url:?} is not a URL"))?;
    let host = parsed.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    anyhow::ensure!(
        parsed.scheme() == "https" || (parsed.scheme() == "http" && loopback),
        "{url:?} must be an https:// address (http:// only on the loopback)"
    );
    Ok(())
}
