//! The demo's chart: RTF over the run and the latency distribution, as one SVG.

use std::path::Path;

use plotters::prelude::*;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One synthesis on the chart.
#[derive(Clone, Copy, Debug)]
pub struct Dot {
    /// Seconds since the first synthesis ended.
    pub at: f64,
    pub rtf: Option<f64>,
    pub latency: f64,
    pub cache_hit: bool,
}

/// One bucket of the monitor's RTF trend, over the time it covers.
#[derive(Clone, Copy, Debug)]
pub struct TrendPoint {
    /// Seconds since the first synthesis ended, at the bucket's start.
    pub from: f64,
    /// Seconds since the first synthesis ended, at the bucket's end.
    pub to: f64,
    pub mean: f64,
    pub p95: f64,
}

const MISS: RGBColor = RGBColor(31, 119, 180);
const HIT: RGBColor = RGBColor(255, 127, 14);
const TREND: RGBColor = RGBColor(44, 160, 44);
const P95: RGBColor = RGBColor(148, 103, 189);
const REAL_TIME: RGBColor = RGBColor(214, 39, 40);

/// Latency bucket edges in seconds, evenly spaced on a log axis.
const LATENCY_EDGES: [f64; 22] = [
    1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0,
    2.0, 5.0, 10.0, 20.0, 50.0, 100.0,
];

/// Draws the chart into `path`.
pub fn draw(path: &Path, dots: &[Dot], trend: &[TrendPoint]) -> Result<(), BoxError> {
    let root = SVGBackend::new(path, (1100, 900)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(480);
    draw_rtf(&top, dots, trend)?;
    draw_latency(&bottom, dots)?;
    root.present()?;
    Ok(())
}

fn draw_rtf<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    dots: &[Dot],
    trend: &[TrendPoint],
) -> Result<(), BoxError>
where
    DB::ErrorType: 'static,
{
    let end = dots.iter().map(|d| d.at).fold(1.0, f64::max) * 1.02;
    let rtfs = || dots.iter().filter_map(|d| d.rtf);
    let low = rtfs().fold(1.0, f64::min).max(1e-8) / 2.0;
    let high = rtfs().fold(1.0, f64::max) * 2.0;

    let mut chart = ChartBuilder::on(area)
        .caption(
            "Real-time factor per request (lower is faster)",
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..end, (low..high).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("seconds since the first request ended")
        .y_desc("RTF (log scale)")
        .y_label_formatter(&|v| ratio_label(*v))
        .draw()?;

    chart
        .draw_series(LineSeries::new(
            [(0.0, 1.0), (end, 1.0)],
            REAL_TIME.stroke_width(2),
        ))?
        .label("real time (RTF = 1)")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], REAL_TIME.stroke_width(2)));
    for (hit, color, label) in [(false, MISS, "cache miss"), (true, HIT, "cache hit")] {
        let points = dots.iter().filter(|d| d.cache_hit == hit);
        chart
            .draw_series(
                points.filter_map(|d| Some(Circle::new((d.at, d.rtf?), 3, color.filled()))),
            )?
            .label(label)
            .legend(move |(x, y)| Circle::new((x + 9, y), 4, color.filled()));
    }
    // Each bucket is a step over the time it covers, cut to the plotted range.
    let step = |from: f64, to: f64, y: f64| vec![(from.max(0.0), y), (to.min(end), y)];
    let means = trend
        .iter()
        .map(|p| PathElement::new(step(p.from, p.to, p.mean), TREND.stroke_width(3)));
    chart
        .draw_series(means)?
        .label("trend: mean RTF per bucket")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], TREND.stroke_width(3)));
    let p95s = trend
        .iter()
        .map(|p| PathElement::new(step(p.from, p.to, p.p95), P95.stroke_width(2)));
    chart
        .draw_series(p95s)?
        .label("trend: p95 RTF per bucket")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], P95.stroke_width(2)));

    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

fn draw_latency<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    dots: &[Dot],
) -> Result<(), BoxError>
where
    DB::ErrorType: 'static,
{
    let counts = |hit: bool| -> Vec<usize> {
        let mut counts = vec![0; LATENCY_EDGES.len() - 1];
        for d in dots.iter().filter(|d| d.cache_hit == hit) {
            let at = LATENCY_EDGES
                .partition_point(|e| *e <= d.latency)
                .clamp(1, counts.len());
            counts[at - 1] += 1;
        }
        counts
    };
    let (misses, hits) = (counts(false), counts(true));
    let top = misses.iter().chain(&hits).copied().max().unwrap_or(1) as f64 * 1.15;
    // The axis spans the buckets in use, one more on each side.
    let used = |i: &usize| misses[*i] + hits[*i] > 0;
    let lowest = (0..misses.len()).find(used).unwrap_or(0).saturating_sub(1);
    let highest = (0..misses.len()).rfind(used).unwrap_or(misses.len() - 1) + 2;
    let (first, last) = (
        LATENCY_EDGES[lowest],
        LATENCY_EDGES[highest.min(LATENCY_EDGES.len() - 1)],
    );

    let mut chart = ChartBuilder::on(area)
        .caption("Server-side latency distribution", ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((first..last).log_scale(), 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("latency (log scale)")
        .y_desc("requests")
        .x_label_formatter(&|v| seconds_label(*v))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;

    for (counts, color, label) in [(&misses, MISS, "cache miss"), (&hits, HIT, "cache hit")] {
        let bars = counts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| {
                let (left, right) = (LATENCY_EDGES[i], LATENCY_EDGES[i + 1]);
                Rectangle::new(
                    [(left * 1.04, 0.0), (right / 1.04, *n as f64)],
                    color.mix(0.75).filled(),
                )
            });
        chart
            .draw_series(bars)?
            .label(label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// `0.00001` as `10 µs`, `0.001` as `1 ms`, `2.0` as `2 s`.
fn seconds_label(seconds: f64) -> String {
    if seconds < 1e-3 {
        format!("{} µs", (seconds * 1e6).round())
    } else if seconds < 1.0 {
        format!("{} ms", (seconds * 1e4).round() / 10.0)
    } else {
        format!("{seconds} s")
    }
}

/// `0.25` as written, values below a thousandth as `1e-5`.
fn ratio_label(ratio: f64) -> String {
    if ratio < 1e-3 {
        format!("{ratio:.0e}")
    } else {
        format!("{}", (ratio * 1e3).round() / 1e3)
    }
}
