//! What a person scanning the QR code, and a program fetching the status list, get over plain
//! HTTP from the node's public pages.

use std::net::SocketAddr;

use cplds_certification::domain::status_list::Bitstring;
use cplds_proto::v1 as pb;
use cplds_runtime::{
    config::Config,
    testing::{ConfigTweak, HttpReply, http},
};
use serde_json::Value;

use crate::helpers::{Backend, Ctx, decision, start_with, verify_with_ring};

on_both!(
    the_qr_code_leads_to_a_page_with_the_statements,
    the_number_alone_gets_a_page_asking_for_the_code,
    pages_are_limited_per_client,
    unknown_and_malformed_numbers_get_a_page_or_a_problem,
    the_keys_and_the_status_list_are_where_credentials_say,
    a_posted_credential_is_verified,
    a_revoked_certificate_shows_as_revoked,
);

/// A node serving its public pages, with two issued certificates: the one kept and the one
/// some tests revoke.
struct Web {
    t: Ctx,
    addr: SocketAddr,
    kept: pb::Certificate,
    revoked: pb::Certificate,
}

async fn serving(backend: Backend) -> Option<Web> {
    let tweak: ConfigTweak =
        Box::new(|c: &mut Config| c.http_listen = Some(([127, 0, 0, 1], 0).into()));
    let mut t = start_with(backend, Some(tweak)).await?;
    let addr = t.node.node.http_addr.expect("public pages served");
    let mut batch = t.issued(vec![decision(0, true), decision(1, true)]).await;
    let revoked = batch.remove(1);
    let kept = batch.remove(0);
    Some(Web {
        t,
        addr,
        kept,
        revoked,
    })
}

impl Web {
    fn base(&self) -> String {
        format!("http://{}/verify", self.addr)
    }

    /// The path of a URL of these pages.
    fn path(&self, url: &str) -> String {
        url.strip_prefix(&format!("http://{}", self.addr))
            .unwrap()
            .to_owned()
    }

    async fn get(&self, path: &str, accept: &str) -> HttpReply {
        http(self.addr, "GET", path, &[("Accept", accept)], b"")
            .await
            .unwrap()
    }

    async fn post(&self, body: Vec<u8>) -> HttpReply {
        http(
            self.addr,
            "POST",
            "/verify",
            &[("Content-Type", "application/json")],
            &body,
        )
        .await
        .unwrap()
    }

    /// The status list where a credential points, checked as served, and its bits.
    async fn bits(&self, list_url: &str) -> (String, Bitstring) {
        let list = http(self.addr, "GET", &self.path(list_url), &[], b"")
            .await
            .unwrap();
        assert_eq!(list.status, 200);
        assert_eq!(list.header("content-type"), Some("application/vc"));
        assert!(
            list.header("cache-control")
                .unwrap()
                .starts_with("public, max-age=")
        );
        let vc: Value = serde_json::from_str(&list.body).unwrap();
        let bits =
            Bitstring::decode(vc["credentialSubject"]["encodedList"].as_str().unwrap()).unwrap();
        (list.body, bits)
    }

    /// The credential of the certificate to revoke: where its status is, and its text.
    async fn revoked_credential(&mut self) -> (String, u64, String) {
        let office = self.t.office.clone();
        let credential = self
            .t
            .credential(&self.revoked.number, &office)
            .await
            .unwrap();
        let vc: Value = serde_json::from_str(&credential).unwrap();
        let list_url = vc["credentialStatus"]["statusListCredential"]
            .as_str()
            .unwrap()
            .to_owned();
        let index: u64 = vc["credentialStatus"]["statusListIndex"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        (list_url, index, credential)
    }
}

async fn the_qr_code_leads_to_a_page_with_the_statements(backend: Backend) {
    let Some(w) = serving(backend).await else {
        return;
    };
    let kept = &w.kept;
    assert_eq!(
        kept.verification_url,
        format!(
            "{}/{}?code={}",
            w.base(),
            kept.number,
            kept.verification_code
        )
    );
    // A browser following the QR code gets the statements as printed, escaped, never cached.
    let page = w.get(&w.path(&kept.verification_url), "text/html").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("default-src 'none'")
    );
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert!(page.body.contains("Certificat valide"), "{}", page.body);
    assert!(page.body.contains(&kept.holder_name));
    assert!(page.body.contains(&kept.number));
    // The same answer as JSON, for programs; the form's query and a sloppy number work too.
    let json = w
        .get(&w.path(&kept.verification_url), "application/json")
        .await;
    assert_eq!(json.status, 200);
    let v = json.json();
    assert_eq!(v["status"], "valid");
    assert_eq!(v["statement"]["holder_name"], kept.holder_name.as_str());
    assert_eq!(v["statement"]["year"], 2025);
    let sloppy = format!(
        "/verify?number=++{}+&code={}",
        kept.number.to_lowercase(),
        kept.verification_code.to_lowercase().replace('-', "+")
    );
    let page = w.get(&sloppy, "text/html").await;
    assert!(page.body.contains("Certificat valide"), "{}", page.body);
    assert!(page.body.contains(&kept.holder_name), "{}", page.body);
    let form = w.get("/verify", "text/html").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("<form"));
    let refused = http(w.addr, "DELETE", &w.path(&kept.verification_url), &[], b"")
        .await
        .unwrap();
    assert_eq!(refused.status, 405);
}

async fn the_number_alone_gets_a_page_asking_for_the_code(backend: Backend) {
    let Some(mut w) = serving(backend).await else {
        return;
    };
    let number = w.kept.number.clone();
    let page = w.get(&format!("/verify/{number}"), "text/html").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Certificat valide"), "{}", page.body);
    assert!(!page.body.contains(&w.kept.holder_name), "{}", page.body);
    assert!(page.body.contains("name=\"code\""), "{}", page.body);
    let json = w
        .get(&format!("/verify/{number}"), "application/json")
        .await
        .json();
    assert_eq!(json["status"], "valid");
    assert!(json.get("statement").is_none(), "{json}");
    // Revoked for fraud: by the number alone, revoked, without why.
    let revoked = w.revoked.number.clone();
    w.t.revoke(&revoked, pb::RevocationReason::Fraud, "dossier 2025-17")
        .await
        .unwrap();
    let json = w
        .get(&format!("/verify/{revoked}"), "application/json")
        .await
        .json();
    assert_eq!(json["status"], "revoked");
    assert!(
        json.get("revocation").is_none() && json.get("statement").is_none(),
        "{json}"
    );
    // A wrong code: invalid, and nothing shown.
    let page = w
        .get(
            &format!("/verify/{number}?code=0000-0000-0000-0000"),
            "text/html",
        )
        .await;
    assert!(page.body.contains("ne correspond pas"), "{}", page.body);
    assert!(!page.body.contains(&w.kept.holder_name));
    let bad = w
        .get(&format!("/verify/{number}?code=nope"), "application/json")
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["violations"][0]["field"], "code");
}

/// The pages share the public allowance of the gRPC methods: a burst per address, then 429.
async fn pages_are_limited_per_client(backend: Backend) {
    let tweak: ConfigTweak = Box::new(|c: &mut Config| {
        c.http_listen = Some(([127, 0, 0, 1], 0).into());
        c.server.public.per_client_burst = 3;
        c.server.public.per_client_per_minute = 1;
    });
    let Some(t) = start_with(backend, Some(tweak)).await else {
        return;
    };
    let addr = t.node.node.http_addr.expect("public pages served");
    let get = |path: &'static str| async move {
        http(addr, "GET", path, &[("Accept", "application/json")], b"")
            .await
            .unwrap()
    };
    for _ in 0..3 {
        assert_eq!(get("/verify/CPLDS-TOULOUSE-2025-000001").await.status, 404);
    }
    let refused = get("/verify/keys").await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(
        refused.header("content-type"),
        Some("application/problem+json")
    );
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // The gRPC methods are out of allowance too, for the same address.
    let mut client = t.client.clone();
    let err = client
        .get_status_list(pb::GetStatusListRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted);
}

async fn unknown_and_malformed_numbers_get_a_page_or_a_problem(backend: Backend) {
    let Some(w) = serving(backend).await else {
        return;
    };
    let unknown = w
        .get("/verify/CPLDS-TOULOUSE-2025-999999", "text/html")
        .await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.body.contains("Certificat inconnu"));
    let unknown = w
        .get(
            "/verify/CPLDS-TOULOUSE-2025-999999?format=json",
            "text/html",
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.json()["status"].as_str()),
        (404, Some("unknown"))
    );
    let bad = w.get("/verify/%3Cb%3Enope", "text/html").await;
    assert_eq!(bad.status, 400);
    assert!(!bad.body.contains("<b>nope"), "{}", bad.body);
    let bad = w.get("/verify/nope", "application/json").await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.header("content-type"), Some("application/problem+json"));
    assert_eq!(bad.json()["violations"][0]["field"], "number");
}

async fn the_keys_and_the_status_list_are_where_credentials_say(backend: Backend) {
    let Some(mut w) = serving(backend).await else {
        return;
    };
    // The keys and the status list live where credentials say they do, and agree with gRPC.
    let keys = w.get("/verify/keys", "application/json").await.json();
    let grpc_keys = w.t.keys().await;
    assert_eq!(keys["academy"], "toulouse");
    assert_eq!(keys["keys"][0]["multikey"], grpc_keys[0].multikey.as_str());
    assert_eq!(keys["keys"][0]["status"], "current");
    let (list_url, index, _) = w.revoked_credential().await;
    assert_eq!(list_url, format!("{}/status-list", w.base()));
    let (body, bits) = w.bits(&list_url).await;
    assert_eq!(
        verify_with_ring(&body, &grpc_keys).unwrap(),
        grpc_keys[0].key_id
    );
    assert!(!bits.get(index).unwrap());
}

async fn a_posted_credential_is_verified(backend: Backend) {
    let Some(mut w) = serving(backend).await else {
        return;
    };
    let (_, _, credential) = w.revoked_credential().await;
    // The holder's credential, posted as it is: valid; one changed byte: not valid.
    let r = w.post(credential.clone().into_bytes()).await;
    assert_eq!(
        (r.status, r.json()["status"].as_str()),
        (200, Some("valid"))
    );
    let holder = &w.revoked.holder_name;
    let tampered = credential.replacen(holder, &format!("{holder}x"), 1);
    assert_ne!(tampered, credential);
    let r = w.post(tampered.into_bytes()).await;
    assert_eq!(r.json()["status"], "invalid");
    let r = w.post(b"{not json".to_vec()).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["violations"][0]["field"], "credential_json");
    let r = w.post(vec![b' '; 70 * 1024]).await;
    assert_eq!(r.status, 413, "the body cap holds");
}

async fn a_revoked_certificate_shows_as_revoked(backend: Backend) {
    let Some(mut w) = serving(backend).await else {
        return;
    };
    let (list_url, index, credential) = w.revoked_credential().await;
    let number = w.revoked.number.clone();
    // Revoked: the page says so with date and reason, never the recteur's free text, and the
    // published list has the bit.
    w.t.revoke(&number, pb::RevocationReason::Fraud, "dossier 2025-17")
        .await
        .unwrap();
    let url = w.path(&w.revoked.verification_url);
    let page = w.get(&url, "text/html").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Certificat révoqué"), "{}", page.body);
    assert!(page.body.contains("fraude") && page.body.contains("10/07/2025"));
    assert!(!page.body.contains("dossier 2025-17"));
    let v = w.get(&url, "application/json").await.json();
    assert_eq!(v["revocation"]["reason"], "fraud");
    let (_, bits) = w.bits(&list_url).await;
    assert!(bits.get(index).unwrap());
    let r = w.post(credential.into_bytes()).await;
    assert_eq!(r.json()["status"], "revoked");
}
