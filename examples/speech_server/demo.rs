//! The demo: replays the corpus plan over HTTP with concurrent clients against the running
//! server, the way real clients would call it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::CONTENT_TYPE;

use crate::corpus::Planned;

/// What one client saw of one request.
#[derive(Clone, Debug)]
pub struct Seen {
    pub status: u16,
    pub stream: bool,
    pub latency: Duration,
    /// Time until the first body chunk arrived.
    pub first_chunk: Option<Duration>,
    pub bytes: usize,
    /// When the request finished, since the replay began.
    pub finished: Duration,
}

/// Sends every planned request to `base` with `clients` concurrent clients, each taking the
/// next request when its last one is done.
pub async fn replay(base: &str, plan: Vec<Planned>, clients: usize) -> Vec<Seen> {
    let plan = Arc::new(plan);
    let next = Arc::new(AtomicUsize::new(0));
    let client = reqwest::Client::new();
    let url = format!("{base}/v1/audio/speech");
    let began = Instant::now();

    let workers: Vec<_> = (0..clients.max(1))
        .map(|_| {
            let (plan, next, client, url) = (
                Arc::clone(&plan),
                Arc::clone(&next),
                client.clone(),
                url.clone(),
            );
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while let Some(request) = plan.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let mut one = send(&client, &url, request).await;
                    one.finished = began.elapsed();
                    seen.push(one);
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
        finished: Duration::ZERO,
    };
    let sent = client
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await;
    if let Ok(mut response) = sent {
        seen.status = response.status().as_u16();
        while let Ok(Some(chunk)) = response.chunk().await {
            seen.first_chunk.get_or_insert_with(|| start.elapsed());
            seen.bytes += chunk.len();
        }
    }
    seen.latency = start.elapsed();
    seen
}

/// Starts the server, replays the plan, reports, and stops.
pub async fn run(
    config: &crate::config::Config,
    telemetry: &crate::telemetry::Telemetry,
    n: usize,
) -> Result<(), crate::BoxError> {
    let running = crate::server::start(config, telemetry).await?;
    let base = format!("http://{}", running.addr);
    let seen = replay(&base, crate::corpus::plan(n), config.clients).await;
    let ok = seen.iter().filter(|s| s.status == 200).count();
    println!("sent {} requests, {ok} answered 200", seen.len());
    let dots: Vec<crate::chart::Dot> = seen
        .iter()
        .map(|s| crate::chart::Dot {
            at: s.finished.as_secs_f64(),
            rtf: Some(s.latency.as_secs_f64() / 2.0),
            latency: s.latency.as_secs_f64(),
            cache_hit: s.latency.as_secs_f64() < 0.01,
        })
        .collect();
    let svg = config.export.with_extension("svg");
    if let Some(dir) = svg.parent() {
        std::fs::create_dir_all(dir)?;
    }
    crate::chart::draw(&svg, &dots, &[])?;
    println!("chart: {}", svg.display());
    let overhead = crate::overhead::measure(20_000);
    println!(
        "telemetry: {:?} per synthesis with the layer, {:?} bare",
        overhead.with_layer, overhead.bare
    );
    running.stop().await?;
    Ok(())
}
