//! The system sampler, observed through its readings, its sinks and an in-memory exporter.
#![cfg(feature = "system")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use tts_otel::semconv::{system_attr as attr, system_metric as metric, unit};
use tts_otel::semconv::{SAMPLER_THREAD_NAME, SCOPE_NAME};
use tts_otel::system::{SampleSink, SamplerConfig, SamplerError, SystemSample, SystemSampler};

/// Tests that run a sampler thread take this lock, so thread counts and timings are their own.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A meter over an in-memory exporter that exports only when flushed.
struct TestMeter {
    provider: SdkMeterProvider,
    exporter: InMemoryMetricExporter,
    meter: Meter,
}

/// One exported metric: name, unit, whether it is a monotonic sum, and its points as
/// (sorted attributes, value).
#[derive(Debug)]
struct Exported {
    name: String,
    unit: String,
    monotonic: Option<bool>,
    points: Vec<(Vec<(String, String)>, f64)>,
}

impl TestMeter {
    fn new() -> Self {
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
    fn export(&self) -> Vec<Exported> {
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

fn find<'a>(exported: &'a [Exported], name: &str) -> Option<&'a Exported> {
    exported.iter().find(|m| m.name == name)
}

fn pair(key: &str, value: &str) -> Vec<(String, String)> {
    vec![(key.to_owned(), value.to_owned())]
}

/// Counts the samples it is handed.
#[derive(Default)]
struct CountingSink(AtomicUsize);

impl SampleSink for CountingSink {
    fn record_sample(&self, _: &SystemSample) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn sampler_threads() -> usize {
    let tasks = std::fs::read_dir("/proc/self/task").expect("task list");
    let comms = tasks.filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok());
    comms
        .filter(|comm| comm.trim_end() == SAMPLER_THREAD_NAME)
        .count()
}

/// The number of sampler threads once a new thread has had time to name itself (a thread
/// names itself after it starts), and checked again a little later.
fn settled_sampler_threads(expected: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(1);
    while sampler_threads() != expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    sampler_threads()
}

fn proc_status(field: &str) -> u64 {
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

fn stopped_sampler(config: SamplerConfig) -> SystemSampler {
    SystemSampler::new(&TestMeter::new().meter, config, vec![]).expect("sampler")
}

/// Waits until the sampler's latest sample satisfies `ready`, for at most five seconds.
fn wait_for(sampler: &SystemSampler, ready: impl Fn(&SystemSample) -> bool) -> Arc<SystemSample> {
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

#[test]
fn cpu_is_none_before_the_second_reading_and_some_after() {
    let sampler = stopped_sampler(SamplerConfig::default());

    let first = sampler.refresh_now();
    let too_soon = sampler.refresh_now();
    std::thread::sleep(Duration::from_millis(300));
    let second = sampler.refresh_now();

    for sample in [&first, &too_soon] {
        assert_eq!(sample.system_cpu_utilization, None);
        assert_eq!(sample.process_cpu_utilization, None);
    }
    assert!(second.system_cpu_utilization.is_some());
    assert!(second.process_cpu_utilization.is_some());
}

#[test]
fn utilisations_lie_within_zero_and_one() {
    let sampler = stopped_sampler(SamplerConfig::default());
    sampler.refresh_now();
    let busy_until = Instant::now() + Duration::from_millis(300);
    while Instant::now() < busy_until {
        std::hint::black_box((0..1000u64).sum::<u64>());
    }
    let sample = sampler.refresh_now();

    let unit = 0.0..=1.0;
    assert!(unit.contains(&sample.system_cpu_utilization.unwrap()));
    assert!(unit.contains(&sample.process_cpu_utilization.unwrap()));
    assert!(
        sample.process_cpu_utilization.unwrap() > 0.0,
        "a busy process shows CPU use"
    );
    assert!(unit.contains(&sample.system_memory_utilization.unwrap()));
    assert!(sample.system_memory_used_bytes > 0 && sample.system_memory_free_bytes > 0);
}

#[test]
fn process_memory_and_threads_agree_with_proc_status() {
    let sampler = stopped_sampler(SamplerConfig::default());
    let sample = sampler.refresh_now();
    let vm_rss = proc_status("VmRSS:") * 1024;
    let vm_size = proc_status("VmSize:") * 1024;
    let threads = proc_status("Threads:");

    let rss = sample.process_memory_usage_bytes;
    assert!(
        rss >= vm_rss / 2 && rss <= vm_rss * 2,
        "rss {rss} vs VmRSS {vm_rss}"
    );
    let size = sample.process_memory_virtual_bytes;
    assert!(
        size >= vm_size / 2 && size <= vm_size * 2,
        "virtual {size} vs VmSize {vm_size}"
    );
    let counted = sample.process_thread_count.unwrap();
    assert!(
        counted >= 1 && counted.abs_diff(threads) <= 8,
        "{counted} vs {threads} threads"
    );
}

#[test]
fn io_counters_never_decrease_across_samples() {
    let sampler = stopped_sampler(SamplerConfig::default());
    let first = sampler.refresh_now();
    assert_eq!(
        [first.disk_read_bytes, first.disk_write_bytes],
        [0, 0],
        "totals start when the sampler first reads them, not at boot"
    );

    let mut previous = first;
    for round in 0..5 {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), vec![round as u8; 1 << 20]).expect("write");
        file.as_file().sync_all().expect("sync");
        let sample = sampler.refresh_now();

        assert!(sample.disk_read_bytes >= previous.disk_read_bytes);
        assert!(sample.disk_write_bytes >= previous.disk_write_bytes);
        assert!(sample.network_receive_bytes >= previous.network_receive_bytes);
        assert!(sample.network_transmit_bytes >= previous.network_transmit_bytes);
        previous = sample;
    }
}

#[test]
fn instruments_carry_semantic_convention_names_units_and_attributes() {
    let _serial = serial();
    let test = TestMeter::new();
    let config = SamplerConfig::default().with_interval(Duration::from_millis(250));
    let sampler = SystemSampler::start(&test.meter, config, vec![]).expect("sampler");
    wait_for(&sampler, |s| s.system_cpu_utilization.is_some());

    let exported = test.export();
    let expect = |name: &str, unit: &str, monotonic: Option<bool>| {
        let m = find(&exported, name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!((m.unit.as_str(), m.monotonic), (unit, monotonic), "{name}");
        m
    };

    for name in [metric::CPU_UTILIZATION, metric::PROCESS_CPU_UTILIZATION] {
        let m = expect(name, unit::RATIO, None);
        assert!(
            m.points.len() == 1 && (0.0..=1.0).contains(&m.points[0].1),
            "{m:?}"
        );
    }
    let memory = expect(metric::MEMORY_USAGE, unit::BYTES, Some(false));
    let states: Vec<_> = memory.points.iter().map(|p| p.0.clone()).collect();
    assert!(states.contains(&pair(attr::MEMORY_STATE, attr::MEMORY_USED)));
    assert!(states.contains(&pair(attr::MEMORY_STATE, attr::MEMORY_FREE)));
    expect(metric::MEMORY_UTILIZATION, unit::RATIO, None);
    expect(metric::PROCESS_MEMORY_USAGE, unit::BYTES, Some(false));
    expect(metric::PROCESS_MEMORY_VIRTUAL, unit::BYTES, Some(false));
    let threads = expect(metric::PROCESS_THREAD_COUNT, unit::THREAD, Some(false));
    assert!(
        threads.points[0].1 >= 2.0,
        "this test and the sampler run threads"
    );

    let disk = expect(metric::DISK_IO, unit::BYTES, Some(true));
    let mut directions: Vec<_> = disk.points.iter().map(|p| p.0.clone()).collect();
    directions.sort();
    let read = pair(attr::DISK_IO_DIRECTION, attr::DISK_READ);
    assert_eq!(
        directions,
        [read, pair(attr::DISK_IO_DIRECTION, attr::DISK_WRITE)]
    );
    let network = expect(metric::NETWORK_IO, unit::BYTES, Some(true));
    let mut directions: Vec<_> = network.points.iter().map(|p| p.0.clone()).collect();
    directions.sort();
    let receive = pair(attr::NETWORK_IO_DIRECTION, attr::NETWORK_RECEIVE);
    assert_eq!(
        directions,
        [
            receive,
            pair(attr::NETWORK_IO_DIRECTION, attr::NETWORK_TRANSMIT)
        ]
    );
}

#[test]
fn no_cpu_data_point_is_reported_before_the_first_cpu_value() {
    let _serial = serial();
    let test = TestMeter::new();
    let config = SamplerConfig::default().with_interval(Duration::from_secs(10));
    let sampler = SystemSampler::start(&test.meter, config, vec![]).expect("sampler");
    let sample = wait_for(&sampler, |_| true);
    assert_eq!(sample.system_cpu_utilization, None);

    let exported = test.export();

    assert!(find(&exported, metric::PROCESS_MEMORY_USAGE).is_some());
    for name in [metric::CPU_UTILIZATION, metric::PROCESS_CPU_UTILIZATION] {
        let points = find(&exported, name).map_or(0, |m| m.points.len());
        assert_eq!(points, 0, "{name} reported before it had a value");
    }
}

#[test]
fn configured_interval_is_used() {
    let _serial = serial();
    let count = |interval: Duration| {
        let sink = Arc::new(CountingSink::default());
        let config = SamplerConfig::default().with_interval(interval);
        let sinks: Vec<Arc<dyn SampleSink>> = vec![sink.clone()];
        let sampler = SystemSampler::start(&TestMeter::new().meter, config, sinks).unwrap();
        std::thread::sleep(Duration::from_millis(620));
        sampler.stop();
        sink.0.load(Ordering::SeqCst)
    };

    let fast = count(Duration::from_millis(100));
    let slow = count(Duration::from_secs(10));

    assert!(
        (4..=8).contains(&fast),
        "{fast} samples at 100 ms over 620 ms"
    );
    assert_eq!(slow, 1, "only the first sample at a 10 s interval");
}

#[test]
fn start_stop_start_leaves_one_thread_and_one_set_of_instruments() {
    let _serial = serial();
    let test = TestMeter::new();
    let config = SamplerConfig::default().with_interval(Duration::from_millis(50));
    let sampler = SystemSampler::start(&test.meter, config, vec![]).expect("sampler");

    sampler.stop();
    sampler.stop();
    assert_eq!(sampler_threads(), 0);
    sampler.resume().expect("resume");
    sampler.resume().expect("resume twice");
    assert_eq!(settled_sampler_threads(1), 1);
    wait_for(&sampler, |s| s.process_cpu_utilization.is_some());
    let exported = test.export();

    let mut names: Vec<_> = exported.iter().map(|m| m.name.as_str()).collect();
    let all = names.len();
    names.dedup();
    assert_eq!(names.len(), all, "a metric name appears twice: {names:?}");
    assert_eq!(
        find(&exported, metric::MEMORY_USAGE).unwrap().points.len(),
        2
    );
    assert_eq!(
        find(&exported, metric::PROCESS_THREAD_COUNT)
            .unwrap()
            .points
            .len(),
        1
    );
}

#[test]
fn instruments_report_nothing_while_stopped() {
    let _serial = serial();
    let test = TestMeter::new();
    let config = SamplerConfig::default().with_interval(Duration::from_millis(50));
    let sampler = SystemSampler::start(&test.meter, config, vec![]).expect("sampler");
    wait_for(&sampler, |_| true);
    assert!(find(&test.export(), metric::PROCESS_MEMORY_USAGE).is_some());

    sampler.stop();
    let exported = test.export();

    let points: usize = exported.iter().map(|m| m.points.len()).sum();
    assert_eq!(points, 0, "{exported:?}");
    assert!(
        sampler.latest().is_some(),
        "the last reading stays readable"
    );
}

#[test]
fn stop_returns_within_a_second_even_with_a_long_interval() {
    let _serial = serial();
    let config = SamplerConfig::default().with_interval(Duration::from_secs(3600));
    let sampler = SystemSampler::start(&TestMeter::new().meter, config, vec![]).unwrap();
    wait_for(&sampler, |_| true);

    let started = Instant::now();
    sampler.stop();

    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(!sampler.is_running());
    assert_eq!(sampler_threads(), 0);
}

#[test]
fn dropping_the_sampler_ends_its_thread() {
    let _serial = serial();
    let config = SamplerConfig::default().with_interval(Duration::from_secs(3600));
    let sampler = SystemSampler::start(&TestMeter::new().meter, config, vec![]).unwrap();
    assert_eq!(settled_sampler_threads(1), 1);

    drop(sampler);

    assert_eq!(sampler_threads(), 0);
}

#[test]
fn collecting_in_a_loop_while_sampling_every_millisecond_never_deadlocks() {
    let _serial = serial();
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let test = TestMeter::new();
        let config = SamplerConfig::default().with_interval(Duration::from_millis(1));
        let sampler = SystemSampler::start(&test.meter, config, vec![]).unwrap();
        for _ in 0..200 {
            test.provider.force_flush().expect("flush");
        }
        sampler.stop();
        done.send(()).unwrap();
    });

    let outcome = finished.recv_timeout(Duration::from_secs(60));

    assert!(
        outcome.is_ok(),
        "200 collections did not complete within a minute"
    );
}

#[test]
fn a_panicking_sink_does_not_stop_the_others() {
    struct Panics;
    impl SampleSink for Panics {
        fn record_sample(&self, _: &SystemSample) {
            panic!("sink failure on purpose");
        }
    }

    let _serial = serial();
    let counter = Arc::new(CountingSink::default());
    let sinks: Vec<Arc<dyn SampleSink>> = vec![Arc::new(Panics), counter.clone()];
    let config = SamplerConfig::default().with_interval(Duration::from_millis(20));
    let sampler = SystemSampler::start(&TestMeter::new().meter, config, sinks).unwrap();
    // Printing each panic (with a backtrace, where enabled) takes a while: poll.
    let deadline = Instant::now() + Duration::from_secs(10);
    while counter.0.load(Ordering::SeqCst) < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }

    assert!(sampler.is_running());
    assert!(counter.0.load(Ordering::SeqCst) >= 3);
}

#[test]
fn a_zero_interval_is_rejected() {
    let config = SamplerConfig::default().with_interval(Duration::ZERO);

    let built = SystemSampler::new(&TestMeter::new().meter, config, vec![]);

    assert!(matches!(built, Err(SamplerError::ZeroInterval)));
}

#[test]
fn parts_turned_off_register_no_instruments() {
    let _serial = serial();
    let test = TestMeter::new();
    let config = SamplerConfig::default()
        .with_disks(false)
        .with_networks(false);
    let sampler = SystemSampler::start(&test.meter, config, vec![]).unwrap();
    wait_for(&sampler, |_| true);

    let exported = test.export();

    assert!(find(&exported, metric::DISK_IO).is_none());
    assert!(find(&exported, metric::NETWORK_IO).is_none());
    assert!(find(&exported, metric::MEMORY_USAGE).is_some());
}
