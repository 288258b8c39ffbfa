//! Shared test harness: a real `Registry` with the synthesis layer over an SDK meter provider
//! whose reader exports into the in-memory exporter.
#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod child;
pub mod collector;
pub mod received;
pub mod search;
pub mod silent;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::Value;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{
    InMemoryMetricExporter, InMemoryMetricExporterBuilder, PeriodicReader, SdkMeterProvider,
    Temporality,
};
use tracing::Dispatch;
use tracing_subscriber::prelude::*;
use tts_otel::{Synthesis, SynthesisLayerBuilder, SynthesisSink};

/// Both temporalities, so each scenario runs under each.
pub const TEMPORALITIES: [Temporality; 2] = [Temporality::Cumulative, Temporality::Delta];

/// One exported data point, flattened for assertions.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub name: String,
    pub unit: String,
    pub attrs: BTreeMap<String, String>,
    pub value: PointValue,
}

/// The value of a data point.
#[derive(Clone, Debug, PartialEq)]
pub enum PointValue {
    Histogram {
        count: u64,
        sum: f64,
        bounds: Vec<f64>,
        buckets: Vec<u64>,
    },
    Sum(f64),
    Gauge(f64),
}

impl Point {
    pub fn count(&self) -> u64 {
        match &self.value {
            PointValue::Histogram { count, .. } => *count,
            other => panic!("{} is not a histogram: {other:?}", self.name),
        }
    }

    pub fn sum(&self) -> f64 {
        match &self.value {
            PointValue::Histogram { sum, .. } => *sum,
            PointValue::Sum(v) | PointValue::Gauge(v) => *v,
        }
    }

    pub fn bounds(&self) -> Vec<f64> {
        match &self.value {
            PointValue::Histogram { bounds, .. } => bounds.clone(),
            other => panic!("{} is not a histogram: {other:?}", self.name),
        }
    }

    pub fn buckets(&self) -> Vec<u64> {
        match &self.value {
            PointValue::Histogram { buckets, .. } => buckets.clone(),
            other => panic!("{} is not a histogram: {other:?}", self.name),
        }
    }

    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs.get(key).map(String::as_str)
    }
}

/// A sink that keeps every synthesis it is given.
#[derive(Clone, Default)]
pub struct Collected(pub Arc<Mutex<Vec<Synthesis>>>);

impl SynthesisSink for Collected {
    fn record(&self, synthesis: &Synthesis) {
        self.0.lock().unwrap().push(synthesis.clone());
    }
}

impl Collected {
    pub fn take(&self) -> Vec<Synthesis> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// A subscriber with the synthesis layer over an in-memory exporter.
pub struct Harness {
    pub provider: SdkMeterProvider,
    pub exporter: InMemoryMetricExporter,
    pub dispatch: Dispatch,
}

impl Harness {
    pub fn new(temporality: Temporality) -> Self {
        Self::with(temporality, |b| b)
    }

    pub fn with(
        temporality: Temporality,
        configure: impl FnOnce(SynthesisLayerBuilder) -> SynthesisLayerBuilder,
    ) -> Self {
        let exporter = InMemoryMetricExporterBuilder::new()
            .with_temporality(temporality)
            .build();
        let reader = PeriodicReader::builder(exporter.clone()).build();
        let provider = SdkMeterProvider::builder().with_reader(reader).build();
        let meter = provider.meter(tts_otel::semconv::SCOPE_NAME);
        let layer = configure(tts_otel::SynthesisLayer::builder(&meter)).build();
        let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer));
        Harness {
            provider,
            exporter,
            dispatch,
        }
    }

    /// Runs `f` with this harness's subscriber as the thread's default.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        tracing::dispatcher::with_default(&self.dispatch, f)
    }

    /// Flushes the provider and returns the points of the latest export.
    pub fn collect(&self) -> Vec<Point> {
        self.exporter.reset();
        self.provider.force_flush().expect("flush");
        let exported = self.exporter.get_finished_metrics().expect("metrics");
        exported.last().map(flatten).unwrap_or_default()
    }
}

/// Points named `name`.
pub fn points<'a>(points: &'a [Point], name: &str) -> Vec<&'a Point> {
    points.iter().filter(|p| p.name == name).collect()
}

/// The one point named `name`, failing the test if there is not exactly one.
pub fn only<'a>(all: &'a [Point], name: &str) -> &'a Point {
    let found = points(all, name);
    assert_eq!(
        found.len(),
        1,
        "expected one point of {name}, got {found:#?}"
    );
    found[0]
}

fn flatten(resource: &ResourceMetrics) -> Vec<Point> {
    let mut out = Vec::new();
    for scope in resource.scope_metrics() {
        for metric in scope.metrics() {
            let mut push = |attrs: BTreeMap<String, String>, value| {
                out.push(Point {
                    name: metric.name().to_owned(),
                    unit: metric.unit().to_owned(),
                    attrs,
                    value,
                })
            };
            match metric.data() {
                AggregatedMetrics::F64(data) => flatten_data(data, |v| v, &mut push),
                AggregatedMetrics::U64(data) => flatten_data(data, |v| v as f64, &mut push),
                AggregatedMetrics::I64(data) => flatten_data(data, |v| v as f64, &mut push),
            }
        }
    }
    out
}

fn flatten_data<T: Copy>(
    data: &MetricData<T>,
    to_f64: impl Fn(T) -> f64,
    push: &mut impl FnMut(BTreeMap<String, String>, PointValue),
) {
    match data {
        MetricData::Histogram(h) => {
            for p in h.data_points() {
                push(
                    attrs(p.attributes()),
                    PointValue::Histogram {
                        count: p.count(),
                        sum: to_f64(p.sum()),
                        bounds: p.bounds().collect(),
                        buckets: p.bucket_counts().collect(),
                    },
                );
            }
        }
        MetricData::Sum(s) => {
            for p in s.data_points() {
                push(attrs(p.attributes()), PointValue::Sum(to_f64(p.value())));
            }
        }
        MetricData::Gauge(g) => {
            for p in g.data_points() {
                push(attrs(p.attributes()), PointValue::Gauge(to_f64(p.value())));
            }
        }
        MetricData::ExponentialHistogram(_) => panic!("no exponential histograms expected"),
    }
}

fn attrs<'a>(kvs: impl Iterator<Item = &'a opentelemetry::KeyValue>) -> BTreeMap<String, String> {
    kvs.map(|kv| {
        let value = match &kv.value {
            Value::String(s) => s.to_string(),
            other => other.to_string(),
        };
        (kv.key.to_string(), value)
    })
    .collect()
}

/// Resident memory of this process, the `VmRSS` line of `/proc/self/status` (the resident
/// pages of `/proc/self/statm`, in bytes whatever the page size); `None` where there is none.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
