//! Telemetry set-up: the synthesis layer feeding both a meter provider, whose reader serves
//! `/metrics`, and the local monitor, whose system sampler runs beside it; a log layer that
//! stays quiet per request.

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::Resource;
use tracing_subscriber::prelude::*;
use tracing_subscriber::EnvFilter;
use tts_otel::http::MetricsEndpoint;
use tts_otel::semconv::SCOPE_NAME;
use tts_otel::{Monitor, MonitorConfig, SynthesisLayer};

use crate::BoxError;

/// Log filter when `RUST_LOG` is unset: the first-audio markers are INFO events of the
/// `tts_otel` target, and must reach the synthesis layer without reaching the log.
const DEFAULT_LOG_FILTER: &str = "info,tts_otel=warn,opentelemetry_sdk=warn";

/// What the server needs from its telemetry.
pub struct Telemetry {
    pub metrics: MetricsEndpoint,
    pub monitor: Monitor,
    provider: SdkMeterProvider,
}

impl Telemetry {
    /// Installs the global subscriber and starts the monitor's system sampler.
    ///
    /// # Errors
    ///
    /// When a global subscriber is already installed, the Prometheus exporter fails, or the
    /// system cannot be sampled.
    pub fn install(monitor: MonitorConfig) -> Result<Self, BoxError> {
        let (metrics, reader) = MetricsEndpoint::new()?;
        let provider = SdkMeterProvider::builder()
            .with_reader(reader)
            .with_resource(
                Resource::builder()
                    .with_service_name("speech_server")
                    .build(),
            )
            .build();
        let meter = provider.meter(SCOPE_NAME);
        let monitor = Monitor::new(monitor);
        let layer = SynthesisLayer::builder(&meter)
            .with_sink(monitor.clone())
            .build();
        let filter = EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
        let log = tracing_subscriber::fmt::layer().with_filter(filter);
        tracing_subscriber::registry()
            .with(layer)
            .with(log)
            .try_init()?;
        monitor.start_monitoring_with(&meter)?;
        Ok(Telemetry {
            metrics,
            monitor,
            provider,
        })
    }

    /// Stops the sampler, then flushes and shuts the meter provider down.
    pub fn shutdown(self) {
        self.monitor.stop_monitoring();
        if let Err(error) = self.provider.shutdown() {
            tracing::warn!(%error, "meter provider shutdown failed");
        }
    }
}
