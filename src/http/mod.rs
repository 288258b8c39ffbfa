//! HTTP endpoints (feature `http`): an [`axum::Router`] that any server can merge, exposing the
//! local monitor's summary, RTF trend and export, and a Prometheus scrape endpoint.
//!
//! | route | answers |
//! |---|---|
//! | `GET /performance/stats` | the monitor's [`Summary`](crate::Summary) as JSON |
//! | `GET /performance/rtf-trend?minutes=N` | the [`RtfTrend`](crate::RtfTrend) of the last `N` minutes |
//! | `POST /performance/export` | writes an export; answers `{"path", "file"}` |
//! | `GET /metrics` | every instrument in the Prometheus text format |
//!
//! `minutes` defaults to 60 and must be a whole number from 1 to the monitor's trend
//! retention in minutes; anything else is answered 400.
//!
//! Errors are JSON ([`ApiError`]) with a 4xx or 5xx status. Only what was configured is
//! routed: without [`Endpoints::with_metrics`] there is no `/metrics`, without
//! [`Endpoints::with_export_dir`] no export route.
//!
//! The export route takes nothing from the request: the folder is the server's, the file
//! name is generated from the time and a sequence number, so concurrent exports never share a
//! file, and the folder keeps the newest [`DEFAULT_EXPORT_LIMIT`] exports unless configured
//! otherwise. Summaries, trends and exports run on the blocking thread pool, off the async
//! workers.
//!
//! ```
//! use tts_otel::http::{Endpoints, MetricsEndpoint};
//! use tts_otel::Monitor;
//!
//! let monitor = Monitor::default();
//! let (metrics, reader) = MetricsEndpoint::new().expect("a fresh registry");
//! let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
//!     .with_reader(reader)
//!     .build();
//! let endpoints = Endpoints::new()
//!     .with_monitor(monitor)
//!     .with_export_dir("/var/lib/tts/exports")
//!     .with_metrics(metrics);
//! let app: axum::Router = axum::Router::new()
//!     // .route("/v1/audio/speech", post(speech))
//!     .merge(endpoints.router());
//! # drop((provider, app));
//! ```

mod error;
mod exports;
mod metrics;
mod performance;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

pub use error::ApiError;
pub use metrics::{MetricsEndpoint, MetricsError};
pub use opentelemetry_prometheus::PrometheusExporter;

use crate::monitor::Monitor;
use exports::Exports;
use performance::Performance;

/// Exports a folder keeps by default; older ones are removed after each new export.
pub const DEFAULT_EXPORT_LIMIT: usize = 100;

/// Paths of the routes.
pub mod routes {
    /// The monitor's summary.
    pub const STATS: &str = "/performance/stats";
    /// The monitor's RTF trend; query parameter `minutes`.
    pub const RTF_TREND: &str = "/performance/rtf-trend";
    /// Writes an export.
    pub const EXPORT: &str = "/performance/export";
    /// Prometheus scrape endpoint.
    pub const METRICS: &str = "/metrics";
}

/// Configures which endpoints the router serves.
#[derive(Clone)]
pub struct Endpoints {
    monitor: Option<Monitor>,
    export_dir: Option<PathBuf>,
    export_limit: usize,
    metrics: Option<MetricsEndpoint>,
}

impl Default for Endpoints {
    fn default() -> Self {
        Endpoints {
            monitor: None,
            export_dir: None,
            export_limit: DEFAULT_EXPORT_LIMIT,
            metrics: None,
        }
    }
}

impl fmt::Debug for Endpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoints")
            .field("monitor", &self.monitor.is_some())
            .field("export_dir", &self.export_dir)
            .field("export_limit", &self.export_limit)
            .field("metrics", &self.metrics.is_some())
            .finish()
    }
}

impl Endpoints {
    /// No endpoints yet; add them with the `with_*` methods.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `GET /performance/stats` and `GET /performance/rtf-trend` from `monitor`, and
    /// the export route once a folder is set.
    pub fn with_monitor(mut self, monitor: Monitor) -> Self {
        self.monitor = Some(monitor);
        self
    }

    /// Serves `POST /performance/export`, writing into `folder` (created on the first
    /// export). Needs [`with_monitor`](Self::with_monitor).
    pub fn with_export_dir(mut self, folder: impl Into<PathBuf>) -> Self {
        self.export_dir = Some(folder.into());
        self
    }

    /// Keeps at most `limit` exports in the folder (at least one); the default is
    /// [`DEFAULT_EXPORT_LIMIT`].
    pub fn with_export_limit(mut self, limit: usize) -> Self {
        self.export_limit = limit;
        self
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
        if let Some(monitor) = self.monitor {
            router = monitor_routes(router, monitor, self.export_dir, self.export_limit);
        }
        if let Some(endpoint) = self.metrics {
            let scrape = move || metrics::scrape(endpoint.clone());
            router = router.route(routes::METRICS, get(scrape));
        }
        router
    }
}

fn monitor_routes<S>(
    router: Router<S>,
    monitor: Monitor,
    export_dir: Option<PathBuf>,
    export_limit: usize,
) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let performance = Performance::new(monitor.clone());
    let for_trend = performance.clone();
    let mut router = router
        .route(
            routes::STATS,
            get(move || performance::stats(performance.clone())),
        )
        .route(
            routes::RTF_TREND,
            get(move |query| performance::rtf_trend(for_trend.clone(), query)),
        );
    if let Some(folder) = export_dir {
        let exports = Arc::new(Exports::new(folder, export_limit));
        let export = move || performance::export(monitor.clone(), Arc::clone(&exports));
        router = router.route(routes::EXPORT, post(export));
    }
    router
}
