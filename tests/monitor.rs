//! The local performance monitor, through its public API.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;
use serde_json::Value;
use tts_otel::monitor::{Export, ExportError, Stats};
use tts_otel::system::{SampleSink, SystemSample};
use tts_otel::{Monitor, MonitorConfig, Summary, Synthesis, SynthesisSink};

/// 2026-01-01T10:00:00Z.
const T0: u64 = 1_767_261_600;

/// A monitor whose clock reads the returned cell, in whole seconds since the epoch.
fn monitor_at(secs: u64, config: MonitorConfig) -> (Monitor, Arc<AtomicU64>) {
    let now = Arc::new(AtomicU64::new(secs));
    let cell = now.clone();
    let clock = move || UNIX_EPOCH + Duration::from_secs(cell.load(Ordering::SeqCst));
    (Monitor::new(config.with_clock(clock)), now)
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// A successful synthesis ending at `T0` with the given latency and audio seconds.
fn rated(latency: f64, audio: f64) -> Synthesis {
    Synthesis::new("v", secs(latency))
        .with_audio_seconds(audio)
        .with_ended_at(at(T0))
}

/// Reference statistics: sort a copy, mean as sum over count, percentile at the nearest rank
/// ⌈p·n/100⌉ counted from one.
fn reference(values: &[f64]) -> [f64; 7] {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = sorted.len();
    let at_rank = |p: usize| sorted[(p * n).div_ceil(100) - 1];
    let mean = sorted.iter().sum::<f64>() / n as f64;
    [
        mean,
        sorted[0],
        at_rank(50),
        at_rank(90),
        at_rank(95),
        at_rank(99),
        sorted[n - 1],
    ]
}

fn assert_stats(stats: &Stats, values: &[f64]) {
    let [mean, min, p50, p90, p95, p99, max] = reference(values);
    assert_eq!(stats.count, values.len() as u64);
    assert!((stats.mean.unwrap() - mean).abs() <= 1e-12 * mean.abs().max(1.0));
    assert_eq!(stats.min, Some(min));
    assert_eq!(stats.p50, Some(p50));
    assert_eq!(stats.p90, Some(p90));
    assert_eq!(stats.p95, Some(p95));
    assert_eq!(stats.p99, Some(p99));
    assert_eq!(stats.max, Some(max));
}

/// Deterministic spread of `n` values in `(0, scale]`, in scrambled order.
fn spread(n: u64, scale: f64) -> Vec<f64> {
    (1..=n)
        .map(|i| (i * 7919 % n + 1) as f64 / n as f64 * scale)
        .collect()
}

#[test]
fn latency_and_rtf_statistics_match_a_sorted_nearest_rank_reference() {
    let monitor = Monitor::new(MonitorConfig::default().with_max_age(None));
    let latencies = spread(997, 2.0);
    let audio = spread(997, 9.0);
    for (l, a) in latencies.iter().zip(&audio) {
        monitor.record(rated(*l, *a).with_cache_hit(false));
    }
    let summary = monitor.summary();

    let latency_seen: Vec<f64> = latencies.iter().map(|l| secs(*l).as_secs_f64()).collect();
    let rtfs: Vec<f64> = latency_seen
        .iter()
        .zip(&audio)
        .map(|(l, a)| l / a)
        .collect();
    assert_stats(&summary.latency_seconds.all, &latency_seen);
    assert_stats(&summary.latency_seconds.cache_miss, &latency_seen);
    assert_stats(&summary.rtf.all, &rtfs);
    assert_stats(&summary.rtf.cache_miss, &rtfs);
    assert_eq!(summary.rtf.cache_hit, Stats::default());
}

#[test]
fn percentiles_of_one_to_a_hundred_are_the_percent_itself() {
    let monitor = Monitor::new(MonitorConfig::default().with_max_age(None));
    for ms in 1..=100 {
        monitor.record(rated(ms as f64 / 100.0, 1.0));
    }
    let rtf = monitor.summary().rtf.all;
    assert_eq!(
        (rtf.p50, rtf.p90, rtf.p99),
        (Some(0.5), Some(0.9), Some(0.99))
    );
    assert_eq!((rtf.min, rtf.max), (Some(0.01), Some(1.0)));
}

#[test]
fn cache_hits_and_misses_are_split_and_give_the_hit_rate() {
    let monitor = Monitor::new(MonitorConfig::default().with_max_age(None));
    for _ in 0..3 {
        monitor.record(rated(0.01, 1.0).with_cache_hit(true));
    }
    monitor.record(rated(1.0, 2.0).with_cache_hit(false));
    monitor.record(rated(2.0, 2.0));
    let summary = monitor.summary();

    assert_eq!((summary.cache.hits, summary.cache.misses), (3, 1));
    assert_eq!(summary.cache.unknown, 1);
    assert_eq!(summary.cache.hit_rate, Some(0.75));
    assert_eq!(summary.rtf.cache_hit.count, 3);
    assert_eq!(summary.rtf.cache_hit.max, Some(0.01));
    assert_eq!(summary.rtf.cache_miss.count, 1);
    assert_eq!(summary.rtf.cache_miss.mean, Some(0.5));
    assert_eq!(summary.rtf.all.count, 5);
    assert_eq!(summary.voices["v"].cache_hits, 3);
}

#[test]
fn length_classes_split_at_50_200_and_500_characters() {
    let monitor = Monitor::new(MonitorConfig::default().with_max_age(None));
    for chars in [0, 50, 51, 200, 201, 500, 501, 100_000] {
        monitor.record(rated(0.1, 1.0).with_text_chars(chars));
    }
    monitor.record(rated(0.1, 1.0));
    let classes = monitor.summary().text_length;

    assert_eq!(classes.short.requests, 2, "0 and 50");
    assert_eq!(classes.medium.requests, 2, "51 and 200");
    assert_eq!(classes.long.requests, 2, "201 and 500");
    assert_eq!(classes.very_long.requests, 2, "501 and 100000");
    assert_eq!(classes.unknown.requests, 1, "no length");
    assert_eq!(classes.long.rtf.count, 2);
}

#[test]
fn failed_and_unrated_syntheses_are_counted_apart() {
    let monitor = Monitor::new(MonitorConfig::default().with_max_age(None));
    monitor.record(rated(0.5, 1.0));
    monitor.record(rated(0.5, 1.0).with_error("timeout"));
    monitor.record(rated(0.5, 1.0).with_error("timeout"));
    monitor.record(rated(0.5, 1.0).with_error("oom"));
    for bad in [f64::NAN, f64::INFINITY, 0.0, -1.0] {
        monitor.record(rated(0.5, bad));
    }
    monitor.record(Synthesis::new("v", secs(0.5)).with_ended_at(at(T0)));
    let requests = monitor.summary().requests;

    assert_eq!(requests.total, 9);
    assert_eq!(requests.succeeded, 6);
    assert_eq!(requests.failed, 3);
    assert_eq!(requests.without_rtf, 5);
    assert_eq!(requests.invalid_audio_seconds, 4);
    assert_eq!(requests.failed_by_error_type["timeout"], 2);
    assert_eq!(requests.failed_by_error_type["oom"], 1);
}

#[test]
fn failed_syntheses_are_left_out_of_latency_and_rtf() {
    let monitor = Monitor::new(MonitorConfig::default().with_max_age(None));
    monitor.record(rated(0.5, 1.0));
    monitor.record(rated(9.0, 1.0).with_error("timeout"));
    let summary = monitor.summary();
    assert_eq!(summary.latency_seconds.all.max, Some(0.5));
    assert_eq!(summary.rtf.all.count, 1);
    assert_eq!(summary.voices["v"].failed, 1);
}

#[test]
fn time_to_first_audio_and_stages_match_the_reference() {
    let monitor = Monitor::new(MonitorConfig::default().with_max_age(None));
    let ttfa = spread(200, 0.3);
    let inference = spread(200, 1.5);
    for (t, i) in ttfa.iter().zip(&inference) {
        let synthesis = rated(2.0, 4.0)
            .with_time_to_first_audio(secs(*t))
            .with_stage("phonemize", Duration::from_millis(5))
            .with_stage("inference", secs(*i));
        monitor.record(synthesis);
    }
    let summary = monitor.summary();

    let ttfa_seen: Vec<f64> = ttfa.iter().map(|t| secs(*t).as_secs_f64()).collect();
    let inference_seen: Vec<f64> = inference
        .iter()
        .map(|i| secs(*i).as_secs_f32() as f64)
        .collect();
    assert_stats(&summary.time_to_first_audio_seconds, &ttfa_seen);
    assert_stats(&summary.stages_seconds["inference"], &inference_seen);
    assert_eq!(summary.stages_seconds["phonemize"].count, 200);
}

#[test]
fn voices_are_summarised_apart() {
    let monitor = Monitor::new(MonitorConfig::default().with_max_age(None));
    let with_voice = |voice: &str, latency: f64| {
        Synthesis::new(voice, secs(latency))
            .with_audio_seconds(1.0)
            .with_ended_at(at(T0))
    };
    monitor.record(with_voice("af_heart", 0.2));
    monitor.record(with_voice("af_heart", 0.4));
    monitor.record(with_voice("bm_george", 0.8));
    let voices = monitor.summary().voices;

    assert_eq!(voices.len(), 2);
    assert_eq!(voices["af_heart"].requests, 2);
    assert_eq!(voices["af_heart"].rtf.max, Some(0.4));
    assert_eq!(voices["bm_george"].latency_seconds.p50, Some(0.8));
}

#[test]
fn groups_carry_the_cache_misses_apart() {
    let monitor = Monitor::new(MonitorConfig::default().with_max_age(None));
    let synthesis = |voice: &str, chars: u64, latency: f64, hit: bool| {
        Synthesis::new(voice, secs(latency))
            .with_audio_seconds(2.0)
            .with_text_chars(chars)
            .with_cache_hit(hit)
            .with_ended_at(at(T0))
    };
    for (latency, hit) in [(0.001, true), (0.002, true), (0.4, false), (0.8, false)] {
        monitor.record(synthesis("en-us", 120, latency, hit));
    }
    monitor.record(synthesis("de", 10, 0.003, true));
    let summary = monitor.summary();

    let en = &summary.voices["en-us"];
    assert_eq!(en.rtf.count, 4);
    assert_eq!(en.cache_miss_rtf.count, 2);
    assert_eq!(en.cache_miss_rtf.min, Some(0.2));
    assert_eq!(en.cache_miss_rtf.max, Some(0.4));
    assert_eq!(en.cache_miss_latency_seconds.p50, Some(0.4));
    let mean = summary.text_length.medium.cache_miss_rtf.mean.unwrap();
    assert!((mean - 0.3).abs() < 1e-12, "{mean}");
    assert_eq!(summary.voices["de"].cache_miss_rtf.count, 0);
    assert_eq!(summary.voices["de"].cache_miss_rtf.p50, None);
}

#[test]
fn efficiency_is_audio_seconds_per_processing_second() {
    let monitor = Monitor::new(MonitorConfig::default().with_max_age(None));
    monitor.record(rated(1.0, 4.0));
    monitor.record(rated(3.0, 4.0));
    monitor.record(rated(5.0, f64::NAN));
    let efficiency = monitor.summary().efficiency;
    assert_eq!(efficiency.audio_seconds_total, Some(8.0));
    assert_eq!(efficiency.processing_seconds_total, Some(4.0));
    assert_eq!(efficiency.audio_seconds_per_processing_second, Some(2.0));
}

#[test]
fn huge_audio_durations_do_not_turn_sums_into_infinity() {
    let monitor = Monitor::new(MonitorConfig::default().with_max_age(None));
    for _ in 0..3 {
        monitor.record(rated(1e-9, f64::MAX));
    }
    let summary = monitor.summary();
    assert_eq!(summary.efficiency.audio_seconds_total, None);
    assert_finite(&serde_json::to_value(&summary).unwrap());
}

#[test]
fn an_empty_monitor_gives_zero_counts_and_null_statistics() {
    let summary = Monitor::default().summary();
    assert_eq!(summary.requests.total, 0);
    assert_eq!(summary.window.first_ended_at, None);
    assert_eq!(summary.rtf.all, Stats::default());
    assert_eq!(summary.cache.hit_rate, None);
    assert_eq!(summary.efficiency.audio_seconds_per_processing_second, None);
    assert_eq!(summary.system.latest, None);
    assert_eq!(summary.schema_version, 1);
}

#[test]
fn a_limit_larger_than_memory_claims_only_what_is_recorded() {
    let monitor = Monitor::new(
        MonitorConfig::default()
            .with_max_records(usize::MAX)
            .with_max_age(None),
    );
    for i in 0..3 {
        monitor.record(rated(0.1, 1.0).with_ended_at(at(T0 + i)));
    }
    let summary = monitor.summary();
    assert_eq!(summary.window.records, 3);
    assert_eq!(summary.window.max_records as u128, usize::MAX as u128);
    assert_eq!(summary.rtf.all.count, 3);
}

#[test]
fn records_beyond_the_limit_drop_the_oldest() {
    let monitor = Monitor::new(
        MonitorConfig::default()
            .with_max_records(100)
            .with_max_age(None),
    );
    for i in 0..250 {
        monitor.record(rated(0.1, 1.0).with_ended_at(at(T0 + i)));
    }
    let window = monitor.summary().window;
    assert_eq!(window.records, 100);
    assert_eq!(window.max_records, 100);
    assert_eq!(window.recorded_total, 250);
    assert_eq!(window.first_ended_at_unix_seconds, Some((T0 + 150) as f64));
    assert_eq!(
        window.last_ended_at.as_deref(),
        Some("2026-01-01T10:04:09.000000Z")
    );
}

#[test]
fn records_older_than_the_max_age_leave_the_window() {
    let config = MonitorConfig::default().with_max_age(Some(Duration::from_secs(600)));
    let (monitor, now) = monitor_at(T0, config);
    monitor.record(rated(0.1, 1.0).with_ended_at(at(T0 - 700)));
    monitor.record(rated(0.1, 1.0).with_ended_at(at(T0 - 500)));
    assert_eq!(monitor.summary().requests.total, 1);

    now.store(T0 + 200, Ordering::SeqCst);
    assert_eq!(monitor.summary().requests.total, 0);
}

#[test]
fn trend_buckets_start_at_the_minute_their_syntheses_ended() {
    let (monitor, _) = monitor_at(T0 + 30 * 60 + 30, MonitorConfig::default());
    monitor.record(rated(0.2, 1.0).with_ended_at(at(T0 + 25 * 60 + 10)));
    monitor.record(rated(0.4, 1.0).with_ended_at(at(T0 + 25 * 60 + 50)));
    monitor.record(rated(0.9, 1.0).with_ended_at(at(T0 + 28 * 60)));
    monitor.record(
        rated(0.9, 1.0)
            .with_error("x")
            .with_ended_at(at(T0 + 28 * 60)),
    );
    let trend = monitor.rtf_trend(Duration::from_secs(600), Duration::from_secs(60));

    assert_eq!(trend.resolution_seconds, 60);
    assert_eq!(trend.buckets.len(), 11, "10:20 to 10:30");
    assert_eq!(trend.buckets[0].start, "2026-01-01T10:20:00Z");
    assert_eq!(trend.end, "2026-01-01T10:30:30.000000Z");
    let b25 = &trend.buckets[5];
    assert_eq!(b25.start, "2026-01-01T10:25:00Z");
    assert_eq!(b25.start_unix_seconds, (T0 + 25 * 60) as i64);
    assert_eq!((b25.requests, b25.rtf_count), (2, 2));
    assert!((b25.rtf_mean.unwrap() - 0.3).abs() < 1e-12);
    assert!((b25.rtf_p95.unwrap() - 0.4).abs() <= 0.4 * 0.01);
    let b28 = &trend.buckets[8];
    assert_eq!((b28.requests, b28.rtf_count), (2, 1));
    assert_eq!(trend.buckets[6].rtf_mean, None);
}

#[test]
fn a_coarser_resolution_merges_minutes_into_aligned_buckets() {
    let (monitor, _) = monitor_at(T0 + 3600, MonitorConfig::default());
    for minute in 0..60 {
        monitor.record(rated(0.1 + minute as f64 / 100.0, 1.0).with_ended_at(at(T0 + minute * 60)));
    }
    let trend = monitor.rtf_trend(Duration::from_secs(3600), Duration::from_secs(15 * 60));

    assert_eq!(
        trend.buckets.len(),
        5,
        "10:00, 10:15, 10:30, 10:45 and 11:00"
    );
    assert_eq!(trend.buckets[1].start, "2026-01-01T10:15:00Z");
    assert_eq!(trend.buckets[1].rtf_count, 15);
    assert!((trend.buckets[1].rtf_mean.unwrap() - 0.32).abs() < 1e-9);
    assert_eq!(trend.buckets[4].rtf_count, 0);
}

#[test]
fn the_default_trend_resolution_is_a_minute_for_an_hour() {
    let (monitor, _) = monitor_at(T0, MonitorConfig::default());
    assert_eq!(
        monitor
            .recent_rtf_trend(Duration::from_secs(3600))
            .resolution_seconds,
        60
    );
    assert_eq!(
        monitor
            .recent_rtf_trend(Duration::from_secs(86_400))
            .resolution_seconds,
        900
    );
}

#[test]
fn a_clock_that_jumps_backwards_keeps_trend_buckets_ordered() {
    let (monitor, now) = monitor_at(T0 + 3600, MonitorConfig::default());
    for minute in [50, 55, 59] {
        monitor.record(rated(0.5, 1.0).with_ended_at(at(T0 + minute * 60)));
    }
    now.store(T0 + 1800, Ordering::SeqCst);
    for minute in [20, 25, 29] {
        monitor.record(rated(0.5, 1.0).with_ended_at(at(T0 + minute * 60)));
    }
    let during = monitor.rtf_trend(Duration::from_secs(3600), Duration::from_secs(60));
    now.store(T0 + 3660, Ordering::SeqCst);
    let after = monitor.rtf_trend(Duration::from_secs(3600), Duration::from_secs(60));

    for trend in [&during, &after] {
        let starts: Vec<i64> = trend.buckets.iter().map(|b| b.start_unix_seconds).collect();
        assert!(starts.windows(2).all(|w| w[0] < w[1]));
    }
    assert_eq!(during.buckets.iter().map(|b| b.requests).sum::<u64>(), 3);
    assert_eq!(after.buckets.iter().map(|b| b.requests).sum::<u64>(), 6);
}

#[test]
fn recording_from_eight_threads_loses_nothing_while_summaries_are_taken() {
    const THREADS: usize = 8;
    const EACH: usize = 1_000;
    let config = MonitorConfig::default().with_max_records(2 * THREADS * EACH);
    let monitor = Monitor::new(config.with_max_age(None));
    let reader = {
        let monitor = monitor.clone();
        thread::spawn(move || (0..50).map(|_| monitor.summary().requests.total).max())
    };
    let writers: Vec<_> = (0..THREADS)
        .map(|t| {
            let monitor = monitor.clone();
            thread::spawn(move || {
                for i in 0..EACH {
                    let voice = format!("voice{t}");
                    monitor.record(rated(0.1, 1.0 + i as f64).with_ended_at(at(T0)));
                    SynthesisSink::record(&monitor, &Synthesis::new(voice, secs(0.1)));
                }
            })
        })
        .collect();
    writers.into_iter().for_each(|w| w.join().unwrap());
    let seen_meanwhile = reader.join().unwrap().unwrap();

    let summary = monitor.summary();
    assert_eq!(summary.requests.total, (2 * THREADS * EACH) as u64);
    assert_eq!(summary.rtf.all.count, (THREADS * EACH) as u64);
    assert_eq!(summary.voices["voice3"].requests, EACH as u64);
    assert!(seen_meanwhile <= summary.requests.total);
}

#[test]
fn system_samples_give_the_latest_and_average_readings() {
    let config = MonitorConfig::default().with_max_system_samples(2);
    let (monitor, _) = monitor_at(T0, config);
    for (i, cpu) in [0.9, 0.2, 0.4].into_iter().enumerate() {
        let mut sample = SystemSample::default();
        sample.taken_at = Some(at(T0 + 5 * i as u64));
        sample.system_cpu_utilization = Some(cpu);
        sample.disk_read_bytes = 1000 * i as u64;
        monitor.record_sample(&sample);
    }
    let system = monitor.summary().system;

    assert_eq!((system.samples, system.max_samples), (2, 2));
    assert_eq!(system.interval_seconds, Some(5.0));
    let latest = system.latest.unwrap();
    assert_eq!(latest.system_cpu_utilization, Some(0.4));
    assert_eq!(latest.taken_at, "2026-01-01T10:00:10.000000Z");
    let average = system.average.unwrap();
    assert!((average.system_cpu_utilization.unwrap() - 0.3).abs() < 1e-12);
    assert_eq!(average.disk_read_bytes_per_second, Some(200.0));
}

#[test]
fn export_round_trips_into_the_summary_type_and_is_strict_json() {
    let (monitor, _) = monitor_at(T0 + 60, MonitorConfig::default());
    monitor.record(
        rated(0.3, 1.5)
            .with_cache_hit(true)
            .with_stage("encode", secs(0.01)),
    );
    monitor.record(rated(0.3, f64::NAN).with_text_chars(80));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/metrics.json");
    monitor.export_json(&path).unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_finite(&value);
    let export: Export = serde_json::from_value(value.clone()).unwrap();
    let summary: Summary = serde_json::from_value(value["summary"].clone()).unwrap();
    assert_eq!(summary, monitor.summary());
    assert_eq!(export.schema_version, 1);
    assert_eq!(export.records.len(), 2);
    assert_eq!(
        export.records[0].stages_seconds["encode"],
        secs(0.01).as_secs_f32() as f64
    );
    assert_eq!(export.records[1].rtf, None);
    assert!(export.rtf_trend.buckets.iter().any(|b| b.rtf_count == 1));
}

#[test]
fn export_into_a_path_under_a_regular_file_fails_and_leaves_the_earlier_export_intact() {
    let monitor = Monitor::new(MonitorConfig::default().with_max_age(None));
    monitor.record(rated(0.3, 1.5));
    let dir = tempfile::tempdir().unwrap();
    let earlier = dir.path().join("metrics.json");
    monitor.export_json(&earlier).unwrap();
    let before = std::fs::read(&earlier).unwrap();

    monitor.record(rated(0.6, 1.5));
    let failed = monitor.export_json(earlier.join("metrics.json"));

    assert!(matches!(failed, Err(ExportError::CreateFolder { .. })));
    assert!(failed
        .unwrap_err()
        .to_string()
        .contains("cannot create the folder"));
    assert_eq!(std::fs::read(&earlier).unwrap(), before);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_second_export_replaces_the_first() {
    let monitor = Monitor::new(MonitorConfig::default().with_max_age(None));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.json");
    monitor.export_json(&path).unwrap();
    monitor.record(rated(0.3, 1.5));
    monitor.export_json(&path).unwrap();

    let export: Export = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(export.summary.requests.total, 1);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

/// Fails unless every number in `value` is finite.
fn assert_finite(value: &Value) {
    match value {
        Value::Number(n) => assert!(n.as_f64().is_some_and(f64::is_finite), "{n}"),
        Value::Array(items) => items.iter().for_each(assert_finite),
        Value::Object(map) => map.values().for_each(assert_finite),
        _ => {}
    }
}

fn any_seconds() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(-0.0),
        Just(-1.0),
        Just(f64::MIN_POSITIVE / 4.0),
        Just(5e-324),
        Just(f64::MAX),
        Just(1e300),
        any::<f64>(),
        0.001..100.0f64,
    ]
}

fn any_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::MAX),
        Just(Duration::from_nanos(1)),
        (any::<u64>(), 0..1_000_000_000u32).prop_map(|(s, n)| Duration::new(s, n)),
        (0..10_000_000u64).prop_map(Duration::from_micros),
    ]
}

fn any_time() -> impl Strategy<Value = SystemTime> {
    prop_oneof![
        Just(at(T0)),
        (0..7200u64).prop_map(|s| at(T0 - 3600 + s)),
        any_duration().prop_map(|d| UNIX_EPOCH.checked_add(d).unwrap_or(UNIX_EPOCH)),
        any_duration().prop_map(|d| UNIX_EPOCH.checked_sub(d).unwrap_or(UNIX_EPOCH)),
    ]
}

const STAGE_NAMES: [&str; 3] = ["phonemize", "inference", "encode"];

prop_compose! {
    fn any_synthesis()(
        voice in "[a-z]{1,3}",
        latency in any_duration(),
        audio in proptest::option::of(any_seconds()),
        ttfa in proptest::option::of(any_duration()),
        chars in proptest::option::of(any::<u64>()),
        cache in proptest::option::of(any::<bool>()),
        failed in any::<bool>(),
        stages in proptest::collection::vec((0..3usize, any_duration()), 0..9),
        ended_at in any_time(),
    ) -> Synthesis {
        let mut s = Synthesis::new(voice, latency).with_ended_at(ended_at);
        s.audio_seconds = audio;
        s.time_to_first_audio = ttfa;
        s.text_chars = chars;
        s.cache_hit = cache;
        if failed {
            s = s.with_error("boom");
        }
        for (name, duration) in stages {
            s = s.with_stage(STAGE_NAMES[name], duration);
        }
        s
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_syntheses_never_panic_and_export_only_finite_numbers(
        syntheses in proptest::collection::vec(any_synthesis(), 0..80),
        now in any_time(),
        max_age in proptest::option::of(any_duration()),
    ) {
        let config = MonitorConfig::default().with_max_records(50).with_max_age(max_age);
        let monitor = Monitor::new(config.with_clock(move || now));
        for s in &syntheses {
            monitor.record_synthesis(s);
        }

        let summary = monitor.summary();
        prop_assert!(summary.requests.total <= 50);
        assert_finite(&serde_json::to_value(&summary).unwrap());
        let trend = monitor.rtf_trend(Duration::MAX, Duration::ZERO);
        assert_finite(&serde_json::to_value(&trend).unwrap());

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.json");
        monitor.export_json(&path).unwrap();
        let value: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_finite(&value);
        let export: Export = serde_json::from_value(value).unwrap();
        prop_assert_eq!(export.records.len() as u64, export.summary.requests.total);
    }
}

#[cfg(unix)]
#[test]
fn an_export_is_readable_like_any_file_the_process_writes() {
    use std::os::unix::fs::PermissionsExt as _;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    tts_otel::Monitor::default().export_json(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode & 0o044,
        0o044,
        "group and others can read it: {mode:o}"
    );
}
