//! The in-process server harness: global telemetry installed once, a server per test on a
//! free loopback port with an export folder of its own, and readers of its endpoints.

use std::process::Command;
use std::sync::OnceLock;

use bytes::Bytes;
use clap::Parser as _;
use reqwest::header::CONTENT_TYPE;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::sync::{Mutex, MutexGuard};
use tts_otel::http::routes;
use tts_otel::{MonitorConfig, Summary};

use crate::config::Config;
use crate::server::{self, Running};
use crate::telemetry::Telemetry;
use crate::{client, wav};

/// Serialises the tests: they share the global subscriber and compare counts.
static SERIAL: Mutex<()> = Mutex::const_new(());

fn telemetry() -> &'static Telemetry {
    static TELEMETRY: OnceLock<Telemetry> = OnceLock::new();
    TELEMETRY.get_or_init(|| {
        Telemetry::install(MonitorConfig::default()).expect("the first subscriber of the process")
    })
}

/// Fails the test with a clear message when a tool the tests need is not installed.
pub fn require(tool: &str, version_flag: &str) {
    let found = Command::new(tool)
        .arg(version_flag)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`{tool}` is not installed or does not run; install it with scripts/install-deps.sh"
    );
}

/// A started server, its base URL and an HTTP client; holds the test lock while it lives.
pub struct Harness {
    pub base: String,
    pub client: reqwest::Client,
    running: Option<Running>,
    /// Holds the export folder, `exports/` inside it, and nothing else.
    pub root: tempfile::TempDir,
    _serial: MutexGuard<'static, ()>,
}

impl Harness {
    pub async fn start(extra: &[&str]) -> Harness {
        require("espeak-ng", "--version");
        let serial = SERIAL.lock().await;
        let root = tempfile::tempdir().expect("a temporary folder");
        let exports = root.path().join("exports");
        let exports = exports.to_str().expect("a UTF-8 temporary path");
        let mut args = vec![
            "speech_server",
            "--listen",
            "127.0.0.1:0",
            "--export-dir",
            exports,
        ];
        args.extend_from_slice(extra);
        let config = Config::parse_from(args);
        let running = server::start(&config, telemetry())
            .await
            .expect("the server starts");
        Harness {
            base: format!("http://{}", running.addr),
            client: client::http_client(),
            running: Some(running),
            root,
            _serial: serial,
        }
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("a clean stop");
        }
    }

    pub async fn speak(&self, body: &Value) -> (StatusCode, Bytes) {
        self.post_raw("/v1/audio/speech", "application/json", body.to_string())
            .await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: String,
    ) -> (StatusCode, Bytes) {
        let url = format!("{}{path}", self.base);
        let response = self
            .client
            .post(url)
            .header(CONTENT_TYPE, content_type)
            .body(body);
        let response = response.send().await.expect("the server answers");
        let status = response.status();
        (status, response.bytes().await.expect("a whole body"))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Bytes) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("the server answers");
        let status = response.status();
        (status, response.bytes().await.expect("a whole body"))
    }

    /// Exports the process's telemetry now, where a collector is configured.
    pub fn flush_telemetry(&self) {
        telemetry()
            .flush()
            .expect("the telemetry flushes within its bound");
    }

    pub async fn metrics(&self) -> Metrics {
        let (status, body) = self.get("/metrics").await;
        assert_eq!(status, StatusCode::OK);
        Metrics(String::from_utf8(body.to_vec()).expect("UTF-8 exposition text"))
    }

    pub async fn summary(&self) -> Summary {
        let (status, body) = self.get(routes::STATS).await;
        assert_eq!(status, StatusCode::OK);
        serde_json::from_slice(&body).expect("a summary")
    }

    /// Asserts the server still synthesises.
    pub async fn assert_serving(&self) {
        let (status, body) = self
            .speak(&json!({"input": "Still here.", "voice": "en-gb"}))
            .await;
        assert_eq!(status, StatusCode::OK, "the server stopped serving");
        wav::parse(&body).expect("a WAV body");
    }
}

/// A Prometheus exposition, summed by metric name and label matchers.
pub struct Metrics(String);

impl Metrics {
    /// Sum of the samples of `name` whose labels include every `key="value"` of `labels`.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
            .filter(|l| {
                labels
                    .iter()
                    .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub fn syntheses(&self) -> f64 {
        self.sum("tts_synthesis_duration_seconds_count", &[])
    }
}

pub fn error_code(body: &Bytes) -> String {
    let value: Value = serde_json::from_slice(body).expect("a JSON error body");
    value["error"]["code"]
        .as_str()
        .expect("an error code")
        .to_owned()
}
