//! [`ShardedMap`]: the concurrent hash map of the runtime's registries (locks, threads, stack
//! tables), shards of std's `Mutex<HashMap>`.
//!
//! Why not a crate (dashmap, which this replaced): it is four more crates to compile into every
//! profiled program, for registries touched only off the fast path (a lock's first acquisition
//! and its drop, a thread's first wait and its exit, a contended wait, an async task's wait).
//! Closures instead of
//! guards keep every shard lock inside this module, held for a map operation and never across a
//! call out of it.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Shards: enough that threads registering at once rarely meet.
const SHARDS: usize = 16;

/// SipHash with fixed keys, for keys of many words ([`crate::contention`]'s stacks).
pub(crate) type SipHash = std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher>;

/// A hash map that threads share, locked one shard at a time.
///
/// `S` hashes keys, for the shard and within it: by default one multiply per word
/// ([`crate::id_hash::IdHash`]), since the registries are keyed by ids and addresses that no
/// adversary chooses (lock ids, thread and task nodes, acquisition sites). SipHash cost a
/// contended async wait, which goes through four such maps, 40% of its instructions. Maps keyed
/// by many words ([`SipHash`]) say so.
pub(crate) struct ShardedMap<K, V, S = crate::id_hash::IdHash> {
    shards: Box<[Mutex<HashMap<K, V, S>>]>,
    /// Picks a key's shard.
    hasher: S,
}

impl<K: Hash + Eq, V, S: BuildHasher + Default> ShardedMap<K, V, S> {
    pub(crate) fn new() -> Self {
        ShardedMap {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::with_hasher(S::default()))).collect(),
            hasher: S::default(),
        }
    }

    fn shard(&self, key: &K) -> MutexGuard<'_, HashMap<K, V, S>> {
        // The high bits: a multiplicative hash mixes into them.
        let index = ((self.hasher.hash_one(key) >> 40) as usize) % SHARDS;
        // A panic inside a closure below leaves the map itself consistent: ignore poisoning.
        self.shards[index].lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn insert(&self, key: K, value: V) -> Option<V> {
        self.shard(&key).insert(key, value)
    }

    pub(crate) fn remove(&self, key: &K) -> Option<V> {
        self.shard(key).remove(key)
    }

    /// Removes `key` if `remove` says so, deciding under the shard's lock.
    pub(crate) fn remove_if(&self, key: &K, remove: impl FnOnce(&V) -> bool) -> Option<V> {
        let mut shard = self.shard(key);
        if shard.get(key).is_some_and(remove) { shard.remove(key) } else { None }
    }

    pub(crate) fn contains_key(&self, key: &K) -> bool {
        self.shard(key).contains_key(key)
    }

    /// `f` of the value at `key`, if there is one.
    pub(crate) fn with<R>(&self, key: &K, f: impl FnOnce(&V) -> R) -> Option<R> {
        self.shard(key).get(key).map(f)
    }

    /// `f` of the value at `key`, mutably, if there is one.
    pub(crate) fn with_mut<R>(&self, key: &K, f: impl FnOnce(&mut V) -> R) -> Option<R> {
        self.shard(key).get_mut(key).map(f)
    }

    /// `f` of the value at `key`, inserting `make()` first if there is none.
    pub(crate) fn with_or_insert<R>(&self, key: K, make: impl FnOnce() -> V, f: impl FnOnce(&V) -> R) -> R {
        f(self.shard(&key).entry(key).or_insert_with(make))
    }

    /// `f` of the value at `key`, mutably, inserting `make()` first if there is none.
    pub(crate) fn with_or_insert_mut<R>(
        &self,
        key: K,
        make: impl FnOnce() -> V,
        f: impl FnOnce(&mut V) -> R,
    ) -> R {
        f(self.shard(&key).entry(key).or_insert_with(make))
    }

    /// The number of entries (each shard counted under its lock, one after the other).
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len()).sum()
    }

    /// What `f` makes of each entry, shard by shard (entries added meanwhile may be missed, as
    /// with any concurrent iteration).
    pub(crate) fn collect<T>(&self, mut f: impl FnMut(&K, &V) -> Option<T>) -> Vec<T> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            out.extend(shard.iter().filter_map(|(k, v)| f(k, v)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_as_a_map_from_many_threads() {
        let map: ShardedMap<u64, u64> = ShardedMap::new();
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let map = &map;
                s.spawn(move || {
                    for i in 0..250 {
                        map.insert(t * 1000 + i, i);
                        map.with_or_insert(7_777_777, || 0, |_| ());
                    }
                });
            }
        });
        assert_eq!(map.len(), 1001);
        assert_eq!(map.with(&3010, |v| *v), Some(10));
        assert_eq!(map.with_mut(&3010, |v| std::mem::replace(v, 5)), Some(10));
        assert!(map.remove_if(&3010, |v| *v == 4).is_none());
        assert_eq!(map.remove_if(&3010, |v| *v == 5), Some(5));
        assert!(!map.contains_key(&3010));
        assert_eq!(map.remove(&7_777_777), Some(0));
        let mut keys = map.collect(|k, _| (*k < 3).then_some(*k));
        keys.sort_unstable();
        assert_eq!(keys, [0, 1, 2]);
    }
}
