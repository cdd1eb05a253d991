//! Who may do what: Ed25519-signed JWT bearer tokens carrying the caller's académie and roles,
//! checked once for every call by a tower layer against each service's method policy.
//!
//! The layer authenticates (UNAUTHENTICATED without a valid token), checks the académie and the
//! roles the method allows (PERMISSION_DENIED otherwise) and hands the handler a [`Caller`].
//! Rules that depend on data (a candidate may only read their own candidacy) stay in handlers.

use std::{
    collections::{BTreeSet, HashMap},
    fmt, fs,
    path::Path,
    sync::Arc,
    task::{Context, Poll},
};

use anyhow::Context as _;
use ed25519_dalek::{
    SigningKey,
    pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, spki::der::pem::LineEnding},
};
use futures_util::future::{BoxFuture, Either, Ready, ready};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tonic::Status;
use tower::{Layer, Service};

use crate::config::{AuthConfig, Config};

mod oidc;
pub use oidc::Providers as OidcProviders;

/// The audience of tokens for a node (`cplds:toulouse`, `cplds:national`): a token minted for one
/// node is refused by every other, whatever else it carries.
pub fn audience(node: &str) -> String {
    format!("cplds:{node}")
}

/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
const LEEWAY_SECS: u64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Candidate,
    /// Division des examens et concours (DEC).
    ExamOffice,
    /// The recteur's office: publishes the admitted list, delivers certificates.
    Recteur,
    ItAdmin,
    /// DAFPEN / EAFC.
    TrainingOffice,
    Trainer,
    BoardMember,
    /// The national ministry (national node).
    Ministry,
}

impl Role {
    /// The roles a token of an académie may carry (all but the ministry's).
    pub const OF_AN_ACADEMY: [Role; 7] = [
        Role::Candidate,
        Role::ExamOffice,
        Role::Recteur,
        Role::ItAdmin,
        Role::TrainingOffice,
        Role::Trainer,
        Role::BoardMember,
    ];

    pub const ALL: [Role; 8] = {
        let mut all = [Role::Ministry; 8];
        let mut i = 0;
        while i < Self::OF_AN_ACADEMY.len() {
            all[i] = Self::OF_AN_ACADEMY[i];
            i += 1;
        }
        all
    };

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Candidate => "candidate",
            Role::ExamOffice => "exam_office",
            Role::Recteur => "recteur",
            Role::ItAdmin => "it_admin",
            Role::TrainingOffice => "training_office",
            Role::Trainer => "trainer",
            Role::BoardMember => "board_member",
            Role::Ministry => "ministry",
        }
    }

    pub fn parse(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown role {s:?}; expected one of: {}",
                    Role::ALL.map(Role::as_str).join(", ")
                )
            })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Stable identifier of the person or system (e-mail, staff number, client id).
    pub sub: String,
    pub academy: String,
    pub roles: BTreeSet<Role>,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

/// The authenticated caller of a request, put in the request extensions by [`AuthLayer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub subject: String,
    pub academy: String,
    pub roles: BTreeSet<Role>,
}

impl Caller {
    /// How logs and traces name the caller: a hash of the subject, never the e-mail itself.
    pub fn log_id(&self) -> String {
        log_id(&self.subject)
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// True when the caller acts only as a candidate (no office role), so data rules apply.
    pub fn is_only_candidate(&self) -> bool {
        self.roles.iter().all(|r| *r == Role::Candidate)
    }

    /// The caller of a request that went through [`AuthLayer`] on a non-public method.
    pub fn of<T>(request: &tonic::Request<T>) -> Result<&Caller, Status> {
        request
            .extensions()
            .get::<Caller>()
            .ok_or_else(|| Status::unauthenticated("no authenticated caller on a protected method"))
    }
}

/// Mints tokens (`cplds token`, the demo, tests).
#[derive(Clone)]
pub struct TokenIssuer {
    key: EncodingKey,
    kid: String,
    issuer: String,
    ttl_secs: u64,
}

impl TokenIssuer {
    pub fn new(signing_key: &SigningKey, issuer: &str, ttl_secs: u64) -> anyhow::Result<Self> {
        anyhow::ensure!(
            ttl_secs <= MAX_LIFETIME_SECS,
            "a token may live at most {MAX_LIFETIME_SECS} s (asked {ttl_secs} s): nodes refuse longer ones"
        );
        let der = signing_key
            .to_pkcs8_der()
            .context("encoding the signing key")?;
        Ok(Self {
            key: EncodingKey::from_ed_der(der.as_bytes()),
            kid: key_id(&signing_key.verifying_key()),
            issuer: issuer.to_owned(),
            ttl_secs,
        })
    }

    pub fn mint(&self, subject: &str, academy: &str, roles: &[Role]) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: subject.to_owned(),
            academy: academy.to_owned(),
            roles: roles.iter().copied().collect(),
            iss: self.issuer.clone(),
            aud: audience(academy),
            iat: now,
            exp: now + self.ttl_secs as i64,
        };
        self.mint_claims(&claims)
    }

    pub fn mint_claims(&self, claims: &Claims) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.key)?)
    }
}

/// Verifies tokens against the configured public keys (several during a rotation), and those of
/// the configured OpenID Connect providers ([`OidcProviders`]).
#[derive(Clone)]
pub struct TokenVerifier {
    keys: Vec<(String, DecodingKey)>,
    validation: Validation,
    oidc: Arc<OidcProviders>,
    /// Tokens already verified, with their claims. A client sends the same token with every
    /// call for hours, and its signature check was the dearest part of the auth layer; a token is
    /// only found here by its exact text, and its expiry is checked again at each use.
    verified: Arc<std::sync::Mutex<HashMap<String, Claims>>>,
}

/// How many verified tokens are kept (about 0.5 KiB each); the cache starts over when full.
const VERIFIED_TOKENS_KEPT: usize = 4096;

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("kids", &self.keys.iter().map(|k| &k.0).collect::<Vec<_>>())
            .finish()
    }
}

impl TokenVerifier {
    pub fn new(keys: &[ed25519_dalek::VerifyingKey], issuer: &str) -> anyhow::Result<Self> {
        anyhow::ensure!(!keys.is_empty(), "at least one verifying key is needed");
        let keys = keys
            .iter()
            // jsonwebtoken's EdDSA verifier takes the raw 32-byte key, not an SPKI document.
            .map(|k| (key_id(k), DecodingKey::from_ed_der(k.as_bytes())))
            .collect();
        let mut validation = Validation::new(Algorithm::EdDSA);
        // The audience is the node's: checked by the policy, which knows the node.
        validation.validate_aud = false;
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        Ok(Self {
            keys,
            validation,
            oidc: Arc::default(),
            verified: Arc::default(),
        })
    }

    /// Accepts the access tokens of these providers too.
    pub fn with_oidc(mut self, providers: OidcProviders) -> Self {
        self.oidc = Arc::new(providers);
        self
    }

    pub fn verify(&self, token: &str) -> Result<Claims, String> {
        self.verify_at(token, chrono::Utc::now().timestamp())
    }

    /// [`TokenVerifier::verify`] at `now`: a token verified before is taken from the cache while
    /// it has not expired (its signature, issuer, `nbf`, `iat` and lifetime cannot change).
    fn verify_at(&self, token: &str, now: i64) -> Result<Claims, String> {
        // An identity provider may withdraw a key at any time: its tokens are checked against
        // the provider's current keys every time, never taken from this cache.
        if self.oidc.of(token).is_some() {
            return self.verify_signed(token, now);
        }
        let cached = self
            .verified
            .lock()
            .ok()
            .and_then(|mut m| match m.get(token) {
                Some(c) if c.exp + LEEWAY_SECS as i64 >= now => Some(Ok(c.clone())),
                Some(c) => {
                    let exp = c.exp;
                    m.remove(token);
                    Some(Err(format!("invalid token: expired at {exp} (now {now})")))
                }
                None => None,
            });
        if let Some(found) = cached {
            return found;
        }
        let claims = self.verify_signed(token, now)?;
        if let Ok(mut m) = self.verified.lock() {
            if m.len() >= VERIFIED_TOKENS_KEPT {
                m.clear();
            }
            m.insert(token.to_owned(), claims.clone());
        }
        Ok(claims)
    }

    fn verify_signed(&self, token: &str, now: i64) -> Result<Claims, String> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| format!("malformed token: {e}"))?;
        if let Some(provider) = self.oidc.of(token) {
            return provider.verify_cached(token, &header).map_err(|r| match r {
                oidc::Refusal::FetchKeys => {
                    "token signed with a key of its identity provider not fetched yet".into()
                }
                oidc::Refusal::Invalid(why) => why,
            });
        }
        let candidates: Vec<&DecodingKey> = match &header.kid {
            Some(kid) => self
                .keys
                .iter()
                .filter(|(k, _)| k == kid)
                .map(|(_, key)| key)
                .collect(),
            None => self.keys.iter().map(|(_, key)| key).collect(),
        };
        if candidates.is_empty() {
            return Err("token signed with an unknown key".into());
        }
        let mut last = String::new();
        for key in candidates {
            match jsonwebtoken::decode::<Claims>(token, key, &self.validation) {
                Ok(data) => return check_lifetime(data.claims, now),
                Err(e) => last = e.to_string(),
            }
        }
        Err(format!("invalid token: {last}"))
    }
}

impl TokenVerifier {
    /// The provider whose keys must be fetched before `token` can be verified: it names a key id
    /// not cached yet (or the cache is old), and the provider may be asked now.
    fn keys_to_fetch(&self, token: &str) -> Option<Arc<oidc::Provider>> {
        let provider = self.oidc.of(token)?;
        let header = jsonwebtoken::decode_header(token).ok()?;
        match provider.verify_cached(token, &header) {
            Err(oidc::Refusal::FetchKeys) => Some(provider.clone()),
            _ => None,
        }
    }
}

/// The longest a token may live (`exp - iat`): a leaked token is worth a working day at most.
pub const MAX_LIFETIME_SECS: u64 = 12 * 3600;

/// Refuses tokens issued in the future or living longer than [`MAX_LIFETIME_SECS`]; `exp` and `nbf`
/// are checked by the JWT library.
fn check_lifetime(claims: Claims, now: i64) -> Result<Claims, String> {
    let leeway = LEEWAY_SECS as i64;
    if claims.iat > now + leeway {
        return Err(format!(
            "invalid token: issued in the future (iat {} > now {now})",
            claims.iat
        ));
    }
    if claims.exp - claims.iat > MAX_LIFETIME_SECS as i64 {
        return Err(format!(
            "invalid token: lives {} s, longer than the {MAX_LIFETIME_SECS} s allowed",
            claims.exp - claims.iat
        ));
    }
    Ok(claims)
}

/// A stable pseudonym of a person's identifier (an e-mail, a subject) for logs and traces, which
/// are exported and kept outside the node: operators can follow one person's acts across lines
/// without the logs holding the address.
pub fn log_id(identifier: &str) -> String {
    format!(
        "u-{}",
        hex::encode(&Sha256::digest(identifier.as_bytes())[..6])
    )
}

/// Short identifier of a public key, carried as `kid` in token headers.
pub fn key_id(key: &ed25519_dalek::VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

/// The keys of a node: loaded from configuration, or generated under `data_dir/secrets` on first
/// start for local use (with a warning: production configures its own).
pub struct AuthKeys {
    pub signing: Option<SigningKey>,
    pub verifying: Vec<ed25519_dalek::VerifyingKey>,
}

impl AuthKeys {
    pub fn load(config: &Config) -> anyhow::Result<Self> {
        let auth: &AuthConfig = &config.auth;
        let signing = match &auth.signing_key_file {
            Some(path) => Some(read_signing_key(path)?),
            None if auth.verifying_key_files.is_empty() => {
                let path = config.secrets_dir().join("auth_ed25519.pem");
                if !path.exists() {
                    let key = SigningKey::generate(&mut rand::rngs::OsRng);
                    let pem = key
                        .to_pkcs8_pem(LineEnding::LF)
                        .context("encoding a new signing key")?;
                    crate::secrets::write_private(&path, pem.as_bytes())?;
                    tracing::warn!(path = %path.display(), "generated a local token signing key; configure auth keys in production");
                }
                Some(read_signing_key(&path)?)
            }
            None => None,
        };
        let mut verifying = auth
            .verifying_key_files
            .iter()
            .map(|p| read_verifying_key(p))
            .collect::<anyhow::Result<Vec<_>>>()?;
        if verifying.is_empty() {
            verifying.push(
                signing
                    .as_ref()
                    .context("no verifying key configured")?
                    .verifying_key(),
            );
        }
        Ok(Self { signing, verifying })
    }

    pub fn verifier(&self, config: &Config) -> anyhow::Result<TokenVerifier> {
        let node = config.academy.as_deref().unwrap_or(crate::node::NATIONAL);
        anyhow::ensure!(
            config
                .auth
                .oidc
                .iter()
                .all(|p| p.issuer != config.auth.issuer),
            "auth.oidc names the node's own issuer {:?}",
            config.auth.issuer
        );
        Ok(TokenVerifier::new(&self.verifying, &config.auth.issuer)?
            .with_oidc(OidcProviders::new(&config.auth.oidc, node)?))
    }

    pub fn issuer(&self, config: &Config) -> anyhow::Result<TokenIssuer> {
        let key = self
            .signing
            .as_ref()
            .context("no signing key configured (auth.signing_key_file)")?;
        TokenIssuer::new(key, &config.auth.issuer, config.auth.token_ttl_secs)
    }
}

pub fn read_signing_key(path: &Path) -> anyhow::Result<SigningKey> {
    let pem = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    SigningKey::from_pkcs8_pem(&pem)
        .with_context(|| format!("{} is not a PKCS#8 PEM Ed25519 private key", path.display()))
}

pub fn read_verifying_key(path: &Path) -> anyhow::Result<ed25519_dalek::VerifyingKey> {
    let pem = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    ed25519_dalek::VerifyingKey::from_public_key_pem(&pem)
        .with_context(|| format!("{} is not a PEM Ed25519 public key", path.display()))
}

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the 32 key bytes follow.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The key as a PEM `PUBLIC KEY`. Written by hand because its DER is a fixed prefix and the key:
/// the encoder's `Result` could only fail for key types of variable size.
pub fn public_key_pem(key: &ed25519_dalek::VerifyingKey) -> String {
    use base64::Engine as _;
    let mut der = ED25519_SPKI_PREFIX.to_vec();
    der.extend_from_slice(key.as_bytes());
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n")
}

/// A request carrying a bearer token, as clients send it (scenarios, the demo, tests). Minted
/// tokens are ASCII; one that is no header value is left out, and the server answers
/// `Unauthenticated`.
pub fn authed<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    if let Ok(value) = format!("Bearer {token}").parse() {
        r.metadata_mut().insert("authorization", value);
    }
    r
}

/// Who may call a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token needed (health, reflection, public verification).
    Public,
    /// A valid token of the node's académie with one of these roles.
    Roles(&'static [Role]),
}

/// Method path → access, for every method a node serves.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    methods: HashMap<String, Access>,
}

impl Policy {
    pub fn new() -> Self {
        let mut p = Self::default();
        for prefix in [
            "/grpc.health.v1.Health/",
            "/grpc.reflection.v1.ServerReflection/",
            "/grpc.reflection.v1alpha.ServerReflection/",
        ] {
            p.methods.insert(prefix.to_owned(), Access::Public);
        }
        p
    }

    /// Declares the access of `method` of the gRPC service `service` (`cplds.v1.RegistrationService`).
    pub fn allow(&mut self, service: &str, method: &str, access: Access) -> &mut Self {
        self.methods.insert(format!("/{service}/{method}"), access);
        self
    }

    /// Checks the policy against the contracts before a node serves `mounted`: every method of a
    /// mounted service has an access (a method nobody thought about must not be silently open or
    /// closed), and no access names a method the contracts lack (a typo would leave the real
    /// method closed). The node refuses to start otherwise; what is wrong is listed.
    pub fn check_complete(&self, mounted: &[&str]) -> Result<(), Vec<String>> {
        let known = contract_methods();
        let mut wrong: Vec<String> = self
            .methods
            .keys()
            .filter(|path| !path.ends_with('/') && !known.contains(path.as_str()))
            .map(|path| format!("{path} (no such method in the contracts)"))
            .collect();
        for service in mounted {
            let prefix = format!("/{service}/");
            wrong.extend(
                known
                    .iter()
                    .filter(|p| p.starts_with(&prefix) && !self.methods.contains_key(p.as_str()))
                    .map(|p| format!("{p} (served, without an access)")),
            );
        }
        wrong.sort();
        if wrong.is_empty() { Ok(()) } else { Err(wrong) }
    }

    pub fn merge(&mut self, other: Policy) {
        self.methods.extend(other.methods);
    }

    pub fn access(&self, path: &str) -> Option<Access> {
        if let Some(a) = self.methods.get(path) {
            return Some(*a);
        }
        // Whole-service entries (health, reflection) end with '/'.
        let service_prefix = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        self.methods.get(service_prefix).copied()
    }

    fn authorize(
        &self,
        verifier: &TokenVerifier,
        academy: &str,
        path: &str,
        headers: &http::HeaderMap,
    ) -> Result<Option<Caller>, Status> {
        let roles = match self.access(path) {
            None => {
                return Err(Status::permission_denied(format!(
                    "method {path} is not open to anyone"
                )));
            }
            Some(Access::Public) => {
                // A token on a public method is still read, so handlers may show more to staff
                // of this node (never to another node's).
                return Ok(bearer(headers)
                    .and_then(|t| verifier.verify(t).ok())
                    .filter(|c| c.academy == academy && c.aud == audience(academy))
                    .map(caller_of));
            }
            Some(Access::Roles(roles)) => roles,
        };
        let token = bearer(headers).ok_or_else(|| {
            Status::unauthenticated("missing bearer token (authorization: Bearer <jwt>)")
        })?;
        let claims = verifier.verify(token).map_err(Status::unauthenticated)?;
        if claims.academy != academy {
            return Err(Status::permission_denied(format!(
                "token is for académie {:?}; this node serves {academy:?}",
                claims.academy
            )));
        }
        if claims.aud != audience(academy) {
            return Err(Status::unauthenticated(format!(
                "token audience {:?} is not this node's ({:?})",
                claims.aud,
                audience(academy)
            )));
        }
        if !roles.iter().any(|r| claims.roles.contains(r)) {
            return Err(Status::permission_denied(format!(
                "{path} requires one of the roles [{}]; the token has [{}]",
                roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                claims
                    .roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Ok(Some(caller_of(claims)))
    }
}

/// Every method path the contracts declare (`/cplds.v1.RegistrationService/SubmitCandidacy`).
fn contract_methods() -> &'static BTreeSet<String> {
    static METHODS: std::sync::OnceLock<BTreeSet<String>> = std::sync::OnceLock::new();
    METHODS.get_or_init(|| {
        use prost::Message;
        // The descriptor set is compiled into cplds-proto by its build script; an empty set
        // would make every policy fail its check, loudly.
        let fds = prost_types::FileDescriptorSet::decode(cplds_proto::FILE_DESCRIPTOR_SET)
            .unwrap_or_default();
        fds.file
            .iter()
            .flat_map(|file| {
                file.service.iter().flat_map(move |svc| {
                    svc.method
                        .iter()
                        .map(move |m| format!("/{}.{}/{}", file.package(), svc.name(), m.name()))
                })
            })
            .collect()
    })
}

fn caller_of(claims: Claims) -> Caller {
    Caller {
        subject: claims.sub,
        academy: claims.academy,
        roles: claims.roles,
    }
}

fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
}

/// The tower layer that enforces a [`Policy`] in front of every service of a server.
#[derive(Clone)]
pub struct AuthLayer {
    state: Arc<AuthState>,
}

struct AuthState {
    verifier: TokenVerifier,
    policy: Policy,
    academy: String,
}

impl AuthLayer {
    pub fn new(verifier: TokenVerifier, policy: Policy, academy: impl Into<String>) -> Self {
        Self {
            state: Arc::new(AuthState {
                verifier,
                policy,
                academy: academy.into(),
            }),
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            state: self.state.clone(),
        }
    }
}

#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    state: Arc<AuthState>,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for AuthService<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Either<
        Either<S::Future, Ready<Result<S::Response, S::Error>>>,
        BoxFuture<'static, Result<S::Response, S::Error>>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<ReqBody>) -> Self::Future {
        let state = self.state.clone();
        let decision = state.authorize(&req);
        match decision {
            Ok(caller) => {
                if let Some(caller) = caller {
                    req.extensions_mut().insert(caller);
                }
                Either::Left(Either::Left(self.inner.call(req)))
            }
            Err(status) => {
                // A token of an identity provider signed with a key not fetched yet: fetch the
                // provider's keys (bounded per provider), then decide again.
                let fetch = bearer(req.headers()).and_then(|t| state.verifier.keys_to_fetch(t));
                let Some(provider) = fetch else {
                    return Either::Left(Either::Right(ready(Ok(status.into_http()))));
                };
                // The service made ready by poll_ready is the one called; a clone waits its turn.
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                Either::Right(Box::pin(async move {
                    if let Err(e) = provider.fetch_keys().await {
                        tracing::debug!(error = %e, "identity provider keys not fetched");
                    }
                    match state.authorize(&req) {
                        Ok(caller) => {
                            if let Some(caller) = caller {
                                req.extensions_mut().insert(caller);
                            }
                            inner.call(req).await
                        }
                        Err(status) => Ok(status.into_http()),
                    }
                }))
            }
        }
    }
}

impl AuthState {
    fn authorize<B>(&self, req: &http::Request<B>) -> Result<Option<Caller>, Status> {
        self.policy.authorize(
            &self.verifier,
            &self.academy,
            req.uri().path(),
            req.headers(),
        )
    }
}

#[cfg(test)]
mod tests;
