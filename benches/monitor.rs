//! Cost of the local performance monitor: one record, a summary of a full window, an export
//! document, and the memory a full window holds.

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{criterion_group, Criterion};
use tts_otel::monitor::RECORD_SIZE_BYTES;
use tts_otel::{Monitor, MonitorConfig, Synthesis};

/// 2026-01-01T00:00:00Z; the benches' clock reads a day later.
const T0: u64 = 1_767_225_600;
const WINDOW: usize = 10_000;
const STAGES: [&str; 3] = ["phonemize", "inference", "encode"];

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0 + 86_400)
}

/// A varied synthesis: eight voices, all length classes, a cache mix, one failure in fifty,
/// three stages, end times spread over the last day.
fn synthesis(i: usize) -> Synthesis {
    let ms = |n: usize| Duration::from_millis(n as u64);
    let mut s = Synthesis::new(format!("voice{}", i % 8), ms(50 + i * 37 % 900))
        .with_audio_seconds(0.5 + (i * 13 % 100) as f64 / 10.0)
        .with_text_chars((i * 7 % 700) as u64)
        .with_cache_hit(i.is_multiple_of(5))
        .with_time_to_first_audio(ms(10 + i % 90))
        .with_ended_at(UNIX_EPOCH + Duration::from_secs(T0 + i as u64 * 86_400 / WINDOW as u64));
    for (k, name) in STAGES.iter().enumerate() {
        s = s.with_stage(name, ms(5 + (i + k) % 200));
    }
    if i.is_multiple_of(50) {
        s = s.with_error("timeout");
    }
    s
}

fn full_monitor() -> Monitor {
    let monitor = Monitor::new(MonitorConfig::default().with_clock(now));
    (0..WINDOW).for_each(|i| monitor.record(synthesis(i)));
    monitor
}

fn record(c: &mut Criterion) {
    let monitor = full_monitor();
    let one = synthesis(1).with_ended_at(now());
    c.bench_function("monitor/record_one_synthesis", |b| {
        b.iter(|| monitor.record_synthesis(black_box(&one)))
    });
}

fn summary(c: &mut Criterion) {
    let monitor = full_monitor();
    c.bench_function("monitor/summary_full_window_10000", |b| {
        b.iter(|| black_box(monitor.summary()))
    });
    c.bench_function("monitor/rtf_trend_24h", |b| {
        b.iter(|| black_box(monitor.recent_rtf_trend(Duration::from_secs(86_400))))
    });
    c.bench_function("monitor/export_document_full_window", |b| {
        b.iter(|| black_box(monitor.export()))
    });
}

/// Resident memory of this process in bytes, from `/proc/self/statm` (Linux only).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

fn page_size() -> u64 {
    let out = std::process::Command::new("getconf")
        .arg("PAGESIZE")
        .output();
    let text = out.ok().and_then(|o| String::from_utf8(o.stdout).ok());
    text.and_then(|t| t.trim().parse().ok()).unwrap_or(4096)
}

fn report_memory() {
    let ring = RECORD_SIZE_BYTES * WINDOW;
    println!("monitor/memory: record {RECORD_SIZE_BYTES} B x {WINDOW} = {ring} B in the ring");
    let before = resident_bytes();
    let monitor = full_monitor();
    let after = resident_bytes();
    if let (Some(before), Some(after)) = (before, after) {
        let delta = after.saturating_sub(before);
        println!(
            "monitor/memory: resident set grew by {delta} B for a full window with 24 h of trend"
        );
    }
    drop(monitor);
}

criterion_group!(benches, record, summary);

fn main() {
    report_memory();
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
