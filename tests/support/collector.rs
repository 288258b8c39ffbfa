//! A real OTLP collector for tests: `rotel-agent`, started on free loopback ports with its
//! debug exporter printing every span and metric it receives to a log file, and stopped by its
//! pid on drop.

use std::fs::OpenOptions;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a collector may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(15);

const INSTALL_HINT: &str = "the rotel collector is not installed: run \
    `scripts/install-deps.sh` (it runs `pip install rotel`), or point ROTEL_AGENT at a \
    rotel-agent binary";

/// A running collector.
pub struct Collector {
    child: Option<Child>,
    grpc_port: u16,
    http_port: u16,
    /// The signals whose data the collector prints: `traces`, `metrics` or both.
    printed: &'static [&'static str],
    dir: tempfile::TempDir,
}

impl Collector {
    /// Starts a collector on two free loopback ports, failing the test when rotel is missing.
    pub fn start() -> Collector {
        Collector::printing(&["traces", "metrics"])
    }

    /// Starts a collector that receives every signal but prints only the `printed` ones, for
    /// runs whose spans would flood its log.
    pub fn printing(printed: &'static [&'static str]) -> Collector {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut collector = Collector {
            child: None,
            grpc_port: free_port(),
            http_port: free_port(),
            printed,
            dir,
        };
        collector.restart();
        collector
    }

    /// `http://127.0.0.1:PORT` of the OTLP/gRPC receiver.
    pub fn grpc_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    /// `http://127.0.0.1:PORT` of the OTLP/HTTP receiver, without a signal path.
    pub fn http_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// Stops the collector: its process is killed by pid and reaped.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the collector again on the same ports, appending to the same log.
    pub fn restart(&mut self) {
        self.stop();
        let agent = agent_path();
        let log = self.log_path();
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("collector log");
        let err = out.try_clone().expect("collector log");
        let mut command = Command::new(&agent);
        command.arg("start");
        for signal in self.printed {
            command.args(["--debug-log", signal]);
        }
        let child = command
            .args([
                "--otlp-grpc-endpoint",
                &format!("127.0.0.1:{}", self.grpc_port),
            ])
            .args([
                "--otlp-http-endpoint",
                &format!("127.0.0.1:{}", self.http_port),
            ])
            .args(["--exporter", "blackhole"])
            .args(["--debug-log-verbosity", "detailed"])
            .args(["--batch-timeout", "50ms"])
            .arg("--pid-file")
            .arg(self.dir.path().join("rotel.pid"))
            .arg("--log-file")
            .arg(self.dir.path().join("rotel-agent.log"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("{INSTALL_HINT} ({}: {e})", agent.display()));
        self.child = Some(child);
        self.wait_listening();
    }

    fn wait_listening(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        for port in [self.grpc_port, self.http_port] {
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
                if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                    panic!("rotel exited with {status}:\n{}", self.output());
                }
                assert!(Instant::now() < deadline, "rotel did not listen on {port}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Where the collector's output goes.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("collector.log")
    }

    /// Everything the collector printed so far, without terminal colour codes.
    pub fn output(&self) -> String {
        strip_ansi(&std::fs::read_to_string(self.log_path()).unwrap_or_default())
    }

    /// Waits until the output satisfies `done`, returning it; fails the test after `timeout`.
    pub fn wait_for(&self, timeout: Duration, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let output = self.output();
            if done(&output) {
                return output;
            }
            assert!(
                Instant::now() < deadline,
                "collector never received {what}; it printed:\n{output}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// The `rotel-agent` binary: `ROTEL_AGENT`, else the one inside the installed `rotel` package,
/// else one on the `PATH`.
fn agent_path() -> PathBuf {
    if let Some(path) = std::env::var_os("ROTEL_AGENT") {
        return PathBuf::from(path);
    }
    let script = "import os, rotel; print(os.path.dirname(rotel.__file__))";
    let found = Command::new("python3").args(["-c", script]).output();
    if let Some(out) = found.ok().filter(|o| o.status.success()) {
        let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let agent = Path::new(&dir).join("rotel-agent");
        if agent.is_file() {
            return agent;
        }
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("rotel-agent"))
            .find(|p| p.is_file())
    });
    on_path.unwrap_or_else(|| panic!("{INSTALL_HINT}"))
}

pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
