//! The académie's document signing keys (Ed25519): certificates, minutes, attestations.
//!
//! Keys come from configuration (`documents.signing_key_files`, PKCS#8 PEM): the first signs,
//! the others are retired keys kept so that what they signed still verifies (rotation). Without
//! configuration a key is generated under `data_dir/secrets` on first start. Each key is known by
//! its id (`kid`, from the public key), carried beside every signature.

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use crate::{
    auth::{key_id, read_signing_key},
    config::Config,
};

#[derive(Clone)]
pub struct KeyRing {
    current: SigningKey,
    /// Every key, current first: (kid, public key, retired).
    keys: Vec<(String, VerifyingKey, bool)>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("kids", &self.keys.iter().map(|k| &k.0).collect::<Vec<_>>())
            .finish()
    }
}

impl KeyRing {
    pub fn new(current: SigningKey, retired: Vec<VerifyingKey>) -> Self {
        let mut keys = vec![(
            key_id(&current.verifying_key()),
            current.verifying_key(),
            false,
        )];
        keys.extend(retired.into_iter().map(|k| (key_id(&k), k, true)));
        Self { current, keys }
    }

    pub fn load(config: &Config) -> anyhow::Result<Self> {
        let files = &config.documents.signing_key_files;
        if files.is_empty() {
            let path = config.secrets_dir().join("documents_ed25519.pem");
            if !path.exists() {
                use ed25519_dalek::pkcs8::{EncodePrivateKey, spki::der::pem::LineEnding};
                let key = SigningKey::generate(&mut rand::rngs::OsRng);
                let pem = key
                    .to_pkcs8_pem(LineEnding::LF)
                    .map_err(|e| anyhow::anyhow!("encoding a key: {e}"))?;
                crate::secrets::write_private(&path, pem.as_bytes())?;
                tracing::warn!(path = %path.display(), "generated the académie's document signing key; configure documents.signing_key_files in production");
            }
            return Ok(Self::new(read_signing_key(&path)?, Vec::new()));
        }
        let current = read_signing_key(&files[0])?;
        let retired = files[1..]
            .iter()
            .map(|p| read_retired_key(p))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self::new(current, retired))
    }

    /// Signs with the current key; returns (kid, signature).
    pub fn sign(&self, message: &[u8]) -> (String, Signature) {
        (self.keys[0].0.clone(), self.current.sign(message))
    }

    pub fn current_kid(&self) -> &str {
        &self.keys[0].0
    }

    pub fn public_key(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.iter().find(|k| k.0 == kid).map(|k| &k.1)
    }

    /// Every key with its id and whether it is retired, current first.
    pub fn keys(&self) -> impl Iterator<Item = (&str, &VerifyingKey, bool)> {
        self.keys
            .iter()
            .map(|(kid, k, retired)| (kid.as_str(), k, *retired))
    }

    /// Verifies with the key named `kid` (strictly: no malleable signatures).
    pub fn verify(&self, kid: &str, message: &[u8], signature: &Signature) -> bool {
        self.public_key(kid).is_some_and(|k| {
            k.verify_strict(message, signature).is_ok() && k.verify(message, signature).is_ok()
        })
    }
}

/// A retired key only verifies: its public half is all a node needs (a private key file is still
/// accepted, with a warning, so that a rotation can be done in two steps).
pub(crate) fn read_retired_key(path: &std::path::Path) -> anyhow::Result<VerifyingKey> {
    let pem = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    if pem.contains("BEGIN PUBLIC KEY") {
        return crate::auth::read_verifying_key(path);
    }
    tracing::warn!(path = %path.display(), "a retired document key is given as a private key; give its public key (cplds keygen writes both)");
    Ok(read_signing_key(path)?.verifying_key())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retired_key_is_given_as_a_public_key() {
        use ed25519_dalek::pkcs8::{EncodePrivateKey, spki::der::pem::LineEnding};
        let dir = tempfile::tempdir().unwrap();
        let old = SigningKey::from_bytes(&[1; 32]);
        let (old_kid, sig) = KeyRing::new(old.clone(), vec![]).sign(b"certificate 1");
        let current = dir.path().join("current.pem");
        let retired = dir.path().join("retired.pub.pem");
        let key = SigningKey::from_bytes(&[2; 32]);
        std::fs::write(
            &current,
            key.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes(),
        )
        .unwrap();
        std::fs::write(&retired, crate::auth::public_key_pem(&old.verifying_key())).unwrap();
        let mut config = Config::default();
        config.documents.signing_key_files = vec![current, retired];
        let ring = KeyRing::load(&config).unwrap();
        assert!(ring.verify(&old_kid, b"certificate 1", &sig));
    }

    #[test]
    fn rotation_keeps_old_signatures_valid() {
        let old = SigningKey::from_bytes(&[1; 32]);
        let before = KeyRing::new(old.clone(), vec![]);
        let (old_kid, sig) = before.sign(b"certificate 1");
        let after = KeyRing::new(SigningKey::from_bytes(&[2; 32]), vec![old.verifying_key()]);
        assert!(after.verify(&old_kid, b"certificate 1", &sig));
        assert!(!after.verify(&old_kid, b"certificate 2", &sig));
        let (new_kid, sig2) = after.sign(b"certificate 2");
        assert_ne!(new_kid, old_kid);
        assert!(after.verify(&new_kid, b"certificate 2", &sig2));
        assert_eq!(after.keys().filter(|k| k.2).count(), 1);
    }
}
