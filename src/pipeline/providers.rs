//! The meter and tracer providers: resource, views with the contract's bucket boundaries,
//! readers and span processors over the watched OTLP exporters.

use std::collections::HashMap;
use std::sync::Arc;

use opentelemetry_sdk::metrics::{
    Aggregation, Instrument, InstrumentKind, PeriodicReader, SdkMeterProvider, Stream,
};
use opentelemetry_sdk::resource::TelemetryResourceDetector;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tokio::runtime::Runtime;

use super::config::{Settings, Target};
use super::diagnostics::{FaultState, Health, ProbeTarget, Watched};
use super::{exporters, Error};
use crate::semconv::{buckets, metric};

/// A view: the stream an instrument should produce, or `None` to leave it alone.
pub(crate) type View = Arc<dyn Fn(&Instrument) -> Option<Stream> + Send + Sync>;

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
            let exporter = exporters::span_exporter(target, &settings.headers, runtime.as_ref())?;
            let provider = SdkTracerProvider::builder()
                .with_resource(resource.clone())
                .with_sampler(settings.sampler.clone())
                .with_batch_exporter(Watched::new(exporter, health))
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
