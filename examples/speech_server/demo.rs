//! The demo: starts the server, replays the corpus plan over HTTP with concurrent clients the
//! way real clients would call it, then reports from the server's own endpoints and monitor.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::CONTENT_TYPE;
use tts_otel::Summary;

use crate::chart::{self, Dot, TrendPoint};
use crate::config::Config;
use crate::corpus::{self, Planned};
use crate::telemetry::Telemetry;
use crate::{overhead, report, server, BoxError};

/// Span-shaped syntheses timed to measure the layer's cost.
const OVERHEAD_SAMPLES: u32 = 20_000;
/// Trend buckets the chart aims for.
const TREND_BUCKETS: u64 = 30;

/// What one client saw of one request.
#[derive(Clone, Debug)]
pub struct Seen {
    pub status: u16,
    pub stream: bool,
    pub latency: Duration,
    /// Time until the first body chunk arrived.
    pub first_chunk: Option<Duration>,
    pub bytes: usize,
}

/// Starts the server, replays `n` requests, prints the report, writes the export and the
/// chart, and stops.
///
/// # Errors
///
/// When the server cannot start, a request is not answered 200, or a file cannot be written.
pub async fn run(config: &Config, telemetry: &Telemetry, n: usize) -> Result<(), BoxError> {
    let running = server::start(config, telemetry).await?;
    let base = format!("http://{}", running.addr);
    let otlp = if telemetry.exporting {
        "on"
    } else {
        "off (set OTEL_EXPORTER_OTLP_ENDPOINT)"
    };
    println!("speech_server listening on {base}; replaying {n} requests; OTLP export {otlp}");

    let began = Instant::now();
    let seen = replay(&base, corpus::plan(n), config.clients).await;
    let wall = began.elapsed();
    let summary = fetch_summary(&base).await?;
    print!(
        "{}",
        report::render(&summary, &seen, wall.as_secs_f64(), config.clients)
    );
    let (entries, bytes) = running.speech.cache().usage();
    println!(
        "audio cache: {entries} entries, {:.1} MiB",
        bytes as f64 / (1024.0 * 1024.0)
    );
    print_overhead(&summary);

    write_files(telemetry, &config.export, wall)?;
    running.stop().await?;

    let failed = seen.iter().filter(|s| s.status != 200).count();
    if failed > 0 {
        return Err(format!("{failed} of {n} demo requests were not answered 200").into());
    }
    Ok(())
}

/// Sends every planned request to `base` with `clients` concurrent clients, each taking the
/// next request when its last one is done.
pub async fn replay(base: &str, plan: Vec<Planned>, clients: usize) -> Vec<Seen> {
    let plan = Arc::new(plan);
    let next = Arc::new(AtomicUsize::new(0));
    let client = crate::client::http_client();
    let url = format!("{base}/v1/audio/speech");

    let workers: Vec<_> = (0..clients.max(1))
        .map(|_| {
            let (plan, next) = (Arc::clone(&plan), Arc::clone(&next));
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while let Some(request) = plan.get(next.fetch_add(1, Ordering::Relaxed)) {
                    seen.push(send(&client, &url, request).await);
                }
                seen
            })
        })
        .collect();

    let mut all = Vec::with_capacity(plan.len());
    for worker in workers {
        all.extend(worker.await.unwrap_or_default());
    }
    all
}

async fn send(client: &reqwest::Client, url: &str, request: &Planned) -> Seen {
    let body = serde_json::json!({
        "model": "tts-1",
        "input": request.text,
        "voice": request.voice,
        "response_format": "wav",
        "speed": request.speed,
        "stream": request.stream,
    });
    let start = Instant::now();
    let mut seen = Seen {
        status: 0,
        stream: request.stream,
        latency: Duration::ZERO,
        first_chunk: None,
        bytes: 0,
    };
    let request = client.post(url).header(CONTENT_TYPE, "application/json");
    if let Ok(mut response) = request.body(body.to_string()).send().await {
        seen.status = response.status().as_u16();
        while let Ok(Some(chunk)) = response.chunk().await {
            seen.first_chunk.get_or_insert_with(|| start.elapsed());
            seen.bytes += chunk.len();
        }
    }
    seen.latency = start.elapsed();
    seen
}

/// The summary as any client gets it: from `GET /performance/stats`.
async fn fetch_summary(base: &str) -> Result<Summary, BoxError> {
    let url = format!("{base}{}", tts_otel::http::routes::STATS);
    let response = crate::client::http_client().get(url).send().await?;
    if !response.status().is_success() {
        return Err(format!(
            "{} answered {}",
            tts_otel::http::routes::STATS,
            response.status()
        )
        .into());
    }
    Ok(serde_json::from_slice(&response.bytes().await?)?)
}

fn print_overhead(summary: &Summary) {
    let overhead = overhead::measure(OVERHEAD_SAMPLES);
    let added = overhead.added().as_secs_f64();
    let share =
        |mean: Option<f64>| mean.map_or("-".to_owned(), |m| format!("{:.4} %", 100.0 * added / m));
    println!(
        "telemetry cost: {:.2} µs per synthesis ({:.2} µs with the layer and monitor, {:.2} µs \
         bare) = {} of the mean engine synthesis, {} of the mean request",
        added * 1e6,
        overhead.with_layer.as_secs_f64() * 1e6,
        overhead.bare.as_secs_f64() * 1e6,
        share(summary.latency_seconds.cache_miss.mean),
        share(summary.latency_seconds.all.mean),
    );
}

/// Writes the export to `export` and the chart next to it, as `.svg`.
fn write_files(telemetry: &Telemetry, export: &Path, wall: Duration) -> Result<(), BoxError> {
    telemetry.monitor.export_json(export)?;
    let svg = export.with_extension("svg");
    let (dots, trend) = chart_data(telemetry, wall);
    chart::draw(&svg, &dots, &trend)?;
    println!("export: {}\nchart:  {}", export.display(), svg.display());
    Ok(())
}

/// Each synthesis of the monitor's window, and its RTF trend over the run, in seconds since
/// the first synthesis ended.
fn chart_data(telemetry: &Telemetry, wall: Duration) -> (Vec<Dot>, Vec<TrendPoint>) {
    let export = telemetry.monitor.export();
    let origin = export
        .records
        .iter()
        .map(|r| r.ended_at_unix_seconds)
        .fold(f64::MAX, f64::min);
    let dots = export
        .records
        .iter()
        .filter(|r| r.error_type.is_none())
        .map(|r| Dot {
            at: r.ended_at_unix_seconds - origin,
            rtf: r.rtf,
            latency: r.latency_seconds,
            cache_hit: r.cache_hit == Some(true),
        })
        .collect();

    let window = wall.as_secs() + 2;
    let resolution = Duration::from_secs(window.div_ceil(TREND_BUCKETS).max(1));
    let trend = telemetry
        .monitor
        .rtf_trend(Duration::from_secs(window), resolution);
    let width = resolution.as_secs_f64();
    let points = trend
        .buckets
        .iter()
        .filter_map(|b| {
            let from = b.start_unix_seconds as f64 - origin;
            Some(TrendPoint {
                from,
                to: from + width,
                mean: b.rtf_mean?,
                p95: b.rtf_p95?,
            })
        })
        .collect();
    (dots, points)
}
