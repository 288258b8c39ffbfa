//! The request load of the fault scenarios: synthesis spans shaped like a speech server's, sent
//! at a steady rate and timed one by one, and the process's resident memory.

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tracing_subscriber::fmt::MakeWriter;
use tts_otel::semconv::field;

use crate::support::collector::strip_ansi;

/// Requests per second of a paced load: enough to fill export batches, little enough that a
/// collector printing every span keeps up on two cores.
pub const RATE: u32 = 200;

/// One synthesis as a server makes it: the contract's fields, a normalize and an engine stage,
/// first audio, and the audio duration recorded once known; no engine work at all, so its wall
/// time is what telemetry costs. Returns that time.
pub fn synthesise(voice: &'static str, n: u64) -> Duration {
    let started = Instant::now();
    let span = tracing::info_span!(
        "tts.synthesize",
        tts.voice = voice,
        tts.model = "espeak-ng",
        tts.text.chars = 40 + (n % 400) as i64,
        tts.audio.seconds = tracing::field::Empty,
        tts.cache.hit = n.is_multiple_of(4),
    );
    span.in_scope(|| {
        tracing::info_span!("tts.stage.normalize").in_scope(|| {});
        tracing::info_span!("tts.stage.engine").in_scope(tts_otel::first_audio);
        tracing::Span::current().record(field::AUDIO_SECONDS, 1.0 + (n % 7) as f64);
    });
    drop(span);
    started.elapsed()
}

/// Sends requests of `voice` at [`RATE`] for `duration`, pushing each one's time.
pub fn run(voice: &'static str, duration: Duration, times: &mut Vec<Duration>) {
    run_at(Some(RATE), voice, duration, times);
}

/// Sends requests of `voice` at `rate` per second, or back to back, for `duration`.
pub fn run_at(
    rate: Option<u32>,
    voice: &'static str,
    duration: Duration,
    times: &mut Vec<Duration>,
) {
    let started = Instant::now();
    let gap = rate.map(|rate| Duration::from_secs(1) / rate);
    let mut next = started;
    while started.elapsed() < duration {
        times.push(synthesise(voice, times.len() as u64));
        let Some(gap) = gap else { continue };
        next += gap;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
}

/// Count, median, 99th percentile and maximum of `times`, in microseconds.
pub fn figures(times: &[Duration]) -> Value {
    let mut us: Vec<u64> = times.iter().map(|t| t.as_micros() as u64).collect();
    us.sort_unstable();
    let at = |q: f64| us.get(((us.len() as f64 * q) as usize).min(us.len().saturating_sub(1)));
    json!({
        "count": us.len(),
        "median_us": at(0.5),
        "p99_us": at(0.99),
        "max_us": us.last(),
    })
}

/// Resident memory of this process, from `/proc/self/statm`.
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages in statm");
    pages * page_size()
}

fn page_size() -> u64 {
    let out = std::process::Command::new("getconf")
        .arg("PAGESIZE")
        .output();
    out.ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4096)
}

/// The pipeline's printed log, kept in memory (`Pipeline::with_log_writer`).
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

/// One write into a [`Capture`].
pub struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = CaptureWriter;

    fn make_writer(&'a self) -> CaptureWriter {
        CaptureWriter(Arc::clone(&self.0))
    }
}

impl Capture {
    /// The lines printed so far, without colour codes.
    pub fn lines(&self) -> Vec<String> {
        let text = String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned();
        strip_ansi(&text).lines().map(str::to_owned).collect()
    }

    /// Whether a printed line contains `text`.
    pub fn contains(&self, text: &str) -> bool {
        self.lines().iter().any(|l| l.contains(text))
    }

    /// Writes the log to `path`.
    pub fn save(&self, path: &std::path::Path) {
        let mut file = std::fs::File::create(path).expect("the log file");
        file.write_all(&self.0.lock().unwrap())
            .expect("the log written");
    }
}
