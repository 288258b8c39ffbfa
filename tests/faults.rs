//! Telemetry never makes a speech service slow down, stall, crash or leak: the pipeline against
//! an absent collector, one that is killed and restarted, one that accepts connections and never
//! answers, and an exit with data pending, all with the real collector `rotel` on loopback.
//!
//! Each scenario runs in a child process of its own (see `support::child`): the pipeline is
//! installed there as the global subscriber, as `main` installs it, with its log captured
//! through `with_log_writer`, and the child reports what it measured in one line of JSON. The
//! parent owns the collectors, checks what they received, and kills every process it started by
//! its pid. The tests take one lock, so no two children compete for the CPU while timing.
//!
//! Run with `--nocapture` to see the figures.
#![cfg(feature = "otlp")]

mod support;

#[path = "faults/load.rs"]
mod load;
#[path = "faults/scenarios.rs"]
mod scenarios;

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::Value;
use support::child::{self, ChildTest, Finished};
use support::collector::{free_port, Collector};
use support::received::Received;
use tts_otel::semconv::{attr, field, metric};

use crate::scenarios::{
    BOUND_VAR, COUNT_VAR, DIR_VAR, ENDPOINT_VAR, MARKER_VAR, PROTOCOL_VAR, RATE_VAR,
};

/// The metric export interval, and the batch span processor's delay.
pub const INTERVAL: Duration = Duration::from_millis(100);
/// The time one export may take.
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(2);
/// The guard's bound on flush and shutdown.
pub const BOUND: Duration = Duration::from_secs(1);
/// The guard's bound when everything recorded must arrive at exit.
const EXIT_BOUND: Duration = Duration::from_secs(5);
/// Slack over a bound for thread start-up and scheduling on a loaded two-core machine.
const SLACK: Duration = Duration::from_secs(1);
/// How long a child scenario may run before it is killed.
const CHILD_LIMIT: Duration = Duration::from_secs(60);
/// How long the collector may take to print what it received.
const ARRIVAL: Duration = Duration::from_secs(20);
/// Growth of resident memory allowed over the steady load, after its warm-up.
// TODO: the load runs for 3 s (about 20,000 requests in a debug build), so a leak under some
// 400 bytes a request stays within the bound; only a run of hours would show one, which is too
// long for this suite.
const RSS_GROWTH: u64 = 8 * 1024 * 1024;
/// WARN and ERROR lines one scenario may print, whatever the number of export intervals: the
/// crate's own and each of the SDK's callsites once (a hanging collector and a full span queue
/// print eight).
const MAX_WARNINGS: usize = 12;

/// The entry point of every child: does nothing unless the parent named a scenario.
#[test]
#[ignore = "a scenario that the other tests run in a child process"]
fn scenario() {
    if let Some(name) = child::scenario() {
        scenarios::run(&name);
    }
}

/// One test at a time: the children are timed.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

fn spawn(name: &str, env: &[(&str, String)]) -> ChildTest {
    let delay = ("OTEL_BSP_SCHEDULE_DELAY", INTERVAL.as_millis().to_string());
    let mut env = env.to_vec();
    env.push(delay);
    ChildTest::spawn("scenario", name, &env)
}

fn report(finished: &Finished) -> Value {
    let line = finished
        .said("report")
        .unwrap_or_else(|| panic!("the child reported nothing:\n{}", finished.output));
    serde_json::from_str(line).expect("a JSON report")
}

fn run(name: &str, env: &[(&str, String)]) -> Value {
    let finished = spawn(name, env).finish(CHILD_LIMIT);
    assert!(
        !finished.output.contains("panicked"),
        "the child panicked:\n{}",
        finished.output
    );
    report(&finished)
}

fn nobody_listens() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

fn ms(value: &Value) -> Duration {
    Duration::from_millis(value.as_u64().expect("milliseconds"))
}

fn us(report: &Value, phase: &str, figure: &str) -> u64 {
    report[phase][figure].as_u64().expect(figure)
}

/// The slowest request of `phase`; it must stay far below the export timeout, or it waited on
/// an export.
fn assert_no_request_waited(report: &Value, phase: &str, what: &str) {
    let slowest = Duration::from_micros(us(report, phase, "max_us"));
    assert!(
        slowest < EXPORT_TIMEOUT / 4,
        "{what}: a request took {slowest:?}, as if it waited on an export"
    );
}

/// Printed WARN and ERROR lines, keyed by what they say without time stamp or field values, with
/// how often each was printed.
fn warnings(report: &Value) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for line in report["log"].as_array().expect("log lines") {
        let line = line.as_str().unwrap_or_default();
        let Some(at) = line.find(" WARN ").or_else(|| line.find(" ERROR ")) else {
            continue;
        };
        *seen.entry(line_key(&line[at..])).or_insert(0) += 1;
    }
    seen
}

/// `WARN target: message signal=".."` or `ERROR target: name=".."`: the callsite of a line, and
/// the signal where the line names one.
fn line_key(line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    let head = words.iter().take(2).copied().collect::<Vec<_>>().join(" ");
    let said = words[2..]
        .iter()
        .filter(|w| !w.contains('=') || w.starts_with("name=") || w.starts_with("signal="))
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    format!("{head} {said}")
}

fn assert_said_once_per_fault(report: &Value, what: &str) -> usize {
    let warnings = warnings(report);
    println!(
        "{what}: warnings printed {warnings:#?}\n{:#}",
        report["log"]
    );
    let repeated: Vec<_> = warnings.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.is_empty(),
        "{what}: printed more than once: {repeated:#?}\n{:#}",
        report["log"]
    );
    let lines = warnings.values().sum();
    assert!(lines <= MAX_WARNINGS, "{what}: {lines} warnings");
    lines
}

/// The steady scenario: `rate` is `paced` or `flat-out`.
fn steady(endpoint: &str, protocol: &str, rate: &str) -> Value {
    run(
        "steady",
        &[
            (ENDPOINT_VAR, endpoint.to_owned()),
            (PROTOCOL_VAR, protocol.to_owned()),
            (RATE_VAR, rate.to_owned()),
        ],
    )
}

/// A paced load's median per-request time with a collector that receives everything.
fn median_with_a_collector() -> u64 {
    let collector = Collector::start();
    let up = steady(&collector.http_endpoint(), "http", "paced");
    println!("collector up: {}", up["load"]);
    us(&up, "load", "median_us").max(1)
}

fn assert_memory_flat(report: &Value, what: &str) {
    let rss: Vec<u64> = report["rss"]
        .as_array()
        .expect("rss")
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let (first, max) = (rss[0], *rss.iter().max().unwrap());
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "{what}: RSS {:.1} MiB after warm-up, at most {:.1} MiB over {} export intervals \
         (growth {:.2} MiB)",
        mib(first),
        mib(max),
        rss.len() - 1,
        mib(max - first)
    );
    assert!(
        max - first <= RSS_GROWTH,
        "{what}: memory grew by {:.1} MiB: {rss:?}",
        mib(max - first)
    );
}

#[test]
fn without_a_collector_a_request_costs_what_it_costs_with_one_and_the_log_says_so_once() {
    let _serial = serial();
    let up = median_with_a_collector();
    let down = steady(&nobody_listens(), "http", "paced");

    let ratio = us(&down, "load", "median_us") as f64 / up as f64;
    println!("collector down: {}", down["load"]);
    println!("median per-request time, down / up: {ratio:.2}");
    assert!(
        ratio < 5.0,
        "requests are slower without a collector: {ratio:.2}×"
    );
    assert_no_request_waited(&down, "load", "collector down");
    let lines = assert_said_once_per_fault(&down, "collector down");
    assert!(lines >= 1, "nothing said the collector is down");
    let shutdown = ms(&down["shutdown"]["ms"]);
    println!("collector down: shutdown took {shutdown:?}, bound {BOUND:?}");
    assert!(shutdown <= BOUND + SLACK);
}

#[test]
fn without_a_collector_memory_stays_flat_under_requests_back_to_back() {
    let _serial = serial();
    for protocol in ["http", "grpc"] {
        let what = format!("collector down, {protocol}, flat out");
        let down = steady(&nobody_listens(), protocol, "flat-out");
        println!("{what}: {}", down["load"]);
        assert_memory_flat(&down, &what);
        assert_no_request_waited(&down, "load", &what);
        assert!(assert_said_once_per_fault(&down, &what) >= 1);
        assert!(ms(&down["shutdown"]["ms"]) <= BOUND + SLACK);
    }
}

#[test]
fn a_collector_that_never_answers_times_exports_out_and_never_holds_a_request() {
    let _serial = serial();
    let up = median_with_a_collector();
    for protocol in ["http", "grpc"] {
        let hang = run("hang", &[(PROTOCOL_VAR, protocol.to_owned())]);
        println!("{protocol}: {hang:#}");
        let ratio = us(&hang, "load", "median_us") as f64 / up as f64;
        println!("{protocol}: median per-request time, hanging / up: {ratio:.2}");
        assert!(ratio < 5.0, "{protocol}: requests slowed down {ratio:.2}×");
        let accepted = hang["accepted"].as_u64().unwrap();
        assert!(accepted >= 1, "{protocol}: no export reached the listener");

        let failed = ms(&hang["first_failure_ms"]);
        assert!(
            failed <= EXPORT_TIMEOUT + INTERVAL + SLACK,
            "{protocol}: the first export failed only after {failed:?}"
        );
        assert!(
            failed >= EXPORT_TIMEOUT / 2,
            "{protocol}: the first export failed after {failed:?}, without hanging"
        );
        assert_no_request_waited(&hang, "load", protocol);
        assert_no_request_waited(&hang, "burst", protocol);
        let shutdown = ms(&hang["shutdown"]["ms"]);
        assert!(
            shutdown <= BOUND + SLACK,
            "{protocol}: shutdown took {shutdown:?}"
        );
        assert_said_once_per_fault(&hang, protocol);
    }
}

/// Syntheses of `voice` that the latest cumulative duration points count, over all their
/// attribute sets (cache hit and miss).
fn syntheses(received: &Received, voice: &str) -> u64 {
    let mut latest = BTreeMap::new();
    for point in &received.points {
        if point.metric == metric::SYNTHESIS_DURATION && point.attr(attr::VOICE) == Some(voice) {
            latest.insert(point.attrs.clone(), point.count.unwrap_or(0));
        }
    }
    latest.values().sum()
}

/// Whether the collector printed `count` syntheses with their stages, and metrics counting
/// them: the collector prints spans and metrics as they come, in no set order.
fn received_exit(output: &str, count: u64) -> bool {
    let received = Received::parse(output);
    let spans = |name: &str| received.spans_named(name).len() as u64;
    spans(field::SYNTHESIS_SPAN) >= count
        && spans("tts.stage.engine") >= count
        && syntheses(&received, "exit") >= count
}

#[test]
fn what_is_recorded_just_before_exit_all_arrives() {
    let _serial = serial();
    let count = 500_u64;
    for protocol in ["http", "grpc"] {
        let collector = Collector::start();
        let endpoint = match protocol {
            "grpc" => collector.grpc_endpoint(),
            _ => collector.http_endpoint(),
        };
        let exit = run(
            "exit",
            &[
                (ENDPOINT_VAR, endpoint),
                (PROTOCOL_VAR, protocol.to_owned()),
                (COUNT_VAR, count.to_string()),
                (BOUND_VAR, EXIT_BOUND.as_millis().to_string()),
            ],
        );
        println!("{protocol}: guard dropped in {} ms", exit["drop_ms"]);

        let what = format!("{count} spans and their metrics");
        let output = collector.wait_for(ARRIVAL, &what, |out| received_exit(out, count));
        let received = Received::parse(&output);
        let spans = received.spans_named(field::SYNTHESIS_SPAN).len() as u64;
        let stages = received.spans_named("tts.stage.engine").len() as u64;
        let counted = syntheses(&received, "exit");
        println!("{protocol}: {spans} synthesis spans, {stages} engine stages, {counted} counted");
        assert_eq!(
            (spans, stages, counted),
            (count, count, count),
            "{protocol}"
        );
    }
}

#[test]
fn exit_without_a_collector_takes_no_longer_than_the_bound() {
    let _serial = serial();
    for protocol in ["http", "grpc"] {
        let exit = run(
            "exit",
            &[
                (ENDPOINT_VAR, nobody_listens()),
                (PROTOCOL_VAR, protocol.to_owned()),
                (COUNT_VAR, "500".to_owned()),
                (BOUND_VAR, BOUND.as_millis().to_string()),
            ],
        );
        let took = ms(&exit["drop_ms"]);
        println!("{protocol}: guard dropped in {took:?} with nobody listening, bound {BOUND:?}");
        let incomplete = exit["log"].as_array().unwrap().iter().filter(|l| {
            l.as_str()
                .unwrap()
                .contains("telemetry shutdown incomplete")
        });
        // The exporters' retries (about a second) end just before or just after the bound, so
        // the guard says its shutdown was incomplete at most once.
        let incomplete = incomplete.count();
        println!("{protocol}: 'telemetry shutdown incomplete' printed {incomplete} times");
        assert!(incomplete <= 1, "{protocol}: {:#}", exit["log"]);
        assert!(took <= BOUND + SLACK, "{protocol}: exit took {took:?}");
    }
}

#[test]
fn a_collector_restart_is_said_once_each_way_and_metrics_carry_every_synthesis() {
    let _serial = serial();
    for protocol in ["http", "grpc"] {
        collector_restart(protocol);
    }
}

fn collector_restart(protocol: &str) {
    let mut collector = Collector::start();
    let endpoint = match protocol {
        "grpc" => collector.grpc_endpoint(),
        _ => collector.http_endpoint(),
    };
    let mut child = spawn(
        "restart",
        &[
            (ENDPOINT_VAR, endpoint),
            (PROTOCOL_VAR, protocol.to_owned()),
        ],
    );
    child.expect("up", CHILD_LIMIT);
    collector.stop();
    child.send("go");
    child.expect("down", CHILD_LIMIT);
    let restarted_at = collector.output().len();
    collector.restart();
    child.send("go");
    let finished = child.finish(CHILD_LIMIT);
    let restart = report(&finished);
    println!("{protocol}: {restart:#}");

    let counts = &restart["counts"];
    let count = |voice: &str| counts[voice].as_u64().unwrap();
    let spans_of = |received: &Received, voice: &str| {
        let of =
            |s: &&support::received::Span| s.attrs.get(field::VOICE).is_some_and(|v| v == voice);
        received.spans.iter().filter(of).count() as u64
    };
    // Spans and metrics are printed as they come, in no set order: wait for both.
    let output = collector.wait_for(ARRIVAL, "every phase's syntheses", |out| {
        let after_restart = Received::parse(&out[restarted_at..]);
        let counted = ["before", "outage", "after"]
            .iter()
            .all(|voice| syntheses(&after_restart, voice) == count(voice));
        counted && spans_of(&Received::parse(out), "after") >= count("after")
    });
    let received = Received::parse(&output);
    let spans = |voice: &str| spans_of(&received, voice);
    for phase in ["before", "outage", "after"] {
        println!(
            "{protocol}, {phase}: {} syntheses, {} counted by the metrics after the restart, {} spans \
             arrived",
            count(phase),
            syntheses(&Received::parse(&output[restarted_at..]), phase),
            spans(phase)
        );
    }
    assert_eq!(
        spans("after"),
        count("after"),
        "every span after the restart"
    );
    // Spans queued or in the batch being exported when the collector went away are lost once
    // the export's retries give up; how many depends on timing, so they are only printed.

    let warnings = warnings(&restart);
    let keys = |what: &str| warnings.keys().filter(|k| k.contains(what)).count();
    assert_said_once_per_fault(&restart, "restart");
    assert_eq!(
        keys("telemetry export failed"),
        2,
        "one per signal: {warnings:#?}"
    );
    let lines = restart["log"].as_array().unwrap();
    let recovered = lines
        .iter()
        .filter(|l| l.as_str().unwrap().contains("telemetry export recovered"));
    assert_eq!(recovered.count(), 2, "one per signal");
}

#[test]
fn the_request_text_and_api_keys_appear_in_no_output() {
    let _serial = serial();
    let marker = format!("planted-{}", std::process::id());
    let collector = Collector::start();
    let dir = tempfile::tempdir().expect("a folder");
    let finished = spawn(
        "privacy",
        &[
            (ENDPOINT_VAR, collector.http_endpoint()),
            (PROTOCOL_VAR, "http".to_owned()),
            (DIR_VAR, dir.path().display().to_string()),
            (MARKER_VAR, marker.clone()),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                format!("api-key=env-{marker}"),
            ),
        ],
    )
    .finish(CHILD_LIMIT);

    // Everything the child sent: its spans, their stages and the metrics of its last export.
    let output = collector.wait_for(ARRIVAL, "the careless spans", |out| {
        let received = Received::parse(out);
        received.spans_named(field::SYNTHESIS_SPAN).len() == 20
            && received.spans_named("tts.stage.engine").len() == 20
            && received.latest(metric::SYNTHESIS_DURATION, &[]).is_some()
    });
    let redacted = format!("-> text: Str({})", field::REDACTED);
    assert!(
        output.contains(&redacted),
        "the text field was exported, redacted"
    );
    let log = std::fs::read_to_string(dir.path().join("pipeline.log")).unwrap();
    assert!(
        support::collector::strip_ansi(&log).contains("text=\"[redacted]\""),
        "the span's text field was printed, redacted:\n{log}"
    );
    let mut outputs = vec![
        ("the collector's output".to_owned(), output),
        ("the child's output".to_owned(), finished.output.clone()),
    ];
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.is_empty(), "{} is empty", path.display());
        outputs.push((path.display().to_string(), text));
    }
    support::search::assert_none_carries(&outputs, &marker);
}
