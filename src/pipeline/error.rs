//! Errors of setting up and shutting down the pipeline.

use std::time::Duration;

/// Why the pipeline could not start, flush or shut down.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting made in code cannot be used.
    #[error("invalid telemetry setting {setting}: {reason}")]
    Config {
        /// The setting, as the builder method or variable names it.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// An OTLP exporter could not be built from its settings.
    #[error("the OTLP {signal} exporter could not be built: {source}")]
    Exporter {
        /// `traces` or `metrics`.
        signal: &'static str,
        /// The exporter's own error.
        #[source]
        source: opentelemetry_otlp::ExporterBuildError,
    },
    /// A background thread of the pipeline (the gRPC exporters' runtime, a flush or shutdown
    /// thread) could not be started.
    #[error("a telemetry background thread could not start: {0}")]
    Runtime(#[source] std::io::Error),
    /// A global `tracing` subscriber was already installed.
    #[error("a global tracing subscriber is already installed: {0}")]
    SubscriberInstalled(#[source] tracing_subscriber::util::TryInitError),
    /// Flushing or shutting down did not finish within its bound; what was still queued may be
    /// lost.
    #[error("telemetry {operation} did not finish within {timeout:?}")]
    Timeout {
        /// `flush` or `shutdown`.
        operation: &'static str,
        /// The bound it was given.
        timeout: Duration,
    },
    /// The SDK reported an error while flushing or shutting down.
    #[error("telemetry {operation} of {signal} failed: {source}")]
    Sdk {
        /// `flush` or `shutdown`.
        operation: &'static str,
        /// `traces` or `metrics`.
        signal: &'static str,
        /// The SDK's own error.
        #[source]
        source: opentelemetry_sdk::error::OTelSdkError,
    },
}
