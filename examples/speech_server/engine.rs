//! The speech engine: espeak-ng run as a child process, text through stdin, WAV from stdout.
//!
//! The command line is built from fixed flags and values the API has already validated (a
//! voice from [`VOICES`], a bounded words-per-minute), never through a shell; the text travels
//! on stdin, so no input can become an argument.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio::sync::Semaphore;

use crate::wav::{self, Audio, WavError};

/// A voice the server offers and the espeak-ng voice that speaks it.
#[derive(Debug, serde::Serialize)]
pub struct Voice {
    pub id: &'static str,
    #[serde(skip)]
    pub espeak: &'static str,
    pub name: &'static str,
    pub language: &'static str,
}

/// Every voice the server offers, as `GET /v1/voices` lists them.
pub const VOICES: &[Voice] = &[
    Voice {
        id: "en-us",
        espeak: "en-us",
        name: "English (America)",
        language: "en-US",
    },
    Voice {
        id: "en-gb",
        espeak: "en-gb",
        name: "English (Great Britain)",
        language: "en-GB",
    },
    Voice {
        id: "en-gb-scotland",
        espeak: "en-gb-scotland",
        name: "English (Scotland)",
        language: "en-GB",
    },
    Voice {
        id: "de",
        espeak: "de",
        name: "German",
        language: "de-DE",
    },
    Voice {
        id: "fr",
        espeak: "fr-fr",
        name: "French (France)",
        language: "fr-FR",
    },
];

/// The voice with id `id`.
pub fn voice(id: &str) -> Option<&'static Voice> {
    VOICES.iter().find(|v| v.id == id)
}

/// espeak-ng's own default rate, what speed 1.0 means.
const BASE_WPM: f64 = 175.0;
/// espeak-ng clamps slower rates up to this.
const MIN_WPM: u32 = 80;

/// Words per minute for an OpenAI speed factor (0.25–4.0).
///
/// TODO: espeak-ng cannot speak slower than 80 wpm, so speeds below about 0.46 all sound
/// like 0.46; slowing further would need word gaps (`-g`) or time stretching.
pub fn words_per_minute(speed: f64) -> u32 {
    ((BASE_WPM * speed).round() as u32).max(MIN_WPM)
}

/// Why the engine produced no audio.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot start the engine: {0}")]
    Spawn(std::io::Error),
    #[error("engine I/O failed: {0}")]
    Io(std::io::Error),
    #[error("engine timed out after {0:?}")]
    Timeout(Duration),
    /// What the engine wrote to stderr is counted, not shown: an engine may quote the text it
    /// failed on, and this message reaches the log, the trace and the client.
    #[error("engine exited with {status} ({stderr_bytes} bytes on stderr, not shown)")]
    Exit {
        status: std::process::ExitStatus,
        stderr_bytes: usize,
    },
    #[error("engine wrote unreadable audio: {0}")]
    Wav(WavError),
    #[error("engine produced no audio")]
    NoAudio,
}

impl EngineError {
    /// The low-cardinality `error.type` of the failure.
    pub fn kind(&self) -> &'static str {
        match self {
            EngineError::Spawn(_) => "engine_unavailable",
            EngineError::Io(_) => "engine_io",
            EngineError::Timeout(_) => "engine_timeout",
            EngineError::Exit { .. } => "engine_exit",
            EngineError::Wav(_) => "engine_bad_output",
            EngineError::NoAudio => "engine_no_audio",
        }
    }
}

/// Runs espeak-ng, at most `concurrency` processes at a time.
///
/// TODO: one process per request (per sentence when streaming) costs a fork, exec and voice
/// load, 10 to 30 ms of each miss here; linking libespeak-ng and keeping voices loaded would
/// save it, at the price of a C dependency and its global state.
#[derive(Debug)]
pub struct Engine {
    binary: PathBuf,
    timeout: Duration,
    permits: Semaphore,
}

impl Engine {
    pub fn new(binary: PathBuf, timeout: Duration, concurrency: usize) -> Self {
        Engine {
            binary,
            timeout,
            permits: Semaphore::new(concurrency.max(1)),
        }
    }

    /// Speaks `text` with `voice` at `wpm`; the audio and its layout come from the WAV the
    /// engine writes.
    pub async fn speak(&self, voice: &Voice, wpm: u32, text: &str) -> Result<Audio, EngineError> {
        // The semaphore is never closed, so acquiring only waits.
        let _permit = self.permits.acquire().await.ok();
        let output = tokio::time::timeout(self.timeout, self.run(voice, wpm, text))
            .await
            .map_err(|_| EngineError::Timeout(self.timeout))??;

        let audio = wav::parse(&output).map_err(EngineError::Wav)?;
        if audio.pcm.is_empty() {
            return Err(EngineError::NoAudio);
        }
        Ok(audio)
    }

    async fn run(&self, voice: &Voice, wpm: u32, text: &str) -> Result<Bytes, EngineError> {
        let mut child = Command::new(&self.binary)
            .args(["-b", "1", "--stdin", "--stdout", "-v", voice.espeak, "-s"])
            .arg(wpm.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(EngineError::Spawn)?;

        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| EngineError::Io(closed_pipe()))?;
        let write = async move {
            stdin.write_all(text.as_bytes()).await?;
            stdin.shutdown().await
        };
        // Write and read together: a long text fills the stdout pipe before stdin is done.
        let (written, output) = tokio::join!(write, child.wait_with_output());
        let output = output.map_err(EngineError::Io)?;
        if !output.status.success() {
            return Err(EngineError::Exit {
                status: output.status,
                stderr_bytes: output.stderr.len(),
            });
        }
        written.map_err(EngineError::Io)?;
        Ok(Bytes::from(output.stdout))
    }
}

fn closed_pipe() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::BrokenPipe, "engine stdin unavailable")
}
