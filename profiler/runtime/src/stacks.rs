//! Stack capture and symbolisation.
//!
//! Stacks are captured unresolved (std's [`Backtrace::force_capture`]: instruction pointers
//! only) on the slow path and symbolised only when a trace or a report is written, off the
//! threads that wait or hold locks. Symbolised frames drop lockprof's own frames at the top and
//! the runtime's start-up frames at the bottom, so the first frame is the user's lock call.
//!
//! The symboliser is the one inside libstd (the one that prints a panic's backtrace), so a
//! profiled program compiles no stack walker or debug-info reader of its own: std resolves a
//! `Backtrace` the first time it is formatted, and [`symbolise`] reads the frames back from that
//! text (`stack_text.rs`). Each capture is resolved once (std keeps the result in it), so the
//! watchdog's rewrites and the trace at exit do not resolve again what an earlier write did.
//!
//! Symbolising is slow (the first time in a debug build, about a second and a hundred MB, most
//! of it reading debug info) and std runs it under its process-wide backtrace lock, which a
//! capture takes too. So captures are kept off the paths that run often: a wait captures once it
//! has outlasted the grace period, and the contention tables tell stacks apart by their return
//! addresses (`unwind.rs`, which takes no lock) and capture only a stack they have not seen.

use std::backtrace::Backtrace;
use std::path::Path;

use lockprof_trace::schema::Frame;

/// Function-name prefixes of frames that belong to the capture itself.
const INTERNAL_PREFIXES: &[&str] = &[
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
/// `catch_unwind`'s, between `lockprof::thread::scope` and its implicit join; std's capture
/// itself is `std::backtrace::Backtrace::create` and `std::backtrace_rs::`).
const STD_PREFIXES: &[&str] = &["std::", "<std::", "core::", "<core::", "alloc::", "<alloc::", "__rust_try"];

/// Frames from which on everything is the runtime starting a thread or `main`.
const RUNTIME_MARKERS: &[&str] =
    &["std::sys::backtrace::__rust_begin_short_backtrace", "std::rt::lang_start"];

/// The calling thread's stack, unresolved, innermost frame first (std's capture and lockprof's
/// own frames at the top are trimmed when it is symbolised).
#[inline(never)]
pub(crate) fn capture() -> Backtrace {
    Backtrace::force_capture()
}

/// The frames of `stack`, innermost first, trimmed of lockprof's own and the runtime's
/// (resolving it, under std's backtrace lock, if no one has yet).
pub(crate) fn symbolise(stack: &Backtrace) -> Vec<Frame> {
    // `{:#}` is std's full format: paths as the debug info has them (absolute, usually), which
    // `trace::paths` makes relative to the sites' base once the whole trace is known.
    let all = crate::stack_text::parse(&format!("{stack:#}"));
    let mut frames: Vec<Frame> = all.into_iter().take_while(|f| !is_runtime_start(f)).collect();
    trim_internal(&mut frames);
    trim_runtime(&mut frames);
    frames
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

/// Whether `frame` is lockprof's. By name; and, since a build with `debug = "line-tables-only"`
/// names inlined frames without their paths (`capture`, `lock_slow`), also by file: this crate's
/// own sources. (std's capture frames are std's, by name or by their `/rustc/` path.)
fn is_internal(frame: &Frame) -> bool {
    INTERNAL_PREFIXES.iter().any(|p| frame.function.starts_with(p))
        || frame.file.as_deref().is_some_and(|file| in_own_sources(Path::new(file)))
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
            at("trace", "/rustc/abc/library/std/src/../../backtrace/src/backtrace/libunwind.rs"),
            at("create", "/rustc/abc/library/std/src/backtrace.rs"),
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
            frame("std::backtrace_rs::backtrace::libunwind::trace"),
            frame("std::backtrace::Backtrace::create"),
            // libstd's symbols in a build without debug info (v0 names, disambiguators gone).
            frame("<std::backtrace::Backtrace>::force_capture"),
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
        let frames = symbolise(&capture());
        // Everything above the harness is this crate's test code, which counts as internal;
        // what is left must still be resolved frames with names, without std's capture.
        assert!(frames.iter().all(|f| !f.function.starts_with("std::backtrace")), "{frames:#?}");
        assert!(frames.iter().any(|f| f.function != "??"), "{frames:#?}");
    }

    #[test]
    fn a_capture_at_a_threads_start_has_no_frames_left() {
        // std's capture, lockprof's `capture`, the closure shim, then the thread's start: all
        // of it is std's, lockprof's or the runtime's.
        let frames = symbolise(&std::thread::spawn(capture).join().expect("capture"));
        assert_eq!(frames, [], "{frames:#?}");
    }

    #[test]
    fn a_disabled_or_unsupported_backtrace_has_no_frames() {
        assert!(symbolise(&Backtrace::disabled()).is_empty());
    }
}
