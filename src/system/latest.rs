//! The latest reading, shared between the sampler thread (one writer) and the instrument
//! callbacks and callers (readers).
//!
//! Both sides hold the lock only to swap or clone an `Arc`: a writer never keeps readers
//! waiting for longer than a pointer swap, and a reader never waits for a refresh.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use super::SystemSample;

/// A cloneable handle on the latest sample and on whether it is live (the sampler runs).
#[derive(Clone, Debug, Default)]
pub(crate) struct Latest {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    sample: RwLock<Option<Arc<SystemSample>>>,
    live: AtomicBool,
}

impl Latest {
    /// Stores a new sample; the previous one is dropped outside the lock.
    pub(crate) fn publish(&self, sample: Arc<SystemSample>) {
        let previous = {
            let mut slot = self
                .inner
                .sample
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            slot.replace(sample)
        };

        drop(previous);
    }

    /// The latest sample taken, live or not.
    pub(crate) fn get(&self) -> Option<Arc<SystemSample>> {
        let slot = self
            .inner
            .sample
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        slot.clone()
    }

    /// The latest sample while the sampler runs; `None` while it is stopped, so instruments
    /// go silent rather than report a stale reading as current.
    pub(crate) fn observed(&self) -> Option<Arc<SystemSample>> {
        if self.is_live() {
            self.get()
        } else {
            None
        }
    }

    /// Marks the sample as live (the sampler runs) or not.
    pub(crate) fn set_live(&self, live: bool) {
        self.inner.live.store(live, Ordering::Release);
    }

    fn is_live(&self) -> bool {
        self.inner.live.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observed_is_none_until_live() {
        let latest = Latest::default();
        latest.publish(Arc::new(SystemSample::default()));
        assert!(latest.get().is_some());
        assert!(latest.observed().is_none());

        latest.set_live(true);
        assert!(latest.observed().is_some());
    }
}
