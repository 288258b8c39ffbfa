//! The OTLP exporters, over gRPC or HTTP/protobuf, with the headers and TLS their settings ask
//! for.
//!
//! # Implementation details
//!
//! gRPC exporters run on a small runtime of the pipeline's own (one worker thread), so they work
//! whether the application runs a multi-thread runtime, a current-thread runtime or none, and
//! their shutdown never waits on a runtime the caller is blocking. HTTP exporters use the
//! blocking `reqwest` client, which keeps its own thread and needs no reactor.
//!
//! `https` endpoints get TLS with the system's trust roots: tonic's rustls over gRPC, and over
//! HTTP a rustls configuration built here with the ring provider, so the process-wide crypto
//! provider is left alone.
//!
//! The exporters read `OTEL_EXPORTER_OTLP_*HEADERS` themselves and let them override headers
//! given to the builder; so headers set in code are applied last, by a gRPC interceptor or by a
//! thin wrapper of the HTTP client, and win as every other setting in code does.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::tonic_types::transport::ClientTlsConfig;
use opentelemetry_otlp::{
    MetricExporter, SpanExporter, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use opentelemetry_sdk::metrics::Temporality;
use tokio::runtime::Runtime;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue};

use super::config::{Headers, Protocol, Signal, Target};
use super::Error;

/// Starts the runtime of the gRPC exporters. Its thread works in a scope where telemetry is
/// suppressed, so nothing the transport logs or traces is exported again.
pub(crate) fn grpc_runtime() -> Result<Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("tts-otel-grpc")
        .on_thread_start(|| std::mem::forget(Context::enter_telemetry_suppressed_scope()))
        .enable_all()
        .build()
        .map_err(Error::Runtime)
}

/// Builds the span exporter of `target`; gRPC needs `runtime`.
pub(crate) fn span_exporter(
    target: &Target,
    headers: &Headers,
    runtime: Option<&Runtime>,
) -> Result<SpanExporter, Error> {
    let built = match target.protocol {
        Protocol::Grpc => {
            let _entered = grpc(runtime)?.enter();
            let builder = SpanExporter::builder().with_tonic();
            let builder = builder
                .with_endpoint(&target.endpoint)
                .with_timeout(target.timeout)
                .with_interceptor(interceptor(headers)?);
            with_tls(builder, &target.endpoint).build()
        }
        Protocol::HttpProtobuf => SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_http_client(http_client(target, headers)?)
            .with_endpoint(&target.endpoint)
            .with_timeout(target.timeout)
            .build(),
    };
    built.map_err(|source| exporter_error(target.signal, source))
}

/// Builds the metric exporter of `target`; gRPC needs `runtime`.
pub(crate) fn metric_exporter(
    target: &Target,
    headers: &Headers,
    temporality: Temporality,
    runtime: Option<&Runtime>,
) -> Result<MetricExporter, Error> {
    let built = match target.protocol {
        Protocol::Grpc => {
            let _entered = grpc(runtime)?.enter();
            let builder = MetricExporter::builder()
                .with_temporality(temporality)
                .with_tonic()
                .with_endpoint(&target.endpoint)
                .with_timeout(target.timeout)
                .with_interceptor(interceptor(headers)?);
            with_tls(builder, &target.endpoint).build()
        }
        Protocol::HttpProtobuf => MetricExporter::builder()
            .with_temporality(temporality)
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_http_client(http_client(target, headers)?)
            .with_endpoint(&target.endpoint)
            .with_timeout(target.timeout)
            .build(),
    };
    built.map_err(|source| exporter_error(target.signal, source))
}

fn grpc(runtime: Option<&Runtime>) -> Result<&Runtime, Error> {
    runtime.ok_or_else(|| Error::Config {
        setting: "protocol",
        reason: "a gRPC exporter was requested without its runtime".to_owned(),
    })
}

fn exporter_error(signal: Signal, source: opentelemetry_otlp::ExporterBuildError) -> Error {
    Error::Exporter {
        signal: signal.name(),
        source,
    }
}

/// TLS with the system's trust roots for an `https` endpoint. The exporter's own default for
/// such an endpoint carries no roots and so trusts no collector.
fn with_tls<B: WithTonicConfig>(builder: B, endpoint: &str) -> B {
    if is_https(endpoint) {
        builder.with_tls_config(ClientTlsConfig::new().with_enabled_roots())
    } else {
        builder
    }
}

fn is_https(endpoint: &str) -> bool {
    endpoint
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
}

type Metadata = Arc<[(AsciiMetadataKey, AsciiMetadataValue)]>;

/// A gRPC interceptor that sets the headers given in code on every request, replacing any the
/// exporter took from the environment.
fn interceptor(
    headers: &Headers,
) -> Result<impl tonic::service::Interceptor + Clone + Send + Sync + 'static, Error> {
    let parsed = headers.0.iter().map(|(name, value)| {
        let key = AsciiMetadataKey::from_str(&name.to_ascii_lowercase());
        let value = AsciiMetadataValue::from_str(value).map(|mut v| {
            v.set_sensitive(true);
            v
        });
        key.ok().zip(value.ok()).ok_or_else(|| invalid_header(name))
    });
    let metadata: Metadata = parsed.collect::<Result<Vec<_>, _>>()?.into();
    Ok(move |mut request: tonic::Request<()>| {
        for (key, value) in metadata.iter() {
            request.metadata_mut().insert(key.clone(), value.clone());
        }
        Ok(request)
    })
}

/// Names the header, never its value.
fn invalid_header(name: &str) -> Error {
    Error::Config {
        setting: "with_header",
        reason: format!("header {name:?} is not a valid name with a valid value"),
    }
}

/// The blocking HTTP client, wrapped to set the headers given in code.
fn http_client(target: &Target, headers: &Headers) -> Result<CodeHeaders, Error> {
    let parsed = headers.0.iter().map(|(name, value)| {
        let key = http::HeaderName::from_str(name);
        let value = http::HeaderValue::from_str(value).map(|mut v| {
            v.set_sensitive(true);
            v
        });
        key.ok().zip(value.ok()).ok_or_else(|| invalid_header(name))
    });
    let headers = parsed.collect::<Result<Vec<_>, _>>()?;
    Ok(CodeHeaders {
        inner: blocking_client(target.timeout, tls_config()?)?,
        headers,
    })
}

/// TLS for `https` endpoints: rustls with the ring provider and the platform's verifier, given
/// to the client ready-made so that the process-wide crypto provider is neither needed nor set.
// TODO: a private CA or client certificates (`OTEL_EXPORTER_OTLP_CERTIFICATE`,
// `OTEL_EXPORTER_OTLP_CLIENT_KEY`, `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`) are not read yet, on
// either transport; only collectors with publicly trusted certificates can be reached over TLS.
// The tests show the handshake and the refusal of an untrusted certificate, never a TLS export
// that succeeds, since that needs such a certificate option.
fn tls_config() -> Result<rustls::ClientConfig, Error> {
    use rustls_platform_verifier::BuilderVerifierExt as _;

    let failed = |e: rustls::Error| Error::Config {
        setting: "tls",
        reason: e.to_string(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(failed)?
        .with_platform_verifier()
        .map_err(failed)?
        .with_no_client_auth();
    Ok(config)
}

/// Builds the blocking client on a thread of its own: building it inside an async runtime
/// panics.
fn blocking_client(
    timeout: Duration,
    tls: rustls::ClientConfig,
) -> Result<reqwest::blocking::Client, Error> {
    let build = move || {
        reqwest::blocking::Client::builder()
            .timeout(timeout)
            .tls_backend_preconfigured(tls)
            .build()
    };
    let built = std::thread::spawn(build).join();
    let failed = |reason: String| Error::Config {
        setting: "http client",
        reason,
    };
    built
        .map_err(|_| failed("building the HTTP client panicked".to_owned()))?
        .map_err(|e| failed(e.to_string()))
}

/// The blocking HTTP client, setting the headers given in code on every request.
struct CodeHeaders {
    inner: reqwest::blocking::Client,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

impl fmt::Debug for CodeHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = self.headers.iter().map(|(name, _)| name).collect();
        f.debug_struct("CodeHeaders")
            .field("headers", &names)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl HttpClient for CodeHeaders {
    async fn send_bytes(&self, mut request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        for (name, value) in &self.headers {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        self.inner.send_bytes(request).await
    }
}
