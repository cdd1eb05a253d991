//! TLS from configuration: the gRPC server's certificate (and, with a client CA, mutual TLS so
//! only holders of a certificate the académie or the ministry issued can call), and the AMQP
//! client's trust and identity for `amqps://` brokers. rustls with ring throughout.

use std::{fs, path::Path};

use anyhow::Context;
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use crate::config::{AmqpTlsConfig, TlsConfig};

fn read(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("reading the {what} {}", path.display()))
}

/// The server's TLS, or `None` for plaintext (no certificate configured).
pub fn server_config(tls: &TlsConfig) -> anyhow::Result<Option<ServerTlsConfig>> {
    match (&tls.cert_file, &tls.key_file) {
        (None, None) => {
            anyhow::ensure!(
                tls.client_ca_file.is_none(),
                "tls.client_ca_file needs tls.cert_file and tls.key_file"
            );
            Ok(None)
        }
        (Some(cert), Some(key)) => {
            let mut config = ServerTlsConfig::new().identity(Identity::from_pem(
                read(cert, "certificate")?,
                read(key, "private key")?,
            ));
            if let Some(ca) = &tls.client_ca_file {
                // Clients without a certificate signed by this CA are refused at the handshake.
                config = config
                    .client_ca_root(Certificate::from_pem(read(ca, "client CA")?))
                    .client_auth_optional(false);
            }
            Ok(Some(config))
        }
        _ => anyhow::bail!("tls.cert_file and tls.key_file go together"),
    }
}

/// A client configuration for tools and tests calling a TLS node.
pub fn client_config(
    domain: &str,
    ca_pem: &[u8],
    identity: Option<(&[u8], &[u8])>,
) -> ClientTlsConfig {
    let mut c = ClientTlsConfig::new()
        .domain_name(domain)
        .ca_certificate(Certificate::from_pem(ca_pem));
    if let Some((cert, key)) = identity {
        c = c.identity(Identity::from_pem(cert, key));
    }
    c
}

/// lapin's TLS settings from configuration (defaults: system roots, no client certificate).
pub fn amqp_config(tls: &AmqpTlsConfig) -> anyhow::Result<lapin::tcp::OwnedTLSConfig> {
    let cert_chain = tls
        .ca_file
        .as_deref()
        .map(|p| read(p, "broker CA"))
        .transpose()?
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    let identity = match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            let key_pem = read(key, "AMQP client key")?;
            let key_der =
                pem_to_der(&key_pem).context("amqp_tls.key_file must be a PKCS#8 PEM key")?;
            Some(lapin::tcp::OwnedIdentity::PKCS8 {
                pem: read(cert, "AMQP client certificate")?,
                key: key_der,
            })
        }
        (None, None) => None,
        _ => anyhow::bail!("amqp_tls.cert_file and amqp_tls.key_file go together"),
    };
    Ok(lapin::tcp::OwnedTLSConfig {
        identity,
        cert_chain,
    })
}

/// The DER body of the first PEM block.
fn pem_to_der(pem: &[u8]) -> Option<Vec<u8>> {
    use base64::{Engine, engine::general_purpose::STANDARD};
    let text = std::str::from_utf8(pem).ok()?;
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    STANDARD.decode(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_settings_are_refused() {
        assert!(server_config(&TlsConfig::default()).unwrap().is_none());
        let half = TlsConfig {
            cert_file: Some("x.pem".into()),
            ..Default::default()
        };
        assert!(server_config(&half).is_err());
        let ca_only = TlsConfig {
            client_ca_file: Some("ca.pem".into()),
            ..Default::default()
        };
        assert!(server_config(&ca_only).is_err());
        assert!(
            amqp_config(&AmqpTlsConfig {
                cert_file: Some("c.pem".into()),
                ..Default::default()
            })
            .is_err()
        );
        assert!(
            amqp_config(&AmqpTlsConfig::default())
                .unwrap()
                .identity
                .is_none()
        );
    }

    #[test]
    fn pem_bodies() {
        let pem = b"-----BEGIN PRIVATE KEY-----\nAAEC\n-----END PRIVATE KEY-----\n";
        assert_eq!(pem_to_der(pem).unwrap(), vec![0, 1, 2]);
    }
}
