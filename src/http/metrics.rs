//! The Prometheus scrape endpoint: an `opentelemetry-prometheus` exporter writing into a
//! `prometheus` registry that `GET /metrics` renders in the text exposition format.

use std::fmt;

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use opentelemetry_prometheus::PrometheusExporter;
use prometheus::{Encoder, Registry, TextEncoder};

use super::error::ApiError;

/// Why the Prometheus exporter could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// The exporter rejected its configuration or registry.
    #[error("cannot build the Prometheus exporter: {0}")]
    Exporter(String),
}

/// What `GET /metrics` renders: the registry a [`PrometheusExporter`] writes into.
///
/// Build one with [`MetricsEndpoint::new`], register the exporter it returns as a reader on the
/// `SdkMeterProvider` that the synthesis layer's meter comes from, and hand the endpoint to
/// [`Endpoints::with_metrics`](super::Endpoints::with_metrics):
///
/// ```
/// use opentelemetry_sdk::metrics::SdkMeterProvider;
/// use tts_otel::http::{Endpoints, MetricsEndpoint};
///
/// let (metrics, reader) = MetricsEndpoint::new().expect("a fresh registry");
/// let provider = SdkMeterProvider::builder().with_reader(reader).build();
/// let router: axum::Router = Endpoints::new().with_metrics(metrics).router();
/// # drop((provider, router));
/// ```
///
/// Metric names are translated the Prometheus way: units become suffixes (`_seconds`), counters
/// gain `_total`, and this exporter gives the RTF histogram (unit `1`) the suffix `_ratio`:
/// `tts_synthesis_rtf_ratio_bucket`.
// TODO: the OpenTelemetry Collector's Prometheus exporter adds `_ratio` to gauges only, so the
// same histogram arrives there as `tts_synthesis_rtf_bucket`, the name the rules and dashboard
// in `otel-collector/` query; a service scraped here directly needs those RTF queries renamed
// until both translators agree or the rules match either name.
#[derive(Clone)]
pub struct MetricsEndpoint {
    registry: Registry,
}

impl fmt::Debug for MetricsEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsEndpoint").finish_non_exhaustive()
    }
}

impl MetricsEndpoint {
    /// A fresh registry and the exporter (a metric reader) that fills it.
    ///
    /// # Errors
    ///
    /// [`MetricsError::Exporter`] when the exporter cannot register its collector.
    pub fn new() -> Result<(Self, PrometheusExporter), MetricsError> {
        Self::with_registry(Registry::new())
    }

    /// Like [`new`](Self::new), over an existing registry that may hold other collectors;
    /// `/metrics` renders all of them.
    ///
    /// # Errors
    ///
    /// [`MetricsError::Exporter`] when the exporter cannot register its collector.
    pub fn with_registry(registry: Registry) -> Result<(Self, PrometheusExporter), MetricsError> {
        let exporter = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .build()
            .map_err(|e| MetricsError::Exporter(e.to_string()))?;
        Ok((MetricsEndpoint { registry }, exporter))
    }

    /// The registry, for adding collectors of one's own.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Collects the registry and renders it in the text exposition format (version 0.0.4).
    ///
    /// # Errors
    ///
    /// An [`ApiError`] with status 500 when a collector yields a family the encoder rejects.
    pub fn render(&self) -> Result<String, ApiError> {
        let families = self.registry.gather();
        let mut text = Vec::new();
        TextEncoder::new()
            .encode(&families, &mut text)
            .map_err(|e| ApiError::internal("metrics_encoding_failed", e.to_string()))?;
        String::from_utf8(text)
            .map_err(|e| ApiError::internal("metrics_encoding_failed", e.to_string()))
    }
}

/// `GET /metrics`.
pub(super) async fn scrape(endpoint: MetricsEndpoint) -> Response {
    match endpoint.render() {
        Ok(text) => ([(CONTENT_TYPE, prometheus::TEXT_FORMAT)], text).into_response(),
        Err(error) => error.into_response(),
    }
}
