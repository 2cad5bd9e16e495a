//! Synthetic traces for the benchmark (`cargo bench -p lockprof-cli --bench commands`) and for
//! the tests of the commands on large inputs: a valid trace of any number of locks and stacks,
//! shaped like a real service's contention profile.
//!
//! - Locks are created at sites spread over a few dozen files, about half of them named; their
//!   popularity follows a Zipf law, so a few locks take most of the waiting, as in real programs.
//! - Stacks are about [`FRAMES`] frames each, outermost first drawn from a few entry points, each
//!   frame from a pool of function names that depends on its caller (so stacks share prefixes
//!   and a flamegraph has towers, not noise). Every stack is distinct.
//! - Every stack waits on one lock (the `waiters` table); half of them also hold one (`holders`);
//!   per-lock figures are the sums of their rows (sampling 1: exact).
//! - The timeline has one span per stack over a few dozen threads, some of them dropped.
//!
//! [`Synthetic::variant`] changes the figures but not the locks or the stacks: variant 0 and
//! variant 1 of one size are a "before" and "after" of the same program, for `lockprof diff`.
//!
//! Hidden subcommand: `lockprof __synthetic --locks 10000 --stacks 100000 -o big.json`.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use lockprof_trace::LockKind;
use lockprof_trace::schema::{
    Contention, Frame, LockContention, LockEntry, OrderEdge, Process, Site, SpanKind, Stack, StackContention,
    ThreadEntry, Timeline, TimelineSpan, Trace, WriteReason,
};

use crate::output::write_file;
use crate::{Error, Status};

/// The hidden subcommand.
pub const COMMAND: &str = "__synthetic";

/// The mean number of frames of a stack.
pub const FRAMES: usize = 20;

/// How many threads the trace names.
const THREADS: u64 = 32;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Synthetic {
    /// How many locks.
    pub locks: usize,
    /// How many distinct stacks (and waiting-stack rows).
    pub stacks: usize,
    /// The seed of the shape: locks, stacks, which lock each stack waits on.
    pub seed: u64,
    /// The seed of the figures (wait times, counts, spans): traces that differ only in it are runs
    /// of the same program.
    pub variant: u64,
}

impl Default for Synthetic {
    fn default() -> Self {
        Synthetic { locks: 10_000, stacks: 100_000, seed: 1, variant: 0 }
    }
}

/// SplitMix64: small, fast, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }
}

const CRATES: [&str; 8] = ["app", "server", "storage", "cache", "net", "db", "jobs", "auth"];
const MODULES: [&str; 12] = [
    "handler", "pool", "index", "session", "queue", "worker", "codec", "router", "shard", "ledger", "wal",
    "metrics",
];
const FUNCTIONS: [&str; 16] = [
    "run",
    "process",
    "dispatch",
    "flush",
    "lookup",
    "insert",
    "commit",
    "poll",
    "handle_request",
    "apply",
    "refresh",
    "evict",
    "checkout",
    "read_page",
    "write_batch",
    "with_lock",
];

/// The function-name pool: plain paths, closures, and trait methods, as Rust symbols look.
fn function_pool() -> Vec<String> {
    let mut pool = Vec::new();
    for krate in CRATES {
        for module in MODULES {
            for (n, function) in FUNCTIONS.iter().enumerate() {
                pool.push(match n % 5 {
                    0 => format!("{krate}::{module}::{function}::{{{{closure}}}}"),
                    1 => {
                        format!("<{krate}::{module}::{} as {krate}::Service>::{function}", capitalise(module))
                    }
                    _ => format!("{krate}::{module}::{function}"),
                });
            }
        }
    }
    pool
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// The file a function of the pool lives in: `src/<module>.rs` of its crate.
fn file_of(function: &str) -> String {
    let path = function.trim_start_matches('<');
    let mut parts = path.split("::");
    let krate = parts.next().unwrap_or("app");
    let module = parts.next().unwrap_or("lib");
    let module: String = module.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    format!("{krate}/src/{}.rs", module.to_ascii_lowercase())
}

/// A Zipf-like sampler over `0..n`: index `i` has weight `1 / (i + 1)`.
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize) -> Zipf {
        let mut total = 0.0;
        let cumulative = (0..n)
            .map(|i| {
                total += 1.0 / (i as f64 + 1.0);
                total
            })
            .collect();
        Zipf { cumulative }
    }

    fn sample(&self, rng: &mut Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = (rng.next() >> 11) as f64 / (1u64 << 53) as f64 * total;
        self.cumulative.partition_point(|&c| c < x).min(self.cumulative.len().saturating_sub(1))
    }
}

/// Generates the trace. Valid: it passes [`lockprof_trace::load::parse`] once
/// serialised. At least one lock and one stack are generated whatever `options` asks.
pub fn generate(options: &Synthetic) -> Trace {
    let n_locks = options.locks.max(1);
    let n_stacks = options.stacks.max(1);
    let mut shape = Rng::new(options.seed);
    let mut figures = Rng::new(options.seed.wrapping_mul(31).wrapping_add(options.variant).wrapping_add(7));

    let mut trace = Trace::empty(WriteReason::Exit);
    trace.process = Process {
        pid: 0,
        command: vec![
            format!("lockprof {COMMAND}"),
            format!("--locks={n_locks}"),
            format!("--stacks={n_stacks}"),
            format!("--seed={}", options.seed),
            format!("--variant={}", options.variant),
        ],
        reason: WriteReason::Exit,
        wait_episodes: 0,
    };

    let pool = function_pool();
    let files: Vec<String> = pool.iter().map(|f| file_of(f)).collect();

    trace.locks = (0..n_locks)
        .map(|i| {
            let function = shape.index(pool.len());
            LockEntry {
                id: i as u64 + 1,
                kind: if shape.below(8) == 0 { LockKind::RwLock } else { LockKind::Mutex },
                site: Site {
                    file: files[function].clone(),
                    line: 10 + shape.below(2_000) as u32,
                    column: 5 + shape.below(60) as u32,
                },
                name: (shape.below(2) == 0).then(|| format!("{}-{i}", MODULES[i % MODULES.len()])),
                written: false,
                dropped: None,
                capacity: None,
            }
        })
        .collect();
    trace.threads = (1..=THREADS).map(|id| ThreadEntry { id, name: Some(format!("worker-{id}")) }).collect();

    // Stacks: a walk down a call tree whose branching grows with depth.
    let roots: Vec<usize> = (0..6).map(|_| shape.index(pool.len())).collect();
    let mut seen: HashSet<Vec<u32>> = HashSet::with_capacity(n_stacks);
    let mut stacks = Vec::with_capacity(n_stacks);
    while stacks.len() < n_stacks {
        let depth = FRAMES - 4 + shape.index(9);
        let mut path: Vec<u32> = Vec::with_capacity(depth);
        let mut caller = roots[shape.index(roots.len())];
        path.push(caller as u32);
        for level in 1..depth {
            let branching = 2 + level as u64 / 3;
            let callee = (caller as u64)
                .wrapping_mul(0x2545_f491_4f6c_dd1d)
                .wrapping_add(shape.below(branching) * 0x9e37_79b9)
                .wrapping_add(level as u64);
            caller = (callee % pool.len() as u64) as usize;
            path.push(caller as u32);
        }
        if !seen.insert(path.clone()) {
            continue;
        }
        let id = stacks.len() as u32;
        // Innermost first, as traces store them.
        let frames = path
            .iter()
            .rev()
            .map(|&f| Frame {
                function: pool[f as usize].clone(),
                file: Some(files[f as usize].clone()),
                line: Some(10 + (f * 7 + id % 3) % 900),
            })
            .collect();
        stacks.push(Stack { id, frames });
    }
    trace.stacks = stacks;

    // Contention: each stack waits on a lock, popular locks more often.
    let zipf = Zipf::new(n_locks);
    let mut per_lock =
        vec![
            LockContention { lock: 0, acquisitions: 0, contended: 0, wait_ns: 0, max_wait_ns: 0, hold_ns: 0 };
            n_locks
        ];
    for (i, figures) in per_lock.iter_mut().enumerate() {
        figures.lock = i as u64 + 1;
    }
    let mut waiters = Vec::with_capacity(n_stacks);
    let mut holders = Vec::with_capacity(n_stacks / 2);
    for stack in 0..n_stacks as u32 {
        let lock = zipf.sample(&mut shape);
        let count = 1 + figures.below(40);
        let mean = 2_000 + figures.below(200_000);
        let ns = count * mean;
        waiters.push(StackContention { lock: lock as u64 + 1, stack, count, ns });
        let l = &mut per_lock[lock];
        l.contended += count;
        l.wait_ns += ns;
        l.max_wait_ns = l.max_wait_ns.max(mean * 3);
        if shape.below(2) == 0 {
            let held = zipf.sample(&mut shape);
            let count = 1 + figures.below(20);
            let ns = count * (1_000 + figures.below(50_000));
            holders.push(StackContention { lock: held as u64 + 1, stack, count, ns });
            per_lock[held].hold_ns += ns;
        }
    }
    for l in &mut per_lock {
        l.acquisitions = l.contended * (2 + figures.below(20)) + 1 + figures.below(1_000);
        l.max_wait_ns = l.max_wait_ns.min(l.wait_ns);
    }
    trace.contention = Some(Contention { sample: 1, locks: per_lock, waiters, holders, dropped_stacks: 0 });

    // A lock order without cycles: each lock of a chain taken while holding the previous one.
    trace.lock_order = (1..n_locks.min(1_000) as u64)
        .map(|from| OrderEdge {
            from,
            to: from + 1,
            from_site: trace.locks[from as usize - 1].site.clone(),
            to_site: trace.locks[from as usize].site.clone(),
            from_access: Default::default(),
            to_access: Default::default(),
            thread: 1 + from % THREADS,
            stack: Some((from % n_stacks as u64) as u32),
            gates: Vec::new(),
            threads: 1,
            modes: vec![],
            permit_gates: vec![],
            seq: None,
        })
        .collect();

    // Timeline: per thread, waits and the holds that caused them, back to back.
    let mut spans = Vec::with_capacity(n_stacks);
    let mut clock = vec![0u64; THREADS as usize];
    for n in 0..n_stacks {
        let thread = n as u64 % THREADS;
        let lock = zipf.sample(&mut shape) as u64 + 1;
        let start = clock[thread as usize] + figures.below(50_000);
        let end = start + 500 + figures.below(100_000);
        clock[thread as usize] = end;
        let kind = if n % 3 == 0 { SpanKind::Hold } else { SpanKind::Wait };
        spans.push(TimelineSpan { thread: thread + 1, lock, kind, start_ns: start, end_ns: end });
    }
    spans.sort_by_key(|s| (s.start_ns, s.thread));
    trace.timeline = Some(Timeline { spans, dropped: n_stacks as u64 / 10 });
    trace
}

/// `lockprof __synthetic`: writes the trace that `options` describes to `path`, and says so
/// on `log`.
pub fn run(options: &Synthetic, path: &Path, log: &mut dyn Write) -> Result<Status, Error> {
    let trace = generate(options);
    write_file(path, |w| {
        serde_json::to_writer_pretty(&mut *w, &trace)?;
        w.write_all(b"\n")
    })?;
    writeln!(
        log,
        "lockprof {COMMAND}: {} locks, {} stacks, {} spans into {}",
        trace.locks.len(),
        trace.stacks.len(),
        trace.timeline.as_ref().map_or(0, |t| t.spans.len()),
        path.display()
    )?;
    Ok(Status::Success)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockprof_trace::load::parse;

    #[test]
    fn a_synthetic_trace_is_valid_and_has_what_was_asked() {
        let options = Synthetic { locks: 50, stacks: 400, seed: 3, variant: 0 };
        let trace = generate(&options);
        let bytes = serde_json::to_vec(&trace).expect("serialise");
        let parsed = parse(&bytes).expect("a valid trace");
        assert_eq!(parsed, trace);
        assert_eq!(trace.locks.len(), 50);
        assert_eq!(trace.stacks.len(), 400);
        let distinct: HashSet<Vec<&str>> =
            trace.stacks.iter().map(|s| s.frames.iter().map(|f| f.function.as_str()).collect()).collect();
        assert!(distinct.len() > 350, "stacks should mostly differ by function names too");
        let mean = trace.stacks.iter().map(|s| s.frames.len()).sum::<usize>() / trace.stacks.len();
        assert!((FRAMES - 2..=FRAMES + 2).contains(&mean), "mean depth {mean}");
    }

    #[test]
    fn variants_share_the_shape_but_not_the_figures() {
        let before = generate(&Synthetic { locks: 20, stacks: 100, seed: 5, variant: 0 });
        let after = generate(&Synthetic { locks: 20, stacks: 100, seed: 5, variant: 1 });
        assert_eq!(before.locks, after.locks);
        assert_eq!(before.stacks, after.stacks);
        assert_ne!(before.contention, after.contention);
        assert_eq!(before, generate(&Synthetic { locks: 20, stacks: 100, seed: 5, variant: 0 }));
    }
}
