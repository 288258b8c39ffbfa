//! Helpers of the system sampler tests: an in-memory meter, exported-metric summaries, a
//! counting sink and `/proc` readers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use tts_otel::semconv::{SAMPLER_THREAD_NAME, SCOPE_NAME};
use tts_otel::system::{SampleSink, SamplerConfig, SystemSample, SystemSampler};

/// Tests that run a sampler thread take this lock, so thread counts and timings are their own.
pub static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A meter over an in-memory exporter that exports only when flushed.
pub struct TestMeter {
    pub provider: SdkMeterProvider,
    pub exporter: InMemoryMetricExporter,
    pub meter: Meter,
}

/// One exported metric: name, unit, whether it is a monotonic sum, and its points as
/// (sorted attributes, value).
#[derive(Debug)]
pub struct Exported {
    pub name: String,
    pub unit: String,
    pub monotonic: Option<bool>,
    pub points: Vec<(Vec<(String, String)>, f64)>,
}

impl TestMeter {
    pub fn new() -> Self {
        let exporter = InMemoryMetricExporter::default();
        let reader = PeriodicReader::builder(exporter.clone())
            .with_interval(Duration::from_secs(3600))
            .build();
        let provider = SdkMeterProvider::builder().with_reader(reader).build();
        let meter = provider.meter(SCOPE_NAME);
        Self {
            provider,
            exporter,
            meter,
        }
    }

    /// Collects once and returns what that collection exported.
    pub fn export(&self) -> Vec<Exported> {
        self.exporter.reset();
        self.provider.force_flush().expect("flush");
        // The SDK skips an export that has no data point at all.
        let exports = self.exporter.get_finished_metrics().expect("metrics");
        let metrics = exports
            .iter()
            .flat_map(|e| e.scope_metrics())
            .flat_map(|s| s.metrics());
        metrics
            .map(|m| summarise(m.name(), m.unit(), m.data()))
            .collect()
    }
}

fn summarise(name: &str, unit: &str, data: &AggregatedMetrics) -> Exported {
    let (monotonic, points) = match data {
        AggregatedMetrics::F64(data) => points(data, |v| v),
        AggregatedMetrics::I64(data) => points(data, |v| v as f64),
        AggregatedMetrics::U64(data) => points(data, |v| v as f64),
    };
    Exported {
        name: name.to_owned(),
        unit: unit.to_owned(),
        monotonic,
        points,
    }
}

type Points = Vec<(Vec<(String, String)>, f64)>;

fn points<T: Copy>(data: &MetricData<T>, value: fn(T) -> f64) -> (Option<bool>, Points) {
    let attrs = |kvs: &mut dyn Iterator<Item = &opentelemetry::KeyValue>| {
        let mut attrs: Vec<_> = kvs
            .map(|kv| (kv.key.to_string(), kv.value.to_string()))
            .collect();
        attrs.sort();
        attrs
    };
    match data {
        MetricData::Gauge(g) => {
            let points = g
                .data_points()
                .map(|p| (attrs(&mut p.attributes()), value(p.value())));
            (None, points.collect())
        }
        MetricData::Sum(s) => {
            let points = s
                .data_points()
                .map(|p| (attrs(&mut p.attributes()), value(p.value())));
            (Some(s.is_monotonic()), points.collect())
        }
        _ => panic!("unexpected aggregation"),
    }
}

pub fn find<'a>(exported: &'a [Exported], name: &str) -> Option<&'a Exported> {
    exported.iter().find(|m| m.name == name)
}

pub fn pair(key: &str, value: &str) -> Vec<(String, String)> {
    vec![(key.to_owned(), value.to_owned())]
}

/// Counts the samples it is handed.
#[derive(Default)]
pub struct CountingSink(pub AtomicUsize);

impl SampleSink for CountingSink {
    fn record_sample(&self, _: &SystemSample) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

pub fn sampler_threads() -> usize {
    let tasks = std::fs::read_dir("/proc/self/task").expect("task list");
    let comms = tasks.filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok());
    comms
        .filter(|comm| comm.trim_end() == SAMPLER_THREAD_NAME)
        .count()
}

/// The number of sampler threads once a new thread has had time to name itself (a thread
/// names itself after it starts), and checked again a little later.
pub fn settled_sampler_threads(expected: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(1);
    while sampler_threads() != expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    sampler_threads()
}

pub fn proc_status(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .expect("field");
    line.split_whitespace()
        .next()
        .unwrap()
        .parse()
        .expect("number")
}

pub fn stopped_sampler(config: SamplerConfig) -> SystemSampler {
    SystemSampler::new(&TestMeter::new().meter, config, vec![]).expect("sampler")
}

/// Waits until the sampler's latest sample satisfies `ready`, for at most five seconds.
pub fn wait_for(
    sampler: &SystemSampler,
    ready: impl Fn(&SystemSample) -> bool,
) -> Arc<SystemSample> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(sample) = sampler.latest().filter(|s| ready(s)) {
            return sample;
        }
        assert!(
            Instant::now() < deadline,
            "no such sample within five seconds"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A `tracing` writer that keeps what it is given.
#[cfg(feature = "gpu")]
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

#[cfg(feature = "gpu")]
impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Debug-level log lines written so far on the calling thread, after installing a global
/// subscriber that keeps every line with its thread's name.
///
/// A global subscriber, rather than a scoped one, because `tracing` caches whether a call
/// site is wanted, and threads of other tests hitting the same call site can leave a scoped
/// subscriber unasked.
#[cfg(feature = "gpu")]
pub fn logged_on_this_thread() -> Vec<String> {
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    let captured = CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_thread_names(true)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
        captured
    });

    let name = std::thread::current().name().unwrap_or_default().to_owned();
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let mine = log
        .lines()
        .filter(|line| line.contains(&format!(" {name} ")));
    mine.map(str::to_owned).collect()
}
