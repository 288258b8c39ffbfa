//! The system sampler, observed through its readings, its sinks and an in-memory exporter.
#![cfg(feature = "system")]

mod system_support;

use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use system_support::*;
use tts_otel::semconv::{system_attr as attr, system_metric as metric, unit};
use tts_otel::system::{SampleSink, SamplerConfig, SamplerError, SystemSample, SystemSampler};

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
fn an_interval_too_long_for_the_clock_takes_one_reading_and_waits_to_be_stopped() {
    let _serial = serial();
    let config = SamplerConfig::default().with_interval(Duration::MAX);
    let sampler = SystemSampler::start(&TestMeter::new().meter, config, vec![]).unwrap();
    wait_for(&sampler, |_| true);
    std::thread::sleep(Duration::from_millis(100));

    assert_eq!(
        sampler_threads(),
        1,
        "the sampler thread is alive, not panicked"
    );
    let started = Instant::now();
    sampler.stop();
    assert!(started.elapsed() < Duration::from_secs(1));
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

#[cfg(feature = "gpu")]
#[test]
fn gpu_readings_are_sane_or_absent_and_nvml_is_reported_once() {
    logged_on_this_thread();
    let sampler = stopped_sampler(SamplerConfig::default());

    let samples = [
        sampler.refresh_now(),
        sampler.refresh_now(),
        sampler.refresh_now(),
    ];

    for gpu in samples.iter().flat_map(|s| s.gpus.iter()) {
        assert!(
            gpu.utilization.is_none_or(|u| (0.0..=1.0).contains(&u)),
            "{gpu:?}"
        );
        assert!(gpu.memory_used_bytes <= gpu.memory_limit_bytes, "{gpu:?}");
        assert!(!gpu.id.is_empty());
    }
    let nvml = logged_on_this_thread()
        .into_iter()
        .filter(|line| line.contains("NVML"));
    assert_eq!(
        nvml.count(),
        1,
        "NVML is tried once per sampler and its outcome logged once"
    );
    assert!(
        samples[2].process_memory_usage_bytes > 0,
        "the rest still reads"
    );
}

#[test]
fn the_sampler_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync + 'static>() {}

    shareable::<SystemSampler>();
    shareable::<SamplerConfig>();
    shareable::<SamplerError>();
}
