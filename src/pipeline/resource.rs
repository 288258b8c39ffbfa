//! The resource: who is sending, from code, `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`.

use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};

use super::config::Options;
use crate::semconv::{defaults, env, resource};

/// Resource attributes: `OTEL_RESOURCE_ATTRIBUTES`, then `OTEL_SERVICE_NAME`, then code, each
/// overriding the keys of the one before; `service.instance.id` is a random UUID unless given,
/// so that replicas of one service stay apart in the backend.
pub(crate) fn resolve_resource(
    options: &Options,
    env: &dyn Fn(&str) -> Option<String>,
    notes: &mut Vec<String>,
) -> Vec<KeyValue> {
    let mut attrs = match env(env::RESOURCE_ATTRIBUTES).map(|v| parse_attributes(&v)) {
        Some(Ok(attrs)) => attrs,
        Some(Err(entry)) => {
            let var = env::RESOURCE_ATTRIBUTES;
            notes.push(format!(
                "{var} has an invalid entry {entry:?}; all of it is ignored"
            ));
            Vec::new()
        }
        None => Vec::new(),
    };
    let service_name = options
        .service_name
        .clone()
        .or_else(|| env(env::SERVICE_NAME))
        .or_else(|| value_of(&attrs, resource::SERVICE_NAME))
        .unwrap_or_else(unknown_service);
    set(
        &mut attrs,
        KeyValue::new(resource::SERVICE_NAME, service_name),
    );
    if let Some(version) = options.service_version.clone() {
        set(
            &mut attrs,
            KeyValue::new(resource::SERVICE_VERSION, version),
        );
    }
    for kv in &options.attributes {
        set(&mut attrs, kv.clone());
    }
    if value_of(&attrs, resource::SERVICE_INSTANCE_ID).is_none() {
        attrs.push(KeyValue::new(resource::SERVICE_INSTANCE_ID, instance_id()));
    }
    attrs
}

/// Sets `kv`, replacing an attribute of the same key.
fn set(attrs: &mut Vec<KeyValue>, kv: KeyValue) {
    attrs.retain(|old| old.key != kv.key);
    attrs.push(kv);
}

pub(crate) fn value_of(attrs: &[KeyValue], key: &str) -> Option<String> {
    attrs
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

/// `unknown_service:` and the executable's name, as the specification prescribes.
fn unknown_service() -> String {
    let exe = std::env::current_exe().ok();
    let name = exe.as_deref().and_then(|p| p.file_stem()?.to_str());
    match name {
        Some(name) => format!("{}:{name}", defaults::UNKNOWN_SERVICE),
        None => defaults::UNKNOWN_SERVICE.to_owned(),
    }
}

/// Parses `key=value,key=value` with percent-encoded values; on error, the invalid entry.
fn parse_attributes(value: &str) -> Result<Vec<KeyValue>, String> {
    let entries = value.split(',').map(str::trim).filter(|e| !e.is_empty());
    entries
        .map(|entry| {
            let (key, value) = entry.split_once('=').ok_or_else(|| entry.to_owned())?;
            let (key, value) = (key.trim(), percent_decode(value.trim()));
            match value {
                Some(value) if !key.is_empty() => Ok(KeyValue::new(key.to_owned(), value)),
                _ => Err(entry.to_owned()),
            }
        })
        .collect()
}

pub(super) fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A random UUID (version 4), as the semantic conventions recommend for `service.instance.id`.
fn instance_id() -> String {
    let random = RandomIdGenerator::default().new_trace_id().to_bytes();
    let mut bits = u128::from_be_bytes(random);
    bits = (bits & !(0xf << 76)) | (0x4 << 76);
    bits = (bits & !(0x3 << 62)) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}
