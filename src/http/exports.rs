//! The export folder: file names generated on the server, never taken from a request, and a
//! bound on how many exports the folder keeps.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use crate::monitor::{ExportError, Monitor};

/// File names of exports start and end so; nothing else in the folder is ever removed.
const PREFIX: &str = "performance-";
const SUFFIX: &str = ".json";

/// Writes monitor exports into one folder.
#[derive(Debug)]
pub(super) struct Exports {
    folder: PathBuf,
    keep: usize,
    sequence: AtomicU64,
    pruning: Mutex<()>,
}

impl Exports {
    pub(super) fn new(folder: PathBuf, keep: usize) -> Self {
        Exports {
            folder,
            keep: keep.max(1),
            sequence: AtomicU64::new(0),
            pruning: Mutex::new(()),
        }
    }

    /// Writes one export under a fresh name and removes the oldest beyond the limit; returns
    /// the path written. Blocking: call it off the async runtime.
    pub(super) fn write(&self, monitor: &Monitor) -> Result<PathBuf, ExportError> {
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        let name = file_name(SystemTime::now(), sequence);
        let path = self.folder.join(&name);
        monitor.export_json(&path)?;
        self.prune(&name);
        Ok(path)
    }

    /// Removes the least recently written exports beyond `keep`, never `written`, the one just
    /// written. Files are ordered by modification time, then name, not by the time in their
    /// names: a folder may hold names from a clock that ran ahead. Best effort: a file that
    /// cannot be listed or removed stays.
    fn prune(&self, written: &str) {
        let _one_at_a_time = self.pruning.lock().unwrap_or_else(PoisonError::into_inner);
        let Ok(mut exports) = export_files(&self.folder) else {
            return;
        };
        exports.sort();
        let excess = exports.len().saturating_sub(self.keep);
        let oldest = exports.iter().filter(|(_, name)| name != written);
        for (_, name) in oldest.take(excess) {
            let _ = fs::remove_file(self.folder.join(name));
        }
    }
}

/// The exports in `folder`, each with its modification time (the epoch where none is known).
fn export_files(folder: &Path) -> io::Result<Vec<(SystemTime, String)>> {
    let mut exports = Vec::new();
    for entry in fs::read_dir(folder)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with(PREFIX) && name.ends_with(SUFFIX) {
            let modified = entry.metadata().and_then(|m| m.modified());
            exports.push((modified.unwrap_or(SystemTime::UNIX_EPOCH), name.to_owned()));
        }
    }
    Ok(exports)
}

/// `performance-20250102T030405.678Z-000007.json`: UTC time to the millisecond, then a
/// sequence number that keeps names of the same millisecond apart. Names sort chronologically
/// and hold no character that a file system of any platform refuses.
fn file_name(now: SystemTime, sequence: u64) -> String {
    let stamp = humantime::format_rfc3339_millis(now).to_string();
    let stamp: String = stamp.chars().filter(|c| !matches!(c, '-' | ':')).collect();
    format!("{PREFIX}{stamp}-{sequence:06}{SUFFIX}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn names_carry_the_utc_time_and_sort_chronologically() {
        let at = UNIX_EPOCH + Duration::from_millis(1_735_787_045_678);
        assert_eq!(
            file_name(at, 7),
            "performance-20250102T030405.678Z-000007.json"
        );
        assert!(file_name(at, 9) < file_name(at + Duration::from_millis(1), 0));
    }

    #[test]
    fn the_folder_keeps_the_newest_exports_and_nothing_else_is_touched() {
        let folder = tempfile::tempdir().unwrap();
        let exports = Exports::new(folder.path().to_owned(), 2);
        let monitor = Monitor::default();
        fs::write(folder.path().join("notes.json"), "{}").unwrap();

        let written: Vec<PathBuf> = (0..4).map(|_| exports.write(&monitor).unwrap()).collect();

        let mut left = names(folder.path());
        left.sort();
        let newest: Vec<String> = written[2..]
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, newest);
        assert!(folder.path().join("notes.json").exists());
    }

    #[test]
    fn names_from_a_clock_that_ran_ahead_never_cost_the_export_just_written() {
        let folder = tempfile::tempdir().unwrap();
        let ahead = UNIX_EPOCH + Duration::from_secs(4_102_444_800); // 2100-01-01
        for i in 0..3 {
            fs::write(folder.path().join(file_name(ahead, i)), "{}").unwrap();
        }
        let exports = Exports::new(folder.path().to_owned(), 3);

        let written = exports.write(&Monitor::default()).unwrap();

        assert!(written.exists(), "the export it answers with is there");
        let left = names(folder.path());
        assert_eq!(left.len(), 3, "{left:?}");
    }

    fn names(folder: &Path) -> Vec<String> {
        let files = export_files(folder).unwrap();
        files.into_iter().map(|(_, name)| name).collect()
    }
}
