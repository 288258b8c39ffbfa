//! Time out of order: events after an error, repeated markers, stage spans that outlive their
//! synthesis span's handle, and a wall clock that jumps backwards and forwards.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tts_otel::semconv::{attr, metric};
use tts_otel::{Monitor, MonitorConfig, Outcome, Synthesis};

use crate::support::{only, points, TEMPORALITIES};
use crate::{assert_monitor_finite, shared, totals, Rig};

const MS: Duration = Duration::from_millis(1);

fn synthesis(voice: &'static str) -> tracing::Span {
    tracing::info_span!("tts.synthesize", tts.voice = voice, tts.audio.seconds = 1.0)
}

/// Syntheses whose events come in awkward orders; the voice names the order.
fn out_of_order_events() {
    synthesis("error-then-marker").in_scope(|| {
        tracing::error!(error.type = "timeout", "engine timed out");
        sleep(5 * MS);
        tts_otel::first_audio();
    });
    synthesis("marker-then-error").in_scope(|| {
        tts_otel::first_audio();
        tracing::error!(error.type = "client_gone", "client went away");
    });
    synthesis("two-errors").in_scope(|| {
        tracing::error!(error.type = "first", "first failure");
        tracing::error!(error.type = "second", "second failure");
    });
    synthesis("three-markers").in_scope(|| {
        sleep(5 * MS);
        tts_otel::first_audio();
        sleep(20 * MS);
        tts_otel::first_audio();
        tts_otel::first_audio();
    });
    synthesis("marker-in-a-stage").in_scope(|| {
        tracing::info_span!("tts.stage.encode").in_scope(tts_otel::first_audio);
    });
    tts_otel::first_audio();
    tracing::error!(error.type = "outside", "an error outside any synthesis");
}

#[test]
fn events_out_of_order_keep_the_first_error_and_the_first_marker() {
    let _shared = shared();
    for temporality in TEMPORALITIES {
        let rig = Rig::new(temporality);
        rig.run(out_of_order_events);

        let done: BTreeMap<String, Synthesis> = rig
            .sink
            .take()
            .into_iter()
            .map(|s| (s.voice.to_string(), s))
            .collect();
        assert_eq!(done.len(), 5, "events outside a synthesis make none");
        let error_of = |voice: &str| match &done[voice].outcome {
            Outcome::Failed { error_type } => Some(error_type.to_string()),
            _ => None,
        };
        assert_eq!(error_of("error-then-marker").as_deref(), Some("timeout"));
        assert_eq!(error_of("two-errors").as_deref(), Some("first"));
        let ttfa = |voice: &str| done[voice].time_to_first_audio;
        assert!(ttfa("error-then-marker").is_some_and(|t| t >= 5 * MS));
        assert!(ttfa("three-markers").is_some_and(|t| t >= 5 * MS && t < 25 * MS));
        assert!(ttfa("marker-in-a-stage").is_some());
        assert_eq!(ttfa("two-errors"), None);

        let all = rig.collect();
        let errors: Vec<_> = points(&all, metric::SYNTHESIS_DURATION)
            .into_iter()
            .filter_map(|p| p.attr(attr::ERROR_TYPE))
            .collect();
        assert_eq!(errors.len(), 3, "{temporality:?}: {errors:?}");
        assert_eq!(
            totals(&all, metric::SYNTHESIS_RTF).0,
            2,
            "only the successes"
        );
        let exported_ttfa = totals(&all, metric::TIME_TO_FIRST_AUDIO).0;
        assert_eq!(exported_ttfa, 4, "every marked synthesis, failed ones too");

        let summary = rig.summary();
        assert_eq!(
            (summary.requests.succeeded, summary.requests.failed),
            (2, 3)
        );
        let monitored_ttfa = summary.time_to_first_audio_seconds.count;
        assert_eq!(monitored_ttfa, 2, "the monitor keeps successes only");
    }
}

#[test]
fn a_stage_span_that_outlives_its_synthesis_handle_is_timed_within_it() {
    let _shared = shared();
    for temporality in TEMPORALITIES {
        let rig = Rig::new(temporality);
        let (here, there) = rig.run(|| {
            let here = synthesis("stage-closes-here");
            let stage_here = tracing::info_span!(parent: &here, "tts.stage.inference");
            let there = synthesis("stage-closes-there");
            let stage_there = tracing::info_span!(parent: &there, "tts.stage.encode");
            drop((here, there));
            (stage_here, stage_there)
        });
        sleep(20 * MS);
        let active = only(&rig.collect(), metric::SYNTHESIS_ACTIVE).sum();
        assert_eq!(active, 2.0, "a synthesis stays open while a stage of it is");
        rig.run(|| drop(here));
        let dispatch = rig.harness.dispatch.clone();
        std::thread::spawn(move || tracing::dispatcher::with_default(&dispatch, || drop(there)))
            .join()
            .expect("the other thread ends");

        for synthesis in rig.sink.take() {
            assert!(synthesis.latency >= 20 * MS, "{synthesis:?}");
            assert_eq!(synthesis.stages.len(), 1, "{synthesis:?}");
            assert!(synthesis.stages[0].duration >= 20 * MS);
            assert!(synthesis.stages[0].duration <= synthesis.latency);
        }
        let all = rig.collect();
        assert_eq!(totals(&all, metric::STAGE_DURATION).0, 2, "{temporality:?}");
        assert_eq!(totals(&all, metric::SYNTHESIS_DURATION).0, 2);
        assert_eq!(only(&all, metric::SYNTHESIS_ACTIVE).sum(), 0.0);
        let stages = rig.summary().stages_seconds;
        assert_eq!((stages["inference"].count, stages["encode"].count), (1, 1));
    }
}

/// A monitor whose clock is the system clock moved by the returned number of seconds.
fn shifted_monitor() -> (Monitor, Arc<AtomicI64>) {
    let offset = Arc::new(AtomicI64::new(0));
    let read = Arc::clone(&offset);
    let clock = move || {
        let shift = read.load(Ordering::SeqCst);
        let by = Duration::from_secs(shift.unsigned_abs());
        let now = SystemTime::now();
        let shifted = if shift < 0 {
            now.checked_sub(by)
        } else {
            now.checked_add(by)
        };
        shifted.unwrap_or(now)
    };
    let config = MonitorConfig::default().with_system_interval(None);
    (Monitor::new(config.with_clock(clock)), offset)
}

/// Seconds that move the system clock to well before the Unix epoch.
fn before_the_epoch() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    -(since.as_secs() as i64) - 3600
}

// TODO: only the monitor's clock jumps here; the layer stamps each synthesis's end from the
// system clock (through an offset it measures again every second), which a test cannot move, so
// a backwards jump of those stamps is covered by the monitor's own tests with hand-made
// syntheses, not through spans.
#[test]
fn a_wall_clock_that_jumps_keeps_latency_monotonic_and_trend_buckets_ordered() {
    let _shared = shared();
    let (monitor, offset) = shifted_monitor();
    let rig = Rig::with_monitor(TEMPORALITIES[0], monitor.clone());
    rig.run(|| {
        let span = synthesis("jumps");
        sleep(10 * MS);
        offset.store(-3600, Ordering::SeqCst);
        sleep(10 * MS);
        drop(span);
        synthesis("after-the-jump").in_scope(|| sleep(MS));
    });
    let latencies: Vec<Duration> = rig.sink.take().iter().map(|s| s.latency).collect();
    assert!(latencies[0] >= 20 * MS, "{latencies:?}");
    let (count, sum) = totals(&rig.collect(), metric::SYNTHESIS_DURATION);
    assert_eq!(count, 2);
    assert!(sum >= 0.021, "{sum}");

    let year = 365 * 24 * 3600;
    for (shift, in_window) in [(-3600, 2), (before_the_epoch(), 2), (100 * year, 0), (0, 2)] {
        offset.store(shift, Ordering::SeqCst);
        let summary = assert_monitor_finite(&monitor);
        assert_eq!(
            summary.requests.total, in_window,
            "clock moved by {shift} s"
        );
        let trend = monitor.rtf_trend(Duration::from_secs(2 * 3600), Duration::from_secs(60));
        let starts: Vec<i64> = trend.buckets.iter().map(|b| b.start_unix_seconds).collect();
        assert!(
            starts.windows(2).all(|w| w[0] < w[1]),
            "clock moved by {shift} s"
        );
        let requests: u64 = trend.buckets.iter().map(|b| b.requests).sum();
        let expected = if shift == 0 { 2 } else { 0 };
        assert_eq!(
            requests, expected,
            "the trend shows what ended in its window"
        );
    }
    let slowest = monitor.summary().latency_seconds.all.max;
    assert!(slowest.is_some_and(|l| l >= 0.02), "{slowest:?}");
}
