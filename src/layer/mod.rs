//! The synthesis layer: a [`tracing_subscriber::Layer`] that measures synthesis spans.
//!
//! # What a span must carry
//!
//! A span named `tts.synthesize` (or the name given to
//! [`SynthesisLayerBuilder::with_span_name`]) is a synthesis. Its fields, given at creation or
//! later with `Span::record`, are read by name: `tts.voice`, `tts.model`, `tts.text.chars`,
//! `tts.audio.seconds`, `tts.cache.hit`, `tts.format`, `tts.speed` and `tts.streaming`. Any other
//! field, the input text included, is never read. Inside the span, an event with the field
//! `tts.first_audio` (see [`first_audio`]) marks time to first audio, and an ERROR event marks
//! the synthesis failed, naming it by its `error.type` field when it has one. Spans named
//! `tts.stage.<name>` are timed as stages, at any depth.
//!
//! # What is recorded
//!
//! Latency is the span's wall time from creation to close on the monotonic clock, across any
//! number of enters, exits and awaits. RTF is latency over audio seconds, recorded only for a
//! successful synthesis with an audio duration from a microsecond to 10^9 seconds; others are
//! counted in `tts.synthesis.unrated`. A span that declares `tts.audio.seconds` and closes without
//! recording it, and without an error, never finished (its future was dropped, its client went
//! away): it is counted in `tts.synthesis.cancelled` and nowhere else but the cache counter.
//! Invalid values are dropped and counted in `tts.telemetry.invalid_values`: a text length that
//! is not a whole number from 0 to `u32::MAX`, an audio duration that is not from 0 to 10^9
//! seconds, a speed that is not finite and positive, a value of the wrong kind for any contract
//! field. A dropped text length or speed leaves the last valid one in place; the last audio
//! duration recorded is the one judged when the span closes.
//!
//! # Implementation details
//!
//! Per span, the layer keeps one small record in the span's extensions. Events cost a level
//! check and a field-name scan unless they are an error or a first-audio marker. A closing
//! synthesis costs two read-locked map look-ups and one update per instrument (see
//! [`crate::instruments`]); sinks are called only when attached, and stage timings are kept for
//! them only then. No lock of the layer is held while the SDK or a sink runs, so the SDK's own
//! `tracing` events cannot deadlock it, and events of the SDK's targets are ignored.

mod fields;
mod wall_clock;

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use opentelemetry::metrics::Meter;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};
use tracing_subscriber::Layer;

use self::fields::{EventFields, EventVisitor, FieldVisitor, Fields, Invalid};
use self::wall_clock::WallClock;
use crate::instruments::{CacheResult, Instruments, Measurement, SeriesLabels};
use crate::labels::{Label, LabelSet};
use crate::semconv::{attr, field, limits, DIAGNOSTICS_TARGET, SDK_TARGET_PREFIX};
use crate::synthesis::{add_stage, Outcome, Stages, Synthesis, SynthesisSink};

/// Emits the event that marks the first audio chunk of the current synthesis as ready.
///
/// Call it inside the synthesis span (or one of its children) when the first chunk can be sent.
/// Only the first marker of a synthesis counts. The event has level INFO and the target
/// `tts_otel`, so a filter that hides INFO events of that target hides the marker too.
///
/// ```
/// #[tracing::instrument(name = "tts.synthesize", fields(tts.voice = voice))]
/// fn stream(voice: &str) {
///     // ... the first chunk is ready:
///     tts_otel::first_audio();
/// }
/// stream("en-us");
/// ```
pub fn first_audio() {
    tracing::event!(
        target: DIAGNOSTICS_TARGET,
        Level::INFO,
        { field::FIRST_AUDIO } = true,
        "first audio"
    );
}

/// Measures synthesis spans into OpenTelemetry instruments and hands each finished synthesis to
/// its sinks.
///
/// ```
/// use opentelemetry::metrics::MeterProvider as _;
/// use opentelemetry_sdk::metrics::SdkMeterProvider;
/// use tracing_subscriber::prelude::*;
///
/// let provider = SdkMeterProvider::builder().build();
/// let layer = tts_otel::SynthesisLayer::new(&provider.meter(tts_otel::semconv::SCOPE_NAME));
/// let _guard = tracing_subscriber::registry().with(layer).set_default();
///
/// tracing::info_span!("tts.synthesize", tts.voice = "en-us", tts.audio.seconds = 2.5)
///     .in_scope(|| { /* synthesise */ });
/// ```
#[derive(Clone)]
pub struct SynthesisLayer {
    shared: Arc<Shared>,
}

/// State shared by the layer's clones.
pub(crate) struct Shared {
    span_name: String,
    instruments: Instruments,
    labels: Labels,
    sinks: Vec<Arc<dyn SynthesisSink>>,
    wall_clock: WallClock,
}

/// The bounded label sets of the attributes the layer reports.
pub(crate) struct Labels {
    pub(crate) voices: LabelSet,
    pub(crate) models: LabelSet,
    pub(crate) errors: LabelSet,
    pub(crate) formats: LabelSet,
}

impl fmt::Debug for SynthesisLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SynthesisLayer")
            .field("span_name", &self.shared.span_name)
            .field("sinks", &self.shared.sinks.len())
            .finish_non_exhaustive()
    }
}

impl SynthesisLayer {
    /// A layer with the default span name and label limit, recording into `meter`.
    pub fn new(meter: &Meter) -> Self {
        Self::builder(meter).build()
    }

    /// A builder for a layer recording into `meter`.
    pub fn builder(meter: &Meter) -> SynthesisLayerBuilder {
        SynthesisLayerBuilder {
            meter: meter.clone(),
            span_name: field::SYNTHESIS_SPAN.to_owned(),
            label_limit: limits::LABEL_LIMIT,
            sinks: Vec::new(),
        }
    }
}

/// Configures a [`SynthesisLayer`].
pub struct SynthesisLayerBuilder {
    meter: Meter,
    span_name: String,
    label_limit: usize,
    sinks: Vec<Arc<dyn SynthesisSink>>,
}

impl fmt::Debug for SynthesisLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SynthesisLayerBuilder")
            .field("span_name", &self.span_name)
            .field("label_limit", &self.label_limit)
            .field("sinks", &self.sinks.len())
            .finish_non_exhaustive()
    }
}

impl SynthesisLayerBuilder {
    /// Recognises synthesis spans by `name` instead of `tts.synthesize`.
    pub fn with_span_name(mut self, name: impl Into<String>) -> Self {
        self.span_name = name.into();
        self
    }

    /// Reports at most `limit` distinct voices, models, error types and formats each; later
    /// distinct values are reported as `other`. The default is 64.
    pub fn with_label_limit(mut self, limit: usize) -> Self {
        self.label_limit = limit;
        self
    }

    /// Hands every finished synthesis to `sink` as well, after the instruments.
    pub fn with_sink(mut self, sink: impl SynthesisSink) -> Self {
        self.sinks.push(Arc::new(sink));
        self
    }

    /// Builds the layer, creating its instruments once.
    pub fn build(self) -> SynthesisLayer {
        let labels = |limit| LabelSet::new(limit, limits::LABEL_MAX_BYTES);
        SynthesisLayer {
            shared: Arc::new(Shared {
                span_name: self.span_name,
                instruments: Instruments::new(&self.meter),
                labels: Labels {
                    voices: labels(self.label_limit),
                    models: labels(self.label_limit),
                    errors: labels(self.label_limit),
                    formats: labels(self.label_limit),
                },
                sinks: self.sinks,
                wall_clock: WallClock::new(),
            }),
        }
    }
}

/// What the layer keeps in a synthesis span's extensions while it is open.
struct SynthesisRecord {
    start: Instant,
    /// The span declared `tts.audio.seconds`, so closing without it means cancelled.
    expects_audio: bool,
    fields: Fields,
    first_audio: Option<Instant>,
    error: Option<Label>,
    stages: Stages,
}

/// What the layer keeps in a stage span's extensions while it is open.
struct StageRecord {
    start: Instant,
}

impl<S> Layer<S> for SynthesisLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let name = attrs.metadata().name();
        let Some(span) = ctx.span(id) else { return };
        if name == self.shared.span_name {
            let mut record = SynthesisRecord {
                start: Instant::now(),
                expects_audio: attrs
                    .metadata()
                    .fields()
                    .field(field::AUDIO_SECONDS)
                    .is_some(),
                fields: Fields::default(),
                first_audio: None,
                error: None,
                stages: Stages::new(),
            };
            let invalid = self.visit(&mut record.fields, |v| attrs.record(v));
            span.extensions_mut().insert(record);
            self.shared.instruments.active.add(1);
            self.count_invalid(&invalid);
        } else if name.starts_with(field::STAGE_SPAN_PREFIX) {
            let start = Instant::now();
            span.extensions_mut().insert(StageRecord { start });
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if span.name() != self.shared.span_name {
            return;
        }
        // Values are visited with no lock held: formatting a user's value may emit an event
        // (a `Debug` impl that logs), which reaches this layer and takes the same extensions.
        let mut update = Fields::default();
        let invalid = self.visit(&mut update, |v| values.record(v));
        if let Some(record) = span.extensions_mut().get_mut::<SynthesisRecord>() {
            record.fields.merge(update);
        }
        self.count_invalid(&invalid);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let is_error = *meta.level() == Level::ERROR;
        if !is_error && meta.fields().field(field::FIRST_AUDIO).is_none() {
            return;
        }
        if is_sdk_target(meta.target()) {
            return;
        }
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        let Some(synthesis) = self.enclosing_synthesis(span) else {
            return;
        };

        let mut visitor = EventVisitor {
            shared: &self.shared,
            found: EventFields::default(),
        };
        event.record(&mut visitor);
        let mut extensions = synthesis.extensions_mut();
        if let Some(record) = extensions.get_mut::<SynthesisRecord>() {
            note_event(record, visitor.found, is_error, &self.shared.labels);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let synthesis = span.extensions_mut().remove::<SynthesisRecord>();
        if let Some(record) = synthesis {
            self.finish_synthesis(record);
            return;
        }
        let stage = span.extensions_mut().remove::<StageRecord>();
        if let Some(stage) = stage {
            self.finish_stage(&span, stage);
        }
    }
}

impl SynthesisLayer {
    fn visit(&self, fields: &mut Fields, record: impl FnOnce(&mut FieldVisitor<'_>)) -> Invalid {
        let mut visitor = FieldVisitor {
            shared: &self.shared,
            fields,
            invalid: Invalid::default(),
        };
        record(&mut visitor);
        visitor.invalid
    }

    fn count_invalid(&self, invalid: &Invalid) {
        for name in invalid.iter() {
            self.shared.instruments.count_invalid(name);
        }
    }

    /// The nearest span at or above `span` that is an open synthesis.
    fn enclosing_synthesis<'a, S>(&self, span: SpanRef<'a, S>) -> Option<SpanRef<'a, S>>
    where
        S: Subscriber + for<'l> LookupSpan<'l>,
    {
        span.scope().find(|s| s.name() == self.shared.span_name)
    }

    fn finish_stage<S>(&self, span: &SpanRef<'_, S>, stage: StageRecord)
    where
        S: Subscriber + for<'l> LookupSpan<'l>,
    {
        let duration = stage.start.elapsed();
        let name = span.name();
        let stage_name = name.strip_prefix(field::STAGE_SPAN_PREFIX).unwrap_or(name);
        self.shared
            .instruments
            .record_stage(stage_name, duration.as_secs_f64());

        if self.shared.sinks.is_empty() {
            return;
        }
        let parent = span.parent().and_then(|p| self.enclosing_synthesis(p));
        if let Some(parent) = parent {
            if let Some(record) = parent.extensions_mut().get_mut::<SynthesisRecord>() {
                add_stage(&mut record.stages, stage_name, duration);
            }
        }
    }

    fn finish_synthesis(&self, record: SynthesisRecord) {
        let ended = Instant::now();
        let latency = ended.saturating_duration_since(record.start);
        let shared = &*self.shared;
        shared.instruments.active.add(-1);

        let fields = &record.fields;
        let voice = match &fields.voice {
            Some(voice) => voice.clone(),
            None => shared.labels.voices.intern(attr::UNKNOWN_VALUE),
        };
        let failed = record.error.is_some();
        let cancelled = !failed && record.expects_audio && !fields.audio_recorded;
        let audio = fields.audio_seconds;
        let audio_valid = audio.filter(|s| (0.0..=limits::MAX_AUDIO_SECONDS).contains(s));
        if audio.is_some() && audio_valid.is_none() {
            shared.instruments.count_invalid(field::AUDIO_SECONDS);
        }
        let rtf = audio_valid
            .filter(|s| *s >= limits::MIN_RATED_AUDIO_SECONDS && !failed)
            .map(|s| latency.as_secs_f64() / s)
            .filter(|r| r.is_finite());
        let ttfa = record
            .first_audio
            .map(|t| t.saturating_duration_since(record.start));

        let labels = SeriesLabels {
            voice: &voice,
            model: fields.model.as_ref(),
            cache: CacheResult::from_hit(fields.cache_hit),
            error: record.error.as_ref(),
        };
        let measurement = Measurement {
            latency_seconds: latency.as_secs_f64(),
            rtf,
            time_to_first_audio: ttfa.map(|t| t.as_secs_f64()),
            audio_seconds: audio_valid,
            text_chars: fields.text_chars,
            cancelled,
        };
        shared.instruments.record(&labels, &measurement);

        if shared.sinks.is_empty() {
            return;
        }
        let synthesis = Synthesis {
            voice: voice.name,
            model: fields.model.as_ref().map(|m| Arc::clone(&m.name)),
            text_chars: fields.text_chars,
            audio_seconds: audio,
            cache_hit: fields.cache_hit,
            format: fields.format.as_ref().map(|f| Arc::clone(&f.name)),
            speed: fields.speed,
            streaming: fields.streaming,
            latency,
            time_to_first_audio: ttfa,
            outcome: match record.error {
                Some(error) => Outcome::Failed {
                    error_type: error.name,
                },
                None if cancelled => Outcome::Cancelled,
                None => Outcome::Succeeded,
            },
            stages: record.stages,
            ended_at: shared.wall_clock.at(ended),
        };
        for sink in &shared.sinks {
            sink.record(&synthesis);
        }
    }
}

/// Applies what an event said to its synthesis: the first first-audio marker and the first
/// error count.
fn note_event(record: &mut SynthesisRecord, found: EventFields, is_error: bool, labels: &Labels) {
    if found.first_audio && record.first_audio.is_none() {
        record.first_audio = Some(Instant::now());
    }
    if is_error && record.error.is_none() {
        let error = found.error_type;
        record.error = Some(error.unwrap_or_else(|| labels.errors.intern(attr::ERROR_TYPE_OTHER)));
    }
}

/// Whether an event comes from the OpenTelemetry SDK or its exporters, which report their own
/// failures through `tracing` and must never feed back into the telemetry they export.
fn is_sdk_target(target: &str) -> bool {
    target.starts_with(SDK_TARGET_PREFIX)
}
