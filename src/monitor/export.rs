//! The JSON export document and its atomic write.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::semconv::monitor::EXPORT_TEMP_PREFIX;

use super::clock::{rfc3339, unix_secs_f64};
use super::store::{Record, Snapshot};
use super::summary::Summary;
use super::trend::RtfTrend;

/// The document [`Monitor::export_json`](super::Monitor::export_json) writes. The
/// [module documentation](crate::monitor) lists its keys.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Export {
    /// Version of this schema, the same as the summary's.
    pub schema_version: u32,
    /// When the export was taken, RFC 3339 in UTC.
    pub generated_at: String,
    /// When the export was taken, seconds since the Unix epoch.
    pub generated_at_unix_seconds: f64,
    /// The summary at that moment.
    pub summary: Summary,
    /// The RTF trend over the whole trend retention, at the default resolution.
    pub rtf_trend: RtfTrend,
    /// Every synthesis in the window, in the order it was recorded.
    pub records: Vec<ExportedRecord>,
}

/// One synthesis in an export.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExportedRecord {
    /// End time, RFC 3339 in UTC.
    pub ended_at: String,
    /// End time, seconds since the Unix epoch.
    pub ended_at_unix_seconds: f64,
    /// Voice id, or `other` beyond the label limit.
    pub voice: String,
    /// Wall time of the synthesis, in seconds.
    pub latency_seconds: f64,
    /// Produced audio, in seconds; `null` when absent or not valid (from a microsecond to
    /// 10^9 seconds).
    pub audio_seconds: Option<f64>,
    /// Real-time factor; `null` for a failure or without valid audio seconds.
    pub rtf: Option<f64>,
    /// Time to first audio, in seconds.
    pub time_to_first_audio_seconds: Option<f64>,
    /// Input length in characters, saturated at 4,294,967,294.
    pub text_chars: Option<u64>,
    /// Whether the cache served it; `null` when not said.
    pub cache_hit: Option<bool>,
    /// Error type of a failure; `null` for a success.
    pub error_type: Option<String>,
    /// Whether the synthesis was cancelled before it finished.
    #[serde(default)]
    pub cancelled: bool,
    /// Stage durations in seconds, by stage name; a stage that ran twice shows the sum.
    pub stages_seconds: BTreeMap<String, f64>,
}

/// Why an export failed. An earlier file at the same path is left as it was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The folder of the export could not be created.
    #[error("cannot create the folder {} for the export: {source}", path.display())]
    CreateFolder {
        /// The folder.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The temporary file beside the export could not be created, written or flushed.
    #[error("cannot write the export next to {}: {source}", path.display())]
    Write {
        /// The export's path.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The written file could not be renamed over the export's path.
    #[error("cannot move the export into place at {}: {source}", path.display())]
    Replace {
        /// The export's path.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The document could not be encoded as JSON.
    #[error("cannot encode the export as JSON: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Exported records from a snapshot.
pub(crate) fn records(snapshot: &Snapshot) -> Vec<ExportedRecord> {
    snapshot
        .records
        .iter()
        .map(|r| record(snapshot, r))
        .collect()
}

fn record(snapshot: &Snapshot, r: &Record) -> ExportedRecord {
    let label = |names: &[std::sync::Arc<str>], id: u16| {
        names
            .get(usize::from(id))
            .map(|n| n.to_string())
            .unwrap_or_default()
    };
    ExportedRecord {
        ended_at: rfc3339(r.ended_at_us),
        ended_at_unix_seconds: unix_secs_f64(r.ended_at_us),
        voice: label(&snapshot.voices, r.voice),
        latency_seconds: r.latency_s,
        audio_seconds: r.audio_seconds(),
        rtf: r.rtf(),
        time_to_first_audio_seconds: r.time_to_first_audio(),
        text_chars: r.text_chars(),
        cache_hit: r.cache_hit(),
        error_type: r.error().map(|e| label(&snapshot.errors, e)),
        cancelled: r.cancelled(),
        stages_seconds: stages(snapshot, r),
    }
}

fn stages(snapshot: &Snapshot, r: &Record) -> BTreeMap<String, f64> {
    let mut stages = BTreeMap::new();
    for (id, seconds) in r.stages() {
        if let Some(name) = snapshot.stages.get(usize::from(id)) {
            *stages.entry(name.to_string()).or_insert(0.0) += seconds;
        }
    }
    stages.retain(|_, s: &mut f64| s.is_finite());
    stages
}

/// Writes `export` as pretty JSON to `path`, atomically.
// TODO: the document is encoded in memory first (about 5 MB for a full default window), which
// keeps encoding errors apart from I/O errors; streaming into the temporary file would save
// that buffer.
pub(crate) fn write_json(path: &Path, export: &Export) -> Result<(), ExportError> {
    let bytes = serde_json::to_vec_pretty(export)?;
    replace_file(path, |file| file.write_all(&bytes))
}

/// Replaces `path` with what `write` puts in a temporary file of the same folder: the folder is
/// created, the file written and flushed to disk, then renamed over `path`. On any failure the
/// temporary file is removed and `path` keeps its earlier content.
pub(crate) fn replace_file(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<(), ExportError> {
    let folder = folder_of(path);
    fs::create_dir_all(folder).map_err(|source| ExportError::CreateFolder {
        path: folder.to_path_buf(),
        source,
    })?;
    let written = |source| ExportError::Write {
        path: path.to_path_buf(),
        source,
    };

    let mut builder = tempfile::Builder::new();
    builder.prefix(EXPORT_TEMP_PREFIX);
    // A report is for sharing: readable like any file the process writes (the umask still
    // applies), not the owner-only mode of a temporary file.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let mut temp = builder.tempfile_in(folder).map_err(written)?;
    write(temp.as_file_mut()).map_err(written)?;
    temp.as_file().sync_all().map_err(written)?;
    temp.persist(path).map_err(|e| ExportError::Replace {
        path: path.to_path_buf(),
        source: e.error,
    })?;

    sync_folder(folder);
    Ok(())
}

fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Flushes the rename to disk where the platform allows opening a folder; best effort, since
/// the export is already complete and in place.
fn sync_folder(folder: &Path) {
    if let Ok(dir) = File::open(folder) {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_keeps_the_earlier_file_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.json");
        replace_file(&path, |f| f.write_all(b"{\"old\":true}")).unwrap();

        let failed = replace_file(&path, |f| {
            f.write_all(b"{\"new\"")?;
            Err(io::Error::other("disk full"))
        });

        assert!(matches!(failed, Err(ExportError::Write { .. })));
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"old\":true}");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_bare_file_name_is_written_in_the_current_folder() {
        assert_eq!(folder_of(Path::new("export.json")), Path::new("."));
        assert_eq!(folder_of(Path::new("a/export.json")), Path::new("a"));
    }
}
