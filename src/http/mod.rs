//! HTTP endpoints (feature `http`): an [`axum::Router`] that any server can merge, exposing a
//! Prometheus scrape endpoint and the local monitor's summary, RTF trend and export.
//!
//! | route | answers |
//! |---|---|
//! | `GET /metrics` | every instrument in the Prometheus text format |
//!
//! Errors are JSON ([`ApiError`]) with a 4xx or 5xx status. Only the parts that were configured
//! are routed: a router without [`Endpoints::with_metrics`] has no `/metrics`.
//!
//! ```
//! use tts_otel::http::{Endpoints, MetricsEndpoint};
//!
//! let (metrics, reader) = MetricsEndpoint::new().expect("a fresh registry");
//! let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
//!     .with_reader(reader)
//!     .build();
//! let app = axum::Router::new()
//!     // .route("/v1/audio/speech", post(speech))
//!     .merge(Endpoints::new().with_metrics(metrics).router());
//! # drop((provider, app));
//! ```

mod error;
mod metrics;

use std::fmt;

use axum::routing::get;
use axum::Router;

pub use error::ApiError;
pub use metrics::{MetricsEndpoint, MetricsError};
pub use opentelemetry_prometheus::PrometheusExporter;

/// Paths of the routes.
pub mod routes {
    /// Prometheus scrape endpoint.
    pub const METRICS: &str = "/metrics";
}

/// Configures which endpoints the router serves.
#[derive(Clone, Default)]
pub struct Endpoints {
    metrics: Option<MetricsEndpoint>,
}

impl fmt::Debug for Endpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoints")
            .field("metrics", &self.metrics.is_some())
            .finish_non_exhaustive()
    }
}

impl Endpoints {
    /// No endpoints yet; add them with the `with_*` methods.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `GET /metrics` from `metrics`.
    pub fn with_metrics(mut self, metrics: MetricsEndpoint) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The router, ready to merge into a server's own; it needs no state of the server's.
    pub fn router<S>(self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let mut router = Router::new();
        if let Some(endpoint) = self.metrics {
            router = router.route(
                routes::METRICS,
                get(move || metrics::scrape(endpoint.clone())),
            );
        }
        router
    }
}
