//! Load run of the example speech server, by hand only (CI skips it): many concurrent clients
//! over loopback for a bounded time and a bounded number of requests, with nothing recording
//! (`off`) and with the full telemetry of the example (`on`: pipeline, synthesis layer,
//! monitor and its system sampler, Prometheus reader).
//!
//! ```sh
//! cargo test --release --features http --test load -- --ignored --nocapture
//! ```
//!
//! `LOAD_SECONDS` (default 10, per phase, after a 3-second warm-up), `LOAD_CLIENTS` (32) and
//! `LOAD_MAX_REQUESTS` (300,000 per phase) change the bounds. Two workloads run each way: the
//! demo's corpus plan (real espeak-ng runs, repeats and streamed responses; engine-bound) and a
//! cache-hot one (one short sentence, so every request after the first is a cache hit; bound by
//! the server itself, where telemetry's share is largest). With telemetry on, every request
//! served must be recorded once in each place the server's syntheses are counted: the
//! monitor, `tts.synthesis.duration` on `/metrics`, the same histogram's count in a real
//! Prometheus server scraping `/metrics` every second (Debian's `prometheus`, started by the
//! phase), and its count as a real OpenTelemetry Collector received it over OTLP/HTTP (`rotel`,
//! started by the run for each `on` phase, printing the metrics it receives; the spans are
//! exported to it too, and not printed).
//!
//! A third way, `log`, installs only what a service using `tracing` has anyway: a registry
//! with the printed log and its filter (the pipeline's default, `info,opentelemetry=warn`,
//! with the first-audio markers held back as the pipeline holds them).
//! `on` against `log` is the share of this crate; `log` against `off` that of `tracing`.
//!
//! `LOAD_WORKLOADS` (`Corpus`, `CacheHot`, or both, the default) picks the workloads. Each
//! workload runs `LOAD_ROUNDS` rounds (default 2) of the three ways, in the order off,
//! log, on, then backwards, each phase in a new process of this test binary (the subscriber is
//! global to a process), so no way gains from running first or from a drift of the machine's
//! speed; medians are reported. Within a phase the clients run in the server's process and
//! runtime and share its cores: throughput is that of the whole loop. Besides throughput, each
//! phase reports the CPU time of its process per request, which other processes on the machine
//! hardly move: its difference between ways is what telemetry costs per request.
//!
//! TODO: the clients share the server's cores; a client process pinned to other cores (or
//! another machine) would measure the server alone.
// Each test binary that includes the example's modules uses a different part of them.
#![allow(dead_code)]

#[path = "../examples/speech_server/api.rs"]
mod api;
#[path = "../examples/speech_server/cache.rs"]
mod cache;
#[path = "../examples/speech_server/client.rs"]
mod client;
#[path = "../examples/speech_server/config.rs"]
mod config;
#[path = "../examples/speech_server/corpus.rs"]
mod corpus;
#[path = "../examples/speech_server/engine.rs"]
mod engine;
#[path = "../examples/speech_server/server.rs"]
mod server;
#[path = "../examples/speech_server/speech.rs"]
mod speech;
#[path = "../examples/speech_server/telemetry.rs"]
mod telemetry;
#[path = "../examples/speech_server/text.rs"]
mod text;
#[path = "../examples/speech_server/wav.rs"]
mod wav;

#[path = "support/collector.rs"]
mod collector;
#[path = "speech_server/harness.rs"]
mod harness;
#[path = "speech_server/prometheus.rs"]
mod prometheus;
#[path = "support/received.rs"]
mod received;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser as _;
use tracing_subscriber::prelude::*;
use tracing_subscriber::EnvFilter;
use tts_otel::semconv::{defaults, env, metric, DIAGNOSTICS_TARGET};
use tts_otel::MonitorConfig;

use crate::collector::Collector;
use crate::config::Config;
use crate::corpus::Planned;
use crate::harness::{require, Harness};
use crate::prometheus::Prometheus;
use crate::received::Received;
use crate::telemetry::Telemetry;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const WARM_UP: Duration = Duration::from_secs(3);

/// The bounds of each phase, from the environment.
#[derive(Clone, Copy, Debug)]
struct Bounds {
    seconds: u64,
    clients: usize,
    max_requests: usize,
}

impl Bounds {
    fn from_env() -> Self {
        let var = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        Bounds {
            seconds: var("LOAD_SECONDS", 10),
            clients: var("LOAD_CLIENTS", 32) as usize,
            max_requests: var("LOAD_MAX_REQUESTS", 300_000) as usize,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Workload {
    Corpus,
    CacheHot,
}

impl Workload {
    fn parse(name: &str) -> Option<Self> {
        [Workload::Corpus, Workload::CacheHot]
            .into_iter()
            .find(|w| format!("{w:?}") == name)
    }

    fn plan(self, n: usize) -> Vec<Planned> {
        match self {
            Workload::Corpus => corpus::plan(n),
            Workload::CacheHot => (0..n)
                .map(|i| Planned {
                    text: "Hello there, this sentence is served from the cache.".into(),
                    voice: "en-us",
                    speed: 1.0,
                    stream: i % 4 == 0,
                })
                .collect(),
        }
    }
}

/// What the clients saw of one phase.
#[derive(Clone, Copy, Debug, Default)]
struct Seen {
    /// Answered 200, warm-up included.
    served: u64,
    /// Answered anything else, or not at all.
    failed: u64,
    /// Answered 200 within the timed part.
    timed: u64,
    seconds: f64,
    /// CPU time of the whole process (server and clients, not the engine's processes) over
    /// the timed part.
    cpu_seconds: f64,
}

impl Seen {
    fn per_second(&self) -> f64 {
        self.timed as f64 / self.seconds
    }

    /// CPU microseconds per request of the timed part; unlike throughput, it hardly moves when
    /// other processes take the machine's cores.
    fn cpu_micros_per_request(&self) -> f64 {
        self.cpu_seconds * 1e6 / self.timed as f64
    }
}

/// User and system CPU time of this process so far, in seconds, from `/proc/self/stat` (in
/// `USER_HZ`, 100 a second on every Linux architecture); zero where there is none.
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    // Fields 14 and 15 of the line, counted from the state, the third field.
    let mut fields = after_name.split_whitespace().skip(11);
    let mut ticks = || {
        fields
            .next()
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks() + ticks()) as f64 / 100.0
}

/// Sends the plan to `base` with `clients` clients until `deadline` or the plan's end;
/// returns (answered 200, answered otherwise).
async fn drive(
    base: &str,
    plan: &Arc<Vec<Planned>>,
    next: &Arc<AtomicUsize>,
    clients: usize,
    deadline: Instant,
) -> (u64, u64) {
    let client = client::http_client();
    let url = format!("{base}/v1/audio/speech");
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (plan, next) = (Arc::clone(plan), Arc::clone(next));
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0, 0);
                while Instant::now() < deadline {
                    let Some(request) = plan.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    if send(&client, &url, request).await {
                        ok += 1;
                    } else {
                        failed += 1;
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    let mut totals = (0, 0);
    for worker in workers {
        let (ok, failed) = worker.await.unwrap_or((0, 1));
        totals = (totals.0 + ok, totals.1 + failed);
    }
    totals
}

/// Sends one request and reads its whole body; whether it was answered 200.
async fn send(client: &reqwest::Client, url: &str, request: &Planned) -> bool {
    let body = serde_json::json!({
        "model": "tts-1",
        "input": request.text,
        "voice": request.voice,
        "speed": request.speed,
        "stream": request.stream,
    });
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await;
    let Ok(response) = response else { return false };
    let ok = response.status() == reqwest::StatusCode::OK;
    response.bytes().await.is_ok() && ok
}

/// A warm-up, then the timed part, both on the same plan.
async fn phase(base: &str, workload: Workload, bounds: Bounds) -> Seen {
    let plan = Arc::new(workload.plan(bounds.max_requests));
    let next = Arc::new(AtomicUsize::new(0));
    let warm = drive(base, &plan, &next, bounds.clients, Instant::now() + WARM_UP).await;
    let (began, cpu) = (Instant::now(), process_cpu_seconds());
    let deadline = began + Duration::from_secs(bounds.seconds);
    let timed = drive(base, &plan, &next, bounds.clients, deadline).await;
    Seen {
        served: warm.0 + timed.0,
        failed: warm.1 + timed.1,
        timed: timed.0,
        seconds: began.elapsed().as_secs_f64(),
        cpu_seconds: process_cpu_seconds() - cpu,
    }
}

/// A phase against a server with nothing recording.
async fn without_telemetry(workload: Workload, bounds: Bounds) -> Result<Seen, BoxError> {
    let exports = tempfile::tempdir()?;
    let config = Config::parse_from([
        "speech_server",
        "--listen",
        "127.0.0.1:0",
        "--export-dir",
        exports.path().to_str().ok_or("a UTF-8 temporary path")?,
    ]);
    let off = Telemetry::off(MonitorConfig::default())?;
    let running = server::start(&config, &off).await?;
    let seen = phase(&format!("http://{}", running.addr), workload, bounds).await;
    running.stop().await?;
    off.shutdown();
    Ok(seen)
}

/// A phase against a server with the example's telemetry; also checks that the monitor,
/// `/metrics` and a Prometheus server scraping it recorded exactly the requests served, and
/// flushes the OTLP export for the run to check the collector's count.
async fn with_telemetry(workload: Workload, bounds: Bounds) -> Seen {
    let server = Harness::start(&[]).await;
    let prometheus = Prometheus::start(server.base.trim_start_matches("http://"));
    prometheus.wait_until_up().await;
    let recorded = |s: tts_otel::Summary| s.window.recorded_total;
    let before = (
        recorded(server.summary().await),
        server.metrics().await.syntheses(),
    );
    let seen = phase(&server.base, workload, bounds).await;

    // A streamed response can end at the client a moment before its span closes.
    let settle = Instant::now() + Duration::from_secs(10);
    let mut monitored = recorded(server.summary().await) - before.0;
    while monitored < seen.served && Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(50)).await;
        monitored = recorded(server.summary().await) - before.0;
    }
    let exported = server.metrics().await.syntheses() - before.1;
    println!(
        "{workload:?}: served {}, monitor recorded {monitored}, /metrics counted {exported}",
        seen.served
    );
    assert_eq!(
        monitored, seen.served,
        "{workload:?}: the monitor lost or added requests"
    );
    assert_eq!(
        exported, seen.served as f64,
        "{workload:?}: /metrics lost or added requests"
    );

    let expected = before.1 + seen.served as f64;
    let query = format!("sum({SCRAPED_SYNTHESES})");
    let scraped = prometheus
        .query_until(&query, "", |samples| {
            samples.len() == 1 && samples[0].1 >= expected
        })
        .await;
    println!(
        "{workload:?}: Prometheus counted {}",
        scraped[0].1 - before.1
    );
    assert_eq!(
        scraped[0].1, expected,
        "{workload:?}: Prometheus lost or added requests"
    );
    server.flush_telemetry();
    server.stop().await;
    seen
}

/// `tts.synthesis.duration`'s count as Prometheus names it when it scrapes `/metrics`.
const SCRAPED_SYNTHESES: &str = "tts_synthesis_duration_seconds_count";

/// Syntheses counted in the last `tts.synthesis.duration` point of each series that the
/// collector printed; with cumulative temporality, every synthesis it received.
fn collector_syntheses(output: &str) -> u64 {
    let mut latest = std::collections::BTreeMap::new();
    for point in Received::parse(output).points {
        if point.metric == metric::SYNTHESIS_DURATION {
            latest.insert(point.attrs, point.count.unwrap_or(0));
        }
    }
    latest.values().sum()
}

/// One phase, run in a process of its own by the test below: `LOAD_PHASE` is `off`, `log` or
/// `on`,
/// `LOAD_WORKLOAD` `Corpus` or `CacheHot`; it prints its figures on a line of its own.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "one phase of the load run, started by the_speech_server_under_load_..."]
async fn load_phase() -> Result<(), BoxError> {
    let (Ok(telemetry), Ok(workload)) = (std::env::var(PHASE), std::env::var(WORKLOAD)) else {
        return Ok(()); // not started by the load run
    };
    let workload = Workload::parse(&workload).ok_or("LOAD_WORKLOAD is Corpus or CacheHot")?;
    let bounds = Bounds::from_env();
    let seen = match telemetry.as_str() {
        "on" => with_telemetry(workload, bounds).await,
        "log" => {
            // The pipeline's default filter; its printed log also holds back the first-audio
            // markers, which are INFO events of the crate's own target.
            let directives = format!("{},{DIAGNOSTICS_TARGET}=warn", defaults::LOG_FILTER);
            let filter = EnvFilter::new(directives);
            let log = tracing_subscriber::fmt::layer().with_filter(filter);
            tracing_subscriber::registry().with(log).try_init()?;
            without_telemetry(workload, bounds).await?
        }
        _ => without_telemetry(workload, bounds).await?,
    };
    println!(
        "{RESULT} {} {} {} {} {}",
        seen.served, seen.timed, seen.failed, seen.seconds, seen.cpu_seconds
    );
    Ok(())
}

const PHASE: &str = "LOAD_PHASE";
const WORKLOAD: &str = "LOAD_WORKLOAD";
const RESULT: &str = "LOAD_RESULT";

/// Runs one phase in a new process of this test binary; its figures. A phase with `collector`
/// exports its traces and metrics there over OTLP/HTTP, metrics every second.
fn run_phase(
    workload: Workload,
    telemetry: &str,
    collector: Option<&Collector>,
) -> Result<Seen, BoxError> {
    let mut command = std::process::Command::new(std::env::current_exe()?);
    command
        .args(["--ignored", "--exact", "load_phase", "--nocapture"])
        .env(PHASE, telemetry)
        .env(WORKLOAD, format!("{workload:?}"));
    if let Some(collector) = collector {
        command
            .env(env::OTLP_ENDPOINT, collector.http_endpoint())
            .env(env::OTLP_PROTOCOL, "http/protobuf")
            .env(env::METRIC_EXPORT_INTERVAL, "1000");
    }
    let output = command.output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let worth = ["served", "counted", "panicked", "Error"];
    for line in stdout
        .lines()
        .filter(|l| worth.iter().any(|w| l.contains(w)))
    {
        println!("  [{workload:?} {telemetry}] {line}");
    }
    let line = stdout.lines().find(|l| l.starts_with(RESULT));
    let line = line.ok_or_else(|| format!("the phase printed no result: {output:?}"))?;
    let mut figures = line.split_whitespace().skip(1);
    let mut next = || figures.next().ok_or("a short result line");
    Ok(Seen {
        served: next()?.parse()?,
        timed: next()?.parse()?,
        failed: next()?.parse()?,
        seconds: next()?.parse()?,
        cpu_seconds: next()?.parse()?,
    })
}

const WAYS: [&str; 3] = ["off", "log", "on"];

/// The order of the ways in round `round`: forwards, then backwards, and so on, so that a
/// drift of the machine's speed during the run favours no way.
fn order(round: u64) -> [&'static str; 3] {
    let mut ways = WAYS;
    if round % 2 == 1 {
        ways.reverse();
    }
    ways
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    match values.len() % 2 {
        0 if mid > 0 => (values[mid - 1] + values[mid]) / 2.0,
        _ => values.get(mid).copied().unwrap_or(f64::NAN),
    }
}

/// An `on` phase exporting to a collector of its own; checks that the collector received a
/// count of exactly the requests served.
fn exported_phase(workload: Workload) -> Result<Seen, BoxError> {
    let collector = Collector::printing(&["metrics"]);
    let seen = run_phase(workload, "on", Some(&collector))?;
    let output = collector.wait_for(Duration::from_secs(15), "every synthesis", |out| {
        collector_syntheses(out) >= seen.served
    });
    let received = collector_syntheses(&output);
    println!("  [{workload:?} on] the collector counted {received}");
    assert_eq!(
        received, seen.served,
        "{workload:?}: the collector lost or added requests"
    );
    Ok(seen)
}

#[test]
#[ignore = "a load run: cargo test --release --features http --test load -- --ignored --nocapture"]
fn the_speech_server_under_load_records_every_request_it_serves() -> Result<(), BoxError> {
    require("espeak-ng", "--version");
    let bounds = Bounds::from_env();
    let rounds = std::env::var("LOAD_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2);
    println!("{bounds:?}, {rounds} rounds, warm-up {WARM_UP:?} per phase, one process each");
    println!("workload | way | served (timed) | failed | seconds | requests/s | CPU us/request");
    let mut all = Vec::new();
    let chosen = std::env::var("LOAD_WORKLOADS").unwrap_or_default();
    let workloads = [Workload::Corpus, Workload::CacheHot].into_iter();
    let workloads = workloads.filter(|w| chosen.is_empty() || chosen.contains(&format!("{w:?}")));
    for workload in workloads {
        let mut by_way: [Vec<Seen>; 3] = Default::default();
        for round in 0..rounds {
            for way in order(round) {
                let seen = if way == "on" {
                    exported_phase(workload)?
                } else {
                    run_phase(workload, way, None)?
                };
                println!(
                    "{:<8} | {way:<3} | {:>6} ({:>6}) | {:>6} | {:>7.1} | {:>10.1} | {:>8.1}",
                    format!("{workload:?}"),
                    seen.served,
                    seen.timed,
                    seen.failed,
                    seen.seconds,
                    seen.per_second(),
                    seen.cpu_micros_per_request(),
                );
                by_way[WAYS.iter().position(|w| *w == way).unwrap_or_default()].push(seen);
                all.push(seen);
            }
        }
        let medians = by_way.map(|seen| {
            let rate = median(seen.iter().map(Seen::per_second).collect());
            let cpu = median(seen.iter().map(Seen::cpu_micros_per_request).collect());
            (rate, cpu)
        });
        let [off, log, on] = medians;
        println!(
            "{workload:?} medians: requests/s off {:.1}, log {:.1}, on {:.1} (on / off {:.3}); \
             CPU us/request off {:.1}, log {:.1}, on {:.1} (on - off {:.1}, on - log {:.1})",
            off.0,
            log.0,
            on.0,
            on.0 / off.0,
            off.1,
            log.1,
            on.1,
            on.1 - off.1,
            on.1 - log.1,
        );
    }
    for seen in &all {
        assert_eq!(seen.failed, 0, "every request is answered 200");
        assert!(seen.timed > 0);
    }
    Ok(())
}
