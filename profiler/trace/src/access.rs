//! How a lock is held or waited for ([`Access`]). The runtime's wait-for graph needs it to know
//! who blocks whom (two readers do not), and the lock-order analysis to know which orders can
//! deadlock.

/// The access a thread holds or wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "read", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "read", serde(rename_all = "snake_case"))]
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
}
