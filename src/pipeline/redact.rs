//! Keeps the input text out of what the pipeline exports and prints, where code records it by
//! mistake in a field such as `text` or `input` (see [`field::TEXT_FIELDS`]).
//!
//! The synthesis layer never reads the text; `tracing-opentelemetry` and the `fmt` layer,
//! though, export and print every field a span or event carries, and `#[instrument]` records
//! every argument it is not told to skip. So the span exporter replaces the values of such
//! fields, on spans and their events, and the printed log formats them as [`field::REDACTED`].
//!
//! # Implementation details
//!
//! The exporter's work runs on the batch processor's thread, one name comparison per attribute,
//! never on the recording path. The log's field formatter is `tracing-subscriber`'s default one
//! with one name check per field.
//!
//! TODO: only fields are redacted, and only by name. Text written into an event's message
//! (`info!("speaking {text}")`), a struct recorded with `?job` whose `Debug` shows the text,
//! or an error whose message quotes it is exported and printed as written.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Metadata, Subscriber};
use tracing_subscriber::field::{RecordFields, VisitOutput};
use tracing_subscriber::fmt::format::{DefaultVisitor, Writer};
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

use crate::semconv::field;

/// Whether a field or attribute named `name` would carry the input text.
pub(crate) fn is_text_field(name: &str) -> bool {
    field::TEXT_FIELDS.iter().any(|text| {
        name == *text
            || name
                .strip_suffix(text)
                .is_some_and(|head| head.ends_with('.'))
    })
}

fn redact(attributes: &mut [KeyValue]) {
    for attribute in attributes.iter_mut() {
        if is_text_field(attribute.key.as_str()) {
            attribute.value = Value::from(field::REDACTED);
        }
    }
}

/// A span exporter that redacts text fields before handing spans on.
#[derive(Debug)]
pub(crate) struct Redacted<E>(pub(crate) E);

impl<E: SpanExporter> SpanExporter for Redacted<E> {
    fn export(&self, mut batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        for span in &mut batch {
            redact(&mut span.attributes);
            for event in &mut span.events.events {
                redact(&mut event.attributes);
            }
        }
        self.0.export(batch)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}

thread_local! {
    /// How deep this thread is inside the printed log's field formatter.
    static FORMATTING: Cell<u32> = const { Cell::new(0) };
}

/// Whether this thread is formatting fields for the printed log.
fn formatting_fields() -> bool {
    FORMATTING.with(|depth| depth.get() > 0)
}

/// Drops every event emitted while the printed log formats fields. Such an event comes from a
/// user's `Debug` or `Display` impl, while the printing layer holds the extensions of the span
/// it formats; any layer that took them again (the printing layer itself, the synthesis layer,
/// the trace layer) would wait on its own thread forever. Outermost in the pipeline's stack, so
/// no layer sees the event: it is neither printed, nor exported, nor does it fail a synthesis.
///
/// TODO: an application's own printing layer formats with its own formatter, which this guard
/// does not see; with it, a `Debug` impl that logs inside an open span can still deadlock.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct OutsideFormatting;

impl<S: Subscriber> Layer<S> for OutsideFormatting {
    fn register_callsite(&self, _metadata: &'static Metadata<'static>) -> Interest {
        // Asked each time, since the answer depends on what this thread is doing.
        Interest::sometimes()
    }

    fn enabled(&self, _metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        // Answered before any other layer's filter runs, so the filters' per-thread state for
        // the span or event being formatted is left as it was.
        !formatting_fields()
    }
}

/// Marks this thread as formatting until dropped, unwinding included.
struct Formatting;

impl Formatting {
    fn enter() -> Self {
        FORMATTING.with(|depth| depth.set(depth.get().saturating_add(1)));
        Formatting
    }
}

impl Drop for Formatting {
    fn drop(&mut self) {
        FORMATTING.with(|depth| depth.set(depth.get().saturating_sub(1)));
    }
}

/// The printed log's field formatter: `tracing-subscriber`'s default, with text fields shown
/// as [`field::REDACTED`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RedactedFields;

impl<'writer> FormatFields<'writer> for RedactedFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let _formatting = Formatting::enter();
        let mut visitor = RedactingVisitor(DefaultVisitor::new(writer, true));
        fields.record(&mut visitor);
        visitor.0.finish()
    }
}

/// Hands every field to the default visitor, text fields as [`field::REDACTED`].
struct RedactingVisitor<'a>(DefaultVisitor<'a>);

impl RedactingVisitor<'_> {
    /// Records a redacted text field; whether `field` was one.
    fn redacted(&mut self, field: &Field) -> bool {
        let text = is_text_field(field.name());
        if text {
            self.0.record_str(field, field::REDACTED);
        }
        text
    }
}

impl Visit for RedactingVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.record_f64(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.record_i64(field, value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.record_u64(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.record_bool(field, value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if !self.redacted(field) {
            self.0.record_str(field, value);
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if !self.redacted(field) {
            self.0.record_error(field, value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if !self.redacted(field) {
            self.0.record_debug(field, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_fields_are_recognised_by_name_and_dotted_suffix() {
        for name in ["text", "input", "ssml", "request.text", "tts.input"] {
            assert!(is_text_field(name), "{name}");
        }
        for name in [
            "tts.text.chars",
            "context",
            "inputs",
            "tts.voice",
            "pretext",
        ] {
            assert!(!is_text_field(name), "{name}");
        }
    }

    #[test]
    fn redaction_replaces_only_text_attributes() {
        let mut attributes = vec![
            KeyValue::new("text", "secret words"),
            KeyValue::new("tts.text.chars", 12_i64),
        ];
        redact(&mut attributes);
        assert_eq!(attributes[0].value, Value::from(field::REDACTED));
        assert_eq!(attributes[1].value, Value::I64(12));
    }
}
