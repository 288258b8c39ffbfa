//! Reading the contract's fields from span attributes, `Span::record` calls and events.
//!
//! Numbers arrive as whatever type the user's code produced (`u64`, `i64`, `f64`, 128-bit
//! integers); each is converted to the field's own type. A value of the wrong kind, such as a
//! string where a number belongs, is dropped and reported back so the caller can count it.

use std::fmt;

use tracing::field::{Field, Visit};

use super::Shared;
use crate::labels::Label;
use crate::semconv::field;
use crate::semconv::limits::MAX_TEXT_CHARS;

/// Contract field values of one synthesis span, as recorded so far. A field recorded twice keeps
/// its last valid value; an audio duration is kept as recorded, valid or not, and judged when
/// the span closes.
#[derive(Debug, Default)]
pub(super) struct Fields {
    pub(super) voice: Option<Label>,
    pub(super) model: Option<Label>,
    pub(super) format: Option<Label>,
    pub(super) text_chars: Option<u64>,
    pub(super) audio_seconds: Option<f64>,
    pub(super) cache_hit: Option<bool>,
    pub(super) speed: Option<f64>,
    pub(super) streaming: Option<bool>,
    /// A value of any kind, valid or not, was recorded for `tts.audio.seconds`: the synthesis
    /// reached its end, even if what it recorded was unusable.
    pub(super) audio_recorded: bool,
}

impl Fields {
    /// Takes every value `update` holds, keeping the current one where it holds none.
    pub(super) fn merge(&mut self, update: Fields) {
        let Fields {
            voice,
            model,
            format,
            text_chars,
            audio_seconds,
            cache_hit,
            speed,
            streaming,
            audio_recorded,
        } = update;
        self.voice = voice.or(self.voice.take());
        self.model = model.or(self.model.take());
        self.format = format.or(self.format.take());
        self.text_chars = text_chars.or(self.text_chars);
        self.audio_seconds = audio_seconds.or(self.audio_seconds);
        self.cache_hit = cache_hit.or(self.cache_hit);
        self.speed = speed.or(self.speed);
        self.streaming = streaming.or(self.streaming);
        self.audio_recorded |= audio_recorded;
    }
}

/// Contract fields whose value was invalid, at most one mark per field and visit.
#[derive(Debug, Default)]
pub(super) struct Invalid {
    fields: Vec<&'static str>,
}

impl Invalid {
    fn mark(&mut self, name: &'static str) {
        if !self.fields.contains(&name) {
            self.fields.push(name);
        }
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.fields.iter().copied()
    }
}

/// A number as it was recorded, before conversion to the field's type.
#[derive(Clone, Copy, Debug)]
enum Number {
    Unsigned(u128),
    Signed(i128),
    Float(f64),
}

impl Number {
    /// A whole count from 0 to [`MAX_TEXT_CHARS`]; fractions, negatives and larger values are
    /// invalid.
    fn count(self) -> Option<u64> {
        let count = match self {
            Number::Unsigned(v) => u64::try_from(v).ok(),
            Number::Signed(v) => u64::try_from(v).ok(),
            Number::Float(v) if v.is_finite() && v >= 0.0 && v.fract() == 0.0 => {
                (v <= u64::MAX as f64).then_some(v as u64)
            }
            Number::Float(_) => None,
        };
        count.filter(|c| *c <= MAX_TEXT_CHARS)
    }

    /// A real value; validity beyond being a number is judged by the field's use.
    fn real(self) -> f64 {
        match self {
            Number::Unsigned(v) => v as f64,
            Number::Signed(v) => v as f64,
            Number::Float(v) => v,
        }
    }
}

/// Visits the values of a span's fields into its [`Fields`].
pub(super) struct FieldVisitor<'a> {
    pub(super) shared: &'a Shared,
    pub(super) fields: &'a mut Fields,
    pub(super) invalid: Invalid,
}

impl FieldVisitor<'_> {
    fn note_audio(&mut self, f: &Field) {
        if f.name() == field::AUDIO_SECONDS {
            self.fields.audio_recorded = true;
        }
    }

    fn number(&mut self, f: &Field, value: Number) {
        self.note_audio(f);
        match f.name() {
            field::TEXT_CHARS => match value.count() {
                Some(chars) => self.fields.text_chars = Some(chars),
                None => self.invalid.mark(field::TEXT_CHARS),
            },
            field::AUDIO_SECONDS => self.fields.audio_seconds = Some(value.real()),
            field::SPEED => match Some(value.real()).filter(|s| s.is_finite() && *s > 0.0) {
                Some(speed) => self.fields.speed = Some(speed),
                None => self.invalid.mark(field::SPEED),
            },
            name => self.wrong_kind(name),
        }
    }

    fn flag(&mut self, f: &Field, value: bool) {
        self.note_audio(f);
        match f.name() {
            field::CACHE_HIT => self.fields.cache_hit = Some(value),
            field::STREAMING => self.fields.streaming = Some(value),
            name => self.wrong_kind(name),
        }
    }

    fn text(&mut self, f: &Field, value: &str) {
        self.note_audio(f);
        let labels = &self.shared.labels;
        match f.name() {
            field::VOICE => self.fields.voice = Some(labels.voices.intern(value)),
            field::MODEL => self.fields.model = Some(labels.models.intern(value)),
            field::FORMAT => self.fields.format = Some(labels.formats.intern(value)),
            name => self.wrong_kind(name),
        }
    }

    /// Marks a contract field that received a value of the wrong kind; other fields are not
    /// the layer's business and are ignored.
    // TODO: an audio duration of the wrong kind (a string, a bool) is counted here but reaches
    // sinks as no duration at all, so the monitor's `invalid_audio_seconds` misses it; the
    // `Synthesis` value has no way yet to say "given, but not a number".
    fn wrong_kind(&mut self, name: &str) {
        if let Some(contract) = CONTRACT_FIELDS.iter().find(|c| **c == name) {
            self.invalid.mark(contract);
        }
    }
}

/// The span fields the layer reads.
const CONTRACT_FIELDS: &[&str] = &[
    field::VOICE,
    field::MODEL,
    field::FORMAT,
    field::TEXT_CHARS,
    field::AUDIO_SECONDS,
    field::CACHE_HIT,
    field::SPEED,
    field::STREAMING,
];

impl Visit for FieldVisitor<'_> {
    fn record_f64(&mut self, f: &Field, value: f64) {
        self.number(f, Number::Float(value));
    }

    fn record_i64(&mut self, f: &Field, value: i64) {
        self.number(f, Number::Signed(value.into()));
    }

    fn record_u64(&mut self, f: &Field, value: u64) {
        self.number(f, Number::Unsigned(value.into()));
    }

    fn record_i128(&mut self, f: &Field, value: i128) {
        self.number(f, Number::Signed(value));
    }

    fn record_u128(&mut self, f: &Field, value: u128) {
        self.number(f, Number::Unsigned(value));
    }

    fn record_bool(&mut self, f: &Field, value: bool) {
        self.flag(f, value);
    }

    fn record_str(&mut self, f: &Field, value: &str) {
        self.text(f, value);
    }

    fn record_debug(&mut self, f: &Field, value: &dyn fmt::Debug) {
        self.note_audio(f);
        let labels = &self.shared.labels;
        match f.name() {
            field::VOICE => self.fields.voice = Some(labels.voices.intern_fmt(value)),
            field::MODEL => self.fields.model = Some(labels.models.intern_fmt(value)),
            field::FORMAT => self.fields.format = Some(labels.formats.intern_fmt(value)),
            name => self.wrong_kind(name),
        }
    }
}

/// What an event inside a synthesis span says about it.
#[derive(Debug, Default)]
pub(super) struct EventFields {
    pub(super) first_audio: bool,
    pub(super) error_type: Option<Label>,
}

/// Visits an event's fields for the first-audio marker and the error type.
pub(super) struct EventVisitor<'a> {
    pub(super) shared: &'a Shared,
    pub(super) found: EventFields,
}

impl Visit for EventVisitor<'_> {
    fn record_str(&mut self, f: &Field, value: &str) {
        if f.name() == field::ERROR_TYPE {
            self.found.error_type = Some(self.shared.labels.errors.intern(value));
        }
    }

    fn record_debug(&mut self, f: &Field, value: &dyn fmt::Debug) {
        match f.name() {
            field::ERROR_TYPE => {
                self.found.error_type = Some(self.shared.labels.errors.intern_fmt(value));
            }
            field::FIRST_AUDIO => self.found.first_audio = true,
            _ => {}
        }
    }

    fn record_bool(&mut self, f: &Field, value: bool) {
        if f.name() == field::FIRST_AUDIO {
            self.found.first_audio = value;
        }
    }
}
