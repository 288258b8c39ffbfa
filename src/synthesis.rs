//! The measured synthesis: a plain value handed from the layer to its sinks.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use smallvec::SmallVec;

use crate::semconv::limits::{MAX_AUDIO_SECONDS, MIN_RATED_AUDIO_SECONDS};

/// How a synthesis ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The span closed without an error event.
    Succeeded,
    /// An ERROR-level event was seen inside the span; the error type, bounded by the label limit.
    Failed {
        /// The `error.type` of the event, or `_OTHER` when it named none.
        error_type: Arc<str>,
    },
    /// The span declared `tts.audio.seconds` but closed without it and without an error: the
    /// synthesis never finished, as when a request's future is dropped or a client goes away.
    Cancelled,
}

impl Outcome {
    /// Whether the synthesis failed.
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed { .. })
    }

    /// Whether the synthesis was cancelled before it finished.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Outcome::Cancelled)
    }
}

/// Timed stages of one synthesis, kept inline for the usual handful of stages.
pub type Stages = SmallVec<[Stage; 6]>;

/// Adds a stage's time to `stages`, where its name gains an entry the first time it comes;
/// memory grows with distinct stage names (span names in the code), never with span count.
pub(crate) fn add_stage(stages: &mut Stages, name: &'static str, duration: Duration) {
    match stages.iter_mut().find(|stage| stage.name == name) {
        Some(stage) => stage.duration = stage.duration.saturating_add(duration),
        None => stages.push(Stage { name, duration }),
    }
}

/// The time spent in one stage.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    /// Stage name, the span name after `tts.stage.`.
    pub name: &'static str,
    /// Wall time from the stage span's creation to its close, added up over the stage's spans
    /// when it ran more than once.
    pub duration: Duration,
}

/// One measured synthesis.
///
/// The synthesis layer builds one for every synthesis span that closes; a user may also build
/// one directly and hand it to a sink, as the performance monitor's record call does. Labels
/// (`voice`, `model`, error type) are already bounded when the layer builds the value.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct Synthesis {
    /// Voice id.
    pub voice: Arc<str>,
    /// Model id, when the span carried one.
    pub model: Option<Arc<str>>,
    /// Characters of input text.
    pub text_chars: Option<u64>,
    /// Duration of the produced audio, in seconds, exactly as recorded (it may be invalid).
    pub audio_seconds: Option<f64>,
    /// Whether the result came from a cache; `None` when the span did not say.
    pub cache_hit: Option<bool>,
    /// Audio format, when recorded.
    pub format: Option<Arc<str>>,
    /// Speaking speed, when recorded.
    pub speed: Option<f64>,
    /// Whether the response was streamed, when recorded.
    pub streaming: Option<bool>,
    /// Wall time from span creation to close, on the monotonic clock.
    pub latency: Duration,
    /// Time from span creation to the first `tts.first_audio` event.
    pub time_to_first_audio: Option<Duration>,
    /// How the synthesis ended.
    pub outcome: Outcome,
    /// Time spent in each stage, one entry per stage name in the order each first closed: the
    /// layer adds up the spans of a stage that ran more than once (per sentence, say), so a long
    /// streamed synthesis holds a handful of entries, not one per chunk. Empty when the layer
    /// has no sink beyond its instruments, since nothing would read them.
    pub stages: Stages,
    /// Wall-clock time at which the synthesis ended. The synthesis layer derives it from the
    /// monotonic end reading and an offset to the system clock at most a second old, so a step
    /// of the system clock shows here within a second.
    pub ended_at: SystemTime,
}

impl Synthesis {
    /// A successful synthesis of `voice` that took `latency` and ended now.
    pub fn new(voice: impl Into<Arc<str>>, latency: Duration) -> Self {
        Synthesis {
            voice: voice.into(),
            model: None,
            text_chars: None,
            audio_seconds: None,
            cache_hit: None,
            format: None,
            speed: None,
            streaming: None,
            latency,
            time_to_first_audio: None,
            outcome: Outcome::Succeeded,
            stages: Stages::new(),
            ended_at: SystemTime::now(),
        }
    }

    /// Sets the model id.
    pub fn with_model(mut self, model: impl Into<Arc<str>>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Sets the input length in characters.
    pub fn with_text_chars(mut self, chars: u64) -> Self {
        self.text_chars = Some(chars);
        self
    }

    /// Sets the produced audio duration in seconds.
    pub fn with_audio_seconds(mut self, seconds: f64) -> Self {
        self.audio_seconds = Some(seconds);
        self
    }

    /// Sets whether the audio was served from a cache.
    pub fn with_cache_hit(mut self, hit: bool) -> Self {
        self.cache_hit = Some(hit);
        self
    }

    /// Sets the time to first audio.
    pub fn with_time_to_first_audio(mut self, ttfa: Duration) -> Self {
        self.time_to_first_audio = Some(ttfa);
        self
    }

    /// Marks the synthesis cancelled before it finished.
    pub fn cancelled(mut self) -> Self {
        self.outcome = Outcome::Cancelled;
        self
    }

    /// Marks the synthesis failed with an error type.
    pub fn with_error(mut self, error_type: impl Into<Arc<str>>) -> Self {
        self.outcome = Outcome::Failed {
            error_type: error_type.into(),
        };
        self
    }

    /// Adds a timed stage; a stage of a name already there gets `duration` added to it.
    pub fn with_stage(mut self, name: &'static str, duration: Duration) -> Self {
        add_stage(&mut self.stages, name, duration);
        self
    }

    /// Sets the wall-clock end time.
    pub fn with_ended_at(mut self, ended_at: SystemTime) -> Self {
        self.ended_at = ended_at;
        self
    }

    /// The produced audio duration when an RTF can be computed from it: at least
    /// [`MIN_RATED_AUDIO_SECONDS`] and at most [`MAX_AUDIO_SECONDS`] (so finite and positive).
    pub fn valid_audio_seconds(&self) -> Option<f64> {
        self.audio_seconds
            .filter(|s| (MIN_RATED_AUDIO_SECONDS..=MAX_AUDIO_SECONDS).contains(s))
    }

    /// Real-time factor: latency divided by audio seconds; lower is faster.
    ///
    /// `None` for a failed or cancelled synthesis or one without a
    /// [valid audio duration](Self::valid_audio_seconds).
    pub fn rtf(&self) -> Option<f64> {
        if self.outcome != Outcome::Succeeded {
            return None;
        }
        let rtf = self.latency.as_secs_f64() / self.valid_audio_seconds()?;
        rtf.is_finite().then_some(rtf)
    }
}

/// The input text is never part of a synthesis; the debug form shows only measured values.
impl fmt::Debug for Synthesis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Synthesis")
            .field("voice", &self.voice)
            .field("model", &self.model)
            .field("text_chars", &self.text_chars)
            .field("audio_seconds", &self.audio_seconds)
            .field("cache_hit", &self.cache_hit)
            .field("latency", &self.latency)
            .field("time_to_first_audio", &self.time_to_first_audio)
            .field("outcome", &self.outcome)
            .field("stages", &self.stages.len())
            .finish_non_exhaustive()
    }
}

/// A consumer of finished syntheses, such as the local performance monitor.
///
/// `record` runs on the thread that closed the synthesis span, inside the `tracing` dispatch:
/// it must be cheap, must not block on I/O, and must not panic.
pub trait SynthesisSink: Send + Sync + 'static {
    /// Takes one finished synthesis.
    fn record(&self, synthesis: &Synthesis);
}

impl<S: SynthesisSink + ?Sized> SynthesisSink for Arc<S> {
    fn record(&self, synthesis: &Synthesis) {
        (**self).record(synthesis)
    }
}
