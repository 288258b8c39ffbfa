//! The meter and tracer providers: resource, views with the contract's bucket boundaries,
//! readers and span processors over the watched OTLP exporters; and [`Providers`], which hands
//! them out with their layers.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::metrics::{
    Aggregation, Instrument, InstrumentKind, MeterProviderBuilder, PeriodicReader,
    SdkMeterProvider, Stream,
};
use opentelemetry_sdk::resource::TelemetryResourceDetector;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tokio::runtime::Runtime;
use tracing::level_filters::LevelFilter;
use tracing::Subscriber;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::Filter;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use super::config::{Settings, Target};
use super::diagnostics::{self, may_become_telemetry, FaultState, Health, ProbeTarget};
use super::diagnostics::{SdkEventGate, Watched};
use super::redact::Redacted;
use super::{exporters, Error, TelemetryGuard};
use crate::semconv::{buckets, metric, DIAGNOSTICS_TARGET, SCOPE_NAME};
use crate::SynthesisLayer;

/// A view: the stream an instrument should produce, or `None` to leave it alone.
pub(crate) type View = Arc<dyn Fn(&Instrument) -> Option<Stream> + Send + Sync>;

/// Registers one extra metric reader, such as a Prometheus exporter, on the meter provider.
pub(crate) type AddReader = Box<dyn FnOnce(MeterProviderBuilder) -> MeterProviderBuilder + Send>;

/// Explicit bucket boundaries by histogram name: the contract's defaults, then overrides.
#[derive(Clone, Debug)]
pub(crate) struct Boundaries(HashMap<String, Vec<f64>>);

impl Default for Boundaries {
    fn default() -> Self {
        let defaults = [
            (metric::SYNTHESIS_DURATION, buckets::DURATION_SECONDS),
            (metric::STAGE_DURATION, buckets::DURATION_SECONDS),
            (metric::SYNTHESIS_RTF, buckets::RTF),
            (
                metric::TIME_TO_FIRST_AUDIO,
                buckets::TIME_TO_FIRST_AUDIO_SECONDS,
            ),
            (metric::AUDIO_DURATION, buckets::AUDIO_SECONDS),
            (metric::TEXT_CHARS, buckets::TEXT_CHARS),
        ];
        let map = defaults.map(|(name, bounds)| (name.to_owned(), bounds.to_vec()));
        Boundaries(map.into_iter().collect())
    }
}

impl Boundaries {
    /// Sets the boundaries of `name`, refusing any that are not finite and strictly increasing.
    pub(crate) fn set(&mut self, name: String, bounds: Vec<f64>) -> Result<(), Error> {
        let finite = bounds.iter().all(|b| b.is_finite());
        let increasing = bounds.windows(2).all(|w| w[0] < w[1]);
        if !finite || !increasing {
            return Err(Error::Config {
                setting: "with_histogram_boundaries",
                reason: format!("boundaries of {name} must be finite and strictly increasing"),
            });
        }
        self.0.insert(name, bounds);
        Ok(())
    }

    /// The view that gives each named histogram its boundaries.
    fn view(self) -> impl Fn(&Instrument) -> Option<Stream> + Send + Sync + 'static {
        move |instrument| {
            if instrument.kind() != InstrumentKind::Histogram {
                return None;
            }
            let bounds = self.0.get(instrument.name())?;
            let aggregation = Aggregation::ExplicitBucketHistogram {
                boundaries: bounds.clone(),
                record_min_max: true,
            };
            Stream::builder().with_aggregation(aggregation).build().ok()
        }
    }
}

/// What the pipeline built: providers, the gRPC runtime and what the probe should try.
pub(crate) struct Built {
    pub(crate) meter: SdkMeterProvider,
    pub(crate) tracer: Option<SdkTracerProvider>,
    pub(crate) runtime: Option<Runtime>,
    pub(crate) probe: Vec<ProbeTarget>,
}

/// Builds the providers of `settings`.
pub(crate) fn build(
    settings: &Settings,
    boundaries: Boundaries,
    views: Vec<View>,
    readers: Vec<AddReader>,
    faults: &Arc<FaultState>,
) -> Result<Built, Error> {
    let targets = [&settings.traces, &settings.metrics];
    let grpc = targets.iter().any(|t| {
        t.as_ref()
            .is_some_and(|t| t.protocol == super::Protocol::Grpc)
    });
    let runtime = grpc.then(exporters::grpc_runtime).transpose()?;
    let resource = resource(settings);
    let mut probe = Vec::new();

    let tracer = match &settings.traces {
        Some(target) => {
            let health = watch(target, faults, &mut probe);
            // TODO: a batch whose export gives up after its retries (within the export timeout)
            // is lost: nothing keeps spans across an outage longer than that, while the
            // cumulative metrics catch up once the collector is back.
            let exporter = exporters::span_exporter(target, &settings.headers, runtime.as_ref())?;
            let provider = SdkTracerProvider::builder()
                .with_resource(resource.clone())
                .with_sampler(settings.sampler.clone())
                .with_batch_exporter(Watched::new(Redacted(exporter), health))
                .build();
            Some(provider)
        }
        None => None,
    };

    let mut meter = SdkMeterProvider::builder()
        .with_resource(resource)
        .with_view(boundaries.view());
    for view in views {
        meter = meter.with_view(move |i: &Instrument| view(i));
    }
    for add in readers {
        meter = add(meter);
    }
    if let Some(target) = &settings.metrics {
        let health = watch(target, faults, &mut probe);
        let exporter = exporters::metric_exporter(
            target,
            &settings.headers,
            settings.temporality,
            runtime.as_ref(),
        )?;
        let reader = PeriodicReader::builder(Watched::new(exporter, health))
            .with_interval(settings.interval)
            .build();
        meter = meter.with_reader(reader);
    }
    Ok(Built {
        meter: meter.build(),
        tracer,
        runtime,
        probe,
    })
}

/// The health of `target`'s exporter, registered with the probe of its endpoint's address.
fn watch(target: &Target, faults: &Arc<FaultState>, probe: &mut Vec<ProbeTarget>) -> Arc<Health> {
    let health = Health::new(target, faults);
    let same = |p: &&mut ProbeTarget| authority(&p.endpoint) == authority(&target.endpoint);
    match probe.iter_mut().find(same) {
        Some(existing) => existing.health.push(Arc::clone(&health)),
        None => probe.push(ProbeTarget {
            endpoint: target.endpoint.clone(),
            protocol: target.protocol.as_str(),
            health: vec![Arc::clone(&health)],
        }),
    }
    health
}

/// The `host:port` part of an endpoint.
fn authority(endpoint: &str) -> &str {
    let rest = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest)
}

fn resource(settings: &Settings) -> Resource {
    Resource::builder_empty()
        .with_detector(Box::new(TelemetryResourceDetector))
        .with_attributes(settings.resource.iter().cloned())
        .build()
}

/// The pipeline's providers and layers, built but not installed.
///
/// ```no_run
/// use tracing_subscriber::prelude::*;
///
/// let providers = tts_otel::pipeline::Pipeline::from_env().build_providers()?;
/// tracing_subscriber::registry()
///     .with(tracing_subscriber::fmt::layer().with_filter(providers.sdk_event_filter()))
///     .with(providers.layers())
///     .init();
/// let _guard = providers.start();
/// # Ok::<(), tts_otel::pipeline::Error>(())
/// ```
pub struct Providers {
    pub(crate) meter: SdkMeterProvider,
    pub(crate) tracer: Option<SdkTracerProvider>,
    pub(crate) synthesis: SynthesisLayer,
    pub(crate) trace_level: LevelFilter,
    pub(crate) faults: Arc<FaultState>,
    pub(crate) probe: Vec<ProbeTarget>,
    pub(crate) notes: Vec<String>,
    pub(crate) disabled: bool,
    pub(crate) guard: TelemetryGuard,
}

impl fmt::Debug for Providers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Providers")
            .field("traces", &self.tracer.is_some())
            .field("probe", &self.probe)
            .finish_non_exhaustive()
    }
}

impl Providers {
    /// The meter provider, with the contract's views and the metrics exporter.
    pub fn meter_provider(&self) -> &SdkMeterProvider {
        &self.meter
    }

    /// The tracer provider; `None` when traces are not exported.
    pub fn tracer_provider(&self) -> Option<&SdkTracerProvider> {
        self.tracer.as_ref()
    }

    /// The synthesis layer and, when traces are exported, `tracing-opentelemetry`'s layer, each
    /// filtered so that nothing from the SDK, the exporters or their transports becomes
    /// telemetry.
    pub fn layers<S>(&self) -> Box<dyn Layer<S> + Send + Sync + 'static>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        let synthesis = self
            .synthesis
            .clone()
            .with_filter(filter_fn(may_become_telemetry));
        let level = self.trace_level;
        let traces = self.tracer.as_ref().map(|provider| {
            let tracer = provider.tracer(SCOPE_NAME);
            let keep =
                move |m: &tracing::Metadata<'_>| may_become_telemetry(m) && level >= *m.level();
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(filter_fn(keep))
        });
        Box::new(synthesis.and_then(traces))
    }

    /// A filter for a printing layer that lets the SDK's and exporters' warnings through at most
    /// once per callsite and export fault, and holds back the first-audio marker events.
    ///
    /// TODO: a printing layer of the application's own prints text fields (`text`, `input`)
    /// as they are; the pipeline's field formatter that redacts them is not public yet. Exported
    /// spans are redacted either way.
    pub fn sdk_event_filter<S>(&self) -> impl Filter<S> + Send + Sync + 'static {
        SdkEventGate::new(&self.faults)
    }

    /// Logs settings that could not be used, starts the collector probe, and hands over the
    /// guard. Call it once the subscriber is installed, so these lines reach it.
    pub fn start(self) -> TelemetryGuard {
        for note in &self.notes {
            tracing::warn!(target: DIAGNOSTICS_TARGET, "{note}");
        }
        if self.disabled {
            tracing::debug!(target: DIAGNOSTICS_TARGET, "OpenTelemetry SDK disabled");
        }
        for target in &self.probe {
            tracing::debug!(
                target: DIAGNOSTICS_TARGET,
                endpoint = %target.endpoint,
                protocol = target.protocol,
                "exporting telemetry"
            );
        }
        diagnostics::probe(self.probe);
        self.guard
    }
}
