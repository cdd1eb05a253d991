//! The certificate as a W3C Verifiable Credential 2.0 / Open Badges 3.0 `OpenBadgeCredential`,
//! and the `BitstringStatusListCredential` that publishes revocations, both issued by the
//! académie's `did:web` ([`super::did_web`]) and secured by a proof set ([`super::proof`]).
//!
//! Every term is defined by the contexts the documents name (the VC 2.0 context, and Open Badges
//! 3.0.3 for the certificate), so JSON-LD processors in safe mode accept them. The holder's name
//! is the subject's `name`; the Open Badges identifier carries it only as a salted hash.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{
    certificate::{SHORT_TITLE, Statement, TITLE},
    number::CertificateNumber,
    status_list::{Bitstring, StatusListError},
};

pub const VC_CONTEXT: &str = "https://www.w3.org/ns/credentials/v2";
pub const OB_CONTEXT: &str = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json";
/// A presented credential larger than this is refused before parsing.
pub const MAX_CREDENTIAL_BYTES: usize = 64 * 1024;

const CERTIFICATE_ID_PREFIX: &str = "urn:cplds:certificate:";

pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The stable identifier of a certificate's credential.
pub fn credential_id(number: &CertificateNumber) -> String {
    format!("{CERTIFICATE_ID_PREFIX}{number}")
}

/// The certificate number a credential claims in its `id`.
pub fn claimed_number(credential: &Value) -> Option<CertificateNumber> {
    credential
        .get("id")?
        .as_str()?
        .strip_prefix(CERTIFICATE_ID_PREFIX)
        .and_then(|n| CertificateNumber::parse(n).ok())
}

/// The issuer of the académie's credentials before did:web (and when a node has no public
/// address, so no DID document to serve).
pub fn legacy_issuer_id(academy_code: &str) -> String {
    format!("urn:cplds:academy:{academy_code}")
}

/// The académie as issuer of a certificate: an Open Badges `Profile` (a type the Open Badges
/// context defines).
pub fn issuer(id: &str, academy_name: &str) -> Value {
    json!({
        "id": id,
        "type": ["Profile"],
        "name": format!("Académie {}", super::certificate::of_academy(academy_name)),
    })
}

/// The académie as issuer of the status list, whose only context is VC 2.0: `id` and `name`
/// are its terms, `Profile` is not.
pub fn list_issuer(id: &str, academy_name: &str) -> Value {
    json!({
        "id": id,
        "name": format!("Académie {}", super::certificate::of_academy(academy_name)),
    })
}

/// The Open Badges `IdentityHash` of `identity` with `salt`: `sha256$` and the hexadecimal
/// SHA-256 of the identity followed by the salt.
pub fn identity_hash(identity: &str, salt: &str) -> String {
    format!(
        "sha256${}",
        hex::encode(Sha256::digest(format!("{identity}{salt}").as_bytes()))
    )
}

/// The salt of the holder's identifier in a stored credential: a duplicate states the very
/// same as the original.
pub fn stored_salt(credential_json: &str) -> Option<String> {
    let credential: Value = serde_json::from_str(credential_json).ok()?;
    credential["credentialSubject"]["identifier"][0]["salt"]
        .as_str()
        .map(str::to_owned)
}

/// A fresh salt for [`identity_hash`]: 128 bits from the OS CSPRNG, in hexadecimal.
pub fn new_salt() -> String {
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    hex::encode(bytes)
}

/// Where a certificate's revocation bit is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEntry {
    /// `id` of the status list credential.
    pub list_id: String,
    pub index: u64,
}

/// The unsigned credential of a certificate: exactly the statements printed on the PDF, issued
/// by `issuer`, the holder's identifier hashed with `salt`.
pub fn certificate_credential(
    s: &Statement,
    status: &StatusEntry,
    issuer: Value,
    salt: &str,
) -> Value {
    json!({
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": credential_id(&s.number),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": format!("{TITLE} ({SHORT_TITLE})"),
        "description": format!("Session {}. Délivré par : {}.", s.year(), s.signatory),
        "issuer": issuer,
        "validFrom": timestamp(s.issued_at),
        "awardedDate": timestamp(s.admitted_at),
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "name": s.holder_name,
            "identifier": [{
                "type": "IdentityObject",
                "identityType": "name",
                "hashed": true,
                "identityHash": identity_hash(&s.holder_name, salt),
                "salt": salt,
            }],
            "achievement": {
                "id": "urn:cplds:achievement:cplds",
                "type": ["Achievement"],
                "achievementType": "Certificate",
                "name": TITLE,
                "description": "Certificat créé par le décret n° 2017-791 du 5 mai 2017. \
                    Il atteste la qualification des personnels qui exercent dans le champ de \
                    la lutte contre le décrochage scolaire.",
                "criteria": {
                    "narrative": "Deux épreuves devant une commission (séance de formation ; \
                        étude de cas), notées sur 20 : aucune note inférieure ou égale à 5, \
                        total d'au moins 20 sur 40."
                },
            },
        },
        "credentialStatus": {
            "id": format!("{}#{}", status.list_id, status.index),
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": status.index.to_string(),
            "statusListCredential": status.list_id,
        },
    })
}

/// The unsigned revocation list of the académie.
pub fn status_list_credential(
    issuer: Value,
    list_id: &str,
    bits: &Bitstring,
    valid_from: DateTime<Utc>,
    valid_until: DateTime<Utc>,
) -> Result<Value, StatusListError> {
    Ok(json!({
        "@context": [VC_CONTEXT],
        "id": list_id,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": timestamp(valid_from),
        "validUntil": timestamp(valid_until),
        "credentialSubject": {
            "id": format!("{list_id}#list"),
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": bits.encode()?,
        },
    }))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::{certificate::tests::statement, rdfc};

    const DID: &str = "did:web:cplds.ac-toulouse.fr:verify";

    fn certificate() -> Value {
        certificate_credential(
            &statement(),
            &StatusEntry {
                list_id: "https://cplds.ac-toulouse.fr/verify/status-list".into(),
                index: 11,
            },
            issuer(DID, "Toulouse"),
            "5a17",
        )
    }

    #[test]
    fn the_certificate_states_what_the_pdf_prints() {
        let c = certificate();
        assert_eq!(
            claimed_number(&c).unwrap().to_string(),
            "CPLDS-TOULOUSE-2025-000012"
        );
        assert_eq!(c["issuer"]["id"], DID);
        assert_eq!(c["issuer"]["name"], "Académie de Toulouse");
        assert_eq!(c["credentialSubject"]["name"], "Inès GARCIA");
        assert_eq!(c["credentialStatus"]["statusListIndex"], "11");
    }

    /// The Open Badges identifier: hashed with its salt, never the name itself (issue 15).
    #[test]
    fn the_identifier_is_a_salted_hash_of_the_name() {
        let c = certificate();
        let id = &c["credentialSubject"]["identifier"][0];
        assert_eq!(id["hashed"], true);
        assert_eq!(id["salt"], "5a17");
        assert_eq!(
            id["identityHash"],
            format!(
                "sha256${}",
                hex::encode(Sha256::digest("Inès GARCIA5a17".as_bytes()))
            )
        );
        assert!(!id.to_string().contains("GARCIA"), "{id}");
        assert_ne!(identity_hash("Inès GARCIA", "5a18"), id["identityHash"]);
        assert_eq!(stored_salt(&c.to_string()).as_deref(), Some("5a17"));
        assert_eq!(stored_salt("{}"), None);
        let (a, b) = (new_salt(), new_salt());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }

    /// Safe mode: every term of both documents is defined by their contexts (issue 15: the
    /// status list's issuer was a `Profile` under the VC context alone).
    #[test]
    fn every_term_is_defined_by_the_contexts() {
        rdfc::canonicalize(&certificate()).unwrap();
        let now = Utc.with_ymd_and_hms(2025, 7, 10, 9, 30, 0).unwrap();
        let list = status_list_credential(
            list_issuer(DID, "Toulouse"),
            "https://cplds.ac-toulouse.fr/verify/status-list",
            &Bitstring::for_index(3),
            now,
            now + chrono::Duration::days(1),
        )
        .unwrap();
        assert_eq!(list["issuer"]["name"], "Académie de Toulouse");
        rdfc::canonicalize(&list).unwrap();
        let mut profile = list.clone();
        profile["issuer"] = issuer(DID, "Toulouse");
        assert!(rdfc::canonicalize(&profile).is_err());
    }
}
