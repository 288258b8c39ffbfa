//! Cost of one system reading, part by part, and of one metric collection over the system
//! instruments against a one-gauge baseline.
//!
//! `cargo bench --bench system`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use tts_otel::semconv::SCOPE_NAME;
use tts_otel::system::{SamplerConfig, SystemSampler};

fn meter_provider() -> (SdkMeterProvider, InMemoryMetricExporter, Meter) {
    let exporter = InMemoryMetricExporter::default();
    let reader = PeriodicReader::builder(exporter.clone())
        .with_interval(Duration::from_secs(3600))
        .build();
    let provider = SdkMeterProvider::builder().with_reader(reader).build();
    let meter = provider.meter(SCOPE_NAME);
    (provider, exporter, meter)
}

/// A configuration that reads only the part `keep` turns back on.
fn only(keep: fn(SamplerConfig) -> SamplerConfig) -> SamplerConfig {
    let none = SamplerConfig::default()
        .with_system_cpu(false)
        .with_system_memory(false)
        .with_process(false)
        .with_disks(false)
        .with_networks(false)
        .with_gpus(false);
    keep(none)
}

fn refresh(c: &mut Criterion) {
    let configs = [
        ("all", SamplerConfig::default()),
        ("system_cpu", only(|c| c.with_system_cpu(true))),
        ("system_memory", only(|c| c.with_system_memory(true))),
        ("process", only(|c| c.with_process(true))),
        ("disks", only(|c| c.with_disks(true))),
        ("networks", only(|c| c.with_networks(true))),
    ];

    let mut group = c.benchmark_group("system/refresh");
    for (name, config) in configs {
        let (_provider, _exporter, meter) = meter_provider();
        let sampler = SystemSampler::new(&meter, config, vec![]).expect("sampler");
        group.bench_function(name, |b| b.iter(|| black_box(sampler.refresh_now())));
    }
    group.finish();
}

fn collect(c: &mut Criterion) {
    let mut group = c.benchmark_group("system/collect");

    let (provider, exporter, meter) = meter_provider();
    let _gauge = meter
        .u64_observable_gauge("baseline")
        .with_callback(|o| o.observe(1, &[]))
        .build();
    group.bench_function("baseline_one_gauge", |b| {
        b.iter(|| {
            exporter.reset();
            provider.force_flush().expect("flush");
        })
    });

    let (provider, exporter, meter) = meter_provider();
    let config = SamplerConfig::default().with_interval(Duration::from_secs(3600));
    let sampler = SystemSampler::start(&meter, config, vec![]).expect("sampler");
    // A second reading 250 ms after the first gives the CPU gauges a value too.
    std::thread::sleep(Duration::from_millis(250));
    sampler.refresh_now();
    group.bench_function("system_instruments", |b| {
        b.iter(|| {
            exporter.reset();
            provider.force_flush().expect("flush");
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = refresh, collect
}
criterion_main!(benches);
