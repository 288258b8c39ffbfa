//! The monitor starting and stopping its own system sampler, and the summary's system part.
#![cfg(feature = "system")]

use std::time::{Duration, Instant};

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use tts_otel::{Monitor, MonitorConfig};

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn start_monitoring_fills_the_summarys_system_readings_at_the_configured_interval() {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    let config = MonitorConfig::default().with_system_interval(Some(Duration::from_millis(250)));
    let monitor = Monitor::new(config);
    monitor
        .start_monitoring_with(&provider.meter("test"))
        .unwrap();
    assert!(monitor.is_monitoring());

    wait_for("a CPU reading", || {
        let system = monitor.summary().system;
        system
            .latest
            .is_some_and(|l| l.process_cpu_utilization.is_some())
    });
    let system = monitor.summary().system;
    assert_eq!(system.interval_seconds, Some(0.25));
    let latest = system.latest.unwrap();
    assert!(latest.process_memory_usage_bytes > 0);
    assert!((0.0..=1.0).contains(&latest.system_cpu_utilization.unwrap()));
    let average = system.average.unwrap();
    assert!(average.process_memory_usage_bytes.unwrap() > 0.0);

    provider.force_flush().unwrap();
    let exported = exporter.get_finished_metrics().unwrap();
    let names: Vec<String> = exported
        .last()
        .unwrap()
        .scope_metrics()
        .flat_map(|s| s.metrics().map(|m| m.name().to_owned()))
        .collect();
    assert!(
        names.iter().any(|n| n == "process.memory.usage"),
        "{names:?}"
    );
}

#[test]
fn stop_is_prompt_and_idempotent_and_start_resumes() {
    let config = MonitorConfig::default().with_system_interval(Some(Duration::from_secs(30)));
    let monitor = Monitor::new(config);
    monitor.start_monitoring().unwrap();
    monitor.start_monitoring().unwrap();
    wait_for("the first reading", || {
        monitor.summary().system.samples >= 1
    });

    let start = Instant::now();
    monitor.stop_monitoring();
    monitor.stop_monitoring();
    assert!(start.elapsed() < Duration::from_secs(1));
    assert!(!monitor.is_monitoring());

    monitor.start_monitoring().unwrap();
    assert!(monitor.is_monitoring());
    monitor.stop_monitoring();
}

#[test]
fn sampling_turned_off_in_the_config_starts_nothing() {
    let monitor = Monitor::new(MonitorConfig::default().with_system_interval(None));
    monitor.start_monitoring().unwrap();
    assert!(!monitor.is_monitoring());
    assert_eq!(monitor.summary().system.samples, 0);
}
