//! RDF Dataset Canonicalization (RDFC-1.0) of a JSON-LD document, for the `eddsa-rdfc-2022`
//! proof: the document is expanded and turned into RDF (crate `json-ld`), then canonicalized to
//! N-Quads (crate `rdf-canon`, over `oxrdf` terms).
//!
//! Contexts are bundled ([`CONTEXTS`]): the node never fetches one, so a document naming any
//! other context is refused. Expansion runs in "safe mode" (as standard verifiers do): a term
//! that no context defines, or that only a `@vocab` would map, is an error rather than silently
//! dropped, so everything a document says is covered by its signature.

use std::{
    collections::HashMap,
    future::Future,
    pin::pin,
    sync::OnceLock,
    task::{Context, Poll, Waker},
};

use json_ld::{
    IriBuf, JsonLdProcessor, Options, RemoteDocument,
    expansion::{Action, Policy},
    rdf_types::{Id, LiteralType, Quad, Term, generator},
    syntax::Parse,
};
use oxrdf::{BlankNode, GraphName, Literal, NamedNode, NamedOrBlankNode};
use rdf_canon::CanonicalizationOptions;
use serde_json::Value;
use sha2::Sha256;

/// The contexts the node knows, by URL, as published (copies in `contexts/`).
pub const CONTEXTS: &[(&str, &str)] = &[
    (
        super::credential::VC_CONTEXT,
        include_str!("../../contexts/credentials-v2.jsonld"),
    ),
    (
        super::credential::OB_CONTEXT,
        include_str!("../../contexts/ob-v3p0-context-3.0.3.json"),
    ),
];

/// Bounds the canonicalization of blank nodes: a crafted document with many indistinguishable
/// blank nodes would otherwise take exponential time. Credentials of the académie have a handful.
const HNDQ_CALL_LIMIT: usize = 4_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RdfcError {
    #[error("the JSON-LD document cannot be read: {0}")]
    Json(String),
    #[error("JSON-LD expansion failed (an unknown context, or a term no context defines): {0}")]
    Expansion(String),
    #[error("RDF canonicalization failed: {0}")]
    Canonicalization(String),
}

type Loader = HashMap<IriBuf, RemoteDocument>;

/// The bundled contexts as a JSON-LD loader (a map from URL to document), parsed once.
fn loader() -> Result<&'static Loader, RdfcError> {
    static LOADER: OnceLock<Result<Loader, RdfcError>> = OnceLock::new();
    LOADER
        .get_or_init(parse_contexts)
        .as_ref()
        .map_err(Clone::clone)
}

fn parse_contexts() -> Result<Loader, RdfcError> {
    CONTEXTS
        .iter()
        .map(|(url, text)| {
            let iri = IriBuf::new((*url).to_owned())
                .map_err(|e| RdfcError::Json(format!("context URL {url}: {e}")))?;
            let (doc, _) = json_ld::syntax::Value::parse_str(text)
                .map_err(|e| RdfcError::Json(format!("context {url}: {e}")))?;
            Ok((iri.clone(), RemoteDocument::new(Some(iri), None, doc)))
        })
        .collect()
}

/// Runs a future that never waits (the loader answers from memory) to completion.
fn ready<F: Future>(f: F) -> Result<F::Output, RdfcError> {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Ok(v),
        Poll::Pending => Err(RdfcError::Expansion(
            "the JSON-LD processor waited for a document that is not bundled".into(),
        )),
    }
}

fn named(iri: &IriBuf) -> NamedNode {
    NamedNode::new_unchecked(iri.as_str())
}

fn node(id: &Id) -> NamedOrBlankNode {
    match id {
        Id::Iri(iri) => named(iri).into(),
        Id::Blank(b) => BlankNode::new_unchecked(b.suffix()).into(),
    }
}

/// Refuses JSON-LD keywords other than the root's `@context`: the académie's documents use none,
/// and each one (an inline context, `@reverse`, `@index`, value objects, …) opens a path of
/// the JSON-LD algorithms that public input has no reason to reach.
fn plain_json(value: &Value, root: bool) -> Result<(), RdfcError> {
    match value {
        Value::Object(map) => map.iter().try_for_each(|(key, v)| {
            if key == "@context" && root {
                Ok(())
            } else if key.starts_with('@') {
                Err(RdfcError::Expansion(format!(
                    "the JSON-LD keyword {key:?} is not used in the académie's credentials"
                )))
            } else {
                plain_json(v, false)
            }
        }),
        Value::Array(items) => items.iter().try_for_each(|v| plain_json(v, false)),
        _ => Ok(()),
    }
}

/// The canonical N-Quads (RDFC-1.0, SHA-256) of the JSON-LD document `document`.
pub fn canonicalize(document: &Value) -> Result<String, RdfcError> {
    plain_json(document, true)?;
    let text = serde_json::to_string(document).map_err(|e| RdfcError::Json(e.to_string()))?;
    let (json, _) =
        json_ld::syntax::Value::parse_str(&text).map_err(|e| RdfcError::Json(e.to_string()))?;
    let input = RemoteDocument::new(None, None, json);
    let loader = loader()?;
    let options = Options {
        expansion_policy: Policy {
            invalid: Action::Reject,
            vocab: Action::Reject,
            allow_undefined: false,
        },
        ..Options::default()
    };
    let mut rdf = ready(input.to_rdf_using(generator::Blank::new(), loader, options))?
        .map_err(|e| RdfcError::Expansion(e.to_string()))?;
    let mut quads = Vec::new();
    for Quad(s, p, o, g) in rdf.cloned_quads() {
        let object: oxrdf::Term = match &o {
            Term::Id(id) => node(id).into(),
            Term::Literal(l) => match &l.type_ {
                LiteralType::Any(datatype) => {
                    Literal::new_typed_literal(l.value.as_str(), named(datatype)).into()
                }
                LiteralType::LangString(tag) => {
                    Literal::new_language_tagged_literal_unchecked(l.value.as_str(), tag.as_str())
                        .into()
                }
            },
        };
        let predicate = match &p {
            Id::Iri(iri) => named(iri),
            Id::Blank(_) => continue, // generalized RDF is not produced; never happens
        };
        let graph = match &g {
            None => GraphName::DefaultGraph,
            Some(Id::Iri(iri)) => named(iri).into(),
            Some(Id::Blank(b)) => BlankNode::new_unchecked(b.suffix()).into(),
        };
        quads.push(oxrdf::Quad::new(node(&s), predicate, object, graph));
    }
    let options = CanonicalizationOptions {
        hndq_call_limit: Some(HNDQ_CALL_LIMIT),
    };
    let dataset = oxrdf::Dataset::from_iter(quads);
    rdf_canon::canonicalize_with::<Sha256>(&dataset, &options)
        .map_err(|e| RdfcError::Canonicalization(e.to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_credential_becomes_canonical_n_quads() {
        let doc = json!({
            "@context": [super::super::credential::VC_CONTEXT],
            "id": "urn:uuid:1",
            "type": ["VerifiableCredential"],
            "issuer": {"id": "did:web:example.org", "name": "Example"},
            "validFrom": "2025-01-01T00:00:00Z",
            "credentialSubject": {"name": "A"},
        });
        let nquads = canonicalize(&doc).unwrap();
        assert!(
            nquads.contains(
                "<urn:uuid:1> <https://www.w3.org/2018/credentials#issuer> <did:web:example.org> .\n"
            ),
            "{nquads}"
        );
        assert!(
            nquads
                .contains("\"2025-01-01T00:00:00Z\"^^<http://www.w3.org/2001/XMLSchema#dateTime>"),
            "{nquads}"
        );
        assert!(
            nquads.contains("_:c14n0 <https://schema.org/name> \"A\" .\n"),
            "{nquads}"
        );
        // Key order and whitespace do not matter; content does.
        let text = serde_json::to_string_pretty(&doc).unwrap();
        let again: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(canonicalize(&again).unwrap(), nquads);
        let mut changed = doc.clone();
        changed["credentialSubject"]["name"] = json!("B");
        assert_ne!(canonicalize(&changed).unwrap(), nquads);
    }

    #[test]
    fn unknown_contexts_and_undefined_terms_are_refused() {
        let other = json!({"@context": ["https://example.org/ctx"], "id": "urn:x"});
        assert!(matches!(canonicalize(&other), Err(RdfcError::Expansion(_))));
        let undefined = json!({
            "@context": [super::super::credential::VC_CONTEXT],
            "id": "urn:x",
            "type": ["VerifiableCredential"],
            "undefinedTerm": "hidden from the signature",
        });
        assert!(matches!(
            canonicalize(&undefined),
            Err(RdfcError::Expansion(_))
        ));
        let undefined_type = json!({
            "@context": [super::super::credential::VC_CONTEXT],
            "id": "urn:x",
            "type": ["VerifiableCredential"],
            "issuer": {"id": "did:web:example.org", "type": ["Profile"]},
        });
        assert!(matches!(
            canonicalize(&undefined_type),
            Err(RdfcError::Expansion(_))
        ));
    }
}
