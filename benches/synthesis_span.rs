//! What one synthesis request costs in telemetry, side by side with the alternatives.
//!
//! # Method
//!
//! Every function of the `synthesis_span` group does one simulated synthesis request per
//! iteration: a `tts.synthesize` span with a voice (one of four), 120 characters, 2.5 s of audio
//! and a cache result (every third request a hit), created and closed.
//!
//! - `bare_span`: the span on a layered `Registry` with no metric work.
//! - `raw_sdk_floor`: the span plus the SDK calls a user would write by hand for the same
//!   request: four histogram records and one counter add, two attributes each.
//! - `tracing_otel_metrics_layer`: the span plus tracing-opentelemetry's `MetricsLayer` fed the
//!   same five values by an event inside the span.
//! - `tts_layer`: the span through `SynthesisLayer`, recording every contract instrument.
//!
//! Each function runs in a process of its own with its subscriber installed as the global
//! default, so no scoped dispatcher's reference count is shared between iterations: the parent
//! process re-runs this binary once per function with `TTS_BENCH_VARIANT` set and reads
//! criterion's estimates back. Meter providers have a manual reader, so aggregation happens and
//! nothing is exported during the measurement.
//!
//! After criterion, the `raw_sdk_floor` and `tts_layer` processes also time one thread against
//! two threads recording the same attribute sets into the one provider, alternating the runs
//! pairwise so drift cancels, and report the median ratio of per-request costs.
//!
//! The `tts_layer_monitor` process then runs a million more requests, reading its resident
//! memory after each quarter, and times the monitor's own record and summary.
//!
//! Last, `tts_layer` and `tts_layer_monitor` run again in four pairs of processes, in
//! alternating order, timing only; the monitor's ratio is the median of the four pair ratios,
//! so drift between two processes run minutes apart cancels.
//!
//! Run: `cargo bench --bench synthesis_span -- --warm-up-time 2 --measurement-time 5` (about
//! five minutes); it ends with the table below.
//!
//! # Last run
//!
//! 2026-12-04, 2-core x86-64 development machine, otherwise idle; median ns per request:
//!
//! ```text
//! bare_span 55.6   raw_sdk_floor 526.4   tracing_otel_metrics_layer 945.9
//! tts_layer 431.2  tts_layer_monitor 502.0
//! tts_layer / raw_sdk_floor 0.82              tts_layer / tracing_otel_metrics_layer 0.46
//! tts_layer_monitor / tts_layer 1.19 (median of 4 alternating pairs)
//! raw_sdk_floor / bare_span 9.47
//! two threads / one, same series: raw_sdk_floor 1.45, tts_layer 1.18
//! two threads / one, disjoint series: raw_sdk_floor 1.26, tts_layer 1.04
//! monitor: record 70.0 ns, summary of a full window 0.45 ms
//! resident MiB after 0.25 / 0.5 / 0.75 / 1 M requests: 7.1 / 7.1 / 7.1 / 7.1
//! ```

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::Criterion;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};
use tracing_subscriber::prelude::*;

/// The monitor of the `tts_layer_monitor` process.
static MONITOR: std::sync::OnceLock<tts_otel::Monitor> = std::sync::OnceLock::new();

const VARIANT_VAR: &str = "TTS_BENCH_VARIANT";
/// Set in a variant's process when only its criterion timing is wanted.
const TIMING_ONLY_VAR: &str = "TTS_BENCH_TIMING_ONLY";
/// Alternating pairs of `tts_layer` and `tts_layer_monitor` runs behind the monitor's ratio.
const MONITOR_PAIRS: usize = 4;
const GROUP: &str = "synthesis_span";
const VOICES: [&str; 4] = ["en-us", "en-gb", "de", "fr"];
const TEXT_CHARS: u64 = 120;
const AUDIO_SECONDS: f64 = 2.5;

/// The functions of the group, in the order they run.
const VARIANTS: [&str; 5] = [
    "bare_span",
    "raw_sdk_floor",
    "tracing_otel_metrics_layer",
    "tts_layer",
    "tts_layer_monitor",
];

fn main() {
    match std::env::var(VARIANT_VAR) {
        Ok(variant) => run_variant(&variant),
        Err(_) => run_all(),
    }
}

/// The request of iteration `i`: its voice and cache result.
fn request(i: usize) -> (&'static str, bool) {
    (VOICES[i % VOICES.len()], i.is_multiple_of(3))
}

fn span(i: usize) -> tracing::Span {
    let (voice, hit) = request(i);
    tracing::info_span!(
        "tts.synthesize",
        tts.voice = voice,
        tts.text.chars = TEXT_CHARS,
        tts.audio.seconds = AUDIO_SECONDS,
        tts.cache.hit = hit,
    )
}

fn provider() -> SdkMeterProvider {
    SdkMeterProvider::builder()
        .with_reader(ManualReader::builder().build())
        .build()
}

/// One request of a variant, given the iteration number.
type Request = Box<dyn Fn(usize) + Send + Sync>;

/// Installs the variant's subscriber globally and returns its request.
fn install(variant: &str) -> Request {
    let provider = provider();
    match variant {
        "bare_span" => {
            let layer = tracing_subscriber::layer::Identity::new();
            tracing_subscriber::registry().with(layer).init();
            Box::new(|i| drop(span(i)))
        }
        "raw_sdk_floor" => {
            tracing_subscriber::registry()
                .with(tracing_subscriber::layer::Identity::new())
                .init();
            raw_sdk(&provider)
        }
        "tracing_otel_metrics_layer" => {
            let layer = tracing_opentelemetry::MetricsLayer::new(provider);
            tracing_subscriber::registry().with(layer).init();
            Box::new(|i| {
                let (voice, hit) = request(i);
                let start = Instant::now();
                let span = span(i);
                let _entered = span.enter();
                let latency = start.elapsed().as_secs_f64();
                tracing::info!(
                    histogram.tts.synthesis.duration = latency,
                    histogram.tts.synthesis.rtf = latency / AUDIO_SECONDS,
                    histogram.tts.audio.duration = AUDIO_SECONDS,
                    histogram.tts.text.chars = TEXT_CHARS,
                    monotonic_counter.tts.cache.requests = 1_u64,
                    tts.voice = voice,
                    tts.cache.result = if hit { "hit" } else { "miss" },
                );
            })
        }
        "tts_layer" => {
            let layer = tts_otel::SynthesisLayer::new(&provider.meter("bench"));
            tracing_subscriber::registry().with(layer).init();
            std::mem::forget(provider);
            Box::new(|i| drop(span(i)))
        }
        "tts_layer_monitor" => {
            let monitor = tts_otel::Monitor::default();
            let layer = tts_otel::SynthesisLayer::builder(&provider.meter("bench"))
                .with_sink(monitor.clone())
                .build();
            tracing_subscriber::registry().with(layer).init();
            std::mem::forget(provider);
            MONITOR.set(monitor).expect("one monitor");
            Box::new(|i| drop(span(i)))
        }
        other => panic!("unknown variant {other}"),
    }
}

/// The contract's instruments recorded by hand, as a user would write the calls.
fn raw_sdk(provider: &SdkMeterProvider) -> Request {
    let meter = provider.meter("bench");
    let duration = meter
        .f64_histogram("tts.synthesis.duration")
        .with_unit("s")
        .build();
    let rtf = meter
        .f64_histogram("tts.synthesis.rtf")
        .with_unit("1")
        .build();
    let audio = meter
        .f64_histogram("tts.audio.duration")
        .with_unit("s")
        .build();
    let chars = meter
        .u64_histogram("tts.text.chars")
        .with_unit("{char}")
        .build();
    let cache = meter
        .u64_counter("tts.cache.requests")
        .with_unit("{request}")
        .build();
    std::mem::forget(provider.clone());
    Box::new(move |i| {
        let (voice, hit) = request(i);
        let start = Instant::now();
        drop(span(i));
        let latency = start.elapsed().as_secs_f64();
        let attrs = [
            KeyValue::new("tts.voice", voice),
            KeyValue::new("tts.cache.result", if hit { "hit" } else { "miss" }),
        ];
        duration.record(latency, &attrs);
        rtf.record(latency / AUDIO_SECONDS, &attrs);
        audio.record(AUDIO_SECONDS, &attrs);
        chars.record(TEXT_CHARS, &attrs);
        cache.add(1, &attrs);
    })
}

fn run_variant(variant: &str) {
    let request: Arc<Request> = Arc::new(install(variant));
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();
    let mut group = criterion.benchmark_group(GROUP);
    group.bench_function(variant, |b| {
        let mut i = 0_usize;
        b.iter(|| {
            i = i.wrapping_add(1);
            request(black_box(i))
        })
    });
    group.finish();
    if std::env::var_os(TIMING_ONLY_VAR).is_some() {
        return;
    }

    if matches!(variant, "raw_sdk_floor" | "tts_layer") {
        for sharing in [Sharing::SameSeries, Sharing::DisjointSeries] {
            let ratio = thread_scaling(&request, sharing);
            write_result(variant, sharing.key(), ratio);
        }
    }
    if let Some(monitor) = MONITOR.get() {
        measure_monitor(monitor, &request);
    }
}

/// Resident memory after each quarter of a million requests through the layer and monitor,
/// then the monitor's own record and summary costs over its full window.
fn measure_monitor(monitor: &tts_otel::Monitor, request: &Request) {
    for quarter in 1..=4 {
        for i in 0..250_000 {
            request(black_box(i));
        }
        write_result(
            "tts_layer_monitor",
            &format!("rss_mib_{quarter}"),
            rss_mib(),
        );
    }

    let synthesis = tts_otel::Synthesis::new("en-us", Duration::from_millis(400))
        .with_audio_seconds(AUDIO_SECONDS)
        .with_text_chars(TEXT_CHARS)
        .with_cache_hit(false);
    let n = 1_000_000;
    let start = Instant::now();
    for _ in 0..n {
        monitor.record_synthesis(black_box(&synthesis));
    }
    write_result(
        "monitor",
        "record_ns",
        start.elapsed().as_nanos() as f64 / n as f64,
    );

    let mut summaries: Vec<f64> = (0..21)
        .map(|_| {
            let start = Instant::now();
            black_box(monitor.summary());
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    summaries.sort_by(f64::total_cmp);
    write_result("monitor", "summary_ms", summaries[summaries.len() / 2]);
}

/// This process's resident set, in MiB, from `/proc/self/statm`.
fn rss_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(f64::NAN);
    pages * 4096.0 / (1024.0 * 1024.0)
}

/// Which series two threads record into at once.
#[derive(Clone, Copy)]
enum Sharing {
    /// Both threads run the same request sequence, so they record the same attribute sets at
    /// about the same time, as two workers of one service serving one popular voice do.
    SameSeries,
    /// The threads take alternate requests, so each records its own two voices.
    DisjointSeries,
}

impl Sharing {
    fn key(self) -> &'static str {
        match self {
            Sharing::SameSeries => "two_thread_ratio_same",
            Sharing::DisjointSeries => "two_thread_ratio_disjoint",
        }
    }

    /// The request number thread `t` of `threads` runs as its `i`th.
    fn request(self, i: usize, t: usize, threads: usize) -> usize {
        match self {
            Sharing::SameSeries => i,
            Sharing::DisjointSeries => i * threads + t,
        }
    }
}

/// Median over alternating pairs of (per-request cost with two threads) / (with one thread).
fn thread_scaling(request: &Arc<Request>, sharing: Sharing) -> f64 {
    const N: usize = 200_000;
    let mut ratios: Vec<f64> = (0..9)
        .map(|_| {
            let one = timed_threads(request, 1, N, sharing);
            let two = timed_threads(request, 2, N, sharing);
            two / one
        })
        .collect();
    median(&mut ratios)
}

/// Seconds per request on each of `threads` threads running `n` requests at once.
fn timed_threads(request: &Arc<Request>, threads: usize, n: usize, sharing: Sharing) -> f64 {
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (request, barrier) = (Arc::clone(request), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                let start = Instant::now();
                for i in 0..n {
                    request(black_box(sharing.request(i, t, threads)));
                }
                start.elapsed().as_secs_f64()
            })
        })
        .collect();
    let slowest = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .fold(0.0, f64::max);
    slowest / n as f64
}

fn results_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("bench binary path");
    let target = exe.ancestors().nth(3).expect("target dir").to_path_buf();
    target.join("tts-otel-bench")
}

fn write_result(variant: &str, key: &str, value: f64) {
    let dir = results_dir();
    std::fs::create_dir_all(&dir).expect("results dir");
    std::fs::write(dir.join(format!("{variant}.{key}")), value.to_string()).expect("result");
}

fn read_result(variant: &str, key: &str) -> Option<f64> {
    let text = std::fs::read_to_string(results_dir().join(format!("{variant}.{key}"))).ok()?;
    text.trim().parse().ok()
}

/// Criterion's median estimate of a function, in nanoseconds.
fn median_ns(criterion_home: &Path, variant: &str) -> Option<f64> {
    let path = criterion_home
        .join(GROUP)
        .join(variant)
        .join("new/estimates.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    json["median"]["point_estimate"].as_f64()
}

fn run_all() {
    let exe = std::env::current_exe().expect("bench binary path");
    let criterion_home = results_dir().join("criterion");
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let run = |variant: &str, home: &Path, extras: bool| {
        let mut command = Command::new(&exe);
        command
            .args(&args)
            .arg("--bench")
            .env(VARIANT_VAR, variant)
            .env("CRITERION_HOME", home);
        if !extras {
            command.env(TIMING_ONLY_VAR, "1");
        }
        let status = command.status().expect("run variant");
        assert!(status.success(), "{variant} failed");
    };
    for variant in VARIANTS {
        run(variant, &criterion_home, true);
    }
    // The monitor's target is a ratio of two processes run at different times; pairs in
    // alternating order let drift between them cancel in the median of the pair ratios.
    let mut ratios = Vec::with_capacity(MONITOR_PAIRS);
    for round in 0..MONITOR_PAIRS {
        let home = results_dir().join(format!("pair-{round}"));
        let mut pair = ["tts_layer", "tts_layer_monitor"];
        if round % 2 == 1 {
            pair.reverse();
        }
        for variant in pair {
            run(variant, &home, false);
        }
        let ns = |v| median_ns(&home, v).unwrap_or(f64::NAN);
        ratios.push(ns("tts_layer_monitor") / ns("tts_layer"));
    }
    write_result("tts_layer_monitor", "paired_ratio", median(&mut ratios));
    report(&criterion_home);
}

/// The median of `values`; NaN when empty.
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn report(criterion_home: &Path) {
    let ns = |v: &str| median_ns(criterion_home, v).unwrap_or(f64::NAN);
    println!("\n{GROUP}: median ns per request");
    for variant in VARIANTS {
        println!("  {variant:<28} {:>9.1}", ns(variant));
    }
    let ratio = |a: &str, b: &str| ns(a) / ns(b);
    println!("ratios (target)");
    println!(
        "  tts_layer / raw_sdk_floor              {:.2} (<= 1.0)",
        ratio("tts_layer", "raw_sdk_floor")
    );
    println!(
        "  tts_layer / tracing_otel_metrics_layer {:.2} (<= 0.5)",
        ratio("tts_layer", "tracing_otel_metrics_layer")
    );
    println!(
        "  raw_sdk_floor / bare_span              {:.2}",
        ratio("raw_sdk_floor", "bare_span")
    );
    println!(
        "  tts_layer_monitor / tts_layer          {:.2} (<= 1.2; median of {MONITOR_PAIRS} alternating pairs)",
        read_result("tts_layer_monitor", "paired_ratio").unwrap_or(f64::NAN)
    );
    for variant in ["raw_sdk_floor", "tts_layer"] {
        for sharing in [Sharing::SameSeries, Sharing::DisjointSeries] {
            let two = read_result(variant, sharing.key()).unwrap_or(f64::NAN);
            let label = format!("{variant}, two threads / one, {}", &sharing.key()[17..]);
            println!("  {label:<38} {two:.2} (tts_layer <= 1.2)");
        }
    }
    let result = |v: &str, k: &str| read_result(v, k).unwrap_or(f64::NAN);
    println!("monitor");
    println!(
        "  record one synthesis                   {:.1} ns",
        result("monitor", "record_ns")
    );
    println!(
        "  summary of a full window               {:.2} ms",
        result("monitor", "summary_ms")
    );
    let rss: Vec<String> = (1..=4)
        .map(|q| {
            format!(
                "{:.1}",
                result("tts_layer_monitor", &format!("rss_mib_{q}"))
            )
        })
        .collect();
    println!(
        "  resident MiB after 0.25/0.5/0.75/1 M requests: {}",
        rss.join(" / ")
    );
}
