//! An OpenAI-compatible speech server over espeak-ng, instrumented with tts-otel.
//!
//! ```sh
//! cargo run --release --example speech_server --features http
//! curl -s localhost:8354/v1/audio/speech -H 'content-type: application/json' \
//!     -d '{"model":"tts-1","input":"Hello there.","voice":"en-us"}' -o hello.wav
//! curl -s localhost:8354/performance/stats
//! ```
//!
//! `--demo [N]` replays N requests from a bundled corpus with concurrent clients, prints a
//! summary, writes a JSON export and an SVG chart, and exits.

mod api;
mod cache;
mod chart;
mod config;
mod corpus;
mod demo;
mod engine;
mod overhead;
mod report;
mod server;
mod speech;
mod telemetry;
mod text;
mod wav;

use clap::Parser;

use crate::config::Config;
use crate::telemetry::Telemetry;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let config = Config::parse();
    let telemetry = Telemetry::install(config.monitor())?;

    if let Some(n) = config.demo {
        demo::run(&config, &telemetry, n).await?;
        telemetry.shutdown();
        return Ok(());
    }
    let running = server::start(&config, &telemetry).await?;
    tracing::info!(addr = %running.addr, "listening");
    tokio::signal::ctrl_c().await?;
    tracing::info!("shutting down");
    running.stop().await?;

    telemetry.shutdown();
    Ok(())
}
