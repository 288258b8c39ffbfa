//! Command-line configuration.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use tts_otel::semconv::monitor::DEFAULT_SYSTEM_INTERVAL;
use tts_otel::MonitorConfig;

/// An OpenAI-compatible speech server over espeak-ng, instrumented with tts-otel.
#[derive(Clone, Debug, Parser)]
#[command(name = "speech_server", version)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8354")]
    pub listen: SocketAddr,

    /// Replay N requests from the bundled corpus against the server, print a summary, write
    /// the export and chart, and exit.
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "200")]
    pub demo: Option<usize>,

    /// Concurrent clients of the demo.
    #[arg(long, default_value_t = 4)]
    pub clients: usize,

    /// Where the demo writes its JSON export; the SVG chart goes next to it.
    #[arg(long, default_value = "target/demo/performance.json")]
    pub export: PathBuf,

    /// Folder that `POST /performance/export` writes into.
    #[arg(long, default_value = "target/exports")]
    pub export_dir: PathBuf,

    /// Longest input accepted, in characters.
    #[arg(long, default_value_t = 4096)]
    pub max_input_chars: usize,

    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,

    /// Most responses kept in the audio cache; 0 disables it.
    #[arg(long, default_value_t = 512)]
    pub cache_entries: usize,

    /// Most bytes of audio kept in the cache.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    pub cache_bytes: usize,

    /// The espeak-ng executable.
    #[arg(long, default_value = "espeak-ng")]
    pub espeak: PathBuf,

    /// Longest one engine run may take, in seconds.
    #[arg(long, default_value_t = 30)]
    pub engine_timeout_secs: u64,

    /// Width of one slot of the monitor's RTF trend, in seconds; the demo uses 1.
    #[arg(long, default_value_t = 60)]
    pub trend_granularity_secs: u64,

    /// Most engine processes at once; defaults to the number of CPUs.
    #[arg(long)]
    pub engine_concurrency: Option<usize>,

    /// Serve with nothing recording (no subscriber, synthesis layer, monitor records or system
    /// sampling), the baseline for measuring what telemetry costs.
    #[arg(long)]
    pub no_telemetry: bool,
}

impl Config {
    /// The monitor's configuration: a finer trend and system readings for the short demo.
    pub fn monitor(&self) -> MonitorConfig {
        let (granularity, interval) = match self.demo {
            Some(_) => (Duration::from_secs(1), Duration::from_secs(1)),
            None => (
                Duration::from_secs(self.trend_granularity_secs),
                DEFAULT_SYSTEM_INTERVAL,
            ),
        };
        MonitorConfig::default()
            .with_trend_granularity(granularity)
            .with_system_interval(Some(interval))
    }

    pub fn engine_timeout(&self) -> Duration {
        Duration::from_secs(self.engine_timeout_secs)
    }

    pub fn engine_concurrency(&self) -> usize {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        self.engine_concurrency.unwrap_or(cpus)
    }
}
