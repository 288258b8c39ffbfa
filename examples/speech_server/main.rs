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
mod client;
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

fn main() -> Result<(), BoxError> {
    let config = Config::parse();
    let telemetry = if config.no_telemetry {
        Telemetry::off(config.monitor())?
    } else {
        Telemetry::install(config.monitor())?
    };

    let runtime = tokio::runtime::Runtime::new()?;
    let result = runtime.block_on(async {
        match config.demo {
            Some(n) => demo::run(&config, &telemetry, n).await,
            None => serve(&config, &telemetry).await,
        }
    });
    drop(runtime);

    // Flushed outside the runtime: the exporters' blocking calls must not run on its workers.
    telemetry.shutdown();
    result
}

/// Serves until Ctrl-C, then lets requests in flight finish.
async fn serve(config: &Config, telemetry: &Telemetry) -> Result<(), BoxError> {
    let running = server::start(config, telemetry).await?;
    tracing::info!(addr = %running.addr, otlp_export = telemetry.exporting, "listening");
    tokio::signal::ctrl_c().await?;
    tracing::info!("shutting down");
    running.stop().await?;
    Ok(())
}
