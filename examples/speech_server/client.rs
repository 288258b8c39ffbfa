//! The HTTP client of the demo and the tests.

use std::sync::Arc;

/// A client for plain HTTP on loopback.
///
/// The crate's OTLP exporter brings `reqwest` with rustls but no process-wide crypto provider,
/// and a `reqwest` client cannot be built without one, so the client gets a TLS configuration
/// of its own, with ring and no trust roots: it never speaks TLS.
pub fn http_client() -> reqwest::Client {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .expect("a client with a preconfigured TLS backend builds")
}
