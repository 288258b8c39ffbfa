//! Measures the CPU the system sampler's thread uses, as a percentage of one core.
//!
//! Runs the sampler at an interval (default five seconds, the default of `SamplerConfig`) for
//! a duration (default sixty seconds) and reads the thread's CPU time from
//! `/proc/self/task/<tid>/schedstat` (nanoseconds) and `stat` (utime + stime, in clock
//! ticks) before and after. Linux only.
//!
//! `cargo run --release --example sampler_overhead -- [seconds] [interval_seconds]`

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use tts_otel::semconv::{SAMPLER_THREAD_NAME, SCOPE_NAME};
use tts_otel::system::{SampleSink, SamplerConfig, SystemSample, SystemSampler};

/// Clock ticks per second of `utime` and `stime` (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Default)]
struct Counter(AtomicUsize);

impl SampleSink for Counter {
    fn record_sample(&self, _: &SystemSample) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// CPU time of one thread: nanoseconds from schedstat, ticks from stat.
#[derive(Clone, Copy, Debug)]
struct ThreadCpu {
    nanos: Option<u64>,
    ticks: u64,
}

fn read_thread_cpu(tid: &str) -> ThreadCpu {
    let task = format!("/proc/self/task/{tid}");
    let schedstat = std::fs::read_to_string(format!("{task}/schedstat")).ok();
    let nanos = schedstat.and_then(|s| s.split_whitespace().next()?.parse().ok());

    let stat = std::fs::read_to_string(format!("{task}/stat")).expect("thread stat");
    // Fields after the parenthesised name; utime and stime are fields 14 and 15 of the line.
    let after_name = &stat[stat.rfind(')').expect("stat name") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();

    ThreadCpu { nanos, ticks }
}

fn sampler_tid() -> String {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let tasks = std::fs::read_dir("/proc/self/task")
            .expect("task list")
            .flatten();
        for task in tasks {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if comm.trim_end() == SAMPLER_THREAD_NAME {
                return task.file_name().to_string_lossy().into_owned();
            }
        }
        assert!(Instant::now() < deadline, "no sampler thread found");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<f64>().expect("a number"));
    let seconds = args.next().unwrap_or(60.0);
    let interval = Duration::from_secs_f64(args.next().unwrap_or(5.0));

    let provider = SdkMeterProvider::builder().build();
    let meter = provider.meter(SCOPE_NAME);
    let counter = Arc::new(Counter::default());
    let config = SamplerConfig::default().with_interval(interval);
    let sinks: Vec<Arc<dyn SampleSink>> = vec![counter.clone()];
    let sampler = SystemSampler::start(&meter, config, sinks).expect("sampler");

    // The thread starts counting from its creation, so the first reading is included.
    let tid = sampler_tid();
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    let after = read_thread_cpu(&tid);
    let wall = started.elapsed().as_secs_f64();
    sampler.stop();

    let readings = counter.0.load(Ordering::Relaxed);
    println!("interval {interval:?}, {wall:.1} s, {readings} readings");
    if let Some(nanos) = after.nanos {
        let cpu = nanos as f64 / 1e9;
        println!(
            "schedstat: {:.3} ms CPU, {:.4} % of one core, {:.0} us per reading",
            cpu * 1e3,
            cpu / wall * 100.0,
            cpu / readings as f64 * 1e6
        );
    }
    let cpu = after.ticks as f64 / TICKS_PER_SECOND;
    println!(
        "stat utime+stime: {:.0} ms CPU, {:.4} % of one core",
        cpu * 1e3,
        cpu / wall * 100.0
    );
}
