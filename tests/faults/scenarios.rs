//! The child side of the fault tests: each scenario installs the pipeline as `main` would, as
//! the process's global subscriber with its log captured, runs a load, and says what it saw in
//! one `report` line of JSON.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tts_otel::pipeline::{Pipeline, Protocol, TelemetryGuard};
use tts_otel::{Monitor, MonitorConfig};

use crate::load::{self, Capture};
use crate::support::child::{say, wait_for_parent};
use crate::support::silent::SilentCollector;
use crate::{BOUND, EXPORT_TIMEOUT, INTERVAL};

/// Variables the parent sets for its child.
pub const ENDPOINT_VAR: &str = "TTS_OTEL_FAULTS_ENDPOINT";
pub const PROTOCOL_VAR: &str = "TTS_OTEL_FAULTS_PROTOCOL";
pub const COUNT_VAR: &str = "TTS_OTEL_FAULTS_COUNT";
pub const DIR_VAR: &str = "TTS_OTEL_FAULTS_DIR";
pub const MARKER_VAR: &str = "TTS_OTEL_FAULTS_MARKER";
pub const BOUND_VAR: &str = "TTS_OTEL_FAULTS_BOUND_MS";
/// `paced` for [`load::RATE`] requests a second, `flat-out` for requests back to back.
pub const RATE_VAR: &str = "TTS_OTEL_FAULTS_RATE";

/// Warm-up before memory is measured: the monitor's window fills and the allocator settles.
const WARM_UP: Duration = Duration::from_secs(1);
/// Export intervals the steady load runs for after its warm-up.
pub const STEADY_INTERVALS: u32 = 30;
/// Records the monitor keeps: small, so that its window is full before memory is measured.
const MONITOR_RECORDS: usize = 1_000;
/// Requests sent back to back into a hanging collector: far more spans than the batch
/// processor's queue (2,048) holds.
const BURST: u64 = 3_000;

/// Runs the scenario `name`.
pub fn run(name: &str) {
    match name {
        "steady" => steady(),
        "hang" => hang(),
        "exit" => exit(),
        "restart" => restart(),
        "privacy" => privacy(),
        other => panic!("no scenario {other:?}"),
    }
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("the parent sets {name}"))
}

fn protocol() -> Protocol {
    match var(PROTOCOL_VAR).as_str() {
        "grpc" => Protocol::Grpc,
        _ => Protocol::HttpProtobuf,
    }
}

fn monitor() -> Monitor {
    let config = MonitorConfig::default()
        .with_max_records(MONITOR_RECORDS)
        .with_system_interval(Some(Duration::from_millis(250)));
    Monitor::new(config)
}

/// The pipeline as a service sets it up, with short intervals and its log captured.
fn pipeline(endpoint: &str, log: &Capture, monitor: &Monitor) -> Pipeline {
    Pipeline::from_env()
        .with_service_name("tts-otel-faults")
        .with_endpoint(endpoint)
        .with_protocol(protocol())
        .with_metric_export_interval(INTERVAL)
        .with_export_timeout(EXPORT_TIMEOUT)
        .with_shutdown_timeout(BOUND)
        .with_monitor(monitor.clone())
        .with_log_writer(log.clone())
}

/// Shuts down and says how long it took and how it ended.
fn timed_shutdown(mut guard: TelemetryGuard) -> Value {
    let started = Instant::now();
    let result = guard.shutdown();
    let took = started.elapsed();
    json!({ "ms": took.as_millis() as u64, "result": format!("{result:?}") })
}

fn report(value: &Value) {
    say(&format!("report {value}"));
}

/// A steady load for [`STEADY_INTERVALS`] export intervals after a warm-up, memory read after
/// each interval.
fn steady() {
    let (log, monitor) = (Capture::default(), monitor());
    let rate = (var(RATE_VAR) == "paced").then_some(load::RATE);
    let guard = pipeline(&var(ENDPOINT_VAR), &log, &monitor)
        .try_init()
        .expect("the first subscriber of the process");

    let mut warm_up = Vec::new();
    load::run_at(rate, "en-us", WARM_UP, &mut warm_up);
    let mut rss = vec![load::rss_bytes()];
    let mut times = Vec::new();
    for _ in 0..STEADY_INTERVALS {
        load::run_at(rate, "en-us", INTERVAL, &mut times);
        rss.push(load::rss_bytes());
    }
    let shutdown = timed_shutdown(guard);
    report(&json!({
        "warm_up": load::figures(&warm_up),
        "load": load::figures(&times),
        "rss": rss,
        "monitor_requests": monitor.summary().requests.total,
        "shutdown": shutdown,
        "log": log.lines(),
    }));
}

/// Exports into a collector that accepts and never answers, under a paced load for longer than
/// the export timeout, then a burst that overflows the span queue; then shutdown.
fn hang() {
    let silent = SilentCollector::start();
    let (log, monitor) = (Capture::default(), monitor());
    let guard = pipeline(&silent.endpoint(), &log, &monitor)
        .try_init()
        .expect("the first subscriber of the process");

    let started = Instant::now();
    let mut times = Vec::new();
    let mut first_failure = None;
    let run_for = EXPORT_TIMEOUT * 2;
    while started.elapsed() < run_for {
        load::run("en-us", INTERVAL, &mut times);
        if first_failure.is_none() && log.contains("telemetry export failed") {
            first_failure = Some(started.elapsed().as_millis() as u64);
        }
    }
    let burst: Vec<Duration> = (0..BURST).map(|n| load::synthesise("en-us", n)).collect();
    let accepted = silent.accepted();
    let shutdown = timed_shutdown(guard);
    report(&json!({
        "load": load::figures(&times),
        "burst": load::figures(&burst),
        "accepted": accepted,
        "first_failure_ms": first_failure,
        "shutdown": shutdown,
        "log": log.lines(),
    }));
}

/// Records syntheses and drops the guard at once, as a process that returns from `main` does;
/// metrics are due only at exit.
fn exit() {
    let (log, monitor) = (Capture::default(), monitor());
    let count: u64 = var(COUNT_VAR).parse().expect("a count");
    let bound = Duration::from_millis(var(BOUND_VAR).parse().expect("milliseconds"));
    let guard = pipeline(&var(ENDPOINT_VAR), &log, &monitor)
        .with_metric_export_interval(Duration::from_secs(60))
        .with_shutdown_timeout(bound)
        .try_init()
        .expect("the first subscriber of the process");

    for n in 0..count {
        load::synthesise("exit", n);
    }
    let started = Instant::now();
    drop(guard);
    let took = started.elapsed().as_millis() as u64;
    report(&json!({ "drop_ms": took, "log": log.lines() }));
}

/// Driven by the parent: load while the collector is up, while it is down, and after it came
/// back, each phase under its own voice.
fn restart() {
    let (log, monitor) = (Capture::default(), monitor());
    let guard = pipeline(&var(ENDPOINT_VAR), &log, &monitor)
        .try_init()
        .expect("the first subscriber of the process");
    let mut counts = serde_json::Map::new();

    let mut times = Vec::new();
    load::run("before", INTERVAL * 5, &mut times);
    counts.insert("before".into(), times.len().into());
    say("up");
    wait_for_parent();

    let mut times = Vec::new();
    load::run("outage", INTERVAL * 10, &mut times);
    counts.insert("outage".into(), times.len().into());
    let failed_lines = log.lines().len();
    say("down");
    wait_for_parent();

    let mut times = Vec::new();
    let started = Instant::now();
    while !recovered(&log) && started.elapsed() < Duration::from_secs(20) {
        load::run("after", INTERVAL, &mut times);
    }
    load::run("after", INTERVAL * 5, &mut times);
    counts.insert("after".into(), times.len().into());
    let shutdown = timed_shutdown(guard);
    report(&json!({
        "counts": counts,
        "failed_lines": failed_lines,
        "shutdown": shutdown,
        "log": log.lines(),
    }));
}

fn recovered(log: &Capture) -> bool {
    let lines = log.lines();
    let of = |signal: &str| {
        lines
            .iter()
            .any(|l| l.contains("telemetry export recovered") && l.contains(signal))
    };
    of("traces") && of("metrics")
}

/// Plants the marker where a careless service might: as the request text in span fields, in
/// an event inside the span, and as API keys in the environment and in code. Writes the
/// captured log and the monitor's export into the parent's folder.
fn privacy() {
    let (log, monitor) = (Capture::default(), monitor());
    let marker = var(MARKER_VAR);
    let dir = PathBuf::from(var(DIR_VAR));
    let guard = pipeline(&var(ENDPOINT_VAR), &log, &monitor)
        .with_header("x-api-key", format!("code-{marker}"))
        .with_log_filter("trace")
        .try_init()
        .expect("the first subscriber of the process");

    for n in 0..20 {
        careless_synthesis(&marker, n);
    }
    monitor
        .export_json(dir.join("monitor.json"))
        .expect("the monitor's export");
    let summary = serde_json::to_string(&monitor.summary()).expect("a summary");
    std::fs::write(dir.join("summary.json"), summary).expect("the summary written");
    let shutdown = timed_shutdown(guard);
    log.save(&dir.join("pipeline.log"));
    report(&json!({ "shutdown": shutdown }));
}

/// A synthesis instrumented without `skip(text)`: the text is a span field, and a failure
/// event inside the span makes the log print the span's fields.
fn careless_synthesis(text: &str, n: u64) {
    let span = tracing::info_span!(
        "tts.synthesize",
        tts.voice = "en-us",
        tts.text.chars = text.chars().count() as i64,
        tts.audio.seconds = 1.5,
        text = %text,
        input = text,
    );
    span.in_scope(|| {
        tracing::info_span!("tts.stage.engine", text = text).in_scope(|| {});
        if n.is_multiple_of(2) {
            tracing::error!(error.type = "engine_exit", "synthesis failed");
        } else {
            tracing::info!("synthesised");
        }
    });
}
