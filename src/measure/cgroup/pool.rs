//! A small stack of idle step cgroups, so that a run of short steps pays the mkdir, the
//! opens and the rmdir of a cgroup once instead of once per step (together about as
//! much as spawning the step itself).

use std::sync::{Mutex, MutexGuard, TryLockError};

/// Idle cgroups kept at most: one per concurrently running step is all that pays.
pub(super) const CAPACITY: usize = 4;

/// What the pool does with an item it no longer keeps.
pub(super) trait Discard {
    fn discard(self);
}

/// Idle items, most recently returned first; dropped, it discards them. Generic so that
/// its logic is tested without cgroups.
#[derive(Debug)]
pub(super) struct Pool<T: Discard> {
    idle: Mutex<Vec<T>>,
}

impl<T: Discard> Default for Pool<T> {
    fn default() -> Self {
        Self {
            idle: Mutex::new(Vec::with_capacity(CAPACITY)),
        }
    }
}

impl<T: Discard> Pool<T> {
    fn lock(&self) -> MutexGuard<'_, Vec<T>> {
        // The list stays consistent whatever a panicking holder did: push and pop only.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The most recently returned idle item.
    pub(super) fn take(&self) -> Option<T> {
        self.lock().pop()
    }

    /// Keep `item` for reuse; discards it when the pool is full.
    pub(super) fn put(&self, item: T) {
        let mut idle = self.lock();
        if idle.len() < CAPACITY {
            idle.push(item);
        } else {
            drop(idle);
            item.discard();
        }
    }

    /// Discard everything idle; the pool stays usable.
    pub(super) fn clear(&self) {
        let idle = std::mem::take(&mut *self.lock());
        idle.into_iter().for_each(T::discard);
    }

    /// [`Pool::clear`] that never blocks (at process exit another thread may hold the
    /// lock forever): does nothing then.
    pub(super) fn try_clear(&self) {
        let idle = match self.idle.try_lock() {
            Ok(mut idle) => std::mem::take(&mut *idle),
            Err(TryLockError::Poisoned(e)) => std::mem::take(&mut *e.into_inner()),
            Err(TryLockError::WouldBlock) => Vec::new(),
        };
        idle.into_iter().for_each(T::discard);
    }

    /// Look at the idle items (tests).
    #[cfg(test)]
    pub(super) fn with_idle<R>(&self, look: impl FnOnce(&[T]) -> R) -> R {
        look(&self.lock())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.with_idle(<[T]>::len)
    }
}

impl<T: Discard> Drop for Pool<T> {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// An item that records its discarding in a shared list.
    #[derive(Debug)]
    struct Item(u32, Arc<Mutex<Vec<u32>>>);

    impl Discard for Item {
        fn discard(self) {
            self.1.lock().unwrap().push(self.0);
        }
    }

    fn items(n: u32) -> (Vec<Item>, Arc<Mutex<Vec<u32>>>) {
        let gone = Arc::new(Mutex::new(Vec::new()));
        ((0..n).map(|i| Item(i, Arc::clone(&gone))).collect(), gone)
    }

    fn ids(gone: &Arc<Mutex<Vec<u32>>>) -> Vec<u32> {
        gone.lock().unwrap().clone()
    }

    #[test]
    fn hands_back_the_most_recent_item_first() {
        let (mut all, gone) = items(2);
        let pool = Pool::default();
        assert!(pool.take().is_none());
        let (b, a) = (all.pop().unwrap(), all.pop().unwrap());
        pool.put(a);
        pool.put(b);
        assert_eq!(pool.take().map(|i| i.0), Some(1));
        assert_eq!(pool.take().map(|i| i.0), Some(0));
        assert!(pool.take().is_none());
        assert!(ids(&gone).is_empty(), "taken items are not discarded");
    }

    #[test]
    fn discards_items_beyond_its_capacity() {
        let n = u32::try_from(CAPACITY).unwrap();
        let (all, gone) = items(n + 1);
        let pool = Pool::default();
        all.into_iter().for_each(|i| pool.put(i));
        assert_eq!(pool.len(), CAPACITY);
        assert_eq!(ids(&gone), vec![n]);
    }

    #[test]
    fn clears_and_stays_usable_and_discards_what_is_idle_when_dropped() {
        let (mut all, gone) = items(4);
        let pool = Pool::default();
        pool.put(all.remove(0));
        pool.put(all.remove(0));
        pool.clear();
        assert_eq!(ids(&gone), vec![0, 1]);
        assert_eq!(pool.len(), 0);
        pool.put(all.remove(0));
        let guard = pool.lock();
        // Never blocks, even while the lock is held.
        pool.try_clear();
        drop(guard);
        assert_eq!(pool.len(), 1);
        pool.put(all.remove(0));
        drop(pool);
        assert_eq!(ids(&gone), vec![0, 1, 2, 3]);
    }
}
