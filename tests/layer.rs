//! The synthesis layer through a real `Registry` into the SDK's in-memory exporter, under both
//! temporalities.

mod support;

use std::time::Duration;

use support::{only, points, Collected, Harness, TEMPORALITIES};
use tracing::field::Empty;
use tts_otel::semconv::{attr, buckets, metric, unit};
use tts_otel::Outcome;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(1.0)
}

#[test]
fn fields_given_at_creation_become_duration_rtf_and_attributes() {
    for temporality in TEMPORALITIES {
        let sink = Collected::default();
        let h = Harness::with(temporality, |b| b.with_sink(sink.clone()));
        h.run(|| {
            let span = tracing::info_span!(
                "tts.synthesize",
                tts.voice = "en-us",
                tts.model = "kokoro",
                tts.text.chars = 42_u64,
                tts.audio.seconds = 2.0,
                tts.cache.hit = false,
            );
            span.in_scope(|| std::thread::sleep(Duration::from_millis(5)));
        });
        let synthesis = sink.take().pop().expect("one synthesis");
        let latency = synthesis.latency.as_secs_f64();
        assert!(latency >= 0.005);

        let all = h.collect();
        let duration = only(&all, metric::SYNTHESIS_DURATION);
        assert_eq!(duration.count(), 1);
        assert!(close(duration.sum(), latency));
        assert_eq!(duration.unit, unit::SECONDS);
        assert_eq!(duration.attr(attr::VOICE), Some("en-us"));
        assert_eq!(duration.attr(attr::MODEL), Some("kokoro"));
        assert_eq!(duration.attr(attr::CACHE_RESULT), Some(attr::CACHE_MISS));
        assert_eq!(duration.attr(attr::ERROR_TYPE), None);

        let rtf = only(&all, metric::SYNTHESIS_RTF);
        assert!(close(rtf.sum(), latency / 2.0), "{temporality:?}");
        assert_eq!(rtf.unit, unit::RATIO);
        assert_eq!(rtf.attrs.len(), 3);

        let chars = only(&all, metric::TEXT_CHARS);
        assert_eq!((chars.count(), chars.sum()), (1, 42.0));
        assert_eq!(chars.attrs.keys().collect::<Vec<_>>(), [attr::VOICE]);
        assert_eq!(only(&all, metric::AUDIO_DURATION).sum(), 2.0);

        let cache = only(&all, metric::CACHE_REQUESTS);
        assert_eq!(cache.sum(), 1.0);
        assert_eq!(cache.attr(attr::CACHE_RESULT), Some(attr::CACHE_MISS));
    }
}

#[test]
fn instruments_carry_the_contract_units_and_bucket_boundaries() {
    let h = Harness::new(TEMPORALITIES[0]);
    h.run(|| {
        let span = tracing::info_span!(
            "tts.synthesize",
            tts.voice = "v",
            tts.text.chars = 10,
            tts.audio.seconds = 1.0,
            tts.cache.hit = true,
        );
        span.in_scope(|| {
            tts_otel::first_audio();
            tracing::info_span!("tts.stage.encode").in_scope(|| {});
        });
    });
    let all = h.collect();
    let expect = [
        (
            metric::SYNTHESIS_DURATION,
            unit::SECONDS,
            buckets::DURATION_SECONDS,
        ),
        (metric::SYNTHESIS_RTF, unit::RATIO, buckets::RTF),
        (
            metric::TIME_TO_FIRST_AUDIO,
            unit::SECONDS,
            buckets::TIME_TO_FIRST_AUDIO_SECONDS,
        ),
        (
            metric::AUDIO_DURATION,
            unit::SECONDS,
            buckets::AUDIO_SECONDS,
        ),
        (metric::TEXT_CHARS, unit::CHAR, buckets::TEXT_CHARS),
        (
            metric::STAGE_DURATION,
            unit::SECONDS,
            buckets::DURATION_SECONDS,
        ),
    ];
    for (name, unit, bounds) in expect {
        let point = only(&all, name);
        assert_eq!(point.unit, unit, "{name}");
        assert_eq!(point.bounds(), bounds, "{name}");
        assert_eq!(point.buckets().len(), bounds.len() + 1, "{name}");
    }
    assert_eq!(only(&all, metric::CACHE_REQUESTS).unit, unit::REQUEST);
    assert_eq!(only(&all, metric::SYNTHESIS_ACTIVE).unit, unit::SYNTHESIS);
}

#[test]
fn fields_recorded_later_and_of_any_numeric_type_are_read() {
    for temporality in TEMPORALITIES {
        let sink = Collected::default();
        let h = Harness::with(temporality, |b| b.with_sink(sink.clone()));
        h.run(|| {
            for (chars, audio) in [(10_i64, 3_u64), (20, 4)] {
                let span = tracing::info_span!(
                    "tts.synthesize",
                    tts.voice = Empty,
                    tts.text.chars = Empty,
                    tts.audio.seconds = Empty,
                );
                span.record("tts.voice", "de");
                span.record("tts.text.chars", chars);
                span.record("tts.audio.seconds", audio);
            }
            let span = tracing::info_span!(
                "tts.synthesize",
                tts.voice = "de",
                tts.text.chars = 30.0,
                tts.audio.seconds = Empty,
            );
            span.record("tts.audio.seconds", 5_i64);
        });
        let done = sink.take();
        let all = h.collect();
        let audio = only(&all, metric::AUDIO_DURATION);
        assert_eq!(
            (audio.count(), audio.sum()),
            (3, 12.0),
            "integer seconds are seconds"
        );
        assert_eq!(only(&all, metric::TEXT_CHARS).sum(), 60.0);
        let expected_rtf: f64 = done
            .iter()
            .map(|s| s.latency.as_secs_f64())
            .zip([3.0, 4.0, 5.0])
            .map(|(l, a)| l / a)
            .sum();
        assert!(close(only(&all, metric::SYNTHESIS_RTF).sum(), expected_rtf));
        assert!(points(&all, metric::INVALID_VALUES).is_empty());
    }
}

#[test]
fn latency_spans_every_enter_exit_pair_and_the_time_between() {
    let sink = Collected::default();
    let h = Harness::with(TEMPORALITIES[0], |b| b.with_sink(sink.clone()));
    h.run(|| {
        let span = tracing::info_span!("tts.synthesize", tts.voice = "v", tts.audio.seconds = 1);
        for _ in 0..3 {
            span.in_scope(|| std::thread::sleep(Duration::from_millis(10)));
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let latency = sink.take()[0].latency;
    assert!(latency >= Duration::from_millis(60), "{latency:?}");
    let all = h.collect();
    assert!(only(&all, metric::SYNTHESIS_DURATION).sum() >= 0.060);
}

#[test]
fn async_spans_split_by_awaits_on_a_multi_thread_runtime_are_measured_whole() {
    use tracing::instrument::WithSubscriber;

    #[tracing::instrument(
        name = "tts.synthesize",
        skip(text),
        fields(tts.voice = %voice, tts.text.chars = text.len(), tts.audio.seconds = Empty)
    )]
    async fn synthesize(voice: String, text: String) -> usize {
        tokio::time::sleep(Duration::from_millis(15)).await;
        tts_otel::first_audio();
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(15)).await;
        tracing::Span::current().record("tts.audio.seconds", 1.5);
        text.len()
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for temporality in TEMPORALITIES {
        let sink = Collected::default();
        let h = Harness::with(temporality, |b| b.with_sink(sink.clone()));
        rt.block_on(async {
            let tasks: Vec<_> = (0..8)
                .map(|i| {
                    let fut = synthesize(format!("voice-{}", i % 2), "x".repeat(10 + i));
                    tokio::spawn(fut.with_subscriber(h.dispatch.clone()))
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
        });
        let done = sink.take();
        assert_eq!(done.len(), 8);
        assert!(done.iter().all(|s| s.latency >= Duration::from_millis(30)));
        assert!(done
            .iter()
            .all(|s| s.time_to_first_audio.unwrap() >= Duration::from_millis(15)));

        let all = h.collect();
        let durations = points(&all, metric::SYNTHESIS_DURATION);
        assert_eq!(durations.len(), 2, "one series per voice");
        assert_eq!(durations.iter().map(|p| p.count()).sum::<u64>(), 8);
        let expected: f64 = done.iter().map(|s| s.latency.as_secs_f64() / 1.5).sum();
        let rtf: f64 = points(&all, metric::SYNTHESIS_RTF)
            .iter()
            .map(|p| p.sum())
            .sum();
        assert!(close(rtf, expected));
        let chars: f64 = points(&all, metric::TEXT_CHARS)
            .iter()
            .map(|p| p.sum())
            .sum();
        assert_eq!(chars, (0..8).map(|i| 10.0 + i as f64).sum::<f64>());
        assert_eq!(only(&all, metric::SYNTHESIS_ACTIVE).sum(), 0.0);
    }
}

#[test]
fn only_the_first_first_audio_marker_counts() {
    for temporality in TEMPORALITIES {
        let sink = Collected::default();
        let h = Harness::with(temporality, |b| b.with_sink(sink.clone()));
        h.run(|| {
            let span = tracing::info_span!("tts.synthesize", tts.voice = "v", tts.model = "m");
            span.in_scope(|| {
                std::thread::sleep(Duration::from_millis(5));
                tracing::info_span!("chunk").in_scope(tts_otel::first_audio);
                std::thread::sleep(Duration::from_millis(20));
                tts_otel::first_audio();
            });
        });
        let ttfa = sink.take()[0].time_to_first_audio.expect("ttfa");
        assert!(ttfa >= Duration::from_millis(5) && ttfa < Duration::from_millis(25));
        let all = h.collect();
        let point = only(&all, metric::TIME_TO_FIRST_AUDIO);
        assert_eq!(point.count(), 1);
        assert!(close(point.sum(), ttfa.as_secs_f64()));
        assert_eq!(point.attrs.len(), 2, "voice and model only");
    }
}

#[test]
fn an_error_event_fails_the_synthesis_with_its_error_type_and_no_rtf() {
    #[tracing::instrument(name = "tts.synthesize", err, fields(tts.voice = "v", tts.audio.seconds = 1.0))]
    fn failing() -> Result<(), std::io::Error> {
        Err(std::io::Error::other("engine crashed"))
    }

    for temporality in TEMPORALITIES {
        let sink = Collected::default();
        let h = Harness::with(temporality, |b| b.with_sink(sink.clone()));
        h.run(|| {
            let _ = failing();
            tracing::info_span!("tts.synthesize", tts.voice = "v", tts.audio.seconds = 1.0)
                .in_scope(|| tracing::error!(error.type = "timeout", "engine timed out"));
            tracing::info_span!("tts.synthesize", tts.voice = "v", tts.audio.seconds = 1.0)
                .in_scope(|| tracing::warn!("a warning is not a failure"));
        });
        let outcomes: Vec<_> = sink.take().into_iter().map(|s| s.outcome).collect();
        assert!(outcomes[0].is_failure() && outcomes[1].is_failure());
        assert_eq!(outcomes[2], Outcome::Succeeded);

        let all = h.collect();
        let durations = points(&all, metric::SYNTHESIS_DURATION);
        let error_of = |e: Option<&str>| {
            durations
                .iter()
                .find(|p| p.attr(attr::ERROR_TYPE) == e)
                .map(|p| p.count())
        };
        assert_eq!(error_of(Some(attr::ERROR_TYPE_OTHER)), Some(1));
        assert_eq!(error_of(Some("timeout")), Some(1));
        assert_eq!(error_of(None), Some(1));
        assert_eq!(
            only(&all, metric::SYNTHESIS_RTF).count(),
            1,
            "failures have no RTF"
        );
        assert!(
            points(&all, metric::SYNTHESIS_UNRATED).is_empty(),
            "failures are not unrated"
        );
    }
}

#[test]
fn stage_spans_are_timed_at_any_depth() {
    for temporality in TEMPORALITIES {
        let sink = Collected::default();
        let h = Harness::with(temporality, |b| b.with_sink(sink.clone()));
        h.run(|| {
            tracing::info_span!("tts.synthesize", tts.voice = "v").in_scope(|| {
                tracing::info_span!("tts.stage.phonemize").in_scope(|| {});
                tracing::info_span!("request").in_scope(|| {
                    tracing::info_span!("inner").in_scope(|| {
                        tracing::info_span!("tts.stage.inference")
                            .in_scope(|| std::thread::sleep(Duration::from_millis(3)));
                    });
                });
                tracing::info_span!("tts.stage.inference").in_scope(|| {});
            });
        });
        let stages = sink.take().remove(0).stages;
        let names: Vec<_> = stages.iter().map(|s| s.name).collect();
        assert_eq!(names, ["phonemize", "inference"]);
        assert!(stages[1].duration >= Duration::from_millis(3));

        let all = h.collect();
        let stage = points(&all, metric::STAGE_DURATION);
        let count_of = |n: &str| {
            stage
                .iter()
                .find(|p| p.attr(attr::STAGE) == Some(n))
                .unwrap()
                .count()
        };
        assert_eq!((count_of("phonemize"), count_of("inference")), (1, 2));
        let inference = stage
            .iter()
            .find(|p| p.attr(attr::STAGE) == Some("inference"))
            .unwrap();
        // The synthesis holds the two inference spans added up, as the histogram's sum does.
        assert!(close(inference.sum(), stages[1].duration.as_secs_f64()));
    }
}

#[test]
fn a_stage_that_runs_per_chunk_keeps_one_entry_however_many_spans() {
    let sink = Collected::default();
    let h = Harness::with(TEMPORALITIES[0], |b| b.with_sink(sink.clone()));
    h.run(|| {
        tracing::info_span!("tts.synthesize", tts.voice = "v").in_scope(|| {
            for _ in 0..10_000 {
                tracing::info_span!("tts.stage.engine").in_scope(|| {});
                tracing::info_span!("tts.stage.encode").in_scope(|| {});
            }
        });
    });
    let stages = sink.take().remove(0).stages;
    let names: Vec<_> = stages.iter().map(|s| s.name).collect();
    assert_eq!(names, ["engine", "encode"]);
    assert!(!stages.spilled(), "the stages stay inline");

    let all = h.collect();
    let engine = points(&all, metric::STAGE_DURATION)
        .into_iter()
        .find(|p| p.attr(attr::STAGE) == Some("engine"))
        .unwrap();
    assert_eq!(engine.count(), 10_000);
    assert!(close(engine.sum(), stages[0].duration.as_secs_f64()));
}

#[test]
fn voices_past_the_label_limit_are_reported_as_other() {
    for temporality in TEMPORALITIES {
        let h = Harness::with(temporality, |b| b.with_label_limit(4));
        h.run(|| {
            for i in 0..10 {
                let voice = format!("voice-{i}");
                tracing::info_span!("tts.synthesize", tts.voice = %voice, tts.model = voice.as_str())
                    .in_scope(|| {});
            }
        });
        let all = h.collect();
        let durations = points(&all, metric::SYNTHESIS_DURATION);
        assert_eq!(durations.len(), 5);
        let other = durations
            .iter()
            .find(|p| p.attr(attr::VOICE) == Some(attr::OVERFLOW_VALUE))
            .unwrap();
        assert_eq!(other.count(), 6);
        assert_eq!(other.attr(attr::MODEL), Some(attr::OVERFLOW_VALUE));
    }
}

#[test]
fn active_syntheses_rise_while_open_and_return_to_zero() {
    let h = Harness::new(TEMPORALITIES[0]);
    let spans: Vec<_> = h.run(|| {
        (0..3)
            .map(|_| tracing::info_span!("tts.synthesize", tts.voice = "v"))
            .collect()
    });
    assert_eq!(only(&h.collect(), metric::SYNTHESIS_ACTIVE).sum(), 3.0);
    h.run(|| drop(spans));
    assert_eq!(only(&h.collect(), metric::SYNTHESIS_ACTIVE).sum(), 0.0);
}

#[test]
fn invalid_audio_durations_record_latency_but_no_rtf() {
    for temporality in TEMPORALITIES {
        let sink = Collected::default();
        let h = Harness::with(temporality, |b| b.with_sink(sink.clone()));
        let values = [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
        h.run(|| {
            for seconds in values {
                tracing::info_span!(
                    "tts.synthesize",
                    tts.voice = "v",
                    tts.audio.seconds = seconds
                )
                .in_scope(|| {});
            }
            tracing::info_span!("tts.synthesize", tts.voice = "v").in_scope(|| {});
            tracing::info_span!(
                "tts.synthesize",
                tts.voice = "v",
                tts.audio.seconds = -3_i64
            )
            .in_scope(|| {});
        });
        assert!(sink.take().iter().all(|s| s.rtf().is_none()));
        let all = h.collect();
        assert_eq!(only(&all, metric::SYNTHESIS_DURATION).count(), 7);
        assert!(points(&all, metric::SYNTHESIS_RTF).is_empty());
        assert_eq!(only(&all, metric::SYNTHESIS_UNRATED).sum(), 7.0);
        let audio = only(&all, metric::AUDIO_DURATION);
        assert_eq!(
            (audio.count(), audio.sum()),
            (1, 0.0),
            "only the zero is a valid duration"
        );
        let invalid = only(&all, metric::INVALID_VALUES);
        assert_eq!(invalid.sum(), 5.0);
        assert_eq!(invalid.attr(attr::FIELD), Some("tts.audio.seconds"));
    }
}

#[test]
fn a_value_of_the_wrong_kind_is_ignored_and_counted() {
    for temporality in TEMPORALITIES {
        let h = Harness::new(temporality);
        h.run(|| {
            let span = tracing::info_span!(
                "tts.synthesize",
                tts.voice = "v",
                tts.text.chars = "many",
                tts.audio.seconds = Empty,
                tts.cache.hit = "yes",
            );
            span.record("tts.audio.seconds", "two");
            span.record("tts.text.chars", -5_i64);
            span.record("tts.text.chars", 2.5);
        });
        let all = h.collect();
        assert_eq!(only(&all, metric::SYNTHESIS_DURATION).count(), 1);
        assert!(points(&all, metric::TEXT_CHARS).is_empty());
        assert!(points(&all, metric::CACHE_REQUESTS).is_empty());
        let invalid = points(&all, metric::INVALID_VALUES);
        let of = |f: &str| {
            invalid
                .iter()
                .find(|p| p.attr(attr::FIELD) == Some(f))
                .map(|p| p.sum())
        };
        assert_eq!(of("tts.text.chars"), Some(3.0));
        assert_eq!(of("tts.audio.seconds"), Some(1.0));
        assert_eq!(of("tts.cache.hit"), Some(1.0));
    }
}

#[test]
fn a_span_closed_on_another_thread_is_measured() {
    let sink = Collected::default();
    let h = Harness::with(TEMPORALITIES[0], |b| b.with_sink(sink.clone()));
    let span =
        h.run(|| tracing::info_span!("tts.synthesize", tts.voice = "v", tts.audio.seconds = 1.0));
    let dispatch = h.dispatch.clone();
    std::thread::spawn(move || {
        tracing::dispatcher::with_default(&dispatch, || {
            std::thread::sleep(Duration::from_millis(5));
            drop(span);
        })
    })
    .join()
    .unwrap();
    assert!(sink.take()[0].latency >= Duration::from_millis(5));
    let all = h.collect();
    assert_eq!(only(&all, metric::SYNTHESIS_RTF).count(), 1);
    assert_eq!(only(&all, metric::SYNTHESIS_ACTIVE).sum(), 0.0);
}

#[test]
fn nested_synthesis_spans_are_measured_each_on_their_own() {
    let sink = Collected::default();
    let h = Harness::with(TEMPORALITIES[1], |b| b.with_sink(sink.clone()));
    h.run(|| {
        tracing::info_span!(
            "tts.synthesize",
            tts.voice = "outer",
            tts.audio.seconds = 4.0
        )
        .in_scope(|| {
            std::thread::sleep(Duration::from_millis(10));
            tracing::info_span!(
                "tts.synthesize",
                tts.voice = "inner",
                tts.audio.seconds = 1.0
            )
            .in_scope(|| {
                tracing::info_span!("tts.stage.inference").in_scope(tts_otel::first_audio)
            });
        });
    });
    let done = sink.take();
    let (inner, outer) = (&done[0], &done[1]);
    assert_eq!((&*inner.voice, &*outer.voice), ("inner", "outer"));
    assert!(outer.latency > inner.latency + Duration::from_millis(9));
    assert_eq!(inner.stages.len(), 1);
    assert!(
        outer.stages.is_empty(),
        "a stage belongs to its nearest synthesis"
    );
    assert!(inner.time_to_first_audio.is_some() && outer.time_to_first_audio.is_none());
    let all = h.collect();
    assert_eq!(points(&all, metric::SYNTHESIS_DURATION).len(), 2);
}

#[test]
fn the_sdks_own_events_never_mark_or_deadlock_a_synthesis() {
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry_sdk::metrics::{
        InMemoryMetricExporter, PeriodicReader, SdkMeterProvider, Stream,
    };
    use tracing_subscriber::prelude::*;

    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .with_view(|_: &opentelemetry_sdk::metrics::Instrument| {
            Stream::builder().with_cardinality_limit(3).build().ok()
        })
        .build();
    let sink = Collected::default();
    let layer = tts_otel::SynthesisLayer::builder(&provider.meter("test"))
        .with_sink(sink.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(layer)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::sink))
        .with(tracing_subscriber::filter::LevelFilter::TRACE);
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..20 {
            let voice = format!("v{i}");
            tracing::info_span!("tts.synthesize", tts.voice = %voice, tts.audio.seconds = 1.0)
                .in_scope(|| {
                    tracing::error!(target: "opentelemetry_sdk", "export failed");
                });
        }
        provider.force_flush().unwrap();
    });
    let done = sink.take();
    assert_eq!(done.len(), 20);
    assert!(done.iter().all(|s| s.outcome == Outcome::Succeeded));
}

#[test]
fn the_input_text_never_reaches_an_attribute() {
    const MARKER: &str = "PRIVATE-TEXT-7f3a";
    let h = Harness::new(TEMPORALITIES[0]);
    let sink = Collected::default();
    let h2 = Harness::with(TEMPORALITIES[0], |b| b.with_sink(sink.clone()));
    for harness in [&h, &h2] {
        harness.run(|| {
            let span = tracing::info_span!(
                "tts.synthesize",
                tts.voice = "v",
                text = MARKER,
                tts.text = MARKER,
                input = %MARKER,
                tts.text.chars = MARKER.len(),
            );
            span.in_scope(|| tracing::error!(error = MARKER, detail = %MARKER, "failed"));
        });
    }
    let all = h.collect();
    assert!(!all.is_empty());
    for point in &all {
        assert!(
            point.attrs.values().all(|v| !v.contains(MARKER)),
            "{point:?}"
        );
    }
    assert!(!format!("{:?}", sink.take()).contains(MARKER));
}

#[test]
fn a_monitor_attached_to_the_layer_summarises_the_spans() {
    let monitor = tts_otel::Monitor::default();
    let h = Harness::with(TEMPORALITIES[0], |b| b.with_sink(monitor.clone()));
    h.run(|| {
        for (voice, hit) in [("en-us", false), ("en-us", true), ("de", false)] {
            let span = tracing::info_span!(
                "tts.synthesize",
                tts.voice = voice,
                tts.text.chars = 60,
                tts.audio.seconds = 2.0,
                tts.cache.hit = hit,
            );
            span.in_scope(|| tracing::info_span!("tts.stage.inference").in_scope(|| {}));
        }
        tracing::info_span!("tts.synthesize", tts.voice = "de")
            .in_scope(|| tracing::error!(error.type = "timeout", "engine timed out"));
    });
    let summary = monitor.summary();
    assert_eq!(summary.requests.total, 4);
    assert_eq!(
        (summary.requests.succeeded, summary.requests.failed),
        (3, 1)
    );
    assert_eq!((summary.cache.hits, summary.cache.misses), (1, 2));
    assert_eq!(summary.voices["en-us"].requests, 2);
    assert_eq!(summary.text_length.medium.requests, 3);
    assert_eq!(summary.stages_seconds["inference"].count, 3);
    let all = h.collect();
    let exported: u64 = points(&all, metric::SYNTHESIS_RTF)
        .iter()
        .map(|p| p.count())
        .sum();
    assert_eq!(summary.rtf.all.count, exported);
}

#[test]
fn a_dropped_synthesis_future_counts_as_cancelled_not_as_success_or_failure() {
    #[tracing::instrument(
        name = "tts.synthesize",
        fields(tts.voice = "v", tts.cache.hit = false, tts.audio.seconds = Empty)
    )]
    async fn slow() {
        tokio::time::sleep(Duration::from_secs(30)).await;
        tracing::Span::current().record("tts.audio.seconds", 1.0);
    }

    for temporality in TEMPORALITIES {
        let monitor = tts_otel::Monitor::default();
        let h = Harness::with(temporality, |b| b.with_sink(monitor.clone()));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        h.run(|| {
            rt.block_on(async {
                let cancelled = tokio::time::timeout(Duration::from_millis(10), slow()).await;
                assert!(cancelled.is_err());
            });
            tracing::info_span!("tts.synthesize", tts.voice = "v").in_scope(|| {});
        });

        let summary = monitor.summary();
        assert_eq!(summary.requests.total, 2);
        assert_eq!(summary.requests.cancelled, 1);
        assert_eq!(
            (summary.requests.succeeded, summary.requests.failed),
            (1, 0)
        );
        assert_eq!(
            summary.latency_seconds.all.count, 1,
            "only the finished one"
        );

        let all = h.collect();
        let cancelled = only(&all, metric::SYNTHESIS_CANCELLED);
        assert_eq!(
            (cancelled.sum(), cancelled.attr(attr::VOICE)),
            (1.0, Some("v"))
        );
        assert_eq!(only(&all, metric::SYNTHESIS_DURATION).count(), 1);
        assert_eq!(
            only(&all, metric::CACHE_REQUESTS).sum(),
            1.0,
            "its cache look-up happened"
        );
        assert_eq!(only(&all, metric::SYNTHESIS_UNRATED).sum(), 1.0);
        assert_eq!(only(&all, metric::SYNTHESIS_ACTIVE).sum(), 0.0);
    }
}
