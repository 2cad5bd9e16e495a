//! A hasher for keys that are lock ids or addresses: one multiply per word instead of SipHash,
//! for the lock-order graph's maps (no key is chosen by an adversary).

/// Lock ids are a counter, so one multiply spreads them; SipHash would dominate the cost of
/// the lock-order graph's maps, keyed by lock ids and site addresses (none of them chosen by an
/// adversary).
pub(crate) type IdHash = std::hash::BuildHasherDefault<IdHasher>;

/// The hasher of [`IdHash`]: a Fibonacci multiply per word.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(29) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}
