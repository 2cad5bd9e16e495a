//! Stack capture and symbolisation.
//!
//! Stacks are captured unresolved (instruction pointers only) on the slow path and symbolised
//! only when a trace is written, off the threads that wait or hold locks. Symbolised frames drop
//! lockprof's own frames at the top and the runtime's start-up frames at the bottom, so the first
//! frame is the user's lock call.
//!
//! Symbolising is slow (the first time in a debug build, about a second and a hundred MB, most
//! of it reading debug info) and the backtrace crate runs it under a process-wide lock that its
//! `trace` takes too. So [`capture`] walks the stack without that lock where the platform's
//! unwinder allows it: a waiter or a releasing holder never waits for the watchdog's or the
//! deadlock writer's symbolisation. Each instruction pointer is resolved once per process (the
//! cache is bounded by the size of the program's code), so the watchdog's rewrites and the
//! trace at exit do not resolve again what an earlier write did.

use std::sync::{Mutex, OnceLock};

use std::collections::{HashMap, HashSet};
use std::path::Path;

use backtrace::{Backtrace, BacktraceFrame};

use lockprof_trace::schema::Frame;

/// Function-name prefixes of frames that belong to the capture itself.
const INTERNAL_PREFIXES: &[&str] = &[
    "backtrace::",
    "lockprof_profiler::",
    "<lockprof_profiler::",
    "lockprof::",
    "<lockprof::",
    "core::ops::function::",
    "<core::panic::",
    "core::ptr::drop_in_place<lockprof::",
    "core::ptr::drop_in_place<lockprof_profiler::",
];

/// Standard-library frames that may sit between lockprof's own frames (`__rust_try` is
/// `catch_unwind`'s, between `lockprof::thread::scope` and its implicit join).
const STD_PREFIXES: &[&str] = &["std::", "<std::", "core::", "<core::", "alloc::", "<alloc::", "__rust_try"];

/// Frames from which on everything is the runtime starting a thread or `main`.
const RUNTIME_MARKERS: &[&str] =
    &["std::sys::backtrace::__rust_begin_short_backtrace", "std::rt::lang_start"];

/// The calling thread's stack, unresolved, innermost frame first (lockprof's own frames at the
/// top are trimmed when it is symbolised).
#[inline(never)]
pub(crate) fn capture() -> Backtrace {
    let mut frames: Vec<BacktraceFrame> = Vec::with_capacity(32);
    let mut keep = |frame: &backtrace::Frame| {
        frames.push(BacktraceFrame::from(frame.clone()));
        true
    };
    #[cfg(unix)]
    // SAFETY: `trace_unsynchronized` is unsafe because some platforms' unwinders (dbghelp on
    // Windows) must not run concurrently with another trace or a symbolisation; on Unix it walks
    // with the system unwinder (`_Unwind_Backtrace`), which is thread-safe and shares no state
    // with the backtrace crate's symbolisation. The callback only copies frames.
    unsafe {
        backtrace::trace_unsynchronized(&mut keep);
    }
    #[cfg(not(unix))]
    backtrace::trace(&mut keep);
    Backtrace::from(frames)
}

/// Resolved frames by instruction pointer, for the whole process.
fn resolved() -> &'static Mutex<HashMap<usize, Vec<Frame>>> {
    static RESOLVED: OnceLock<Mutex<HashMap<usize, Vec<Frame>>>> = OnceLock::new();
    RESOLVED.get_or_init(Mutex::default)
}

/// Symbolises stacks, resolving each distinct instruction pointer once per process (a profile
/// has many stacks that share most of their frames, and a process may write its trace often).
#[derive(Default)]
pub(crate) struct Symbolizer {}

impl Symbolizer {
    /// Resolves, in one batch, every frame of `stacks` not resolved yet.
    pub(crate) fn prepare<'a>(&mut self, stacks: impl IntoIterator<Item = &'a Backtrace>) {
        let mut unique: Vec<BacktraceFrame> = Vec::new();
        {
            let known = resolved().lock().unwrap_or_else(|e| e.into_inner());
            let mut seen: HashSet<usize> = HashSet::new();
            for stack in stacks {
                for frame in stack.frames() {
                    let ip = frame.ip() as usize;
                    if !known.contains_key(&ip) && seen.insert(ip) {
                        unique.push(frame.clone());
                    }
                }
            }
        }
        if unique.is_empty() {
            return;
        }
        // Resolved outside the cache's lock: two writers may resolve the same frame, harmlessly.
        let mut batch = Backtrace::from(unique);
        batch.resolve();
        let mut known = resolved().lock().unwrap_or_else(|e| e.into_inner());
        for frame in batch.frames() {
            let symbols = frame.symbols();
            let resolved = if symbols.is_empty() {
                vec![Frame { function: "??".to_owned(), file: None, line: None }]
            } else {
                symbols
                    .iter()
                    .map(|symbol| Frame {
                        function: symbol.name().map_or_else(|| "??".to_owned(), |n| format!("{n:#}")),
                        // As debug info has it (absolute, usually): `trace::paths` makes it
                        // relative to the sites' base once the whole trace is known.
                        file: symbol.filename().map(|f| f.to_string_lossy().into_owned()),
                        line: symbol.lineno(),
                    })
                    .collect()
            };
            known.insert(frame.ip() as usize, resolved);
        }
    }

    /// The frames of `stack`, innermost first, trimmed of lockprof's own and the runtime's.
    pub(crate) fn symbolise(&mut self, stack: &Backtrace) -> Vec<Frame> {
        self.prepare([stack]);
        let known = resolved().lock().unwrap_or_else(|e| e.into_inner());
        let mut frames = Vec::new();
        'frames: for frame in stack.frames() {
            for f in known.get(&(frame.ip() as usize)).map(Vec::as_slice).unwrap_or(&[]) {
                if is_runtime_start(f) {
                    break 'frames;
                }
                frames.push(f.clone());
            }
        }
        trim_internal(&mut frames);
        trim_runtime(&mut frames);
        frames
    }
}

/// Drops the closure-call shims left at the bottom once the runtime's start-up frames are cut,
/// and `lockprof::thread`'s own start of a spawned thread (which runs the user's closure).
fn trim_runtime(frames: &mut Vec<Frame>) {
    const BOTTOM: &[&str] = &["core::ops::function::", "lockprof::thread::"];
    while frames.last().is_some_and(|f| BOTTOM.iter().any(|p| f.function.starts_with(p))) {
        frames.pop();
    }
}

/// Drops the frames at the top that belong to lockprof itself, so the first is the user's call:
/// everything down to the last lockprof frame above the first user frame (standard-library
/// frames between lockprof's, such as thread-local access, go with them).
fn trim_internal(frames: &mut Vec<Frame>) {
    let mut last_internal = None;
    for (i, frame) in frames.iter().enumerate() {
        if is_internal(frame) {
            last_internal = Some(i);
        } else if !is_std(frame) {
            break;
        }
    }
    if let Some(i) = last_internal {
        frames.drain(..=i);
    }
}

/// Whether `frame` is lockprof's or the stack walker's. By name; and, since a build with
/// `debug = "line-tables-only"` names inlined frames without their paths (`capture`, `lock_slow`),
/// also by file: this crate's own sources, and the backtrace crate's.
fn is_internal(frame: &Frame) -> bool {
    INTERNAL_PREFIXES.iter().any(|p| frame.function.starts_with(p))
        || frame.file.as_deref().is_some_and(|file| {
            let file = Path::new(file);
            in_own_sources(file)
                || file
                    .components()
                    .any(|c| c.as_os_str().to_str().is_some_and(|c| c.starts_with("backtrace-0.")))
        })
}

/// Whether `frame` is where the runtime starts a thread or `main`: by full name, or by the short
/// name of a `line-tables-only` build in the standard library's sources.
fn is_runtime_start(frame: &Frame) -> bool {
    RUNTIME_MARKERS.iter().any(|m| frame.function.starts_with(m))
        || (is_std(frame)
            && RUNTIME_MARKERS
                .iter()
                .any(|m| m.rsplit("::").next().is_some_and(|short| frame.function.starts_with(short))))
}

/// Whether `frame` is the standard library's, by name or (short names) by its `/rustc/` path.
fn is_std(frame: &Frame) -> bool {
    STD_PREFIXES.iter().any(|p| frame.function.starts_with(p))
        || frame.file.as_deref().is_some_and(|file| file.starts_with("/rustc/"))
}

/// Whether `file` is one of this crate's sources: below the directory of this file as rustc saw
/// it (`profiler/runtime/src` in lockprof's workspace, where debug info has it absolute, so it
/// ends a prefix of `file`; an absolute registry path otherwise).
fn in_own_sources(file: &Path) -> bool {
    let Some(dir) = Path::new(file!()).parent().filter(|d| !d.as_os_str().is_empty()) else { return false };
    if dir.is_absolute() { file.starts_with(dir) } else { file.ancestors().any(|a| a.ends_with(dir)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_of_line_tables_only_builds_are_trimmed_by_file() {
        let own = Path::new(file!()).parent().unwrap().join("episode.rs");
        let own = Path::new("/somewhere").join(own).to_string_lossy().into_owned();
        let at = |function: &str, file: &str| Frame {
            function: function.into(),
            file: Some(file.into()),
            line: Some(1),
        };
        let mut frames = vec![
            at("trace", "/root/.cargo/registry/src/index/backtrace-0.3.76/src/backtrace/libunwind.rs"),
            at("begin", &own),
            at("with<T>", "/rustc/abc/library/std/src/thread/local.rs"),
            at("wait", &own),
            at("{closure#1}", "/home/me/app/src/main.rs"),
            at("with<T>", "/rustc/abc/library/std/src/thread/local.rs"),
        ];
        trim_internal(&mut frames);
        assert_eq!(frames[0].function, "{closure#1}", "{frames:#?}");
        assert_eq!(frames.len(), 2);
        let start = at("__rust_begin_short_backtrace<F, T>", "/rustc/abc/library/std/src/sys/backtrace.rs");
        assert!(is_runtime_start(&start) && !is_runtime_start(&frames[0]));
    }

    fn frame(function: &str) -> Frame {
        Frame { function: function.to_owned(), file: None, line: None }
    }

    #[test]
    fn internal_frames_at_the_top_and_shims_at_the_bottom_are_dropped() {
        let mut frames = vec![
            frame("backtrace::backtrace::trace"),
            frame("lockprof_profiler::lock_order::record_edges"),
            frame("std::thread::local::LocalKey<T>::with"),
            frame("lockprof_profiler::episode::Episode::begin"),
            frame("lockprof::mutex::Mutex<T>::lock"),
            frame("app::transfer"),
            frame("lockprof::mutex::Mutex<T>::lock"),
            frame("app::main"),
        ];
        frames.push(frame("core::ops::function::FnOnce::call_once"));
        trim_internal(&mut frames);
        trim_runtime(&mut frames);
        let names: Vec<_> = frames.iter().map(|f| f.function.as_str()).collect();
        assert_eq!(names, ["app::transfer", "lockprof::mutex::Mutex<T>::lock", "app::main"]);
    }

    #[test]
    fn a_real_capture_symbolises_to_named_frames() {
        let frames = Symbolizer::default().symbolise(&capture());
        // Everything above the harness is this crate's test code, which counts as internal;
        // what is left must still be resolved frames with names.
        assert!(frames.iter().all(|f| !f.function.starts_with("backtrace::")), "{frames:#?}");
        assert!(frames.iter().any(|f| f.function != "??"), "{frames:#?}");
    }

    #[test]
    fn a_capture_does_not_wait_for_a_symbolisation_in_progress() {
        // The backtrace crate holds its global lock for the whole of this callback, as it does
        // while the watchdog symbolises; a capture on another thread must not wait for it.
        let (done, finished) = std::sync::mpsc::channel();
        let mut captured = None;
        let here = capture();
        let ip = here.frames().iter().map(BacktraceFrame::ip).find(|ip| !ip.is_null()).expect("a frame");
        backtrace::resolve(ip, |_| {
            if captured.is_some() {
                return;
            }
            let done = done.clone();
            std::thread::spawn(move || done.send(capture().frames().len()).unwrap());
            // Only a bound on a hang: the capture takes microseconds.
            captured = Some(finished.recv_timeout(std::time::Duration::from_secs(20)));
        });
        let frames = captured.expect("resolved").expect("the capture waited for the symbolisation");
        assert!(frames > 0);
    }
}
