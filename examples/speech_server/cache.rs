//! A bounded LRU cache of encoded audio, keyed by everything that changes the bytes.
//!
//! It is bounded twice: by entries and by bytes, so a run of long texts cannot grow it past its
//! memory budget. The least recently used entries go first.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use lru::LruCache;

use crate::api::AudioFormat;

/// What identifies one rendering: voice, speed, format and the normalized text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub voice: &'static str,
    /// The speed's bits: speeds are validated finite, and equal floats have equal bits.
    speed_bits: u64,
    pub format: AudioFormat,
    pub text: Arc<str>,
}

impl Key {
    pub fn new(voice: &'static str, speed: f64, format: AudioFormat, text: Arc<str>) -> Self {
        Key {
            voice,
            speed_bits: speed.to_bits(),
            format,
            text,
        }
    }
}

/// A cached response body and the duration of the audio it holds.
#[derive(Clone, Debug)]
pub struct Cached {
    pub body: Bytes,
    pub audio_seconds: f64,
}

struct Inner {
    entries: LruCache<Key, Cached>,
    bytes: usize,
}

/// The cache; cheap to share behind an `Arc`, locked only for a look-up or an insert.
pub struct AudioCache {
    inner: Mutex<Inner>,
    max_bytes: usize,
}

impl AudioCache {
    /// A cache of at most `max_entries` entries and `max_bytes` bytes of bodies; zero entries
    /// disables it.
    pub fn new(max_entries: usize, max_bytes: usize) -> Self {
        let entries = NonZeroUsize::new(max_entries).unwrap_or(NonZeroUsize::MIN);
        AudioCache {
            inner: Mutex::new(Inner {
                entries: LruCache::new(entries),
                bytes: 0,
            }),
            max_bytes: if max_entries == 0 { 0 } else { max_bytes },
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every update leaves the map and the byte count consistent, so a poisoned lock is safe.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The entry for `key`, now the most recently used.
    pub fn get(&self, key: &Key) -> Option<Cached> {
        self.lock().entries.get(key).cloned()
    }

    /// Inserts `value`, evicting least recently used entries until both bounds hold. A body
    /// larger than the whole byte budget is not cached.
    pub fn put(&self, key: Key, value: Cached) {
        let size = value.body.len();
        if size > self.max_bytes {
            return;
        }
        let mut inner = self.lock();
        if let Some((_, old)) = inner.entries.push(key, value) {
            inner.bytes -= old.body.len();
        }
        inner.bytes += size;
        while inner.bytes > self.max_bytes {
            let Some((_, old)) = inner.entries.pop_lru() else {
                break;
            };
            inner.bytes -= old.body.len();
        }
    }

    /// Entries and bytes held now.
    pub fn usage(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.entries.len(), inner.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> Key {
        Key::new("en-us", 1.0, AudioFormat::Wav, text.into())
    }

    fn body(len: usize) -> Cached {
        Cached {
            body: Bytes::from(vec![0; len]),
            audio_seconds: 1.0,
        }
    }

    #[test]
    fn the_byte_budget_evicts_least_recently_used_first() {
        let cache = AudioCache::new(10, 100);
        cache.put(key("a"), body(40));
        cache.put(key("b"), body(40));
        assert!(cache.get(&key("a")).is_some());
        cache.put(key("c"), body(40));

        assert!(cache.get(&key("b")).is_none());
        assert!(cache.get(&key("a")).is_some());
        assert_eq!(cache.usage(), (2, 80));
    }

    #[test]
    fn replacing_an_entry_keeps_the_byte_count_exact() {
        let cache = AudioCache::new(10, 100);
        cache.put(key("a"), body(40));
        cache.put(key("a"), body(10));
        assert_eq!(cache.usage(), (1, 10));
    }

    #[test]
    fn zero_entries_disables_the_cache() {
        let cache = AudioCache::new(0, 100);
        cache.put(key("a"), body(1));
        assert!(cache.get(&key("a")).is_none());
    }
}
