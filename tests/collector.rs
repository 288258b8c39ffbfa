//! The pipeline against a real OTLP collector (`rotel`), over gRPC and HTTP/protobuf: what the
//! collector printed is read back and checked against the telemetry contract.
#![cfg(feature = "otlp")]

mod support;

use std::time::{Duration, Instant};

use support::collector::{free_port, Collector};
use support::received::Received;
use tracing::Dispatch;
use tracing_subscriber::prelude::*;
use tts_otel::pipeline::{Pipeline, Protocol, TelemetryGuard};
use tts_otel::semconv::{attr, buckets, field, metric, unit};

const SERVICE: &str = "tts-otel-collector-test";
const BOUND: Duration = Duration::from_secs(3);
const ARRIVAL: Duration = Duration::from_secs(15);
/// Slack over a bound for thread start-up on a loaded machine.
const SLACK: Duration = Duration::from_millis(500);

fn endpoint(collector: &Collector, protocol: Protocol) -> String {
    match protocol {
        Protocol::Grpc => collector.grpc_endpoint(),
        _ => collector.http_endpoint(),
    }
}

/// A subscriber with the pipeline's layers, not installed globally, and its guard.
fn pipeline(endpoint: &str, protocol: Protocol, bound: Duration) -> (Dispatch, TelemetryGuard) {
    pipeline_with(endpoint, protocol, bound, |p| p)
}

fn pipeline_with(
    endpoint: &str,
    protocol: Protocol,
    bound: Duration,
    configure: impl FnOnce(Pipeline) -> Pipeline,
) -> (Dispatch, TelemetryGuard) {
    let pipeline = Pipeline::from_env()
        .with_service_name(SERVICE)
        .with_protocol(protocol)
        .with_endpoint(endpoint)
        .with_metric_export_interval(Duration::from_millis(200))
        .with_shutdown_timeout(bound);
    let providers = configure(pipeline).build_providers().expect("pipeline");
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(providers.layers()));
    let guard = tracing::dispatcher::with_default(&dispatch, || providers.start());
    (dispatch, guard)
}

/// One synthesis of `voice` with an inference stage and a first-audio marker.
fn synthesise(voice: &str, cached: bool) {
    let span = tracing::info_span!(
        "tts.synthesize",
        tts.voice = voice,
        tts.model = "kokoro",
        tts.text.chars = 42_i64,
        tts.audio.seconds = 2.0,
        tts.cache.hit = cached,
    );
    span.in_scope(|| {
        tracing::info_span!("tts.stage.inference")
            .in_scope(|| std::thread::sleep(Duration::from_millis(2)));
        tts_otel::first_audio();
    });
}

fn received_everything(output: &str) -> bool {
    let received = Received::parse(output);
    received.spans_named(field::SYNTHESIS_SPAN).len() == 3
        && received.latest(metric::CACHE_REQUESTS, &[]).is_some()
}

fn spans_and_metrics_arrive(protocol: Protocol) {
    let collector = Collector::start();
    let (dispatch, mut guard) = pipeline(&endpoint(&collector, protocol), protocol, BOUND);
    tracing::dispatcher::with_default(&dispatch, || {
        synthesise("en-us", false);
        synthesise("en-us", false);
        synthesise("en-us", true);
    });
    guard.shutdown().expect("shutdown within its bound");

    let output = collector.wait_for(ARRIVAL, "3 spans and metrics", received_everything);
    let received = Received::parse(&output);
    check_spans(&received);
    check_metrics(&received);
}

fn check_spans(received: &Received) {
    let spans = received.spans_named(field::SYNTHESIS_SPAN);
    for span in &spans {
        assert_eq!(
            span.attrs.get(field::VOICE).map(String::as_str),
            Some("en-us")
        );
        assert_eq!(
            span.attrs.get(field::MODEL).map(String::as_str),
            Some("kokoro")
        );
        assert_eq!(
            span.attrs.get(field::TEXT_CHARS).map(String::as_str),
            Some("42")
        );
        assert_eq!(
            span.attrs.get(field::AUDIO_SECONDS).map(String::as_str),
            Some("2")
        );
        assert_eq!(
            span.resource.get("service.name").map(String::as_str),
            Some(SERVICE)
        );
    }
    let hits = spans
        .iter()
        .filter(|s| s.attrs.get(field::CACHE_HIT).is_some_and(|h| h == "true"));
    assert_eq!(hits.count(), 1);
    assert_eq!(received.spans_named("tts.stage.inference").len(), 3);
    let foreign: Vec<_> = received
        .spans
        .iter()
        .filter(|s| !s.name.starts_with("tts."))
        .collect();
    assert!(
        foreign.is_empty(),
        "the export machinery was traced: {foreign:#?}"
    );
}

fn check_metrics(received: &Received) {
    let voice = (attr::VOICE, "en-us");
    let miss = (attr::CACHE_RESULT, attr::CACHE_MISS);
    let hit = (attr::CACHE_RESULT, attr::CACHE_HIT);
    let histogram = |name: &str, attrs: &[(&str, &str)], count: u64, unit: &str, bounds: &[f64]| {
        let point = received
            .latest(name, attrs)
            .unwrap_or_else(|| panic!("no {name} {attrs:?} in {:#?}", received.points));
        assert_eq!(point.data_type, "Histogram", "{name}");
        assert_eq!(point.count, Some(count), "{name} {attrs:?}");
        assert_eq!(point.unit, unit, "{name}");
        assert_eq!(point.bounds, bounds, "{name}");
        assert_eq!(point.buckets.iter().sum::<u64>(), count, "{name}");
    };
    let duration = buckets::DURATION_SECONDS;
    histogram(
        metric::SYNTHESIS_DURATION,
        &[voice, miss],
        2,
        unit::SECONDS,
        duration,
    );
    histogram(
        metric::SYNTHESIS_DURATION,
        &[voice, hit],
        1,
        unit::SECONDS,
        duration,
    );
    histogram(
        metric::SYNTHESIS_RTF,
        &[voice, miss],
        2,
        unit::RATIO,
        buckets::RTF,
    );
    let ttfa = buckets::TIME_TO_FIRST_AUDIO_SECONDS;
    histogram(
        metric::TIME_TO_FIRST_AUDIO,
        &[voice],
        3,
        unit::SECONDS,
        ttfa,
    );
    histogram(
        metric::AUDIO_DURATION,
        &[voice],
        3,
        unit::SECONDS,
        buckets::AUDIO_SECONDS,
    );
    histogram(
        metric::TEXT_CHARS,
        &[voice],
        3,
        unit::CHAR,
        buckets::TEXT_CHARS,
    );
    histogram(
        metric::STAGE_DURATION,
        &[(attr::STAGE, "inference")],
        3,
        unit::SECONDS,
        duration,
    );

    let sum = |name: &str, attrs: &[(&str, &str)]| {
        let point = received.latest(name, attrs).expect(name);
        assert_eq!(point.data_type, "Sum", "{name}");
        (point.value, point.unit.clone())
    };
    let requests = unit::REQUEST.to_owned();
    assert_eq!(
        sum(metric::CACHE_REQUESTS, &[voice, miss]),
        (Some(2.0), requests.clone())
    );
    assert_eq!(
        sum(metric::CACHE_REQUESTS, &[voice, hit]),
        (Some(1.0), requests)
    );
    let active = sum(metric::SYNTHESIS_ACTIVE, &[]);
    assert_eq!(active, (Some(0.0), unit::SYNTHESIS.to_owned()));
}

#[test]
fn histogram_boundaries_set_in_code_reach_the_collector() {
    let collector = Collector::start();
    let bounds = vec![0.5, 1.0, 2.0];
    let (dispatch, mut guard) =
        pipeline_with(&collector.grpc_endpoint(), Protocol::Grpc, BOUND, |p| {
            p.with_histogram_boundaries(metric::SYNTHESIS_RTF, bounds.clone())
        });
    tracing::dispatcher::with_default(&dispatch, || synthesise("en-us", false));
    guard.shutdown().expect("shutdown within its bound");

    let rtf_arrived = |out: &str| {
        Received::parse(out)
            .latest(metric::SYNTHESIS_RTF, &[])
            .is_some()
    };
    let output = collector.wait_for(ARRIVAL, "the RTF histogram", rtf_arrived);
    let received = Received::parse(&output);
    let rtf = received.latest(metric::SYNTHESIS_RTF, &[]).unwrap();
    assert_eq!(rtf.bounds, bounds);
    let duration = received.latest(metric::SYNTHESIS_DURATION, &[]).unwrap();
    assert_eq!(
        duration.bounds,
        buckets::DURATION_SECONDS,
        "others keep the contract's"
    );
}

#[test]
fn boundaries_that_do_not_increase_are_refused() {
    let built = Pipeline::from_env()
        .without_export()
        .with_histogram_boundaries(metric::SYNTHESIS_RTF, vec![1.0, 0.5])
        .build_providers();
    assert!(
        matches!(built, Err(tts_otel::pipeline::Error::Config { .. })),
        "{built:?}"
    );
}

#[test]
fn spans_and_contract_metrics_arrive_over_grpc() {
    spans_and_metrics_arrive(Protocol::Grpc);
}

#[test]
fn spans_and_contract_metrics_arrive_over_http_protobuf() {
    spans_and_metrics_arrive(Protocol::HttpProtobuf);
}

fn arrived_after(collector: &Collector, from: usize, voice: &str) -> Received {
    let what = format!("a span and metrics of voice {voice}");
    let output = collector.wait_for(ARRIVAL, &what, |out| {
        let received = Received::parse(&out[from.min(out.len())..]);
        let span = received
            .spans
            .iter()
            .any(|s| s.attrs.get(field::VOICE).is_some_and(|v| v == voice));
        span && received
            .latest(metric::SYNTHESIS_DURATION, &[(attr::VOICE, voice)])
            .is_some()
    });
    Received::parse(&output[from..])
}

fn the_service_survives_a_collector_restart(protocol: Protocol) {
    let mut collector = Collector::start();
    let (dispatch, mut guard) = pipeline(&endpoint(&collector, protocol), protocol, BOUND);
    tracing::dispatcher::with_default(&dispatch, || synthesise("before", false));
    let _ = guard.flush();
    arrived_after(&collector, 0, "before");

    collector.stop();
    let started = Instant::now();
    tracing::dispatcher::with_default(&dispatch, || synthesise("outage", false));
    let _ = guard.flush();
    assert!(
        started.elapsed() <= BOUND + SLACK,
        "flush blocked past its bound"
    );

    let restarted_at = collector.output().len();
    collector.restart();
    tracing::dispatcher::with_default(&dispatch, || synthesise("after", false));
    let _ = guard.flush();
    let received = arrived_after(&collector, restarted_at, "after");
    let before = received.latest(metric::SYNTHESIS_DURATION, &[(attr::VOICE, "before")]);
    assert_eq!(
        before.and_then(|p| p.count),
        Some(1),
        "cumulative state survived"
    );
    let outage = received.latest(metric::SYNTHESIS_DURATION, &[(attr::VOICE, "outage")]);
    assert_eq!(
        outage.and_then(|p| p.count),
        Some(1),
        "what was recorded while the collector was down is counted once it is back"
    );
    guard.shutdown().expect("shutdown within its bound");
}

#[test]
fn data_sent_after_a_collector_restart_arrives_over_grpc() {
    the_service_survives_a_collector_restart(Protocol::Grpc);
}

#[test]
fn data_sent_after_a_collector_restart_arrives_over_http_protobuf() {
    the_service_survives_a_collector_restart(Protocol::HttpProtobuf);
}

#[test]
fn shutdown_returns_within_its_bound_when_no_collector_listens() {
    let cases = [Protocol::Grpc, Protocol::HttpProtobuf].map(|p| [(p, "http"), (p, "https")]);
    for (protocol, scheme) in cases.into_iter().flatten() {
        let endpoint = format!("{scheme}://127.0.0.1:{}", free_port());
        let bound = Duration::from_secs(1);
        let (dispatch, mut guard) = pipeline(&endpoint, protocol, bound);
        tracing::dispatcher::with_default(&dispatch, || synthesise("nobody", false));

        let started = Instant::now();
        let _ = guard.shutdown();
        let took = started.elapsed();
        assert!(
            took <= bound + SLACK,
            "{protocol:?}: shutdown took {took:?}"
        );
        assert!(guard.shutdown().is_ok(), "a second shutdown does nothing");
    }
}

#[tokio::test]
async fn shutdown_from_a_current_thread_runtime_delivers_the_spans() {
    let collector = Collector::start();
    let (dispatch, mut guard) = pipeline(&collector.grpc_endpoint(), Protocol::Grpc, BOUND);
    let _default = tracing::dispatcher::set_default(&dispatch);
    for cached in [false, false, true] {
        synthesise("en-us", cached);
        tokio::task::yield_now().await;
    }

    let started = Instant::now();
    guard.shutdown().expect("shutdown within its bound");
    assert!(started.elapsed() <= BOUND + SLACK);
    let output = collector.wait_for(ARRIVAL, "3 spans and metrics", received_everything);
    check_spans(&Received::parse(&output));
    drop(guard);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_guard_in_a_multi_thread_runtime_delivers_the_spans() {
    let collector = Collector::start();
    let protocol = Protocol::HttpProtobuf;
    let (dispatch, guard) = pipeline(&collector.http_endpoint(), protocol, BOUND);
    let _default = tracing::dispatcher::set_default(&dispatch);
    for cached in [false, false, true] {
        synthesise("en-us", cached);
    }

    drop(guard);
    let output = collector.wait_for(ARRIVAL, "3 spans and metrics", received_everything);
    check_metrics(&Received::parse(&output));
}

/// A TLS server with a self-signed certificate, stopped by its pid on drop.
struct SelfSignedTls {
    child: std::process::Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl SelfSignedTls {
    fn start() -> SelfSignedTls {
        let dir = tempfile::tempdir().unwrap();
        let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
        let openssl = |args: &[&str]| std::process::Command::new("openssl").args(args).output();
        let made = openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
        ]);
        let made = made.expect("openssl is missing: install the Debian package `openssl`");
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let child = std::process::Command::new("openssl")
            .args(["s_server", "-accept", &format!("127.0.0.1:{port}")])
            .args([
                "-cert",
                cert.to_str().unwrap(),
                "-key",
                key.to_str().unwrap(),
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("openssl s_server");
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "openssl s_server did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        SelfSignedTls { child, port, dir }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for SelfSignedTls {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn https_endpoints_are_reached_over_tls_and_verified() {
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let server = SelfSignedTls::start();
        let endpoint = format!("https://127.0.0.1:{}", server.port);
        let (dispatch, guard) = pipeline(&endpoint, protocol, BOUND);
        tracing::dispatcher::with_default(&dispatch, || synthesise("tls", false));

        assert!(
            guard.flush().is_err(),
            "{protocol:?}: a self-signed certificate was trusted"
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        // The client completed a TLS hello, then refused the certificate (alert 46).
        while !server.output().contains("certificate unknown") {
            let said = server.output();
            assert!(
                Instant::now() < deadline,
                "{protocol:?}: no TLS handshake:\n{said}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn debug_output_names_headers_but_never_shows_their_values() {
    let pipeline = Pipeline::from_env().with_header("x-api-key", "hunter2-secret");
    let shown = format!("{pipeline:?}");
    assert!(
        shown.contains("x-api-key") && !shown.contains("hunter2"),
        "{shown}"
    );
}

#[test]
fn a_monitor_on_the_pipeline_summarises_and_its_system_readings_are_exported() {
    let collector = Collector::start();
    let config =
        tts_otel::MonitorConfig::default().with_system_interval(Some(Duration::from_millis(250)));
    let monitor = tts_otel::Monitor::new(config);
    let (dispatch, mut guard) = pipeline_with(
        &collector.http_endpoint(),
        Protocol::HttpProtobuf,
        BOUND,
        |p| p.with_monitor(monitor.clone()),
    );
    tracing::dispatcher::with_default(&dispatch, || {
        synthesise("en-us", false);
        synthesise("en-us", true);
    });
    std::thread::sleep(Duration::from_millis(600));
    assert!(monitor.is_monitoring());
    let summary = monitor.summary();
    assert_eq!((summary.requests.total, summary.cache.hits), (2, 1));
    assert!(summary.system.latest.is_some());
    guard.shutdown().expect("shutdown within its bound");

    let output = collector.wait_for(ARRIVAL, "process memory", |out| {
        Received::parse(out)
            .latest("process.memory.usage", &[])
            .is_some()
    });
    let received = Received::parse(&output);
    let rss = received.latest("process.memory.usage", &[]).unwrap();
    assert_eq!(rss.unit, "By");
}
