//! A held-stack entry's tag: lock id (low 40 bits), access (4 bits), permits (19 bits), and
//! the top bit, [`WANTED`], which only the thread's own held stack sets.
//! A mutex's tag is its id, so the common push stores one word.

use lockprof_trace::Access;

const ID_BITS: u32 = 40;
const ID_MASK: u64 = (1 << ID_BITS) - 1;

/// The bits of a tag that say which lock and how, without the permit count.
pub(crate) const ID_AND_ACCESS: u64 = (1 << (ID_BITS + 4)) - 1;

/// The largest permit count a tag keeps; larger counts are stored as this (saturated), and
/// the detector does not rely on them.
pub(crate) const MAX_PERMITS: u32 = 0x7_FFFF;

/// Set on a held-stack entry whose lock a new lock-order edge refers to (as the lock held, or
/// a gate) while the lock may not know it yet: its release then tells the lock (see
/// `LockState::releasing_as`). A tag with it never equals a release key, so the fast release
/// comparison sends such a release to the cold path, at no cost to the others.
pub(crate) const WANTED: u64 = 1 << 63;

#[inline]
pub(crate) const fn make(id: u64, access: Access, permits: u32) -> u64 {
    let permits = if permits > MAX_PERMITS { MAX_PERMITS } else { permits };
    (id & ID_MASK) | (code(access) << ID_BITS) | ((permits as u64) << (ID_BITS + 4))
}

#[inline]
pub(crate) const fn id(tag: u64) -> u64 {
    tag & ID_MASK
}

pub(crate) const fn access(tag: u64) -> Access {
    from_code((tag >> ID_BITS) & 0xF)
}

pub(crate) const fn permits(tag: u64) -> u32 {
    ((tag & !WANTED) >> (ID_BITS + 4)) as u32
}

/// Encoding in a held-stack tag (4 bits).
pub(crate) const fn code(access: Access) -> u64 {
    match access {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permit_counts_that_do_not_fit_saturate() {
        let t = make(7, Access::Permits, 5_000_000);
        assert_eq!((id(t), permits(t)), (7, MAX_PERMITS));
    }

    #[test]
    fn tags_round_trip_and_a_mutex_tag_is_its_id() {
        let t = make(12345, Access::Permits, 7);
        assert_eq!((id(t), access(t), permits(t)), (12345, Access::Permits, 7));
        assert_eq!(make(99, Access::Exclusive, 0), 99);
    }
}
