//! A node serving over mutual TLS: a client with a certificate of the configured CA gets
//! through; a client without one, with one from another CA, or in plaintext, is refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use cplds_runtime::{
    bus::memory::InMemoryBus,
    testing::{TestNode, TestNodeOptions},
    tls::client_config,
};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use tonic::transport::Endpoint;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

struct Pki {
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Pki {
    fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        Self {
            ca_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// (certificate PEM, key PEM) for `names`.
    fn issue(&self, names: &[&str]) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

#[tokio::test]
async fn mutual_tls_refuses_clients_without_a_valid_certificate() {
    cplds_runtime::install_crypto_provider();
    let pki = Pki::new("CPLDS test CA");
    let rogue = Pki::new("Somebody else's CA");
    let dir = tempfile::tempdir().unwrap();
    let (server_cert, server_key) = pki.issue(&["localhost"]);
    for (name, content) in [
        ("server.pem", &server_cert),
        ("server.key", &server_key),
        ("ca.pem", &pki.ca_pem),
    ] {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    let paths = dir.path().to_path_buf();
    let mut opts = TestNodeOptions::new("national", vec![]);
    opts.bus = Some(Arc::new(InMemoryBus::new()));
    opts.tweak_config = Some(Box::new(move |c| {
        c.tls.cert_file = Some(paths.join("server.pem"));
        c.tls.key_file = Some(paths.join("server.key"));
        c.tls.client_ca_file = Some(paths.join("ca.pem"));
    }));
    let node = TestNode::start(opts).await.unwrap();
    let url = format!("https://localhost:{}", node.addr.port());

    let (client_cert, client_key) = pki.issue(&["ministere.education.gouv.fr"]);
    let good = Endpoint::from_shared(url.clone())
        .unwrap()
        .tls_config(client_config(
            "localhost",
            pki.ca_pem.as_bytes(),
            Some((client_cert.as_bytes(), client_key.as_bytes())),
        ))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let status = HealthClient::new(good)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.status, 1, "SERVING over mutual TLS");

    async fn refused(endpoint: Endpoint) {
        let result = match endpoint.connect().await {
            Err(_) => return,
            Ok(channel) => {
                HealthClient::new(channel)
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
            }
        };
        assert!(result.is_err(), "the call went through: {result:?}");
    }
    // No client certificate.
    refused(
        Endpoint::from_shared(url.clone())
            .unwrap()
            .tls_config(client_config("localhost", pki.ca_pem.as_bytes(), None))
            .unwrap(),
    )
    .await;
    // A certificate from another CA.
    let (rogue_cert, rogue_key) = rogue.issue(&["intruder"]);
    refused(
        Endpoint::from_shared(url.clone())
            .unwrap()
            .tls_config(client_config(
                "localhost",
                pki.ca_pem.as_bytes(),
                Some((rogue_cert.as_bytes(), rogue_key.as_bytes())),
            ))
            .unwrap(),
    )
    .await;
    // Plaintext.
    refused(Endpoint::from_shared(format!("http://127.0.0.1:{}", node.addr.port())).unwrap()).await;
    node.node.shutdown().await.unwrap();
}
