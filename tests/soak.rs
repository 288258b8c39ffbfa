//! Soak run, by hand only (CI skips it): ten million synthesis spans through the layer and a
//! monitor, resident memory read every million.
//!
//! ```sh
//! CARGO_TARGET_DIR=... cargo test --release --test soak -- --ignored --nocapture
//! ```
//!
//! The spans mix what a long-running service meets: a handful of usual voices and a flood of
//! distinct ones (one span in sixteen names a voice never seen before), three models, cache
//! hits and misses, three stages, first-audio markers, failures, cancellations, and audio
//! durations that are NaN, huge or of the wrong kind. Once the monitor's window has filled
//! (10,000 records, in the first million), memory must stay flat.

mod support;

use std::time::Instant;

use opentelemetry_sdk::metrics::Temporality;
use tracing::field::Empty;
use tts_otel::semconv::{field, metric};
use tts_otel::{Monitor, MonitorConfig};

use support::{points, resident_bytes, Harness, Point, PointValue};

const SPANS: u64 = 10_000_000;
const REPORT_EVERY: u64 = 1_000_000;
/// Growth allowed from the two-million reading to the last: this share of it, or
/// `FLAT_SLACK_BYTES`, whichever is larger.
const FLAT_SHARE: f64 = 0.10;
const FLAT_SLACK_BYTES: u64 = 4 << 20;

const VOICES: [&str; 8] = ["af", "am", "bf", "bm", "en-us", "en-gb", "de", "fr"];
const MODELS: [&str; 3] = ["kokoro", "piper", "espeak-ng"];

/// What span `i` does; the moduli are primes, so the cases fall on different spans.
fn synthesis(i: u64) {
    let flood;
    let voice = if i.is_multiple_of(16) {
        flood = format!("flood-{i}");
        flood.as_str()
    } else {
        VOICES[i as usize % VOICES.len()]
    };
    let span = tracing::info_span!(
        "tts.synthesize",
        tts.voice = voice,
        tts.model = MODELS[i as usize % MODELS.len()],
        tts.text.chars = i % 700,
        tts.audio.seconds = Empty,
        tts.cache.hit = i.is_multiple_of(3),
    );
    let _entered = span.enter();
    tracing::info_span!("tts.stage.normalize").in_scope(|| {});
    tracing::info_span!("tts.stage.inference").in_scope(|| {
        if i.is_multiple_of(4) {
            tts_otel::first_audio();
        }
    });
    tracing::info_span!("tts.stage.encode").in_scope(|| {});
    finish(&span, i);
}

/// Ends span `i` as a failure, a cancellation, or with an audio duration valid or not.
fn finish(span: &tracing::Span, i: u64) {
    let audio = match i {
        _ if i.is_multiple_of(101) => {
            return tracing::error!(error.type = "engine_timeout", "timed out");
        }
        _ if i.is_multiple_of(103) => return, // cancelled: closes without its audio duration
        _ if i.is_multiple_of(83) => {
            span.record(field::AUDIO_SECONDS, "two");
            return;
        }
        _ if i.is_multiple_of(97) => f64::NAN,
        _ if i.is_multiple_of(89) => f64::MAX,
        _ => 1.0 + (i % 50) as f64 / 10.0,
    };
    span.record(field::AUDIO_SECONDS, audio);
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn kib(bytes: u64) -> u64 {
    bytes / 1024
}

fn count(all: &[Point], name: &str) -> u64 {
    let found = points(all, name);
    let each = found.iter().map(|p| match p.value {
        PointValue::Histogram { count, .. } => count,
        PointValue::Sum(v) | PointValue::Gauge(v) => v as u64,
    });
    each.sum()
}

#[test]
#[ignore = "a soak run: cargo test --release --test soak -- --ignored --nocapture"]
fn ten_million_syntheses_keep_resident_memory_flat_once_the_window_is_full() {
    let monitor = Monitor::new(MonitorConfig::default().with_system_interval(None));
    let harness = Harness::with(Temporality::Cumulative, |b| b.with_sink(monitor.clone()));
    let began = Instant::now();
    let mut readings = Vec::new();
    println!(
        "before: resident {} KiB",
        kib(resident_bytes().unwrap_or(0))
    );
    harness.run(|| {
        for i in 0..SPANS {
            synthesis(i);
            if (i + 1) % REPORT_EVERY == 0 {
                harness.exporter.reset();
                let rss = resident_bytes().unwrap_or(0);
                let rate = (i + 1) as f64 / began.elapsed().as_secs_f64();
                println!(
                    "{:>2} million: resident {} KiB, {:.0} syntheses/s",
                    (i + 1) / REPORT_EVERY,
                    kib(rss),
                    rate
                );
                readings.push(rss);
            }
        }
    });

    let all = harness.collect();
    for point in &all {
        assert!(point.sum().is_finite(), "{point:?}");
    }
    let finished = count(&all, metric::SYNTHESIS_DURATION);
    let cancelled = count(&all, metric::SYNTHESIS_CANCELLED);
    println!("exported: {finished} finished, {cancelled} cancelled");
    assert_eq!(
        finished + cancelled,
        SPANS,
        "every synthesis is exported once"
    );
    let expected_cancelled = (0..SPANS)
        .filter(|i| !i.is_multiple_of(101) && i.is_multiple_of(103))
        .count();
    assert_eq!(cancelled, expected_cancelled as u64);
    let failed: u64 = points(&all, metric::SYNTHESIS_DURATION)
        .iter()
        .filter(|p| p.attr(tts_otel::semconv::attr::ERROR_TYPE).is_some())
        .map(|p| p.count())
        .sum();
    assert_eq!(
        failed,
        SPANS.div_ceil(101),
        "every hundred-and-first one failed"
    );
    let summary = monitor.summary();
    assert_eq!(summary.window.recorded_total, SPANS);
    assert_eq!(summary.requests.total, 10_000);
    assert!(summary.voices.len() <= tts_otel::semconv::limits::LABEL_LIMIT + 1);

    let (full, last) = (readings[1], readings[readings.len() - 1]);
    let allowed = ((full as f64 * FLAT_SHARE) as u64).max(FLAT_SLACK_BYTES);
    println!(
        "resident at 2 million {} KiB, at 10 million {} KiB (allowed growth {:.1} MiB)",
        kib(full),
        kib(last),
        mib(allowed)
    );
    assert!(last <= full + allowed, "resident memory kept growing");
}
