//! The monitor's endpoints: summary, RTF trend and export, as LiteTTS served them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::Query;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::error::ApiError;
use super::exports::Exports;
use crate::monitor::Monitor;

/// Trend window when the request names none, in minutes.
pub(super) const DEFAULT_TREND_MINUTES: u64 = 60;

/// What the monitor routes share.
#[derive(Clone, Debug)]
pub(super) struct Performance {
    pub(super) monitor: Monitor,
    /// Longest trend window served: the monitor's trend retention, in whole minutes.
    pub(super) max_trend_minutes: u64,
}

impl Performance {
    pub(super) fn new(monitor: Monitor) -> Self {
        let retention = monitor.config().trend_retention().as_secs() / 60;
        Performance {
            monitor,
            max_trend_minutes: retention.max(1),
        }
    }
}

/// Answer of `POST /performance/export`.
#[derive(Debug, Serialize)]
struct Exported {
    /// Where the export was written.
    path: String,
    /// Its file name, inside the configured folder.
    file: String,
}

/// Runs blocking monitor work off the async runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| ApiError::internal("monitor_task_failed", "the monitor task failed"))
}

/// `GET /performance/stats`.
pub(super) async fn stats(performance: Performance) -> Response {
    match blocking(move || performance.monitor.summary()).await {
        Ok(summary) => Json(summary).into_response(),
        Err(error) => error.into_response(),
    }
}

/// `GET /performance/rtf-trend?minutes=N`.
pub(super) async fn rtf_trend(
    performance: Performance,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let minutes = match trend_minutes(query, performance.max_trend_minutes) {
        Ok(minutes) => minutes,
        Err(error) => return error.into_response(),
    };
    let window = Duration::from_secs(minutes * 60);
    match blocking(move || performance.monitor.recent_rtf_trend(window)).await {
        Ok(trend) => Json(trend).into_response(),
        Err(error) => error.into_response(),
    }
}

fn trend_minutes(
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    max: u64,
) -> Result<u64, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let Some(raw) = query.get("minutes") else {
        return Ok(DEFAULT_TREND_MINUTES.min(max));
    };
    match raw.parse::<u64>() {
        Ok(minutes) if (1..=max).contains(&minutes) => Ok(minutes),
        _ => Err(ApiError::bad_request(
            "invalid_minutes",
            format!("minutes must be a whole number from 1 to {max}"),
        )),
    }
}

/// `POST /performance/export`: whatever the request carries, the file goes into the configured
/// folder under a name generated here.
///
/// TODO: nothing limits how often exports run; each copies the whole window and writes it out,
/// so a client posting in a loop costs CPU and disk bandwidth (the folder itself stays bounded
/// by the export limit). Like every route here it has no authentication either: a server that
/// exposes it beyond a trusted network must put it behind its own.
pub(super) async fn export(monitor: Monitor, exports: Arc<Exports>) -> Response {
    let written = blocking(move || exports.write(&monitor)).await;
    match written {
        Ok(Ok(path)) => Json(Exported::from(path)).into_response(),
        Ok(Err(error)) => ApiError::internal("export_failed", error.to_string()).into_response(),
        Err(error) => error.into_response(),
    }
}

impl From<PathBuf> for Exported {
    fn from(path: PathBuf) -> Self {
        let file = path.file_name().unwrap_or_default();
        Exported {
            file: file.to_string_lossy().into_owned(),
            path: path.display().to_string(),
        }
    }
}
