//! The académie's document keys: their public history (written once per process from the
//! configured ring), signing with the current key, and the two public answers made of them,
//! the key list and the signed revocation status list.

use chrono::{DateTime, Duration, Utc};
use cplds_proto::v1 as pb;
use cplds_runtime::{
    auth::{Caller, key_id, public_key_pem},
    error::{ServiceError, ServiceResult},
    time::to_timestamp,
};
use ed25519_dalek::VerifyingKey;
use serde_json::Value;

use super::{Inner, STATUS_LIST_TTL_HOURS};
use crate::{
    domain::{
        certificate::Statement,
        credential::{self, StatusEntry, certificate_credential, new_salt, status_list_credential},
        did_web,
        key_history::{self, KeyChange, KnownKey, RingKey},
        multibase::{did_key_method, multikey},
        proof::{self, Cryptosuite, ProofOptions},
        status_list::Bitstring,
    },
    store::{self, certificate, signing_key},
};

impl Inner {
    /// Records the key ring in the key history once per process: new keys, keys now retired
    /// (including keys dropped from the configuration), a key made current again.
    pub(super) async fn ensure_keys(&self) -> ServiceResult<()> {
        self.keys_recorded
            .get_or_try_init(|| self.record_keys())
            .await
            .map(|_| ())
    }

    async fn record_keys(&self) -> ServiceResult<()> {
        let uow = self.core.begin().await?;
        let known: Vec<KnownKey> = store::signing_keys(uow.txn())
            .await?
            .into_iter()
            .map(|k| KnownKey {
                retired: k.retired_at.is_some(),
                kid: k.kid,
            })
            .collect();
        let ring: Vec<RingKey> = self
            .keys
            .keys()
            .map(|(kid, key, retired)| RingKey {
                kid: kid.to_owned(),
                public_key: hex::encode(key.as_bytes()),
                retired,
            })
            .collect();
        let now = uow.now();
        for change in key_history::changes(&ring, &known) {
            match change {
                KeyChange::Record(k) => {
                    let row = signing_key::Model {
                        kid: k.kid,
                        public_key: k.public_key,
                        first_seen_at: now,
                        retired_at: k.retired.then_some(now),
                    };
                    store::insert_signing_key(uow.txn(), row).await?
                }
                KeyChange::SetRetired { kid, retired } => {
                    store::set_key_retired(uow.txn(), &kid, retired.then_some(now)).await?
                }
            }
        }
        uow.commit().await?;
        Ok(())
    }

    /// The académie's key `key`, if it is one: its id and whether it is retired. Keys of the
    /// history verify too, so a retired key dropped from the configuration keeps its certificates
    /// valid.
    pub(super) async fn academy_key(
        &self,
        key: &VerifyingKey,
    ) -> ServiceResult<Option<(String, bool)>> {
        let kid = key_id(key);
        if let Some((_, _, retired)) = self
            .keys
            .keys()
            .find(|(k, public, _)| *k == kid && *public == key)
        {
            return Ok(Some((kid, retired)));
        }
        self.ensure_keys().await?;
        let hex_key = hex::encode(key.as_bytes());
        Ok(store::signing_keys(&self.core.db)
            .await?
            .into_iter()
            .any(|k| k.kid == kid && k.public_key == hex_key)
            .then_some((kid, true)))
    }

    /// The académie's key named `kid` (in the ring, or in the history of retired keys), and
    /// whether it is retired.
    pub(super) async fn academy_key_by_id(
        &self,
        kid: &str,
    ) -> ServiceResult<Option<(VerifyingKey, bool)>> {
        if let Some((_, key, retired)) = self.keys.keys().find(|(k, _, _)| *k == kid) {
            return Ok(Some((*key, retired)));
        }
        self.ensure_keys().await?;
        Ok(store::signing_keys(&self.core.db)
            .await?
            .iter()
            .find(|k| k.kid == kid)
            .and_then(|k| stored_key(k).ok())
            .map(|key| (key, true)))
    }

    /// The issuer's id: the académie's did:web, or the legacy `urn:` without a public address.
    pub(super) fn issuer_id(&self) -> String {
        self.did
            .clone()
            .unwrap_or_else(|| credential::legacy_issuer_id(self.academy.code))
    }

    /// The verification method of a key: `{did}#{kid}`, or its did:key without a did:web.
    fn verification_method(&self, kid: &str, key: &VerifyingKey) -> String {
        match &self.did {
            Some(did) => did_web::method_id(did, kid),
            None => did_key_method(key),
        }
    }

    /// The DID document of the académie's did:web: every key of the history (current and
    /// retired, including keys dropped from the configuration), so every credential it ever
    /// signed finds its key under `assertionMethod`.
    pub(super) async fn did_document(&self) -> ServiceResult<Option<Value>> {
        let Some(did) = &self.did else {
            return Ok(None);
        };
        self.ensure_keys().await?;
        let current = self.keys.current_kid();
        let mut keys = store::signing_keys(&self.core.db)
            .await?
            .iter()
            .map(|k| stored_key(k).map(|key| (k.kid.clone(), key)))
            .collect::<ServiceResult<Vec<_>>>()?;
        keys.sort_by_key(|(kid, _)| kid.as_str() != current);
        Ok(Some(did_web::document(did, &keys)))
    }

    /// Signs `document` with the current key; returns the secured JSON and the key id.
    pub(super) fn sign(
        &self,
        document: &Value,
        now: DateTime<Utc>,
    ) -> ServiceResult<(String, String)> {
        let kid = self.keys.current_kid().to_owned();
        let key = self
            .keys
            .public_key(&kid)
            .ok_or_else(|| ServiceError::internal("the current key is not in the key ring"))?;
        let secured = proof::add_proofs(
            document,
            &ProofOptions {
                verification_method: self.verification_method(&kid, key),
                created: now,
            },
            &Cryptosuite::ALL,
            |data| self.keys.sign(data).1,
        )
        .map_err(ServiceError::internal)?;
        let text = serde_json::to_string_pretty(&secured).map_err(ServiceError::internal)?;
        Ok((text, kid))
    }

    /// The unsigned credential of a certificate, pointing at its revocation bit; a duplicate
    /// keeps the salt of the holder's identifier, so it states exactly what the original did.
    pub(super) fn certificate_credential(
        &self,
        s: &Statement,
        c: &certificate::Model,
    ) -> ServiceResult<Value> {
        let index = u64::try_from(c.status_index)
            .map_err(|_| ServiceError::internal(format!("bad status index of {}", c.number)))?;
        Ok(certificate_credential(
            s,
            &StatusEntry {
                list_id: self.status_list_id(),
                index,
            },
            credential::issuer(&self.issuer_id(), self.academy.name),
            &c.credential
                .as_deref()
                .and_then(credential::stored_salt)
                .unwrap_or_else(new_salt),
        ))
    }

    pub(super) async fn list_signing_keys(
        &self,
        _caller: Option<Caller>,
        _r: pb::ListSigningKeysRequest,
    ) -> ServiceResult<pb::ListSigningKeysResponse> {
        self.signing_keys().await
    }

    /// Every key of the history, the current one first, then the most recent.
    pub(super) async fn signing_keys(&self) -> ServiceResult<pb::ListSigningKeysResponse> {
        self.ensure_keys().await?;
        let current = self.keys.current_kid();
        let mut keys = store::signing_keys(&self.core.db)
            .await?
            .iter()
            .map(|k| {
                let key = stored_key(k)?;
                Ok(signing_key_pb(
                    k,
                    &key,
                    current,
                    self.verification_method(&k.kid, &key),
                ))
            })
            .collect::<ServiceResult<Vec<_>>>()?;
        // Current first; the history is already most recent first.
        keys.sort_by_key(|k| k.status != pb::SigningKeyStatus::Current as i32);
        Ok(pb::ListSigningKeysResponse {
            keys,
            academy: self.academy.code.to_owned(),
        })
    }

    pub(super) async fn get_status_list(
        &self,
        _caller: Option<Caller>,
        _r: pb::GetStatusListRequest,
    ) -> ServiceResult<pb::StatusList> {
        self.status_list().await
    }

    /// The revocation list, signed now with the current key, valid for a day.
    pub(super) async fn status_list(&self) -> ServiceResult<pb::StatusList> {
        self.ensure_keys().await?;
        let now = self.core.now();
        let (revoked, max) = store::status_indices(&self.core.db).await?;
        let mut bits = Bitstring::for_index(max.max(0) as u64);
        for i in revoked {
            bits.set(i as u64, true).map_err(ServiceError::internal)?;
        }
        let valid_until = now + Duration::hours(STATUS_LIST_TTL_HOURS);
        let id = self.status_list_id();
        let document = status_list_credential(
            credential::list_issuer(&self.issuer_id(), self.academy.name),
            &id,
            &bits,
            now,
            valid_until,
        )
        .map_err(ServiceError::internal)?;
        let (credential_json, _) = self.sign(&document, now)?;
        Ok(pb::StatusList {
            id,
            credential_json,
            size: bits.len() as i64,
            valid_until: Some(to_timestamp(valid_until)),
        })
    }
}

/// The public key a history row holds.
fn stored_key(k: &signing_key::Model) -> ServiceResult<VerifyingKey> {
    let raw: [u8; 32] = hex::decode(&k.public_key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| ServiceError::internal(format!("bad public key of {}", k.kid)))?;
    VerifyingKey::from_bytes(&raw).map_err(ServiceError::internal)
}

fn signing_key_pb(
    k: &signing_key::Model,
    key: &VerifyingKey,
    current: &str,
    verification_method: String,
) -> pb::SigningKey {
    let status = if k.kid == current {
        pb::SigningKeyStatus::Current
    } else {
        pb::SigningKeyStatus::Retired
    };
    pb::SigningKey {
        key_id: k.kid.clone(),
        multikey: multikey(key),
        public_key_pem: public_key_pem(key),
        status: status as i32,
        verification_method,
        first_seen_time: Some(to_timestamp(k.first_seen_at)),
        retire_time: k.retired_at.map(to_timestamp),
    }
}
