//! The shipped deployment files in `otel-collector/`: they parse, they wire what they define,
//! `promtool` accepts the rules, and every metric the rules and the dashboard query is one the
//! crate emits, under the name Prometheus gives it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as Json;
use serde_norway::Value as Yaml;
use tts_otel::semconv::system_metric as system;
use tts_otel::semconv::{attr, metric, unit};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("otel-collector")
}

fn yaml(path: &str) -> Yaml {
    let text = std::fs::read_to_string(dir().join(path)).expect(path);
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn dashboard() -> Json {
    let path = dir().join("grafana/dashboards/tts-otel.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("dashboard JSON")
}

fn strs(value: &Yaml) -> Vec<String> {
    let seq = value.as_sequence().map(Vec::as_slice).unwrap_or_default();
    seq.iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// The kinds of instrument, which decide the Prometheus suffixes.
#[derive(Clone, Copy)]
enum Kind {
    Histogram,
    Counter,
    UpDownCounter,
    Gauge,
}

/// What the crate emits: the contract's instruments and the system sampler's.
fn emitted() -> Vec<(&'static str, &'static str, Kind)> {
    use Kind::*;
    let mut all = vec![
        (metric::SYNTHESIS_DURATION, unit::SECONDS, Histogram),
        (metric::SYNTHESIS_RTF, unit::RATIO, Histogram),
        (metric::TIME_TO_FIRST_AUDIO, unit::SECONDS, Histogram),
        (metric::SYNTHESIS_ACTIVE, unit::SYNTHESIS, UpDownCounter),
        (metric::SYNTHESIS_UNRATED, unit::SYNTHESIS, Counter),
        (metric::AUDIO_DURATION, unit::SECONDS, Histogram),
        (metric::TEXT_CHARS, unit::CHAR, Histogram),
        (metric::CACHE_REQUESTS, unit::REQUEST, Counter),
        (metric::STAGE_DURATION, unit::SECONDS, Histogram),
        (metric::INVALID_VALUES, unit::VALUE, Counter),
    ];
    all.extend([
        (system::CPU_UTILIZATION, unit::RATIO, Gauge),
        (system::MEMORY_USAGE, unit::BYTES, UpDownCounter),
        (system::MEMORY_UTILIZATION, unit::RATIO, Gauge),
        (system::PROCESS_CPU_UTILIZATION, unit::RATIO, Gauge),
        (system::PROCESS_MEMORY_USAGE, unit::BYTES, UpDownCounter),
        (system::PROCESS_MEMORY_VIRTUAL, unit::BYTES, UpDownCounter),
        (system::PROCESS_THREAD_COUNT, unit::THREAD, UpDownCounter),
        (system::DISK_IO, unit::BYTES, Counter),
        (system::NETWORK_IO, unit::BYTES, Counter),
    ]);
    all
}

/// The name Prometheus gives an OpenTelemetry metric, as the collector's Prometheus exporter
/// and Prometheus's OTLP receiver build it: non-alphanumerics become `_`, the unit becomes a
/// word (annotations in braces are dropped, `1` adds nothing), counters end in `_total`, and
/// only gauges of unit `1` end in `_ratio`.
fn prometheus_name(name: &str, unit: &str, kind: Kind) -> String {
    let mut tokens: Vec<String> = name
        .split(|c: char| !c.is_ascii_alphanumeric() && c != ':')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    let word = match unit.split('{').next().unwrap_or("") {
        "s" => "seconds",
        "ms" => "milliseconds",
        "By" => "bytes",
        _ => "",
    };
    if !word.is_empty() && !tokens.iter().any(|t| t == word) {
        tokens.push(word.to_owned());
    }
    let mut push_last = |suffix: &str| {
        tokens.retain(|t| t != suffix);
        tokens.push(suffix.to_owned());
    };
    match kind {
        Kind::Counter => push_last("total"),
        Kind::Gauge if unit == unit::RATIO => push_last("ratio"),
        _ => {}
    }
    tokens.join("_")
}

/// Every series name the crate's metrics appear under.
fn emitted_series() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (name, unit, kind) in emitted() {
        let base = prometheus_name(name, unit, kind);
        match kind {
            Kind::Histogram => {
                names.extend(["_bucket", "_sum", "_count"].map(|s| base.clone() + s))
            }
            _ => {
                names.insert(base);
            }
        }
    }
    names
}

/// Label names the queries may use: the crate's attributes as Prometheus spells them, and the
/// labels Prometheus and the rules add.
fn known_labels() -> BTreeSet<String> {
    let attrs = [
        attr::VOICE,
        attr::MODEL,
        attr::CACHE_RESULT,
        attr::ERROR_TYPE,
        attr::STAGE,
    ];
    let attrs = attrs
        .into_iter()
        .chain([attr::FIELD])
        .map(|a| a.replace('.', "_"));
    let extra = ["le", "job", "instance", "quantile"].map(str::to_owned);
    attrs.chain(extra).collect()
}

/// What one PromQL expression refers to.
#[derive(Debug, Default)]
struct Refs {
    metrics: BTreeSet<String>,
    recorded: BTreeSet<String>,
    labels: BTreeSet<String>,
}

/// Splits an expression into what it names. Strings, ranges, label matchers and grouping
/// clauses are taken apart first, so what is left outside function calls are series names.
fn refs(expr: &str) -> Refs {
    let mut refs = Refs::default();
    let mut text = String::new();
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                for c in chars.by_ref() {
                    if c == '"' {
                        break;
                    }
                }
                text.push_str("\"\"");
            }
            '[' => {
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                }
            }
            '{' => {
                let mut inside = String::new();
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                    inside.push(c);
                }
                refs.labels.extend(matcher_labels(&inside));
            }
            _ => text.push(c),
        }
    }
    let tokens = identifiers(&text);
    let mut skip_group = false;
    for (i, (token, next)) in tokens.iter().enumerate() {
        if skip_group {
            if *next == ')' || tokens.get(i + 1).is_none() {
                skip_group = *next != ')';
            }
            refs.labels.insert(token.clone());
            continue;
        }
        match token.as_str() {
            "by" | "without" | "on" | "ignoring" | "group_left" | "group_right" => {
                skip_group = true
            }
            "bool" | "and" | "or" | "unless" | "offset" => {}
            _ if AGGREGATIONS.contains(&token.as_str()) => {}
            _ if *next == '(' => {}
            _ if token.contains(':') => {
                refs.recorded.insert(token.clone());
            }
            _ => {
                refs.metrics.insert(token.clone());
            }
        }
    }
    refs
}

/// PromQL aggregation operators, which may be followed by a grouping clause.
const AGGREGATIONS: &[&str] = &[
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "group",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
];

/// Label names of `a="x", b!~"y"`.
fn matcher_labels(matchers: &str) -> Vec<String> {
    matchers
        .split(',')
        .filter_map(|m| m.split(['=', '!']).next())
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Identifiers outside numbers, each with the next non-space character after it.
fn identifiers(text: &str) -> Vec<(String, char)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() || c == '.' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_:".contains(chars[i])) {
                i += 1;
            }
            let next = chars[i..]
                .iter()
                .find(|c| !c.is_whitespace())
                .copied()
                .unwrap_or(' ');
            out.push((chars[start..i].iter().collect(), next));
        } else {
            i += 1;
        }
    }
    out
}

/// The rules file's groups as (record or alert name, expression).
fn rules() -> Vec<(Option<String>, String)> {
    let rules = yaml("prometheus/rules/tts.rules.yml");
    let groups = rules["groups"].as_sequence().expect("groups");
    let all = groups
        .iter()
        .flat_map(|g| g["rules"].as_sequence().expect("rules").iter());
    all.map(|r| {
        let record = r["record"].as_str().map(str::to_owned);
        (record, r["expr"].as_str().expect("expr").to_owned())
    })
    .collect()
}

/// Every `expr` of the dashboard's panels, and the metric selectors of its variables.
fn dashboard_queries() -> Vec<String> {
    fn walk(value: &Json, out: &mut Vec<String>) {
        match value {
            Json::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("expr", Json::String(e)) => out.push(e.clone()),
                        ("definition", Json::String(d)) => out.push(label_values_selector(d)),
                        _ => walk(v, out),
                    }
                }
            }
            Json::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&dashboard(), &mut out);
    out
}

/// `label_values(metric{...}, label)` → `metric{...}`.
fn label_values_selector(definition: &str) -> String {
    let inner = definition
        .trim()
        .trim_start_matches("label_values(")
        .trim_end_matches(')');
    inner
        .rsplit_once(',')
        .map_or(inner, |(selector, _)| selector)
        .to_owned()
}

#[test]
fn prometheus_names_follow_the_translator_rules() {
    use Kind::*;
    let cases = [
        (
            metric::SYNTHESIS_DURATION,
            unit::SECONDS,
            Histogram,
            "tts_synthesis_duration_seconds",
        ),
        (
            metric::SYNTHESIS_RTF,
            unit::RATIO,
            Histogram,
            "tts_synthesis_rtf",
        ),
        (
            metric::CACHE_REQUESTS,
            unit::REQUEST,
            Counter,
            "tts_cache_requests_total",
        ),
        (
            metric::SYNTHESIS_ACTIVE,
            unit::SYNTHESIS,
            UpDownCounter,
            "tts_synthesis_active",
        ),
        (metric::TEXT_CHARS, unit::CHAR, Histogram, "tts_text_chars"),
        (
            "system.cpu.utilization",
            unit::RATIO,
            Gauge,
            "system_cpu_utilization_ratio",
        ),
        (
            "process.memory.usage",
            unit::BYTES,
            UpDownCounter,
            "process_memory_usage_bytes",
        ),
        (
            "system.disk.io",
            unit::BYTES,
            Counter,
            "system_disk_io_bytes_total",
        ),
    ];
    for (name, unit, kind, expected) in cases {
        assert_eq!(prometheus_name(name, unit, kind), expected);
    }
}

#[test]
fn every_yaml_file_parses() {
    let mut pending = vec![dir()];
    let mut seen = 0;
    while let Some(path) = pending.pop() {
        for entry in std::fs::read_dir(&path).unwrap().flatten() {
            let path = entry.path();
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if path.is_dir() {
                pending.push(path);
            } else if ext == "yaml" || ext == "yml" {
                let relative = path
                    .strip_prefix(dir())
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned();
                assert!(yaml(&relative).is_mapping(), "{relative}");
                seen += 1;
            }
        }
    }
    assert!(seen >= 7, "found only {seen} YAML files");
}

#[test]
fn the_collector_pipelines_use_what_they_define_with_limiter_first_and_batch_last() {
    let config = yaml("collector.yaml");
    let pipelines = config["service"]["pipelines"]
        .as_mapping()
        .expect("pipelines");
    for (name, pipeline) in pipelines {
        for part in ["receivers", "processors", "exporters"] {
            for used in strs(&pipeline[part]) {
                assert!(
                    !config[part][used.as_str()].is_null() || config[part].get(&used).is_some(),
                    "{name:?}: {part} {used} undefined"
                );
            }
        }
        let processors = strs(&pipeline["processors"]);
        assert_eq!(
            processors.first().map(String::as_str),
            Some("memory_limiter")
        );
        assert_eq!(processors.last().map(String::as_str), Some("batch"));
    }
    assert!(strs(&config["service"]["pipelines"]["traces"]["exporters"])
        .iter()
        .all(|e| e.starts_with("otlp")));
    assert_eq!(
        strs(&config["service"]["pipelines"]["metrics"]["exporters"]),
        ["prometheus"]
    );
}

#[test]
fn the_compose_file_runs_the_stack_from_files_that_exist() {
    let compose = yaml("compose.yaml");
    let services = compose["services"].as_mapping().expect("services");
    for wanted in ["otel-collector", "jaeger", "tempo", "prometheus", "grafana"] {
        assert!(services.contains_key(wanted), "no {wanted} service");
    }
    for (name, service) in services {
        for volume in strs(&service["volumes"]) {
            let source = volume.split(':').next().unwrap();
            if let Some(relative) = source.strip_prefix("./") {
                assert!(
                    dir().join(relative).exists(),
                    "{name:?} mounts missing {source}"
                );
            }
        }
    }
    let scrape = &yaml("prometheus/prometheus.yml")["scrape_configs"][0];
    assert_eq!(
        scrape["honor_labels"].as_bool(),
        Some(true),
        "job and instance must survive"
    );
}

#[test]
fn rules_and_dashboard_query_only_metrics_the_crate_emits() {
    let emitted = emitted_series();
    let labels = known_labels();
    let rules = rules();
    let recorded: BTreeSet<String> = rules.iter().filter_map(|(r, _)| r.clone()).collect();
    let queries = rules
        .iter()
        .map(|(_, e)| e.clone())
        .chain(dashboard_queries());

    let mut metrics_used = BTreeSet::new();
    for expr in queries {
        let refs = refs(&expr);
        for name in &refs.metrics {
            assert!(
                emitted.contains(name),
                "{name} is not emitted; query: {expr}\nemitted: {emitted:#?}"
            );
        }
        for name in &refs.recorded {
            assert!(
                recorded.contains(name),
                "{name} is not recorded by the rules; query: {expr}"
            );
        }
        for label in &refs.labels {
            assert!(labels.contains(label), "unknown label {label} in {expr}");
        }
        metrics_used.extend(refs.metrics);
    }
    let rtf = prometheus_name(metric::SYNTHESIS_RTF, unit::RATIO, Kind::Histogram) + "_bucket";
    assert!(
        metrics_used.contains(&rtf),
        "the RTF percentiles must come from its buckets"
    );
}

#[test]
fn percentiles_come_from_summed_buckets() {
    for (record, expr) in rules() {
        if expr.contains("histogram_quantile") {
            assert!(expr.contains("sum by (le"), "{record:?}: {expr}");
            assert!(
                expr.contains("_bucket") && expr.contains("[5m]"),
                "{record:?}: {expr}"
            );
        }
    }
}

#[test]
fn every_dashboard_panel_queries_something() {
    let dashboard = dashboard();
    let panels = dashboard["panels"].as_array().expect("panels");
    for panel in panels.iter().filter(|p| p["type"] != "row") {
        let targets = panel["targets"].as_array().map(Vec::len).unwrap_or(0);
        assert!(targets > 0, "panel {} has no query", panel["title"]);
        assert_eq!(panel["datasource"]["uid"], "prometheus");
    }
}

fn promtool() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("promtool"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("promtool is missing: install the Debian package `prometheus` (apt-get install prometheus)")
    })
}

#[test]
fn promtool_accepts_the_rules() {
    let rules = dir().join("prometheus/rules/tts.rules.yml");
    let out = Command::new(promtool())
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "promtool refused the rules:\n{said}");
}

#[test]
fn promtool_accepts_the_dashboard_queries() {
    let queries = dashboard_queries();
    let mut file = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, query) in queries.iter().enumerate() {
        let query = query.replace("$job", ".*").replace("$voice", ".*");
        let quoted = serde_json::to_string(&query).unwrap();
        file.push_str(&format!(
            "      - record: dashboard:query_{i}\n        expr: {quoted}\n"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dashboard.rules.yml");
    std::fs::write(&path, file).unwrap();
    let out = Command::new(promtool())
        .args(["check", "rules"])
        .arg(&path)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "promtool refused a dashboard query:\n{said}"
    );
}
