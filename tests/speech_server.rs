//! End-to-end tests of the `speech_server` example: its modules are compiled into this test
//! and the server runs in-process on a free loopback port, answering real HTTP requests with
//! the real espeak-ng. Every test fails, with a message saying how to install it, when
//! espeak-ng is missing.
//!
//! The tracing subscriber is global to the process, so all servers of this binary record into
//! one set of instruments; tests take a lock and compare counts before and after their own
//! requests.
// Each test binary that includes the example's modules uses a different part of them.
#![allow(dead_code)]

#[path = "../examples/speech_server/api.rs"]
mod api;
#[path = "../examples/speech_server/cache.rs"]
mod cache;
#[path = "../examples/speech_server/client.rs"]
mod client;
#[path = "../examples/speech_server/config.rs"]
mod config;
#[path = "../examples/speech_server/corpus.rs"]
mod corpus;
#[path = "../examples/speech_server/engine.rs"]
mod engine;
#[path = "../examples/speech_server/server.rs"]
mod server;
#[path = "../examples/speech_server/speech.rs"]
mod speech;
#[path = "../examples/speech_server/telemetry.rs"]
mod telemetry;
#[path = "../examples/speech_server/text.rs"]
mod text;
#[path = "../examples/speech_server/wav.rs"]
mod wav;

#[path = "speech_server/exports.rs"]
mod exports;
#[path = "speech_server/harness.rs"]
mod harness;
#[path = "speech_server/privacy.rs"]
mod privacy;
#[path = "speech_server/prometheus.rs"]
mod prometheus;
mod support;

use bytes::Bytes;
use reqwest::header::CONTENT_TYPE;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tts_otel::http::routes;
use tts_otel::monitor::RequestCounts;
use tts_otel::Summary;

use crate::harness::{error_code, Harness, Metrics};
use crate::prometheus::Prometheus;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_request_gets_its_4xx_and_nothing_is_synthesised() {
    let server = Harness::start(&["--max-input-chars", "100", "--max-body-bytes", "2048"]).await;
    let before = (
        server.metrics().await.syntheses(),
        server.summary().await.requests,
    );

    let cases: Vec<(&str, String, StatusCode, &str)> = vec![
        (
            "empty input",
            json!({"input": "", "voice": "en-us"}).to_string(),
            StatusCode::BAD_REQUEST,
            "empty_input",
        ),
        (
            "blank input",
            json!({"input": " \n\t ", "voice": "en-us"}).to_string(),
            StatusCode::BAD_REQUEST,
            "empty_input",
        ),
        (
            "input over the limit",
            json!({"input": "a".repeat(101), "voice": "en-us"}).to_string(),
            StatusCode::BAD_REQUEST,
            "input_too_long",
        ),
        (
            "unknown voice",
            json!({"input": "Hi.", "voice": "alloy"}).to_string(),
            StatusCode::BAD_REQUEST,
            "unknown_voice",
        ),
        (
            "unsupported format",
            json!({"input": "Hi.", "voice": "en-us", "response_format": "mp3"}).to_string(),
            StatusCode::BAD_REQUEST,
            "unsupported_format",
        ),
        (
            "speed too low",
            json!({"input": "Hi.", "voice": "en-us", "speed": 0.2}).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_speed",
        ),
        (
            "speed too high",
            json!({"input": "Hi.", "voice": "en-us", "speed": 4.01}).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_speed",
        ),
        (
            "malformed JSON",
            "{\"input\": \"Hi.\", ".to_owned(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "wrong field type",
            json!({"input": 42, "voice": "en-us"}).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            "body over the size limit",
            json!({"input": "Hi.", "voice": "en-us", "pad": "x".repeat(4096)}).to_string(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
        (
            "unknown model",
            json!({"model": "gpt-9", "input": "Hi.", "voice": "en-us"}).to_string(),
            StatusCode::BAD_REQUEST,
            "model_not_found",
        ),
    ];
    for (what, body, status, code) in cases {
        let (got, answer) = server
            .post_raw("/v1/audio/speech", "application/json", body)
            .await;
        assert_eq!(got, status, "{what}: {}", String::from_utf8_lossy(&answer));
        assert_eq!(error_code(&answer), code, "{what}");
        server.assert_serving().await;
    }

    let (status, answer) = server
        .post_raw("/v1/audio/speech", "text/plain", "Hi.".into())
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(error_code(&answer), "unsupported_media_type");

    let (status, answer) = server.get("/no/such/route").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&answer), "not_found");
    let (status, answer) = server.get("/performance/export").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(&answer), "method_not_allowed");
    server.assert_serving().await;

    // Only the good requests between the bad ones were synthesised, and all succeeded.
    let after = (
        server.metrics().await.syntheses(),
        server.summary().await.requests,
    );
    assert_eq!(after.0 - before.0, 12.0);
    assert_eq!(after.1.total - before.1.total, 12);
    assert_eq!(after.1.succeeded - before.1.succeeded, 12);
    assert_eq!(after.1.failed, before.1.failed);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_failure_is_a_5xx_recorded_as_a_failed_synthesis() {
    let server = Harness::start(&["--espeak", "/bin/false"]).await;
    let before = server.metrics().await;
    let before_summary = server.summary().await.requests;

    let (status, body) = server
        .speak(&json!({"input": "This will fail.", "voice": "de"}))
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(error_code(&body), "engine_exit");

    let after = server.metrics().await;
    let failed = |m: &Metrics| {
        m.sum(
            "tts_synthesis_duration_seconds_count",
            &[("error_type", "engine_exit")],
        )
    };
    assert_eq!(failed(&after) - failed(&before), 1.0);

    let after_summary = server.summary().await.requests;
    assert_eq!(after_summary.failed - before_summary.failed, 1);
    assert_eq!(after_summary.succeeded, before_summary.succeeded);
    let of_type = |r: &RequestCounts| r.failed_by_error_type.get("engine_exit").copied();
    let before_type = of_type(&before_summary).unwrap_or(0);
    assert_eq!(of_type(&after_summary), Some(before_type + 1));
    let (status, _) = server.get("/v1/voices").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the server keeps serving after an engine failure"
    );
    server.stop().await;

    let server = Harness::start(&["--espeak", "/nonexistent/espeak-ng"]).await;
    let (status, body) = server
        .speak(&json!({"input": "No engine.", "voice": "de"}))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error_code(&body), "engine_unavailable");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_request_is_a_cache_hit_with_the_same_audio() {
    let server = Harness::start(&[]).await;
    let sentence = "A sentence worth repeating.";
    let request = json!({"model": "tts-1", "input": sentence, "voice": "fr", "speed": 1.25});
    let hits = |m: &Metrics| {
        m.sum(
            "tts_cache_requests_total",
            &[("tts_voice", "fr"), ("tts_cache_result", "hit")],
        )
    };
    let before = hits(&server.metrics().await);

    let (first_status, first) = server.speak(&request).await;
    let spaced = "  A sentence   worth repeating.\n";
    let spaced = json!({"model": "tts-1", "input": spaced, "voice": "fr", "speed": 1.25});
    let (second_status, second) = server.speak(&spaced).await;

    assert_eq!(
        (first_status, second_status),
        (StatusCode::OK, StatusCode::OK)
    );
    assert_eq!(first, second);
    assert_eq!(hits(&server.metrics().await) - before, 1.0);
    let audio = wav::parse(&first).expect("a WAV body");
    assert!(audio.seconds() > 0.5, "{} s of audio", audio.seconds());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_response_is_one_wav_and_marks_first_audio() {
    let server = Harness::start(&[]).await;
    let ttfa = |m: &Metrics| {
        m.sum(
            "tts_synthesis_time_to_first_audio_seconds_count",
            &[("tts_voice", "en-gb-scotland")],
        )
    };
    let before = ttfa(&server.metrics().await);
    let text =
        "The first sentence is short. The second one follows it. And a third ends the stream!";

    let url = format!("{}/v1/audio/speech?stream=true", server.base);
    let body = json!({"input": text, "voice": "en-gb-scotland"}).to_string();
    let mut response = server
        .client
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut chunks = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        chunks.push(chunk);
    }
    let whole: Vec<u8> = chunks.concat();
    let streamed = wav::parse(&Bytes::from(whole)).expect("the chunks form one WAV stream");
    assert!(
        streamed.seconds() > 2.0,
        "{} s of audio",
        streamed.seconds()
    );
    assert_eq!(ttfa(&server.metrics().await) - before, 1.0);

    // The whole text is now cached: the same request without streaming is a hit.
    let (status, cached) = server
        .speak(&json!({"input": text, "voice": "en-gb-scotland"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(wav::parse(&cached).unwrap().pcm, streamed.pcm);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_voices_endpoint_lists_every_voice_the_engine_speaks() {
    let server = Harness::start(&[]).await;
    let (status, body) = server.get("/v1/voices").await;
    assert_eq!(status, StatusCode::OK);
    let listed: Value = serde_json::from_slice(&body).unwrap();
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["en-us", "en-gb", "en-gb-scotland", "de", "fr"]);

    for id in ids {
        let (status, body) = server
            .speak(&json!({"input": "One two three.", "voice": id}))
            .await;
        assert_eq!(status, StatusCode::OK, "voice {id}");
        assert!(wav::parse(&body).unwrap().seconds() > 0.3, "voice {id}");
    }
    server.stop().await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_rtf_quantile_and_cache_counts_the_monitor_reports() {
    let server = Harness::start(&[]).await;
    let target = server.base.trim_start_matches("http://").to_owned();
    let prometheus = Prometheus::start(&target);

    for planned in corpus::plan(40) {
        let body = json!({"input": planned.text, "voice": planned.voice, "speed": planned.speed});
        let (status, _) = server.speak(&body).await;
        assert_eq!(status, StatusCode::OK);
    }
    prometheus.wait_until_up().await;
    let summary = server.summary().await;

    // Cache counts: every synthesis of this process, in both.
    let (hits, misses) = (summary.cache.hits as f64, summary.cache.misses as f64);
    assert!(hits >= 1.0 && misses >= 1.0, "{hits} hits, {misses} misses");
    let by_result = "sum by (tts_cache_result) (tts_cache_requests_total)";
    prometheus
        .query_until(by_result, "tts_cache_result", |samples| {
            let of = |r: &str| samples.iter().find(|(l, _)| l == r).map(|(_, v)| *v);
            of("hit") == Some(hits) && of("miss") == Some(misses)
        })
        .await;

    // The median RTF: Prometheus interpolates inside a bucket, so it must land in the bucket
    // that holds the monitor's exact median.
    let exact = summary.rtf.all.p50.expect("RTFs were recorded");
    let (lower, upper) = bucket_around(exact);
    let median = "histogram_quantile(0.5, sum by (le) (tts_synthesis_rtf_ratio_bucket))";
    let samples = prometheus
        .query_until(median, "", |samples| samples.len() == 1)
        .await;
    let scraped = samples[0].1;
    assert!(
        (lower..=upper).contains(&scraped),
        "Prometheus p50 {scraped} is outside the bucket ({lower}, {upper}] \
         of the monitor's p50 {exact}"
    );
    server.stop().await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stats_endpoint_counts_exactly_what_was_sent() {
    let server = Harness::start(&[]).await;
    let before = server.summary().await;
    let sent = [
        (
            json!({"input": "Counting starts here.", "voice": "en-us"}),
            false,
        ),
        (
            json!({"input": "Counting starts here.", "voice": "en-us"}),
            false,
        ),
        (
            json!({"input": "A different voice says it.", "voice": "de"}),
            false,
        ),
        (
            json!({"input": "Streamed. In two parts.", "voice": "en-gb", "stream": true}),
            true,
        ),
        (json!({"input": "", "voice": "en-us"}), false),
    ];
    for (body, _) in &sent {
        server.speak(body).await;
    }

    let after = server.summary().await;
    let delta = |f: fn(&Summary) -> u64| f(&after) - f(&before);
    assert_eq!(
        delta(|s| s.requests.total),
        4,
        "the empty input is not a synthesis"
    );
    assert_eq!(delta(|s| s.requests.succeeded), 4);
    assert_eq!(delta(|s| s.requests.failed), 0);
    assert_eq!(delta(|s| s.cache.hits), 1);
    assert_eq!(delta(|s| s.cache.misses), 3);
    assert_eq!(delta(|s| s.time_to_first_audio_seconds.count), 1);
    assert_eq!(delta(|s| s.text_length.short.requests), 4);
    let voice = |s: &Summary, v: &str| s.voices.get(v).map_or(0, |g| g.requests);
    for (v, n) in [("en-us", 2), ("de", 1), ("en-gb", 1)] {
        assert_eq!(voice(&after, v) - voice(&before, v), n, "voice {v}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rtf_trend_takes_bounded_minutes_and_rejects_the_rest() {
    let server = Harness::start(&[]).await;
    server.assert_serving().await;

    let (status, body) = server
        .get(&format!("{}?minutes=5", routes::RTF_TREND))
        .await;
    assert_eq!(status, StatusCode::OK);
    let trend: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(trend["window_seconds"], 300);
    let rated: u64 = trend["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["rtf_count"].as_u64().unwrap())
        .sum();
    assert!(
        rated >= 1,
        "the synthesis just made is in the trend: {trend}"
    );

    let (status, _) = server.get(routes::RTF_TREND).await;
    assert_eq!(status, StatusCode::OK, "minutes is optional");
    for bad in ["0", "-1", "abc", "1.5", "1441", "99999999999999999999999"] {
        let (status, body) = server
            .get(&format!("{}?minutes={bad}", routes::RTF_TREND))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "minutes={bad}");
        assert_eq!(error_code(&body), "invalid_minutes", "minutes={bad}");
    }
    server.stop().await;
}

/// The RTF histogram bucket `(lower, upper]` that holds `value`.
fn bucket_around(value: f64) -> (f64, f64) {
    let bounds = tts_otel::semconv::buckets::RTF;
    let at = bounds.partition_point(|b| *b < value);
    let lower = if at == 0 { 0.0 } else { bounds[at - 1] };
    (lower, bounds.get(at).copied().unwrap_or(f64::INFINITY))
}
