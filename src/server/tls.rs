//! HTTPS and WSS: when `server.tls_cert_path` and `tls_key_path` are set, every connection is
//! TLS (rustls, ring), with HTTP/2 and HTTP/1.1 offered by ALPN. The files are read once at
//! start; a bad one stops the start with the path and the reason.

use std::path::Path;
use std::sync::Arc;

use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// An acceptor for the certificate chain and private key in the PEM files given.
pub fn acceptor(cert_path: &str, key_path: &str) -> anyhow::Result<TlsAcceptor> {
    use anyhow::Context;
    let read =
        |path: &str| std::fs::read(Path::new(path)).with_context(|| format!("cannot read {path}"));
    let cert_pem = read(cert_path)?;
    let certs = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{cert_path} is not a PEM certificate chain"))?;
    anyhow::ensure!(!certs.is_empty(), "{cert_path} holds no certificate");
    let key_pem = read(key_path)?;
    let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .with_context(|| format!("{key_path} is not a PEM private key"))?
        .with_context(|| format!("{key_path} holds no private key"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS setup")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .with_context(|| format!("{cert_path} and {key_path} do not make a usable pair"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
