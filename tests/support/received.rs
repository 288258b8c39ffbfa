//! Reads what the collector's detailed debug log printed back into spans and metric points.

use std::collections::BTreeMap;

/// One span as the collector printed it.
#[derive(Clone, Debug, Default)]
pub struct Span {
    pub name: String,
    pub attrs: BTreeMap<String, String>,
    pub resource: BTreeMap<String, String>,
}

/// One metric data point as the collector printed it.
#[derive(Clone, Debug, Default)]
pub struct Point {
    pub metric: String,
    pub unit: String,
    pub data_type: String,
    pub attrs: BTreeMap<String, String>,
    pub count: Option<u64>,
    pub sum: Option<f64>,
    pub value: Option<f64>,
    pub bounds: Vec<f64>,
    pub buckets: Vec<u64>,
    pub resource: BTreeMap<String, String>,
}

impl Point {
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs.get(key).map(String::as_str)
    }
}

/// Everything received, in the order printed.
#[derive(Clone, Debug, Default)]
pub struct Received {
    pub spans: Vec<Span>,
    pub points: Vec<Point>,
}

#[derive(Clone, Copy, PartialEq)]
enum Section {
    None,
    Resource,
    SpanAttrs,
    Descriptor,
    PointAttrs,
}

impl Received {
    /// Parses the collector's output.
    pub fn parse(output: &str) -> Received {
        let mut received = Received::default();
        let mut section = Section::None;
        let mut resource = BTreeMap::new();
        let mut descriptor = Point::default();
        for line in output.lines() {
            let trimmed = line.trim();
            if trimmed.starts_with("ResourceSpans #") || trimmed.starts_with("ResourceMetrics #") {
                resource = BTreeMap::new();
                section = Section::None;
            } else if trimmed == "Resource attributes:" {
                section = Section::Resource;
            } else if trimmed.starts_with("Span #") {
                received.spans.push(Span {
                    resource: resource.clone(),
                    ..Span::default()
                });
                section = Section::None;
            } else if trimmed == "Attributes:" {
                section = Section::SpanAttrs;
            } else if trimmed.starts_with("Metric #") {
                descriptor = Point {
                    resource: resource.clone(),
                    ..Point::default()
                };
                section = Section::None;
            } else if trimmed == "Descriptor:" {
                section = Section::Descriptor;
            } else if trimmed.starts_with("HistogramDataPoints #")
                || trimmed.starts_with("NumberDataPoints #")
            {
                received.points.push(descriptor.clone());
                section = Section::None;
            } else if trimmed == "Data point attributes:" {
                section = Section::PointAttrs;
            } else if let Some(kv) = trimmed.strip_prefix("-> ") {
                let (key, value) = kv.split_once(": ").unwrap_or((kv, ""));
                received.attribute(section, &mut resource, &mut descriptor, key, value);
            } else if let Some(name) = trimmed.strip_prefix("Name") {
                if let (Some(span), Some(n)) = (received.spans.last_mut(), name.split_once(':')) {
                    span.name = n.1.trim().to_owned();
                }
            } else if let Some(point) = received.points.last_mut() {
                point.value_line(trimmed);
            }
        }
        received
    }

    fn attribute(
        &mut self,
        section: Section,
        resource: &mut BTreeMap<String, String>,
        descriptor: &mut Point,
        key: &str,
        value: &str,
    ) {
        let value = unwrap_value(value);
        match section {
            Section::Resource => {
                resource.insert(key.to_owned(), value);
            }
            Section::SpanAttrs => {
                if let Some(span) = self.spans.last_mut() {
                    span.attrs.insert(key.to_owned(), value);
                }
            }
            Section::Descriptor => match key {
                "Name" => descriptor.metric = value,
                "Unit" => descriptor.unit = value,
                "DataType" => descriptor.data_type = value,
                _ => {}
            },
            Section::PointAttrs => {
                if let Some(point) = self.points.last_mut() {
                    point.attrs.insert(key.to_owned(), value);
                }
            }
            Section::None => {}
        }
    }

    /// Spans named `name`.
    pub fn spans_named(&self, name: &str) -> Vec<&Span> {
        self.spans.iter().filter(|s| s.name == name).collect()
    }

    /// The last printed point of `metric` whose attributes include all of `attrs`.
    pub fn latest(&self, metric: &str, attrs: &[(&str, &str)]) -> Option<&Point> {
        self.points
            .iter()
            .rev()
            .find(|p| p.metric == metric && attrs.iter().all(|(k, v)| p.attr(k) == Some(v)))
    }
}

impl Point {
    fn value_line(&mut self, line: &str) {
        let number = |s: &str| s.trim().parse::<f64>().ok();
        if let Some(v) = line.strip_prefix("Count: ") {
            self.count = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("Sum: ") {
            self.sum = number(v);
        } else if let Some(v) = line.strip_prefix("Value: ") {
            self.value = number(v);
        } else if let Some(rest) = line.strip_prefix("ExplicitBounds #") {
            if let Some(v) = rest.split_once(": ").and_then(|(_, v)| number(v)) {
                self.bounds.push(v);
            }
        } else if let Some(rest) = line.strip_prefix("Buckets #") {
            if let Some(v) = rest
                .split_once("Count: ")
                .and_then(|(_, v)| v.trim().parse().ok())
            {
                self.buckets.push(v);
            }
        }
    }
}

/// `Str(en-us)` → `en-us`, `Int(42)` → `42`.
fn unwrap_value(value: &str) -> String {
    match value.split_once('(') {
        Some((_, inner)) if value.ends_with(')') => inner[..inner.len() - 1].to_owned(),
        _ => value.to_owned(),
    }
}
