//! How a lock is held or waited for. The wait-for graph needs it to know who blocks whom (two
//! readers do not), and the lock-order analysis to know which orders can deadlock.

use serde::{Deserialize, Serialize};

/// The access a thread holds or wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// A mutex, or an `RwLock` write lock: excludes everyone.
    #[default]
    Exclusive,
    /// An `RwLock` read lock. The locks lockprof wraps are writer-preferring (task-fair): a new
    /// reader waits behind a queued writer, which is what makes a re-entrant read deadlock.
    Shared,
    /// A recursive read (`read_recursive`): only a writer that holds the lock blocks it.
    SharedRecursive,
    /// A parking_lot upgradable read: shared with readers, exclusive with writers and other
    /// upgradable readers.
    Upgradable,
    /// Permits of a semaphore (how many is kept beside it).
    Permits,
}

impl Access {
    /// Whether holding `self` blocks a thread that wants `wanted` of the same lock (ignoring
    /// queued waiters).
    pub fn blocks(self, wanted: Access) -> bool {
        use Access::*;
        match (self, wanted) {
            (Permits, _) | (_, Permits) => false,
            (Exclusive, _) | (_, Exclusive) => true,
            (Upgradable, Upgradable) => true,
            _ => false,
        }
    }

    /// Whether a thread waiting for `self` also waits behind a *queued* writer (a thread waiting
    /// for exclusive access), as a fair lock makes it.
    pub fn queues_behind_writers(self) -> bool {
        matches!(self, Access::Shared | Access::Upgradable)
    }

    /// Encoding in a held-stack tag (4 bits).
    pub(crate) const fn code(self) -> u64 {
        match self {
            Access::Exclusive => 0,
            Access::Shared => 1,
            Access::SharedRecursive => 2,
            Access::Upgradable => 3,
            Access::Permits => 4,
        }
    }

    pub(crate) const fn from_code(code: u64) -> Access {
        match code {
            1 => Access::Shared,
            2 => Access::SharedRecursive,
            3 => Access::Upgradable,
            4 => Access::Permits,
            _ => Access::Exclusive,
        }
    }

    /// `read`, `write`, ... as reports say it.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Exclusive => "exclusive",
            Access::Shared => "read",
            Access::SharedRecursive => "recursive read",
            Access::Upgradable => "upgradable read",
            Access::Permits => "permits",
        }
    }

    /// Whether this is the default, for `skip_serializing_if`.
    pub fn is_exclusive(&self) -> bool {
        *self == Access::Exclusive
    }
}

/// A held-stack entry's tag: lock id (low 40 bits), access (4 bits), permits (high 20 bits).
/// A mutex's tag is its id, so the common push stores one word as before.
pub(crate) mod tag {
    use super::Access;

    const ID_BITS: u32 = 40;
    const ID_MASK: u64 = (1 << ID_BITS) - 1;

    /// The largest permit count a tag keeps; larger counts are stored as this (saturated), and
    /// the detector does not rely on them.
    pub(crate) const MAX_PERMITS: u32 = 0xF_FFFF;

    #[inline]
    pub(crate) const fn make(id: u64, access: Access, permits: u32) -> u64 {
        let permits = if permits > MAX_PERMITS { MAX_PERMITS } else { permits };
        (id & ID_MASK) | (access.code() << ID_BITS) | ((permits as u64) << (ID_BITS + 4))
    }

    #[inline]
    pub(crate) const fn id(tag: u64) -> u64 {
        tag & ID_MASK
    }

    pub(crate) const fn access(tag: u64) -> Access {
        Access::from_code((tag >> ID_BITS) & 0xF)
    }

    pub(crate) const fn permits(tag: u64) -> u32 {
        (tag >> (ID_BITS + 4)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_share_writers_exclude() {
        use Access::*;
        assert!(!Shared.blocks(Shared));
        assert!(Shared.blocks(Exclusive));
        assert!(Exclusive.blocks(Shared));
        assert!(Upgradable.blocks(Upgradable));
        assert!(!Upgradable.blocks(Shared));
        assert!(!SharedRecursive.queues_behind_writers());
        assert!(Shared.queues_behind_writers());
    }

    #[test]
    fn permit_counts_that_do_not_fit_saturate() {
        let t = tag::make(7, Access::Permits, 5_000_000);
        assert_eq!((tag::id(t), tag::permits(t)), (7, tag::MAX_PERMITS));
    }

    #[test]
    fn tags_round_trip_and_a_mutex_tag_is_its_id() {
        let t = tag::make(12345, Access::Permits, 7);
        assert_eq!((tag::id(t), tag::access(t), tag::permits(t)), (12345, Access::Permits, 7));
        assert_eq!(tag::make(99, Access::Exclusive, 0), 99);
    }
}
