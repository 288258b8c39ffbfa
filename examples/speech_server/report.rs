//! The demo's printed summary: the monitor's numbers as a table a person reads.

use std::fmt::Write as _;

use tts_otel::monitor::{GroupSummary, Stats, Summary};

use crate::demo::Seen;

const RULE: &str =
    "--------------------------------------------------------------------------------";

/// The whole report: per voice, per length class, cache, first audio, stages, system.
pub fn render(summary: &Summary, seen: &[Seen], wall_seconds: f64, clients: usize) -> String {
    let mut out = String::new();
    let ok = seen.iter().filter(|s| s.status == 200).count();
    let streamed = seen.iter().filter(|s| s.stream).count();
    let _ = writeln!(
        out,
        "\nspeech_server demo: {} requests ({streamed} streamed) from {clients} clients in \
         {wall_seconds:.1} s; {ok} answered 200",
        seen.len()
    );
    groups(&mut out, summary);
    totals(&mut out, summary);
    client_side(&mut out, seen);
    system(&mut out, summary);
    out
}

fn groups(out: &mut String, summary: &Summary) {
    let _ = writeln!(out, "{RULE}");
    let _ = writeln!(
        out,
        "{:<22}{:>6}{:>6}{:>9}{:>9}{:>11}{:>11}{:>11}",
        "", "reqs", "hits", "RTF p50", "RTF p95", "lat p50", "lat p95", "lat p99"
    );
    let _ = writeln!(
        out,
        "by voice (RTF and latency of cache misses: the engine's runs)"
    );
    for (voice, group) in &summary.voices {
        row(out, voice, group);
    }
    let _ = writeln!(out, "by text length (cache misses)");
    let classes = &summary.text_length;
    for (name, group) in [
        ("short (0-50)", &classes.short),
        ("medium (51-200)", &classes.medium),
        ("long (201-500)", &classes.long),
        ("very long (501+)", &classes.very_long),
    ] {
        row(out, name, group);
    }
    let _ = writeln!(out, "by cache result");
    for (name, rtf, latency) in [
        (
            "miss (engine ran)",
            &summary.rtf.cache_miss,
            &summary.latency_seconds.cache_miss,
        ),
        (
            "hit",
            &summary.rtf.cache_hit,
            &summary.latency_seconds.cache_hit,
        ),
        ("all", &summary.rtf.all, &summary.latency_seconds.all),
    ] {
        stats_row(out, name, latency.count, None, rtf, latency);
    }
}

fn row(out: &mut String, name: &str, group: &GroupSummary) {
    let hits = Some(group.cache_hits);
    stats_row(
        out,
        name,
        group.requests,
        hits,
        &group.cache_miss_rtf,
        &group.cache_miss_latency_seconds,
    );
}

fn stats_row(
    out: &mut String,
    name: &str,
    n: u64,
    hits: Option<u64>,
    rtf: &Stats,
    latency: &Stats,
) {
    let hits = hits.map_or_else(|| "-".to_owned(), |h| h.to_string());
    let _ = writeln!(
        out,
        "  {name:<20}{n:>6}{hits:>6}{:>9}{:>9}{:>11}{:>11}{:>11}",
        ratio(rtf.p50),
        ratio(rtf.p95),
        millis(latency.p50),
        millis(latency.p95),
        millis(latency.p99),
    );
}

fn totals(out: &mut String, summary: &Summary) {
    let _ = writeln!(out, "{RULE}");
    let requests = &summary.requests;
    let _ = writeln!(
        out,
        "syntheses: {} recorded, {} succeeded, {} failed, {} without RTF",
        requests.total, requests.succeeded, requests.failed, requests.without_rtf
    );
    let cache = &summary.cache;
    let rate = cache
        .hit_rate
        .map_or("-".to_owned(), |r| format!("{:.1} %", r * 100.0));
    let _ = writeln!(
        out,
        "cache: {} hits, {} misses, hit rate {rate}",
        cache.hits, cache.misses
    );
    let ttfa = &summary.time_to_first_audio_seconds;
    let _ = writeln!(
        out,
        "time to first audio (streamed, n={}): p50 {}, p95 {}, max {}",
        ttfa.count,
        millis(ttfa.p50),
        millis(ttfa.p95),
        millis(ttfa.max)
    );
    let efficiency = &summary.efficiency;
    if let (Some(audio), Some(busy), Some(speed)) = (
        efficiency.audio_seconds_total,
        efficiency.processing_seconds_total,
        efficiency.audio_seconds_per_processing_second,
    ) {
        let _ = writeln!(
            out,
            "efficiency: {audio:.1} s of audio in {busy:.2} s of synthesis \
             = {speed:.1} s of audio per second"
        );
    }
    let stages: Vec<String> = summary
        .stages_seconds
        .iter()
        .map(|(name, stats)| format!("{name} p50 {} p95 {}", millis(stats.p50), millis(stats.p95)))
        .collect();
    let _ = writeln!(out, "stages: {}", stages.join("; "));
}

/// What the clients measured, including the network and HTTP the server does not see.
fn client_side(out: &mut String, seen: &[Seen]) {
    let quantile = |mut values: Vec<f64>, q: f64| -> Option<f64> {
        values.sort_by(f64::total_cmp);
        let rank = ((q * values.len() as f64).ceil() as usize).max(1);
        values.get(rank - 1).copied()
    };
    let latencies: Vec<f64> = seen.iter().map(|s| s.latency.as_secs_f64()).collect();
    let first_chunks: Vec<f64> = seen
        .iter()
        .filter(|s| s.stream)
        .filter_map(|s| Some(s.first_chunk?.as_secs_f64()))
        .collect();
    let received: usize = seen.iter().map(|s| s.bytes).sum();
    let _ = writeln!(
        out,
        "client side: latency p50 {} p95 {}; streamed first chunk p50 {} p95 {}; {} received",
        millis(quantile(latencies.clone(), 0.5)),
        millis(quantile(latencies, 0.95)),
        millis(quantile(first_chunks.clone(), 0.5)),
        millis(quantile(first_chunks, 0.95)),
        bytes(received as f64),
    );
}

fn system(out: &mut String, summary: &Summary) {
    let system = &summary.system;
    let Some(latest) = &system.latest else {
        let _ = writeln!(out, "system: no readings");
        return;
    };
    let average = system.average.as_ref();
    // TODO: process readings cover this process only; the espeak-ng children that do the
    // synthesis are not in the process CPU or memory figures, only in the system-wide ones.
    let _ = writeln!(
        out,
        "system ({} readings): CPU {} now, {} average; memory {} used ({}); process CPU {} \
         average, RSS {}, {} threads",
        system.samples,
        percent(latest.system_cpu_utilization),
        percent(average.and_then(|a| a.system_cpu_utilization)),
        bytes(latest.system_memory_used_bytes as f64),
        percent(latest.system_memory_utilization),
        percent(average.and_then(|a| a.process_cpu_utilization)),
        bytes(latest.process_memory_usage_bytes as f64),
        latest
            .process_thread_count
            .map_or("-".to_owned(), |t| t.to_string()),
    );
    let _ = writeln!(out, "{RULE}");
}

/// A ratio with four decimals, or in scientific notation when that would show only zeros.
fn ratio(value: Option<f64>) -> String {
    match value {
        None => "-".to_owned(),
        Some(v) if v > 0.0 && v < 0.001 => format!("{v:.1e}"),
        Some(v) => format!("{v:.4}"),
    }
}

/// A duration in the unit that keeps three significant digits readable.
fn millis(seconds: Option<f64>) -> String {
    match seconds {
        None => "-".to_owned(),
        Some(s) if s < 0.001 => format!("{:.0} µs", s * 1e6),
        Some(s) if s < 0.01 => format!("{:.2} ms", s * 1e3),
        Some(s) => format!("{:.1} ms", s * 1e3),
    }
}

fn percent(fraction: Option<f64>) -> String {
    fraction.map_or("-".to_owned(), |f| format!("{:.0} %", f * 100.0))
}

fn bytes(value: f64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if value >= 1024.0 * MIB {
        format!("{:.2} GiB", value / (1024.0 * MIB))
    } else {
        format!("{:.1} MiB", value / MIB)
    }
}
