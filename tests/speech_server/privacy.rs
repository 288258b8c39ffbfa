//! The request text and the collector's API keys reach no output of the speech server: not the
//! collector, not the log, not `/metrics`, `/performance/stats`, the RTF trend or an export.
//!
//! The server runs in a child process (see `support::child`) with its telemetry exported to a
//! real collector and an API key in `OTEL_EXPORTER_OTLP_HEADERS`, so the parent reads the
//! server's whole log from the child's output, and the collector's output once telemetry was
//! flushed at the child's exit.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser as _;
use reqwest::header::CONTENT_TYPE;
use reqwest::StatusCode;
use serde_json::json;
use tts_otel::http::routes;
use tts_otel::semconv::{attr, field, metric};
use tts_otel::MonitorConfig;

use crate::config::Config;
use crate::harness::require;
use crate::support::child::{self, ChildTest};
use crate::support::collector::Collector;
use crate::support::received::Received;
use crate::support::search::assert_none_carries;
use crate::telemetry::Telemetry;
use crate::{client, server};

const MARKER_VAR: &str = "TTS_OTEL_PRIVACY_MARKER";
const DIR_VAR: &str = "TTS_OTEL_PRIVACY_DIR";
const CHILD_LIMIT: Duration = Duration::from_secs(120);

/// The child's side: does nothing unless the parent started it.
#[test]
#[ignore = "run in a child process by the privacy test"]
fn scenario() {
    if child::scenario().is_some() {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let telemetry = Telemetry::install(MonitorConfig::default()).expect("the subscriber");
        runtime.block_on(serve_the_marker(&telemetry));
        drop(runtime);
        telemetry.shutdown();
    }
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("the parent sets {name}"))
}

/// Sends the marker as text, voice, header and field to a server whose engine works, and as
/// text to one whose engine fails quoting its input; keeps every endpoint's answer in the
/// parent's folder.
async fn serve_the_marker(telemetry: &Telemetry) {
    let marker = var(MARKER_VAR);
    let dir = PathBuf::from(var(DIR_VAR));
    let exports = dir.join("exports");
    let working = config(&exports, &[]);
    let running = server::start(&working, telemetry).await.expect("a server");
    let base = format!("http://{}", running.addr);
    send_the_marker(&base, &marker).await;
    keep_the_endpoints(&base, &dir).await;
    running.stop().await.expect("a clean stop");

    let quoting = quoting_engine(&dir);
    let failing = config(
        &exports,
        &["--espeak", quoting.to_str().expect("a UTF-8 path")],
    );
    let running = server::start(&failing, telemetry).await.expect("a server");
    let base = format!("http://{}", running.addr);
    let body = json!({"input": format!("Fails on {marker}."), "voice": "en-us"});
    let (status, _) = post(&base, &marker, body.to_string()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    running.stop().await.expect("a clean stop");
    std::fs::remove_file(quoting).expect("the engine stub removed");
}

fn config(exports: &Path, extra: &[&str]) -> Config {
    let exports = exports.to_str().expect("a UTF-8 path");
    let mut args = vec!["speech_server", "--listen", "127.0.0.1:0"];
    args.extend(["--export-dir", exports, "--max-input-chars", "200"]);
    args.extend_from_slice(extra);
    Config::parse_from(args)
}

/// An engine that fails and writes its input, the request text, to stderr.
fn quoting_engine(dir: &Path) -> PathBuf {
    let path = dir.join("quoting-engine.sh");
    std::fs::write(&path, "#!/bin/sh\ncat >&2\nexit 1\n").expect("the engine stub");
    let executable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&path, executable).expect("the engine stub is executable");
    path
}

async fn post(base: &str, marker: &str, body: String) -> (StatusCode, bytes::Bytes) {
    let response = client::http_client()
        .post(format!("{base}/v1/audio/speech"))
        .header(CONTENT_TYPE, "application/json")
        .header("authorization", format!("Bearer {marker}"))
        .header("x-api-key", marker)
        .header("x-request-id", marker)
        .body(body)
        .send()
        .await
        .expect("the server answers");
    let status = response.status();
    (status, response.bytes().await.expect("a body"))
}

async fn send_the_marker(base: &str, marker: &str) {
    let text = format!("Please say {marker} out loud. Then stop.");
    let good = [
        json!({"input": text, "voice": "en-us"}),
        json!({"input": text, "voice": "en-us"}),
        json!({"input": text, "voice": "de", "stream": true}),
    ];
    for body in good {
        let (status, _) = post(base, marker, body.to_string()).await;
        assert_eq!(status, StatusCode::OK);
    }
    let bad = [
        json!({"input": format!("{marker} ").repeat(20), "voice": "en-us"}).to_string(),
        json!({"input": text, "voice": marker}).to_string(),
        json!({"input": text, "voice": "en-us", "speed": marker}).to_string(),
        json!({"input": text, "voice": "en-us", "response_format": marker}).to_string(),
        format!("{{\"input\": \"{marker}\", "),
    ];
    for body in bad {
        let (status, _) = post(base, marker, body).await;
        assert!(status.is_client_error(), "{status}");
    }
}

/// Writes what `/metrics`, the stats, the trend and an export answer into `dir`.
async fn keep_the_endpoints(base: &str, dir: &Path) {
    let client = client::http_client();
    let trend = format!("{}?minutes=5", routes::RTF_TREND);
    for (path, file) in [
        (routes::METRICS, "metrics.txt"),
        (routes::STATS, "stats.json"),
        (trend.as_str(), "trend.json"),
    ] {
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        std::fs::write(dir.join(file), response.bytes().await.unwrap()).unwrap();
    }
    let response = client
        .post(format!("{base}{}", routes::EXPORT))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// Every file under `root`, at any depth, with its text.
fn files(root: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            found.push((path.display().to_string(), text));
        }
    }
    found
}

#[test]
fn the_request_text_headers_and_api_keys_reach_no_output_of_the_server() {
    require("espeak-ng", "--version");
    let marker = format!("planted{}x", std::process::id());
    let collector = Collector::start();
    let dir = tempfile::tempdir().expect("a folder");
    let finished = ChildTest::spawn(
        "privacy::scenario",
        "privacy",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.http_endpoint()),
            ("OTEL_EXPORTER_OTLP_HEADERS", format!("api-key={marker}")),
            ("OTEL_METRIC_EXPORT_INTERVAL", "500".to_owned()),
            ("RUST_LOG", "trace".to_owned()),
            (MARKER_VAR, marker.clone()),
            (DIR_VAR, dir.path().display().to_string()),
        ],
    )
    .finish(CHILD_LIMIT);

    // The four syntheses (one from the cache, one failed) and the metrics of the last export.
    let output = collector.wait_for(Duration::from_secs(20), "the syntheses", |out| {
        let received = Received::parse(out);
        let failed = [(attr::ERROR_TYPE, "engine_exit")];
        received.spans_named(field::SYNTHESIS_SPAN).len() >= 4
            && received
                .latest(metric::SYNTHESIS_DURATION, &failed)
                .is_some()
    });
    assert!(
        finished.output.contains("synthesis failed"),
        "the failure was logged:\n{}",
        finished.output
    );
    let mut outputs = files(dir.path());
    assert!(
        outputs.iter().any(|(path, _)| path.contains("exports")),
        "an export was written: {outputs:?}"
    );
    outputs.push(("the collector's output".to_owned(), output));
    outputs.push(("the server's log".to_owned(), finished.output));
    assert_none_carries(&outputs, &marker);
}
