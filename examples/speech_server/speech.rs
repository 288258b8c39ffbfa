//! The instrumented synthesis: one `tts.synthesize` span per request, with normalize, engine
//! and encode stages, the cache look-up recorded on the span, and first audio marked when a
//! streamed response's first sentence is ready.

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;
use tracing::{info_span, Instrument, Span};
use tts_otel::semconv::field;

use crate::api::AudioFormat;
use crate::cache::{AudioCache, Cached, Key};
use crate::engine::{self, Engine, EngineError, Voice};
use crate::text;
use crate::wav::{self, Audio, Format};

/// A request that passed validation.
#[derive(Clone, Debug)]
pub struct Job {
    pub voice: &'static Voice,
    pub model: &'static str,
    /// The input as sent; it is never recorded, only counted.
    pub input: String,
    pub chars: usize,
    pub speed: f64,
    pub format: AudioFormat,
}

/// Why a synthesis failed.
#[derive(Debug, thiserror::Error)]
pub enum SynthesisError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("sentences came back in different layouts: {0:?} then {1:?}")]
    FormatChanged(Format, Format),
    #[error("the client went away before the stream ended")]
    ClientGone,
}

impl SynthesisError {
    /// The low-cardinality `error.type` of the failure.
    pub fn kind(&self) -> &'static str {
        match self {
            SynthesisError::Engine(e) => e.kind(),
            SynthesisError::FormatChanged(..) => "engine_format_changed",
            SynthesisError::ClientGone => "client_disconnected",
        }
    }
}

/// The engine and its cache.
pub struct Speech {
    engine: Engine,
    cache: AudioCache,
}

impl Speech {
    pub fn new(engine: Engine, cache: AudioCache) -> Self {
        Speech { engine, cache }
    }

    pub fn cache(&self) -> &AudioCache {
        &self.cache
    }

    /// Synthesises the whole text into one response body.
    #[tracing::instrument(
        name = "tts.synthesize",
        skip(self, job),
        fields(
            tts.voice = %job.voice.id,
            tts.model = job.model,
            tts.text.chars = job.chars as i64,
            tts.audio.seconds = tracing::field::Empty,
            tts.cache.hit = tracing::field::Empty,
            tts.format = job.format.as_str(),
            tts.speed = job.speed,
            tts.streaming = false,
        ),
        err
    )]
    pub async fn synthesize(&self, job: &Job) -> Result<Cached, SynthesisError> {
        let result = self.render(job).await;
        name_failure(&result);
        result
    }

    async fn render(&self, job: &Job) -> Result<Cached, SynthesisError> {
        let key = cache_key(job);
        if let Some(hit) = self.look_up(&key) {
            return Ok(hit);
        }

        let wpm = engine::words_per_minute(job.speed);
        let audio = self
            .engine
            .speak(job.voice, wpm, &key.text)
            .instrument(info_span!("tts.stage.engine"))
            .await?;
        let body = info_span!("tts.stage.encode").in_scope(|| wav::encode(&audio));

        let cached = Cached {
            body,
            audio_seconds: audio.seconds(),
        };
        Span::current().record(field::AUDIO_SECONDS, cached.audio_seconds);
        self.cache.put(key, cached.clone());
        Ok(cached)
    }

    /// Synthesises sentence by sentence, sending each chunk to `sink` as soon as it is ready:
    /// a WAV header of unknown length with the first sentence, then bare PCM.
    ///
    /// Each sentence gets its own engine and encode stage spans: the stage histogram and the
    /// trace show every one, and the synthesis layer adds them up per stage for the monitor.
    ///
    /// TODO: every sentence runs the engine once, with its own padding of silence, so a request
    /// of many very short sentences costs many engine runs and yields longer audio than the
    /// same text unstreamed; merging short sentences into chunks of a minimum length would
    /// bound both.
    #[tracing::instrument(
        name = "tts.synthesize",
        skip(self, job, sink),
        fields(
            tts.voice = %job.voice.id,
            tts.model = job.model,
            tts.text.chars = job.chars as i64,
            tts.audio.seconds = tracing::field::Empty,
            tts.cache.hit = tracing::field::Empty,
            tts.format = job.format.as_str(),
            tts.speed = job.speed,
            tts.streaming = true,
        ),
        err
    )]
    pub async fn stream(&self, job: &Job, sink: mpsc::Sender<Bytes>) -> Result<(), SynthesisError> {
        let result = self.render_stream(job, &sink).await;
        name_failure(&result);
        result
    }

    async fn render_stream(
        &self,
        job: &Job,
        sink: &mpsc::Sender<Bytes>,
    ) -> Result<(), SynthesisError> {
        let key = cache_key(job);
        if let Some(hit) = self.look_up(&key) {
            tts_otel::first_audio();
            return send(sink, hit.body).await;
        }

        let wpm = engine::words_per_minute(job.speed);
        let mut whole: Option<(Format, BytesMut)> = None;
        for sentence in text::sentences(&key.text) {
            let audio = self
                .engine
                .speak(job.voice, wpm, sentence)
                .instrument(info_span!("tts.stage.engine"))
                .await?;
            let first = whole.is_none();
            let chunk = info_span!("tts.stage.encode").in_scope(|| append(&mut whole, &audio))?;
            if first {
                tts_otel::first_audio();
            }
            send(sink, chunk).await?;
        }

        let Some((format, pcm)) = whole else {
            return Err(EngineError::NoAudio.into());
        };
        let audio = Audio {
            format,
            pcm: pcm.freeze(),
        };
        let cached = Cached {
            body: wav::encode(&audio),
            audio_seconds: audio.seconds(),
        };
        Span::current().record(field::AUDIO_SECONDS, cached.audio_seconds);
        self.cache.put(key, cached);
        Ok(())
    }

    /// Records the look-up on the current span; a hit also records its audio duration.
    fn look_up(&self, key: &Key) -> Option<Cached> {
        let hit = self.cache.get(key);
        let span = Span::current();
        span.record(field::CACHE_HIT, hit.is_some());
        if let Some(hit) = &hit {
            span.record(field::AUDIO_SECONDS, hit.audio_seconds);
        }
        hit
    }
}

/// Normalizes the text, as the `normalize` stage, into the cache key.
fn cache_key(job: &Job) -> Key {
    let text = info_span!("tts.stage.normalize").in_scope(|| text::normalize(&job.input));
    Key::new(job.voice.id, job.speed, job.format, text.into())
}

/// Adds a sentence's audio to the whole and returns the chunk to send: with a streaming WAV
/// header when it is the first.
fn append(whole: &mut Option<(Format, BytesMut)>, audio: &Audio) -> Result<Bytes, SynthesisError> {
    match whole {
        None => {
            let mut chunk = BytesMut::from(&wav::header(audio.format, None)[..]);
            chunk.extend_from_slice(&audio.pcm);
            *whole = Some((audio.format, BytesMut::from(&audio.pcm[..])));
            Ok(chunk.freeze())
        }
        Some((format, pcm)) if *format == audio.format => {
            pcm.extend_from_slice(&audio.pcm);
            Ok(audio.pcm.clone())
        }
        Some((format, _)) => Err(SynthesisError::FormatChanged(*format, audio.format)),
    }
}

async fn send(sink: &mpsc::Sender<Bytes>, chunk: Bytes) -> Result<(), SynthesisError> {
    sink.send(chunk)
        .await
        .map_err(|_| SynthesisError::ClientGone)
}

/// Emits the ERROR event that names the failure's `error.type` inside the synthesis span;
/// `#[instrument(err)]` then logs the error itself.
fn name_failure<T>(result: &Result<T, SynthesisError>) {
    if let Err(error) = result {
        tracing::error!({ field::ERROR_TYPE } = error.kind(), "synthesis failed");
    }
}
