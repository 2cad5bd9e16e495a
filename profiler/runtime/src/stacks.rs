//! Stack capture and symbolisation.
//!
//! Stacks are captured unresolved (instruction pointers only) on the slow path and symbolised
//! once, when a trace is written. Symbolised frames drop lockprof's own frames at the top and the
//! runtime's start-up frames at the bottom, so the first frame is the user's lock call.

use std::path::{Path, PathBuf};

use std::collections::{HashMap, HashSet};

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

/// Standard-library frames that may sit between lockprof's own frames.
const STD_PREFIXES: &[&str] = &["std::", "<std::", "core::", "<core::", "alloc::", "<alloc::"];

/// Frames from which on everything is the runtime starting a thread or `main`.
const RUNTIME_MARKERS: &[&str] =
    &["std::sys::backtrace::__rust_begin_short_backtrace", "std::rt::lang_start"];

/// Symbolises stacks, resolving each distinct instruction pointer once (a profile has many
/// stacks that share most of their frames).
#[derive(Default)]
pub(crate) struct Symbolizer {
    frames: HashMap<usize, Vec<Frame>>,
    cwd: Option<PathBuf>,
}

impl Symbolizer {
    /// Resolves, in one batch, every frame of `stacks` not resolved yet.
    pub(crate) fn prepare<'a>(&mut self, stacks: impl IntoIterator<Item = &'a Backtrace>) {
        if self.cwd.is_none() {
            self.cwd = std::env::current_dir().ok();
        }
        let mut unique: Vec<BacktraceFrame> = Vec::new();
        let mut seen: HashSet<usize> = HashSet::new();
        for stack in stacks {
            for frame in stack.frames() {
                let ip = frame.ip() as usize;
                if !self.frames.contains_key(&ip) && seen.insert(ip) {
                    unique.push(frame.clone());
                }
            }
        }
        if unique.is_empty() {
            return;
        }
        let mut batch = Backtrace::from(unique);
        batch.resolve();
        for frame in batch.frames() {
            let symbols = frame.symbols();
            let resolved = if symbols.is_empty() {
                vec![Frame { function: "??".to_owned(), file: None, line: None }]
            } else {
                symbols
                    .iter()
                    .map(|symbol| Frame {
                        function: symbol.name().map_or_else(|| "??".to_owned(), |n| format!("{n:#}")),
                        file: symbol.filename().map(|f| display_path(f, self.cwd.as_deref())),
                        line: symbol.lineno(),
                    })
                    .collect()
            };
            self.frames.insert(frame.ip() as usize, resolved);
        }
    }

    /// The frames of `stack`, innermost first, trimmed of lockprof's own and the runtime's.
    pub(crate) fn symbolise(&mut self, stack: &Backtrace) -> Vec<Frame> {
        self.prepare([stack]);
        let mut frames = Vec::new();
        'frames: for frame in stack.frames() {
            for f in self.frames.get(&(frame.ip() as usize)).map(Vec::as_slice).unwrap_or(&[]) {
                if RUNTIME_MARKERS.iter().any(|m| f.function.starts_with(m)) {
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

/// Drops the closure-call shims left at the bottom once the runtime's start-up frames are cut.
fn trim_runtime(frames: &mut Vec<Frame>) {
    while frames.last().is_some_and(|f| f.function.starts_with("core::ops::function::")) {
        frames.pop();
    }
}

/// Drops the frames at the top that belong to lockprof itself, so the first is the user's call:
/// everything down to the last lockprof frame above the first user frame (standard-library
/// frames between lockprof's, such as thread-local access, go with them).
fn trim_internal(frames: &mut Vec<Frame>) {
    let mut last_internal = None;
    for (i, frame) in frames.iter().enumerate() {
        if INTERNAL_PREFIXES.iter().any(|p| frame.function.starts_with(p)) {
            last_internal = Some(i);
        } else if !STD_PREFIXES.iter().any(|p| frame.function.starts_with(p)) {
            break;
        }
    }
    if let Some(i) = last_internal {
        frames.drain(..=i);
    }
}

/// `path` relative to the working directory when it lies below it, so reports show the same
/// `src/x.rs:LINE` form as `#[track_caller]` sites.
fn display_path(path: &Path, cwd: Option<&Path>) -> String {
    cwd.and_then(|cwd| path.strip_prefix(cwd).ok())
        .map(PathBuf::from)
        .unwrap_or_else(|| path.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let frames = Symbolizer::default().symbolise(&Backtrace::new_unresolved());
        // Everything above the harness is this crate's test code, which counts as internal;
        // what is left must still be resolved frames with names.
        assert!(frames.iter().all(|f| !f.function.starts_with("backtrace::")), "{frames:#?}");
        assert!(frames.iter().any(|f| f.function != "??"), "{frames:#?}");
    }

    #[test]
    fn paths_below_the_working_directory_become_relative() {
        let cwd = Path::new("/work/app");
        assert_eq!(display_path(Path::new("/work/app/src/main.rs"), Some(cwd)), "src/main.rs");
        assert_eq!(display_path(Path::new("/rustc/x/lib.rs"), Some(cwd)), "/rustc/x/lib.rs");
    }
}
