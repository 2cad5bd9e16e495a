//! Stack frames' file paths made relative to the same base as the trace's sites.
//!
//! A site (`#[track_caller]`'s `Location::file()`) is the path rustc was given: relative to the
//! directory cargo ran it in (the workspace root; `src/lib.rs` for a crate alone), or absolute
//! for a dependency outside the workspace. A frame's path comes from debug info, where rustc
//! joins that same directory to it: `/home/me/app/src/lib.rs`. Stripping the working directory
//! (what lockprof once did) agrees with the sites only when the program runs from that
//! directory; run from elsewhere, frames stayed absolute, or became relative to somewhere else.
//! So the base is found from the trace itself: a user frame whose absolute path ends with a
//! relative site's path names the directory the sites are relative to. The most common such
//! directory wins; without one (no relative site, or no debug info), the working directory is
//! stripped as before.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use lockprof_trace::schema::{Site, Trace};

/// Function-name prefixes of standard-library frames: their files (`/rustc/…/library/std/src/
/// lib.rs`) may end like a user's site without sharing its base.
const STD_PREFIXES: &[&str] = &["std::", "<std::", "core::", "<core::", "alloc::", "<alloc::"];

/// Rewrites the file of every frame in `trace` relative to the sites' base (or `cwd`).
pub(crate) fn relative_to_sites(trace: &mut Trace, cwd: Option<&Path>) {
    let sites = relative_sites(trace);
    let base = base(trace, &sites).or_else(|| cwd.map(Path::to_path_buf));
    let Some(base) = base else { return };
    for frame in trace.stacks.iter_mut().flat_map(|s| s.frames.iter_mut()) {
        if let Some(file) = &mut frame.file {
            if let Ok(relative) = Path::new(file.as_str()).strip_prefix(&base) {
                *file = relative.to_string_lossy().into_owned();
            }
        }
    }
}

/// Every relative site file of the trace.
fn relative_sites(trace: &Trace) -> BTreeSet<&str> {
    let mut sites: Vec<&Site> = trace.locks.iter().map(|l| &l.site).collect();
    for hop in trace.deadlocks.iter().flat_map(|d| d.cycle.iter().chain(&d.knot)) {
        sites.extend([&hop.hold_site, &hop.wait_site]);
    }
    for edge in &trace.lock_order {
        sites.extend([&edge.from_site, &edge.to_site]);
    }
    sites.extend(trace.long_waits.iter().map(|w| &w.wait_site));
    sites.extend(trace.condvar_waits_while_holding.iter().flat_map(|w| [&w.wait_site, &w.held_site]));
    sites.extend(trace.awaits_holding_lock.iter().flat_map(|w| [&w.held_site, &w.observed_site]));
    sites
        .into_iter()
        .map(|s| s.file.as_str())
        .filter(|f| Path::new(f).is_relative() && !f.is_empty())
        .collect()
}

/// The directory that the most user frames' absolute paths sit in as some site's path does.
fn base(trace: &Trace, sites: &BTreeSet<&str>) -> Option<PathBuf> {
    let mut votes: HashMap<PathBuf, usize> = HashMap::new();
    let frames = trace.stacks.iter().flat_map(|s| &s.frames);
    for frame in frames.filter(|f| !STD_PREFIXES.iter().any(|p| f.function.starts_with(p))) {
        let Some(file) = frame.file.as_deref().map(Path::new).filter(|f| f.is_absolute()) else { continue };
        for site in sites {
            if file.ends_with(site) {
                let depth = Path::new(site).components().count();
                let mut dir = file.to_path_buf();
                for _ in 0..depth {
                    dir.pop();
                }
                *votes.entry(dir).or_default() += 1;
            }
        }
    }
    votes.into_iter().max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0))).map(|(dir, _)| dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockprof_trace::LockKind;
    use lockprof_trace::schema::{Frame, LockEntry, Stack, WriteReason};

    fn frame(function: &str, file: &str) -> Frame {
        Frame { function: function.into(), file: Some(file.into()), line: Some(3) }
    }

    fn trace(site: &str, frames: Vec<Frame>) -> Trace {
        let mut trace = Trace::empty(WriteReason::Exit);
        let site = Site { file: site.into(), line: 3, column: 1 };
        trace.locks.push(LockEntry {
            id: 1,
            kind: LockKind::Mutex,
            site,
            name: None,
            written: false,
            dropped: None,
            capacity: None,
        });
        trace.stacks.push(Stack { id: 0, frames });
        trace
    }

    fn files(trace: &Trace) -> Vec<&str> {
        trace.stacks[0].frames.iter().filter_map(|f| f.file.as_deref()).collect()
    }

    #[test]
    fn frames_take_the_sites_base_wherever_the_program_runs() {
        let mut t = trace(
            "src/lib.rs",
            vec![
                frame("std::sync::x", "/rustc/abc/library/std/src/lib.rs"),
                frame("app::work", "/home/me/app/src/lib.rs"),
                frame("app::main", "/home/me/app/src/main.rs"),
                frame("dep::f", "/home/me/.cargo/registry/src/dep/src/x.rs"),
            ],
        );
        relative_to_sites(&mut t, Some(Path::new("/tmp/elsewhere")));
        assert_eq!(
            files(&t),
            [
                "/rustc/abc/library/std/src/lib.rs",
                "src/lib.rs",
                "src/main.rs",
                "/home/me/.cargo/registry/src/dep/src/x.rs"
            ]
        );
    }

    #[test]
    fn workspace_sites_keep_their_member_directory() {
        let mut t =
            trace("crates/core/src/lib.rs", vec![frame("core_crate::f", "/ws/crates/core/src/lib.rs")]);
        relative_to_sites(&mut t, Some(Path::new("/ws/crates/core")));
        assert_eq!(files(&t), ["crates/core/src/lib.rs"]);
    }

    #[test]
    fn without_a_matching_site_the_working_directory_is_stripped() {
        let mut t = trace("/abs/site.rs", vec![frame("app::f", "/cwd/src/a.rs")]);
        relative_to_sites(&mut t, Some(Path::new("/cwd")));
        assert_eq!(files(&t), ["src/a.rs"]);
    }
}
