//! Debian's Prometheus as a test backend.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::client;
use crate::harness::require;

/// Debian's Prometheus, started on a free loopback port with a scrape config of its own and
/// killed by pid when dropped.
pub struct Prometheus {
    child: std::process::Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    pub fn start(target: &str) -> Prometheus {
        require("prometheus", "--version");
        let dir = tempfile::tempdir().expect("a temporary folder");
        let config = dir.path().join("prometheus.yml");
        let scrape = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  \
             - job_name: speech_server\n    scrape_interval: 1s\n    static_configs:\n      \
             - targets: ['{target}']\n"
        );
        std::fs::write(&config, scrape).expect("the config is written");
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("prometheus starts");
        Prometheus {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }

    /// Polls until `check` accepts a JSON answer of `path`, or fails after `within`.
    async fn poll<T>(
        &self,
        path: &str,
        within: Duration,
        check: impl Fn(&Value) -> Option<T>,
    ) -> T {
        let client = client::http_client();
        let deadline = Instant::now() + within;
        let mut last = Value::Null;
        while Instant::now() < deadline {
            if let Ok(response) = client.get(format!("{}{path}", self.base)).send().await {
                if let Ok(value) =
                    serde_json::from_slice::<Value>(&response.bytes().await.unwrap_or_default())
                {
                    if let Some(found) = check(&value) {
                        return found;
                    }
                    last = value;
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!(
            "Prometheus did not answer {path} as expected within {within:?}; last answer: {last}"
        );
    }

    pub async fn wait_until_up(&self) {
        self.poll("/api/v1/targets", Duration::from_secs(60), |v| {
            let targets = v["data"]["activeTargets"].as_array()?;
            targets.iter().any(|t| t["health"] == "up").then_some(())
        })
        .await;
    }

    /// Polls an instant query until it yields one sample per `by` label value satisfying
    /// `accept`, and returns the samples.
    pub async fn query_until(
        &self,
        promql: &str,
        by: &str,
        accept: impl Fn(&[(String, f64)]) -> bool,
    ) -> Vec<(String, f64)> {
        let path = format!("/api/v1/query?query={}", url_encode(promql));
        self.poll(&path, Duration::from_secs(30), |v| {
            let samples: Vec<(String, f64)> = v["data"]["result"]
                .as_array()?
                .iter()
                .filter_map(|r| {
                    let label = r["metric"][by].as_str().unwrap_or_default().to_owned();
                    Some((label, r["value"][1].as_str()?.parse().ok()?))
                })
                .collect();
            accept(&samples).then_some(samples)
        })
        .await
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago.
///
/// TODO: another process may take the port between this probe and Prometheus binding it; the
/// test then fails waiting for Prometheus rather than retrying on another port.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("a bound address").port()
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
