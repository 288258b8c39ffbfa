//! Bounded label sets: the first distinct values of an attribute keep their name, later ones
//! become `other`, so a flood of names cannot grow memory or series without bound.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use crate::semconv::attr::OVERFLOW_VALUE;

/// An interned label: a small id for series look-ups and the shared name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Label {
    pub(crate) id: u32,
    pub(crate) name: Arc<str>,
}

/// Distinct values of one attribute, up to a limit.
///
/// A look-up of a known value is one hash in a map read without locking (an [`ArcSwap`] load,
/// which touches no cache line shared with other threads); a new value copies the map once
/// under a writers' lock. Id 0 is always the overflow label.
#[derive(Debug)]
pub(crate) struct LabelSet {
    limit: usize,
    max_bytes: usize,
    known: ArcSwap<HashMap<Box<str>, Label>>,
    writer: Mutex<()>,
    overflow: Label,
}

impl LabelSet {
    pub(crate) fn new(limit: usize, max_bytes: usize) -> Self {
        LabelSet {
            limit,
            max_bytes,
            known: ArcSwap::default(),
            writer: Mutex::new(()),
            overflow: Label {
                id: 0,
                name: Arc::from(OVERFLOW_VALUE),
            },
        }
    }

    /// The label for `value`, or the overflow label once the set is full or `value` is longer
    /// than the byte limit.
    pub(crate) fn intern(&self, value: &str) -> Label {
        if value.len() > self.max_bytes {
            return self.overflow.clone();
        }
        if let Some(label) = self.known.load().get(value) {
            return label.clone();
        }
        self.insert(value)
    }

    /// The label of a `Debug` or `Display` value, formatted without allocating.
    pub(crate) fn intern_fmt(&self, value: &dyn fmt::Debug) -> Label {
        let mut buf = StackStr::<{ crate::semconv::limits::LABEL_MAX_BYTES }>::new();
        match write!(buf, "{value:?}") {
            Ok(()) => self.intern(buf.as_str()),
            Err(_) => self.overflow.clone(),
        }
    }

    /// The number of distinct labels held, not counting the overflow label.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.known.load().len()
    }

    fn insert(&self, value: &str) -> Label {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let known = self.known.load();
        if let Some(label) = known.get(value) {
            return label.clone();
        }
        if known.len() >= self.limit {
            return self.overflow.clone();
        }
        let label = Label {
            id: known.len() as u32 + 1,
            name: Arc::from(value),
        };
        let mut grown = HashMap::clone(&known);
        grown.insert(Box::from(value), label.clone());
        self.known.store(Arc::new(grown));
        label
    }
}

/// A fixed-capacity string on the stack; writing past its capacity fails.
struct StackStr<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackStr<N> {
    fn new() -> Self {
        StackStr {
            buf: [0; N],
            len: 0,
        }
    }

    fn as_str(&self) -> &str {
        // Only whole `&str`s are ever copied in, so the bytes are valid UTF-8.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl<const N: usize> fmt::Write for StackStr<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).filter(|end| *end <= N);
        let end = end.ok_or(fmt::Error)?;
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_past_the_limit_become_other() {
        let set = LabelSet::new(2, 16);
        assert_eq!(&*set.intern("a").name, "a");
        assert_eq!(&*set.intern("b").name, "b");
        assert_eq!(&*set.intern("c").name, OVERFLOW_VALUE);
        assert_eq!(set.intern("a").id, 1);
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn overlong_values_become_other_without_taking_a_slot() {
        let set = LabelSet::new(2, 4);
        assert_eq!(set.intern("abcde").id, 0);
        assert_eq!(set.len(), 0);
    }

    #[test]
    fn display_values_are_formatted_in_place() {
        let set = LabelSet::new(4, 16);
        let label = set.intern_fmt(&format_args!("{}", "en-us"));
        assert_eq!(&*label.name, "en-us");
        assert_eq!(set.intern("en-us").id, label.id);
    }
}
