//! One-call set-up: the `tracing` subscriber, the meter and tracer providers, OTLP exporters,
//! views with the contract's bucket boundaries, the resource, and a guard that flushes at exit.
//!
//! ```no_run
//! // At the top of `main`; telemetry is flushed when `_telemetry` drops at the end of it.
//! let _telemetry = tts_otel::pipeline::Pipeline::from_env()
//!     .with_service_name("tts-server")
//!     .with_service_version(env!("CARGO_PKG_VERSION"))
//!     .init();
//! // ... serve; #[tracing::instrument(name = "tts.synthesize", ...)] on synthesis ...
//! ```
//!
//! # What it installs
//!
//! A global subscriber with three layers: a `fmt` layer printing what an `EnvFilter` allows
//! (`RUST_LOG`; by default `info`, with the SDK's own chatter held back to warnings); the
//! [`SynthesisLayer`] measuring synthesis spans into the meter provider;
//! and `tracing-opentelemetry`'s layer exporting spans at INFO and above as traces. The meter and
//! tracer providers also become OpenTelemetry's global ones, and W3C trace context its
//! propagator.
//!
//! Fields that would carry the input text (`text`, `input`, `ssml`:
//! [`semconv::field::TEXT_FIELDS`](crate::semconv::field::TEXT_FIELDS)) show `[redacted]`
//! instead of their values in exported spans and in the printed log, in case a synthesis
//! function is instrumented without `skip(text)`.
//!
//! # Cost
//!
//! Set-up starts a few threads: the SDK's batch span processor and periodic reader, the blocking
//! HTTP client's, or for gRPC a one-worker runtime, and a short-lived probe. On the recording
//! path the pipeline adds, per span or event, a target prefix check and a thread-local read
//! (the filters keeping the export machinery out of telemetry); printing an SDK warning costs
//! one mutex-guarded map look-up.
//!
//! # Settings
//!
//! Every setting made in code wins; what code leaves unset comes from the standard variables
//! named in [`semconv::env`](crate::semconv::env), then from the specification's defaults:
//! OTLP over HTTP/protobuf to `http://localhost:4318`, metrics every 60 seconds, cumulative
//! temporality, parent-based always-on sampling. `OTEL_SDK_DISABLED=true` leaves only the log
//! and the synthesis layer's sinks.
//!
//! # Without a collector
//!
//! Exporters are always created unless export is turned off (`OTEL_TRACES_EXPORTER=none`,
//! [`Pipeline::without_export`]); when nothing listens at the endpoint, the service runs on and
//! telemetry is dropped. At start-up a probe tries one connection to each collector address and,
//! if none answers, logs one `warn` line on target `tts_otel` saying where telemetry would go.
//! Exporters log their first failure and their recovery once each, and the SDK's own warnings
//! are printed at most once per callsite and fault.
//!
//! # What it does not do
//!
//! `tracing` events reach the collector only as events of the span they happen in.
//! TODO: no OTLP logs exporter yet, so events outside spans are printed but not exported.
//! TODO: compression is left to the exporter's own `OTEL_EXPORTER_OTLP_COMPRESSION` handling,
//! and the `gzip`/`zstd` features it needs are not enabled, so exports are not compressed.
//!
//! # Bringing your own subscriber
//!
//! [`Pipeline::build_providers`] builds everything but installs nothing: add
//! [`Providers::layers`] to your subscriber, put [`Providers::sdk_event_filter`] on your `fmt`
//! layer, then call [`Providers::start`] for the guard.

mod config;
mod diagnostics;
mod error;
mod exporters;
mod guard;
mod providers;
mod redact;
mod resource;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{Instrument, Stream, Temporality};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::Sampler;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::{EnvFilter, FilterExt as _};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::Layer;

pub use self::config::Protocol;
pub use self::error::Error;
pub use self::guard::TelemetryGuard;
pub use self::providers::Providers;

use self::config::Options;
use self::diagnostics::FaultState;
use self::providers::{AddReader, Boundaries, View};
use self::redact::{OutsideFormatting, RedactedFields};
use crate::semconv::{defaults, env, SCOPE_NAME};
use crate::{SynthesisLayer, SynthesisSink};

/// Builds and starts the telemetry pipeline; see the [module docs](self).
pub struct Pipeline {
    options: Options,
    boundaries: Result<Boundaries, Error>,
    views: Vec<View>,
    readers: Vec<AddReader>,
    span_name: Option<String>,
    label_limit: Option<usize>,
    sinks: Vec<Arc<dyn SynthesisSink>>,
    monitor: Option<crate::Monitor>,
    log_filter: Option<String>,
    writer: Option<BoxMakeWriter>,
    trace_level: LevelFilter,
    shutdown_timeout: Duration,
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("options", &self.options)
            .field("sinks", &self.sinks.len())
            .field("monitor", &self.monitor.is_some())
            .field("log_filter", &self.log_filter)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish_non_exhaustive()
    }
}

impl Default for Pipeline {
    fn default() -> Self {
        Self::from_env()
    }
}

impl Pipeline {
    /// A pipeline whose settings come from the `OTEL_*` variables, read when it is built, unless
    /// set in code with the methods below.
    pub fn from_env() -> Self {
        Pipeline {
            options: Options::default(),
            boundaries: Ok(Boundaries::default()),
            views: Vec::new(),
            readers: Vec::new(),
            span_name: None,
            label_limit: None,
            sinks: Vec::new(),
            monitor: None,
            log_filter: None,
            writer: None,
            trace_level: LevelFilter::INFO,
            shutdown_timeout: defaults::SHUTDOWN_TIMEOUT,
        }
    }

    /// Sets `service.name`, over `OTEL_SERVICE_NAME`.
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.options.service_name = Some(name.into());
        self
    }

    /// Sets `service.version`, over `OTEL_RESOURCE_ATTRIBUTES`.
    pub fn with_service_version(mut self, version: impl Into<String>) -> Self {
        self.options.service_version = Some(version.into());
        self
    }

    /// Adds a resource attribute, over `OTEL_RESOURCE_ATTRIBUTES`.
    pub fn with_resource_attribute(mut self, attribute: KeyValue) -> Self {
        self.options.attributes.push(attribute);
        self
    }

    /// Sets the base endpoint of both signals, as `OTEL_EXPORTER_OTLP_ENDPOINT` does: over HTTP
    /// `v1/traces` and `v1/metrics` are appended, over gRPC it is used as given.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.options.endpoint = Some(endpoint.into());
        self
    }

    /// Sets the traces endpoint, used as given.
    pub fn with_traces_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.options.traces_endpoint = Some(endpoint.into());
        self
    }

    /// Sets the metrics endpoint, used as given.
    pub fn with_metrics_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.options.metrics_endpoint = Some(endpoint.into());
        self
    }

    /// Sets the transport of both signals.
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.options.protocol = Some(protocol);
        self
    }

    /// Adds a request header to both exporters, such as an API key. It wins over one of the same
    /// name in `OTEL_EXPORTER_OTLP_HEADERS`; its value is never logged.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.headers.0.push((name.into(), value.into()));
        self
    }

    /// Sets the time one export may take.
    pub fn with_export_timeout(mut self, timeout: Duration) -> Self {
        self.options.export_timeout = Some(timeout);
        self
    }

    /// Sets the interval between two metric exports.
    pub fn with_metric_export_interval(mut self, interval: Duration) -> Self {
        self.options.interval = Some(interval);
        self
    }

    /// Sets the temporality of exported metrics.
    pub fn with_temporality(mut self, temporality: Temporality) -> Self {
        self.options.temporality = Some(temporality);
        self
    }

    /// Sets the trace sampler.
    pub fn with_sampler(mut self, sampler: Sampler) -> Self {
        self.options.sampler = Some(sampler);
        self
    }

    /// Creates no OTLP exporter at all, whatever the variables say: metrics still reach the
    /// synthesis layer's sinks and spans the log.
    pub fn without_export(mut self) -> Self {
        self.options.export = [Some(false); 2];
        self
    }

    /// Turns the OpenTelemetry SDK on or off, over `OTEL_SDK_DISABLED`.
    pub fn with_sdk_disabled(mut self, disabled: bool) -> Self {
        self.options.disabled = Some(disabled);
        self
    }

    /// Replaces the bucket boundaries of the histogram `name`. Boundaries must be finite and
    /// strictly increasing, or building fails.
    pub fn with_histogram_boundaries(mut self, name: &str, boundaries: Vec<f64>) -> Self {
        if let Ok(set) = &mut self.boundaries {
            if let Err(error) = set.set(name.to_owned(), boundaries) {
                self.boundaries = Err(error);
            }
        }
        self
    }

    /// Adds a view. A histogram matched by this view and by the contract's boundaries view is
    /// exported twice; change contract boundaries with
    /// [`with_histogram_boundaries`](Self::with_histogram_boundaries) instead.
    pub fn with_view<F>(mut self, view: F) -> Self
    where
        F: Fn(&Instrument) -> Option<Stream> + Send + Sync + 'static,
    {
        self.views.push(Arc::new(view));
        self
    }

    /// Registers `reader` on the meter provider beside the OTLP exporter's, such as the
    /// Prometheus exporter that `http::MetricsEndpoint::new` returns (feature `http`). It sees
    /// the same instruments, views and resource, and is shut down with the provider.
    pub fn with_metric_reader<R>(mut self, reader: R) -> Self
    where
        R: MetricReader,
    {
        self.readers
            .push(Box::new(move |builder| builder.with_reader(reader)));
        self
    }

    /// Hands every finished synthesis to `sink` as well, such as a local performance monitor.
    pub fn with_sink(mut self, sink: impl SynthesisSink) -> Self {
        self.sinks.push(Arc::new(sink));
        self
    }

    /// Feeds `monitor` every finished synthesis and, when its config samples the system (the
    /// default, with the `system` feature), starts its system sampler with the pipeline's meter,
    /// so the system instruments are exported and its summary shows the readings.
    pub fn with_monitor(mut self, monitor: crate::Monitor) -> Self {
        self.monitor = Some(monitor);
        self
    }

    /// Recognises synthesis spans by `name` instead of `tts.synthesize`.
    pub fn with_span_name(mut self, name: impl Into<String>) -> Self {
        self.span_name = Some(name.into());
        self
    }

    /// Reports at most `limit` distinct voices, models and error types each.
    pub fn with_label_limit(mut self, limit: usize) -> Self {
        self.label_limit = Some(limit);
        self
    }

    /// Sets the printed log's filter directives, over `RUST_LOG`.
    pub fn with_log_filter(mut self, directives: impl Into<String>) -> Self {
        self.log_filter = Some(directives.into());
        self
    }

    /// Prints the log to `writer` instead of standard output.
    pub fn with_log_writer<W>(mut self, writer: W) -> Self
    where
        W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
    {
        self.writer = Some(BoxMakeWriter::new(writer));
        self
    }

    /// Exports spans up to `level` as traces; INFO by default.
    pub fn with_trace_level(mut self, level: LevelFilter) -> Self {
        self.trace_level = level;
        self
    }

    /// Bounds the guard's flush and shutdown; 5 seconds by default.
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Builds the pipeline and installs it as the global subscriber and global providers.
    ///
    /// # Errors
    ///
    /// [`Error::SubscriberInstalled`] when a global subscriber exists; [`Error::Config`] or
    /// [`Error::Exporter`] when a setting in code cannot be used.
    pub fn try_init(mut self) -> Result<TelemetryGuard, Error> {
        let filter = log_filter(self.log_filter.take())?;
        let writer = self.writer.take();
        let providers = self.build_providers()?;

        let fmt = tracing_subscriber::fmt::layer().fmt_fields(RedactedFields);
        let fmt = match writer {
            Some(writer) => fmt.with_writer(writer).boxed(),
            None => fmt.boxed(),
        };
        let fmt = fmt.with_filter(filter.and(providers.sdk_event_filter()));
        let layers = providers.layers();
        let subscriber = tracing_subscriber::registry()
            .with(fmt)
            .with(layers)
            .with(OutsideFormatting);
        subscriber.try_init().map_err(Error::SubscriberInstalled)?;

        if let Some(tracer) = &providers.tracer {
            opentelemetry::global::set_tracer_provider(tracer.clone());
        }
        opentelemetry::global::set_meter_provider(providers.meter.clone());
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        Ok(providers.start())
    }

    /// [`try_init`](Self::try_init), for `main`.
    ///
    /// # Panics
    ///
    /// When `try_init` fails.
    pub fn init(self) -> TelemetryGuard {
        match self.try_init() {
            Ok(guard) => guard,
            Err(error) => panic!("telemetry set-up failed: {error}"),
        }
    }

    /// Builds providers and layers without installing anything, for an application that has its
    /// own subscriber; see [`Providers`].
    ///
    /// # Errors
    ///
    /// [`Error::Config`] or [`Error::Exporter`] when a setting in code cannot be used.
    pub fn build_providers(self) -> Result<Providers, Error> {
        let mut settings = config::resolve(&self.options, &config::process_env);
        let faults = Arc::new(FaultState::default());
        let built = providers::build(
            &settings,
            self.boundaries?,
            self.views,
            self.readers,
            &faults,
        )?;

        let meter = opentelemetry::metrics::MeterProvider::meter(&built.meter, SCOPE_NAME);
        let mut layer = SynthesisLayer::builder(&meter);
        if let Some(name) = self.span_name {
            layer = layer.with_span_name(name);
        }
        if let Some(limit) = self.label_limit {
            layer = layer.with_label_limit(limit);
        }
        if let Some(monitor) = self.monitor {
            start_sampling(&monitor, &meter, &mut settings.notes);
            layer = layer.with_sink(monitor);
        }
        for sink in self.sinks {
            layer = layer.with_sink(sink);
        }

        let guard = TelemetryGuard::new(
            built.tracer.clone(),
            built.meter.clone(),
            built.runtime,
            self.shutdown_timeout,
        );
        Ok(Providers {
            meter: built.meter,
            tracer: built.tracer,
            synthesis: layer.build(),
            trace_level: self.trace_level,
            faults,
            probe: built.probe,
            notes: settings.notes,
            disabled: settings.disabled,
            guard,
        })
    }
}

/// Starts the monitor's system sampler on the pipeline's meter; a failure becomes a note,
/// logged with the others once a subscriber is there to print it.
fn start_sampling(
    monitor: &crate::Monitor,
    meter: &opentelemetry::metrics::Meter,
    notes: &mut Vec<String>,
) {
    #[cfg(feature = "system")]
    if let Err(error) = monitor.start_monitoring_with(meter) {
        notes.push(format!("system sampling not started: {error}"));
    }
    #[cfg(not(feature = "system"))]
    let _ = (monitor, meter, notes);
}

/// The printed log's filter: code, else `RUST_LOG`, else the default directives. Invalid
/// directives from the environment are skipped, as `EnvFilter` does.
fn log_filter(directives: Option<String>) -> Result<EnvFilter, Error> {
    let builder = EnvFilter::builder().with_default_directive(LevelFilter::INFO.into());
    if let Some(directives) = directives {
        return builder.parse(directives).map_err(|e| Error::Config {
            setting: "with_log_filter",
            reason: e.to_string(),
        });
    }
    let from_env = config::process_env(env::LOG_FILTER).filter(|v| !v.trim().is_empty());
    Ok(builder.parse_lossy(from_env.as_deref().unwrap_or(defaults::LOG_FILTER)))
}

#[cfg(all(test, feature = "system"))]
mod tests {
    use super::*;
    use crate::{Monitor, MonitorConfig};

    #[test]
    fn a_sampler_that_cannot_start_leaves_a_note_for_the_log() {
        let config = MonitorConfig::default().with_system_interval(Some(Duration::ZERO));
        let providers = Pipeline::from_env()
            .without_export()
            .with_monitor(Monitor::new(config))
            .build_providers()
            .expect("providers");
        let noted = providers
            .notes
            .iter()
            .filter(|n| n.contains("system sampling"));
        assert_eq!(noted.count(), 1, "{:?}", providers.notes);
    }
}
