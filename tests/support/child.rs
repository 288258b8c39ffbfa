//! Scenarios that need a process of their own: the pipeline installed as the global subscriber
//! (as `main` installs it), its log captured, environment variables set, memory measured, and
//! an exit with data pending, without other tests of the binary in the way.
//!
//! The test binary runs itself again, with only its scenario entry point (an ignored test that
//! does nothing unless [`SCENARIO_VAR`] names a scenario). The child talks on stdout with lines
//! starting with [`PREFIX`] and reads lines from stdin when the parent drives it step by step.
//! A child that outlives its deadline, or its handle, is killed by its pid.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The variable naming the scenario a child runs.
pub const SCENARIO_VAR: &str = "TTS_OTEL_TEST_SCENARIO";
/// Lines of the protocol start with this; everything else on stdout is libtest's.
pub const PREFIX: &str = "@@ ";

/// The scenario this process runs, when it is a child.
pub fn scenario() -> Option<String> {
    std::env::var(SCENARIO_VAR).ok().filter(|s| !s.is_empty())
}

/// Says `line` to the parent (child side).
pub fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // A line of its own: libtest may have left its own line unfinished.
    let _ = writeln!(out, "\n{PREFIX}{line}");
    let _ = out.flush();
}

/// Waits for the parent's next line (child side).
pub fn wait_for_parent() -> String {
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    line.trim().to_owned()
}

/// A running child.
pub struct ChildTest {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    said: Receiver<String>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

/// What a child left behind.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    /// Everything it wrote on stdout and stderr: libtest's lines, the protocol, and whatever the
    /// process printed (its log, where it prints one).
    pub output: String,
}

impl ChildTest {
    /// Runs the test named `entry` of this binary in a child process with `scenario` and the
    /// extra variables `env`. Inherited `OTEL_*` and `RUST_LOG` variables are removed.
    pub fn spawn(entry: &str, scenario: &str, env: &[(&str, String)]) -> ChildTest {
        let exe = std::env::current_exe().expect("the test binary's path");
        let mut command = Command::new(exe);
        command
            .args([
                entry,
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(SCENARIO_VAR, scenario)
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, _) in std::env::vars() {
            if name.starts_with("OTEL_") || name == "RUST_LOG" {
                command.env_remove(name);
            }
        }
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("the test binary runs itself");
        let (sender, said) = mpsc::channel();
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let out = child.stdout.take().expect("piped stdout");
        let kept = Arc::clone(&stdout);
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(said) = line.strip_prefix(PREFIX) {
                    let _ = sender.send(said.to_owned());
                }
                let mut kept = kept.lock().unwrap();
                kept.push_str(&line);
                kept.push('\n');
            }
        });
        let err = child.stderr.take().expect("piped stderr");
        let kept = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut err = err;
            let mut buffer = [0_u8; 8192];
            while let Ok(n @ 1..) = err.read(&mut buffer) {
                kept.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        ChildTest {
            stdin: child.stdin.take(),
            child: Some(child),
            said,
            stdout,
            stderr,
        }
    }

    /// The pid of the child.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Waits for the child's next protocol line starting with `word`, returning the rest of it;
    /// fails the test, after killing the child, when none comes within `timeout`.
    pub fn expect(&mut self, word: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.said.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(word) {
                        return rest.trim().to_owned();
                    }
                }
                Err(_) => {
                    self.kill();
                    panic!(
                        "the child never said {word:?} within {timeout:?}; it printed:\n{}",
                        self.output()
                    );
                }
            }
        }
    }

    /// Sends one line to the child's stdin.
    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("the child's stdin");
        writeln!(stdin, "{line}").expect("the child reads its stdin");
        stdin.flush().expect("the child reads its stdin");
    }

    /// Waits for the child to exit; kills it by its pid and fails the test after `timeout`.
    pub fn finish(mut self, timeout: Duration) -> Finished {
        self.stdin.take();
        let mut child = self.child.take().expect("a running child");
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = child.try_wait().expect("the child's status") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the child ran past {timeout:?} and was killed; it printed:\n{}",
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The readers end with the pipes; give them a moment to take the last lines.
        let drained = Instant::now() + Duration::from_secs(2);
        let reading = |kept: &Arc<Mutex<String>>| Arc::strong_count(kept) > 1;
        while Instant::now() < drained && (reading(&self.stdout) || reading(&self.stderr)) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let output = self.output();
        assert!(
            status.success(),
            "the child failed with {status}; it printed:\n{output}"
        );
        Finished { status, output }
    }

    fn output(&self) -> String {
        let stdout = self.stdout.lock().unwrap().clone();
        let stderr = self.stderr.lock().unwrap().clone();
        format!("{stdout}{stderr}")
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ChildTest {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Finished {
    /// The rest of the child's last protocol line starting with `word`.
    pub fn said(&self, word: &str) -> Option<&str> {
        self.output
            .lines()
            .filter_map(|l| l.strip_prefix(PREFIX)?.strip_prefix(word))
            .next_back()
            .map(str::trim)
    }
}
