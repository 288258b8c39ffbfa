//! Every way a synthesis span can end: closed on another thread, dropped early, its future
//! dropped by a timeout, failed, never declaring its audio, recording fields it never declared,
//! and never closed at all.

use std::collections::BTreeMap;
use std::time::Duration;

use tracing::field::Empty;
use tracing::Span;
use tts_otel::semconv::{field, metric};
use tts_otel::Outcome;

use crate::support::{only, TEMPORALITIES};
use crate::{by_voice, invalid_of, shared, totals, Rig};

#[tracing::instrument(
    name = "tts.synthesize",
    fields(tts.voice = "timed-out", tts.cache.hit = false, tts.audio.seconds = Empty)
)]
async fn never_finishes() {
    tokio::time::sleep(Duration::from_secs(30)).await;
    Span::current().record(field::AUDIO_SECONDS, 1.0);
}

/// A synthesis span of `voice` that declares `tts.audio.seconds` and has not recorded it.
fn expecting_audio(voice: &'static str) -> Span {
    tracing::info_span!(
        "tts.synthesize",
        tts.voice = voice,
        tts.audio.seconds = Empty
    )
}

/// Moves `span` to a new thread under the rig's subscriber and lets `finish` end it there.
fn on_another_thread(rig: &Rig, span: Span, finish: fn(Span)) {
    let dispatch = rig.harness.dispatch.clone();
    std::thread::spawn(move || tracing::dispatcher::with_default(&dispatch, || finish(span)))
        .join()
        .expect("the other thread ends");
}

/// Ends one synthesis in each way; the voice names the way.
fn end_in_every_way(rig: &Rig) {
    let span = rig.run(|| expecting_audio("other-thread-done"));
    on_another_thread(rig, span, |span| {
        span.record(field::AUDIO_SECONDS, 2.0);
    });
    let span = rig.run(|| expecting_audio("other-thread-cancelled"));
    on_another_thread(rig, span, drop);

    rig.run(|| {
        drop(expecting_audio("dropped-early"));

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let outcome = tokio::time::timeout(Duration::from_millis(5), never_finishes()).await;
            assert!(outcome.is_err(), "the timeout drops the future");
        });

        expecting_audio("failed").in_scope(|| tracing::error!(error.type = "oom", "no memory"));
        drop(tracing::info_span!(
            "tts.synthesize",
            tts.voice = "undeclared-audio"
        ));

        let span = tracing::info_span!("tts.synthesize", tts.voice = "records-undeclared");
        span.record(field::AUDIO_SECONDS, 2.0);
        span.record("tts.not.a.field", 5_u64);

        expecting_audio("audio-of-wrong-kind").record(field::AUDIO_SECONDS, "two seconds");
    });
}

#[test]
fn every_way_a_span_ends_counts_it_once_as_succeeded_failed_or_cancelled() {
    let _shared = shared();
    for temporality in TEMPORALITIES {
        let rig = Rig::new(temporality);
        end_in_every_way(&rig);

        let outcomes: BTreeMap<String, Outcome> = rig
            .sink
            .take()
            .into_iter()
            .map(|s| (s.voice.to_string(), s.outcome))
            .collect();
        let cancelled = ["dropped-early", "other-thread-cancelled", "timed-out"];
        for (voice, outcome) in &outcomes {
            let expected = match voice.as_str() {
                v if cancelled.contains(&v) => Outcome::Cancelled,
                "failed" => Outcome::Failed {
                    error_type: "oom".into(),
                },
                _ => Outcome::Succeeded,
            };
            assert_eq!(outcome, &expected, "{voice}");
        }
        assert_eq!(outcomes.len(), 8);

        let all = rig.collect();
        assert_eq!(
            totals(&all, metric::SYNTHESIS_DURATION).0,
            5,
            "{temporality:?}"
        );
        assert_eq!(totals(&all, metric::SYNTHESIS_CANCELLED).1, 3.0);
        for voice in cancelled {
            assert_eq!(
                by_voice(&all, metric::SYNTHESIS_CANCELLED, voice),
                1.0,
                "{voice}"
            );
        }
        let rtf = only(&all, metric::SYNTHESIS_RTF);
        assert_eq!(rtf.attr("tts.voice"), Some("other-thread-done"));
        assert_eq!(rtf.count(), 1);
        for voice in [
            "undeclared-audio",
            "records-undeclared",
            "audio-of-wrong-kind",
        ] {
            assert_eq!(
                by_voice(&all, metric::SYNTHESIS_UNRATED, voice),
                1.0,
                "{voice}"
            );
        }
        assert_eq!(
            totals(&all, metric::CACHE_REQUESTS).1,
            1.0,
            "the timed-out look-up"
        );
        assert_eq!(
            invalid_of(&all, field::AUDIO_SECONDS),
            1.0,
            "only the wrong kind"
        );
        assert_eq!(only(&all, metric::SYNTHESIS_ACTIVE).sum(), 0.0);

        let requests = rig.summary().requests;
        assert_eq!(requests.total, 8);
        assert_eq!(
            (requests.succeeded, requests.failed, requests.cancelled),
            (4, 1, 3)
        );
        assert_eq!(requests.without_rtf, 3);
    }
}

#[test]
fn a_span_that_is_never_closed_stays_active_and_is_never_counted() {
    let _shared = shared();
    let rig = Rig::new(TEMPORALITIES[0]);
    rig.run(|| {
        let leaked =
            tracing::info_span!("tts.synthesize", tts.voice = "v", tts.audio.seconds = 1.0);
        std::mem::forget(leaked);
        tracing::info_span!("tts.synthesize", tts.voice = "v", tts.audio.seconds = 1.0)
            .in_scope(|| {});
    });
    let all = rig.collect();
    assert_eq!(
        only(&all, metric::SYNTHESIS_ACTIVE).sum(),
        1.0,
        "it shows as active"
    );
    assert_eq!(totals(&all, metric::SYNTHESIS_DURATION).0, 1);
    assert_eq!(rig.summary().requests.total, 1);
}
