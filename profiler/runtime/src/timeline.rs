//! Timeline events for `lockprof timeline`: wait spans and contended-hold spans per thread and
//! lock, kept in a bounded ring per thread so a long run cannot exhaust memory (the oldest
//! events go first, and the trace says how many were dropped).
//!
//! Events are recorded on the contended path only (a wait, or the release of a lock someone
//! waited for), never on the fast path.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Events kept per thread.
pub const EVENTS_PER_THREAD: usize = 4_096;
/// Threads whose events are kept; events of further threads are counted as dropped.
pub const MAX_THREADS: usize = 256;

pub(crate) use lockprof_trace::schema::SpanKind;

/// One span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub thread: u64,
    pub lock: u64,
    pub kind: SpanKind,
    pub start_ns: u64,
    pub end_ns: u64,
}

#[derive(Default)]
struct Ring {
    spans: VecDeque<Span>,
}

type Rings = Mutex<Vec<Arc<Mutex<Ring>>>>;

fn rings() -> &'static Rings {
    static RINGS: OnceLock<Rings> = OnceLock::new();
    RINGS.get_or_init(Mutex::default)
}

static DROPPED: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static MINE: RefCell<Option<Arc<Mutex<Ring>>>> = const { RefCell::new(None) };
}

/// Records a span of the calling thread.
pub(crate) fn record(span: Span) {
    let kept = MINE.try_with(|mine| {
        let mut mine = mine.try_borrow_mut().ok()?;
        if mine.is_none() {
            let mut all = rings().lock().unwrap_or_else(|e| e.into_inner());
            if all.len() >= MAX_THREADS {
                return None;
            }
            let ring = Arc::new(Mutex::new(Ring::default()));
            all.push(Arc::clone(&ring));
            *mine = Some(ring);
        }
        let ring = mine.as_ref()?;
        let mut ring = ring.lock().unwrap_or_else(|e| e.into_inner());
        if ring.spans.len() >= EVENTS_PER_THREAD {
            ring.spans.pop_front();
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
        ring.spans.push_back(span);
        Some(())
    });
    if !matches!(kept, Ok(Some(()))) {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}

/// Every kept span, and how many were dropped.
pub(crate) fn collect() -> (Vec<Span>, u64) {
    let all = rings().lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut spans = Vec::new();
    for ring in all {
        spans.extend(ring.lock().unwrap_or_else(|e| e.into_inner()).spans.iter().copied());
    }
    spans.sort_by_key(|s| (s.start_ns, s.thread));
    (spans, DROPPED.load(Ordering::Relaxed))
}
