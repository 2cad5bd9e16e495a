//! Fuzzing trace loading in the normal test suite: thousands of deterministic mutants of the
//! recorded traces (`fixtures/traces`) and the bad inputs (`fixtures/bad-input`) go through
//! [`parse`], which must return (a trace or an error) without panicking, and without allocating
//! more than a bounded multiple of the input's size (measured with a counting allocator).
//!
//! The mutator is `support/mutate.rs`; a failure names the seed file and the mutant's number, so
//! it can be replayed, and the input that found a bug belongs in `fixtures/bad-input`.

mod support {
    pub mod mutate;
}

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use lockprof_trace::load::parse;
use support::mutate::{Rng, mutate_bytes, mutate_json, seeds};

/// Counts the bytes allocated and not yet freed, and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is passed on to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, layout, new_size) };
        if !q.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most a parse may allocate at its peak: a generous multiple of the input (a JSON value
/// tree is several times its text) plus a constant.
fn allowance(input: usize) -> usize {
    64 * input + (1 << 20)
}

/// Parses `input`; the failure, if any: a panic or an allocation over the allowance.
fn check(input: &[u8]) -> Option<String> {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let result = std::panic::catch_unwind(|| {
        let _ = parse(input);
    });
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    if result.is_err() {
        return Some("parse panicked".into());
    }
    (peak > allowance(input.len()))
        .then(|| format!("parse allocated {peak} bytes at its peak for {} bytes of input", input.len()))
}

/// The one test of this binary (the allocation counter is global: no other test may run beside it).
#[test]
fn mutants_of_every_fixture_parse_or_fail_without_panic_or_unbounded_allocation() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let mut inputs = seeds(&fixtures.join("bad-input"), None);
    // The long hot_counter trace is 220 KB: its mutants are slow in a debug build and find
    // nothing its short sibling does not.
    inputs.extend(
        seeds(&fixtures.join("traces"), Some("json"))
            .into_iter()
            .filter(|(n, _)| n != "hot_counter_long.json"),
    );
    assert!(inputs.len() >= 20, "expected the fixtures, found {}", inputs.len());
    let json: Vec<(String, serde_json::Value)> =
        inputs.iter().filter_map(|(n, b)| Some((n.clone(), serde_json::from_slice(b).ok()?))).collect();

    let mut failures = Vec::new();
    let mut parsed = 0;
    for (name, bytes) in &inputs {
        if let Some(why) = check(bytes) {
            failures.push(format!("{name} itself: {why}"));
        }
    }
    const BYTE_MUTANTS: u64 = 2000;
    for n in 0..BYTE_MUTANTS {
        let mut rng = Rng::new(n);
        let (name, seed) = rng.pick(&inputs);
        let (_, other) = rng.pick(&inputs);
        let rounds = 1 + rng.below(4);
        let mutant = mutate_bytes(&mut rng, seed, other, rounds);
        if let Some(why) = check(&mutant) {
            failures.push(format!("byte mutant {n} of {name}: {why}"));
        }
    }
    const JSON_MUTANTS: u64 = 1000;
    for n in 0..JSON_MUTANTS {
        let mut rng = Rng::new(n + (1 << 32));
        let (name, seed) = rng.pick(&json);
        let mutant = serde_json::to_vec(&mutate_json(&mut rng, seed)).expect("serialise");
        parsed += usize::from(parse(&mutant).is_ok());
        if let Some(why) = check(&mutant) {
            failures.push(format!("JSON mutant {n} of {name}: {why}"));
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    // The JSON-aware mutants must reach past the parser's first checks often enough to matter.
    assert!(
        parsed * 10 > JSON_MUTANTS as usize,
        "only {parsed} of {JSON_MUTANTS} JSON mutants were valid traces"
    );
}
