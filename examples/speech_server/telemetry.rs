//! Telemetry set-up through the crate's pipeline: the synthesis layer, OTLP export of traces
//! and metrics when a collector endpoint is configured, the local monitor and its system
//! sampler, and a Prometheus reader on the same meter provider for `/metrics`.

use tts_otel::http::MetricsEndpoint;
use tts_otel::semconv::env;
use tts_otel::{Monitor, MonitorConfig, Pipeline, TelemetryGuard};

use crate::BoxError;

/// What the server needs from its telemetry.
pub struct Telemetry {
    pub metrics: MetricsEndpoint,
    pub monitor: Monitor,
    /// Whether traces and metrics also go to an OTLP collector.
    pub exporting: bool,
    guard: TelemetryGuard,
}

impl Telemetry {
    /// Installs the pipeline as the global subscriber and starts the monitor's sampler.
    ///
    /// OTLP export is on only when an `OTEL_EXPORTER_OTLP_*ENDPOINT` variable names a
    /// collector: an example run on a laptop should not warn about a collector nobody started.
    ///
    /// # Errors
    ///
    /// When a global subscriber is already installed or an exporter cannot be built.
    pub fn install(monitor: MonitorConfig) -> Result<Self, BoxError> {
        let (metrics, reader) = MetricsEndpoint::new()?;
        let monitor = Monitor::new(monitor);
        let mut pipeline = Pipeline::from_env()
            .with_service_name("speech_server")
            .with_service_version(env!("CARGO_PKG_VERSION"))
            .with_monitor(monitor.clone())
            .with_metric_reader(reader);
        let exporting = collector_configured();
        if !exporting {
            pipeline = pipeline.without_export();
        }
        let guard = pipeline.try_init()?;
        Ok(Telemetry {
            metrics,
            monitor,
            exporting,
            guard,
        })
    }

    /// The same endpoints with nothing recording: no subscriber is installed, so no span
    /// reaches a synthesis layer, the monitor stays empty and `/metrics` shows no synthesis.
    ///
    /// # Errors
    ///
    /// When the Prometheus exporter cannot be built.
    pub fn off(monitor: MonitorConfig) -> Result<Self, BoxError> {
        let (metrics, reader) = MetricsEndpoint::new()?;
        let providers = Pipeline::from_env()
            .without_export()
            .with_metric_reader(reader)
            .build_providers()?;
        Ok(Telemetry {
            metrics,
            monitor: Monitor::new(monitor.with_system_interval(None)),
            exporting: false,
            guard: providers.start(),
        })
    }

    /// Exports what traces and metrics hold now, within the guard's bound; for a caller that
    /// cannot drop the telemetry before its process ends.
    ///
    /// # Errors
    ///
    /// When the bound passed or a provider failed.
    // The server itself flushes by shutting down; the load run's harness keeps its telemetry
    // for the whole process and flushes instead.
    #[allow(dead_code)]
    pub fn flush(&self) -> Result<(), BoxError> {
        Ok(self.guard.flush()?)
    }

    /// Flushes and shuts the providers down within the guard's bound, then stops the sampler:
    /// in that order, so the final export still carries the latest system readings.
    pub fn shutdown(mut self) {
        if let Err(error) = self.guard.shutdown() {
            tracing::warn!(%error, "telemetry shutdown failed");
        }
        self.monitor.stop_monitoring();
    }
}

fn collector_configured() -> bool {
    [
        env::OTLP_ENDPOINT,
        env::OTLP_TRACES_ENDPOINT,
        env::OTLP_METRICS_ENDPOINT,
    ]
    .iter()
    .any(|name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty()))
}
