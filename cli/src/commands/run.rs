//! `lockprof run [--out DIR] [--timeout DURATION] [--check [CHECK OPTIONS]] -- COMMAND [ARGS...]`
//!
//! Runs `COMMAND` with `LOCKPROF_TRACE=DIR/trace-%p.json`, so that every process it starts that
//! uses lockprof (each test binary of a `cargo test`, say) writes its own trace, named after its
//! pid. Stale traces of an earlier run in `DIR` (files named `trace-<pid>.json`, the writer's
//! temporary files for them, and `merged.json`) are removed first; nothing else in `DIR` is
//! touched. Standard input, output and error are the command's own, and so is the exit code,
//! unless:
//!
//! - `--check`: once the command has ended, the traces are merged
//!   ([`lockprof_trace::merge`]) into `DIR/merged.json` and checked as `lockprof check`
//!   would, with the same options; the verdict follows the command's own output on stdout. Exit
//!   1 if the check fails, else the command's exit code. If no process wrote a trace, there was
//!   nothing to check: that is an error (exit 2) when the command succeeded.
//! - `--timeout DURATION`: the command runs in its own process group, and if it is still running
//!   after `DURATION` (a hang that no deadlock cycle explains: a condvar never notified, I/O, a
//!   channel, a join), the whole group is killed and lockprof says so, with whatever findings the
//!   traces recorded before the kill, and exits 124. The command gets
//!   `LOCKPROF_WATCHDOG_MS` (a quarter of the timeout, at least 100 ms, unless already set), so a
//!   lockprof that has a watchdog records the waits that outlast it while the process runs: the
//!   threads' last known waits. Interrupt, termination, hang-up and quit signals that lockprof
//!   receives meanwhile are passed on to the group (it no longer gets the terminal's directly);
//!   for the same reason, a command under `--timeout` cannot read from the terminal.
//!
//! lockprof's own messages go to stderr, prefixed `lockprof run:`.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use lockprof_analysis::findings::findings;
use lockprof_trace::merge::merge;
use lockprof_trace::schema::Trace;

use crate::commands::check::{self, CheckOptions};
use crate::commands::merge::{describe, write_trace};
use crate::duration;
use crate::format::{Format, text};
use crate::input::load;
use crate::verdict::Policy;
use crate::{Error, Status};

/// Where traces go unless `--out` says otherwise.
pub const DEFAULT_OUT: &str = "target/lockprof";
/// The file name pattern given to `LOCKPROF_TRACE`; lockprof replaces `%p` with the pid.
pub const TRACE_PATTERN: &str = "trace-%p.json";
/// The merged trace that `--check` writes in the trace directory.
pub const MERGED: &str = "merged.json";
/// The environment variable that sets the watchdog period of lockprof, in milliseconds.
pub const WATCHDOG_ENV: &str = "LOCKPROF_WATCHDOG_MS";
/// The shortest watchdog period `--timeout` sets.
pub const MIN_WATCHDOG: Duration = Duration::from_millis(100);

/// What `lockprof run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The trace directory.
    pub out: PathBuf,
    /// `--timeout`.
    pub timeout: Option<Duration>,
    /// `--check`, with its options.
    pub check: Option<CheckOptions>,
    /// The command and its arguments.
    pub command: Vec<OsString>,
}

/// How the command ended.
enum Ended {
    Exited(ExitStatus),
    TimedOut,
}

/// Runs the command as [the module documentation](self) describes; the verdict goes to `out`,
/// lockprof's messages to `log`.
pub fn run(options: &RunOptions, out: &mut dyn Write, log: &mut dyn Write) -> Result<Status, Error> {
    let Some((program, args)) = options.command.split_first() else {
        return Err(Error::Usage(
            "run: no command to run (lockprof run [OPTIONS] -- COMMAND [ARGS...])".into(),
        ));
    };
    if options.timeout.is_some() && !cfg!(unix) {
        return Err(Error::Usage(
            "run: --timeout needs process groups, which this system does not have".into(),
        ));
    }
    // A bad suppression file must stop the run before the command starts, not after it.
    let policy = options.check.as_ref().map(CheckOptions::policy).transpose()?;
    let format = options.check.as_ref().map(|c| c.format).unwrap_or_default();
    let traces = TraceDir::prepare(&options.out)?;
    let described = describe_command(&options.command);

    let mut command = Command::new(program);
    command.args(args).env("LOCKPROF_TRACE", traces.path.join(TRACE_PATTERN));
    let mut watchdog = std::env::var(WATCHDOG_ENV).ok();
    let mut group = None;
    if let Some(timeout) = options.timeout {
        // Before the command starts, so that no signal meant for it is missed.
        group = Some(process::own_group(&mut command));
        if watchdog.is_none() {
            let ms = watchdog_period(timeout).as_millis().to_string();
            command.env(WATCHDOG_ENV, &ms);
            watchdog = Some(ms);
        }
    }
    let child = command.spawn().map_err(|e| Error::Run(format!("cannot run {described}: {e}")))?;
    let ended = match (options.timeout, group) {
        (Some(timeout), Some(group)) => process::supervise(child, group, timeout, &described)?,
        _ => {
            let mut child = child;
            Ended::Exited(child.wait().map_err(|e| Error::Run(format!("cannot wait for {described}: {e}")))?)
        }
    };
    let code = match ended {
        Ended::Exited(status) => exit_code(status),
        Ended::TimedOut => {
            let killed = Killed {
                described: &described,
                timeout: options.timeout.unwrap_or_default(),
                watchdog: watchdog.as_deref(),
            };
            killed.report(&traces, policy.map(|p| (p, format)), out, log)?;
            return Ok(Status::TimedOut);
        }
    };

    let Some(policy) = policy else {
        let n = traces.files()?.len();
        traces.warn_if_unexpanded(log)?;
        writeln!(log, "lockprof run: {} in {}", plural(n, "trace"), traces.shown.display())?;
        return Ok(if code == 0 { Status::Success } else { Status::Command(code) });
    };
    let loaded = traces.collect()?;
    traces.warn_if_unexpanded(log)?;
    if loaded.is_empty() {
        let why = format!(
            "no process wrote a trace to {}, so nothing was checked (only processes that take a lockprof lock write one: is lockprof enabled in this build?)",
            traces.shown.display()
        );
        if code == 0 {
            return Err(Error::Run(why));
        }
        writeln!(log, "lockprof run: {why}")?;
        return Ok(Status::Command(code));
    }
    let (merged, merged_shown) = traces.merge(&loaded, log)?;
    let verdict = check::check(&[(merged_shown.as_str(), &merged)], &policy, format, out)?;
    Ok(match verdict {
        Status::Findings => Status::Findings,
        _ if code != 0 => Status::Command(code),
        _ => Status::Success,
    })
}

/// A command killed at its timeout.
struct Killed<'a> {
    described: &'a str,
    timeout: Duration,
    /// The watchdog period it ran with, in milliseconds.
    watchdog: Option<&'a str>,
}

impl Killed<'_> {
    /// Says that the command was killed, and what its traces recorded before: on `log`, and with
    /// `--check` in a machine format also as the verdict on `out`.
    fn report(
        &self,
        traces: &TraceDir,
        check: Option<(Policy, Format)>,
        out: &mut dyn Write,
        log: &mut dyn Write,
    ) -> Result<(), Error> {
        writeln!(
            log,
            "lockprof run: timed out: {} was still running after {}, so it was killed with its process group",
            self.described,
            duration::display(self.timeout)
        )?;
        // What can be read, whatever cannot: the command is gone, this is all there is.
        let mut loaded = Vec::new();
        let mut unreadable = 0;
        for path in traces.paths()? {
            match traces.load(&path) {
                Ok(trace) => loaded.push(trace),
                Err(error) => {
                    unreadable += 1;
                    writeln!(log, "lockprof run: skipped {error}")?;
                }
            }
        }
        traces.warn_if_unexpanded(log)?;
        let merged = if loaded.is_empty() { None } else { Some(traces.merge(&loaded, log)?) };
        let found = merged.as_ref().map(|(trace, _)| findings(trace)).unwrap_or_default();
        if found.is_empty() {
            let source = match (loaded.len(), unreadable) {
                (0, 0) => "no process wrote a trace before the kill".to_owned(),
                (0, _) => "no trace could be read".to_owned(),
                (n, _) => format!("none of the {} recorded a wait or any other finding", plural(n, "trace")),
            };
            writeln!(
                log,
                "lockprof run: no trace recorded a wait: {source} (with {WATCHDOG_ENV}={}, lockprof records a wait on its locks that outlasts that while the program runs)",
                self.watchdog.unwrap_or("unset")
            )?;
            if unreadable == 0 {
                writeln!(
                    log,
                    "lockprof run: so the hang is outside lockprof's locks (it ends deadlocks among them itself): look for a condvar never notified, I/O, a channel or a join that never ends, or a lock lockprof does not instrument"
                )?;
            }
        } else {
            writeln!(
                log,
                "lockprof run: recorded before the kill (the threads' last known waits, and any other findings):"
            )?;
            for finding in &found {
                writeln!(log, "  {}", crate::error::one_line(&finding.title))?;
                log.write_all(text::sites(finding, "    ").as_bytes())?;
            }
        }
        // A machine-readable verdict still goes where the caller expects one; in text, the lines
        // above are it.
        if let (Some((policy, format)), Some((trace, source))) = (check, &merged) {
            if format != Format::Text {
                check::check(&[(source.as_str(), trace)], &policy, format, out)?;
            }
        }
        Ok(())
    }
}

/// The watchdog period for `timeout`: a quarter of it, at least [`MIN_WATCHDOG`].
pub fn watchdog_period(timeout: Duration) -> Duration {
    (timeout / 4).max(MIN_WATCHDOG)
}

/// The trace directory.
struct TraceDir {
    /// Absolute (processes may run in other directories: `cargo test` runs each test binary in
    /// its package's directory).
    path: PathBuf,
    /// As the user gave it, for messages and for the names of traces in the merged trace.
    shown: PathBuf,
}

impl TraceDir {
    /// Creates the directory and removes what an earlier run left in it.
    fn prepare(out: &Path) -> Result<TraceDir, Error> {
        let fail =
            |what: &str, e: std::io::Error| Error::Run(format!("{}: cannot {what}: {e}", out.display()));
        std::fs::create_dir_all(out).map_err(|e| fail("create the trace directory", e))?;
        let path = std::fs::canonicalize(out).map_err(|e| fail("find the trace directory", e))?;
        let entries = std::fs::read_dir(&path).map_err(|e| fail("list the trace directory", e))?;
        for entry in entries {
            let entry = entry.map_err(|e| fail("list the trace directory", e))?;
            let name = entry.file_name();
            if name.to_str().is_some_and(is_ours) {
                std::fs::remove_file(entry.path())
                    .map_err(|e| fail(&format!("remove the stale {}", name.to_string_lossy()), e))?;
            }
        }
        Ok(TraceDir { path, shown: out.to_path_buf() })
    }

    /// The trace files, by pid.
    fn files(&self) -> Result<Vec<(u32, PathBuf)>, Error> {
        let entries = std::fs::read_dir(&self.path).map_err(|e| {
            Error::Run(format!("{}: cannot list the trace directory: {e}", self.shown.display()))
        })?;
        let mut files: Vec<(u32, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let pid = trace_pid(entry.file_name().to_str()?)?;
                Some((pid, entry.path()))
            })
            .collect();
        files.sort();
        Ok(files)
    }

    /// The paths of the traces: by pid, then the literal pattern if a lockprof that does not
    /// expand `%p` wrote it.
    fn paths(&self) -> Result<Vec<PathBuf>, Error> {
        let mut paths: Vec<PathBuf> = self.files()?.into_iter().map(|(_, path)| path).collect();
        let literal = self.path.join(TRACE_PATTERN);
        if literal.exists() {
            paths.push(literal);
        }
        Ok(paths)
    }

    /// The trace at `path`, named by its path as shown.
    fn load(&self, path: &Path) -> Result<(String, Trace), Error> {
        let name = path.file_name().map(PathBuf::from).unwrap_or_default();
        let shown = self.shown.join(name);
        let trace = load(path).map_err(|mut error| {
            error.path.clone_from(&shown);
            error
        })?;
        Ok((shown.display().to_string(), trace))
    }

    /// Loads every trace. An unreadable trace is an error: a check that silently skipped one
    /// could pass.
    fn collect(&self) -> Result<Vec<(String, Trace)>, Error> {
        self.paths()?.iter().map(|path| self.load(path)).collect()
    }

    /// A lockprof that does not expand `%p` in `LOCKPROF_TRACE` writes every process's trace to
    /// the one file `trace-%p.json`, each over the last: say so, since then only one process is
    /// checked.
    fn warn_if_unexpanded(&self, log: &mut dyn Write) -> Result<(), Error> {
        if self.path.join(TRACE_PATTERN).exists() {
            writeln!(
                log,
                "lockprof run: warning: {}: the program's lockprof does not expand %p in LOCKPROF_TRACE, so all its processes wrote this one file and only the last one's trace is in it; upgrade the lockprof it is built with",
                self.shown.join(TRACE_PATTERN).display()
            )?;
        }
        Ok(())
    }

    /// Merges `loaded` into `merged.json`, says so, and returns the merged trace and how its
    /// file is shown.
    fn merge(&self, loaded: &[(String, Trace)], log: &mut dyn Write) -> Result<(Trace, String), Error> {
        let merged = merge(loaded.iter().map(|(label, trace)| (label.as_str(), trace)));
        let path = self.path.join(MERGED);
        write_trace(&path, &merged).map_err(|error| Error::Write { path, error })?;
        let shown = self.shown.join(MERGED).display().to_string();
        writeln!(
            log,
            "lockprof run: {} from {} into {shown}",
            describe(loaded.len(), &merged),
            self.shown.display()
        )?;
        Ok((merged, shown))
    }
}

/// The pid in a trace file name `trace-<pid>.json`.
pub fn trace_pid(name: &str) -> Option<u32> {
    let pid = name.strip_prefix("trace-")?.strip_suffix(".json")?;
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// Whether `name` is a file that `run` or the processes it starts write in the trace directory:
/// a trace, the literal pattern (see [`warn_if_unexpanded`]), the merged trace, or a temporary
/// file of one of them (`.NAME.<pid>.<n>.tmp`, left behind if a writer was killed).
fn is_ours(name: &str) -> bool {
    let ours = |file: &str| trace_pid(file).is_some() || file == TRACE_PATTERN || file == MERGED;
    if ours(name) {
        return true;
    }
    let Some(temp) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) else { return false };
    // NAME.<pid>.<n>
    let mut parts = temp.rsplitn(3, '.');
    let (Some(n), Some(pid), Some(file)) = (parts.next(), parts.next(), parts.next()) else { return false };
    [n, pid].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) && ours(file)
}

/// The exit code that passes on `status`: its code, or 128 + the signal that killed it.
fn exit_code(status: ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return u8::try_from(code & 0xff).unwrap_or(1);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return u8::try_from(128 + signal).unwrap_or(255);
        }
    }
    1
}

/// `` `cargo test --workspace` ``, with arguments that need it quoted.
fn describe_command(command: &[OsString]) -> String {
    let words: Vec<String> = command
        .iter()
        .map(|arg| {
            let arg = arg.to_string_lossy();
            if arg.is_empty() || arg.chars().any(|c| c.is_whitespace() || "'\"\\$`".contains(c)) {
                format!("{arg:?}")
            } else {
                arg.into_owned()
            }
        })
        .collect();
    format!("`{}`", words.join(" "))
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// Process groups, signals and kills: Unix only.
#[cfg(unix)]
mod process {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::{Child, Command, ExitStatus, Stdio};
    use std::sync::mpsc::{self, RecvTimeoutError};
    use std::thread::{self, JoinHandle};
    use std::time::Duration;

    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    use signal_hook::iterator::{Handle, Signals};

    use super::Ended;
    use crate::Error;

    /// How long a killed command may take to be reaped before lockprof gives up on it.
    const REAP_LIMIT: Duration = Duration::from_secs(10);
    const SIGKILL: i32 = 9;

    /// Makes `command` start a process group of its own, which `supervise` can kill whole, and
    /// from now on catches the signals to pass on to it.
    pub(super) fn own_group(command: &mut Command) -> Forwarder {
        command.process_group(0);
        Forwarder::register()
    }

    /// Waits for `child` (a process group leader) at most `timeout`, passing on the signals that
    /// would have reached it in lockprof's group; kills the group at the deadline.
    pub(super) fn supervise(
        child: Child,
        mut forwarder: Forwarder,
        timeout: Duration,
        described: &str,
    ) -> Result<Ended, Error> {
        let group = child.id();
        forwarder.start(group);
        let (done, ended) = mpsc::channel();
        let waiter = thread::spawn(move || {
            let mut child = child;
            let status = child.wait();
            let _ = done.send(());
            status
        });
        let reap = |waiter: JoinHandle<std::io::Result<ExitStatus>>| {
            waiter
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("the waiting thread panicked")))
                .map_err(|e| Error::Run(format!("cannot wait for {described}: {e}")))
        };
        let result = match ended.recv_timeout(timeout) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => reap(waiter).map(Ended::Exited),
            Err(RecvTimeoutError::Timeout) => {
                let killed = signal_group(group, "KILL");
                match ended.recv_timeout(REAP_LIMIT) {
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                        // It may have ended by itself just as the deadline passed.
                        reap(waiter).map(|status| match status.signal() {
                            Some(SIGKILL) => Ended::TimedOut,
                            _ => Ended::Exited(status),
                        })
                    }
                    Err(RecvTimeoutError::Timeout) => Err(Error::Run(format!(
                        "{described} timed out, and its process group {group} could not be killed ({}); it may still be running",
                        match killed {
                            Ok(status) => format!("kill: {status}"),
                            Err(e) => format!("cannot run kill: {e}"),
                        }
                    ))),
                }
            }
        };
        drop(forwarder);
        result
    }

    /// Sends `signal` (a name, `KILL`) to every process of process group `group`, with the
    /// system's `kill` command (which needs no `unsafe`).
    fn signal_group(group: u32, signal: &str) -> std::io::Result<ExitStatus> {
        Command::new("kill")
            .args(["-s", signal, "--", &format!("-{group}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
    }

    /// Passes interrupt, termination, hang-up and quit signals on to the command's group while it
    /// runs: in a group of its own, it no longer gets the terminal's Ctrl-C, and a CI runner that
    /// stops lockprof must stop the command too. (Once the command has ended, lockprof ignores
    /// them for the moment it takes to finish.)
    pub(super) struct Forwarder {
        signals: Option<Signals>,
        handle: Option<Handle>,
        thread: Option<JoinHandle<()>>,
    }

    impl Forwarder {
        /// Catches the signals from now on; they wait until [`Forwarder::start`].
        fn register() -> Forwarder {
            let signals = Signals::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT]).ok();
            let handle = signals.as_ref().map(Signals::handle);
            Forwarder { signals, handle, thread: None }
        }

        /// Passes every signal caught (since [`Forwarder::register`]) on to `group`.
        fn start(&mut self, group: u32) {
            let Some(mut signals) = self.signals.take() else { return };
            self.thread = Some(thread::spawn(move || {
                for signal in signals.forever() {
                    let name = match signal {
                        SIGINT => "INT",
                        SIGTERM => "TERM",
                        SIGHUP => "HUP",
                        _ => "QUIT",
                    };
                    let _ = signal_group(group, name);
                }
            }));
        }
    }

    impl Drop for Forwarder {
        fn drop(&mut self) {
            if let Some(handle) = self.handle.take() {
                handle.close();
            }
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

/// Without Unix process groups, `--timeout` is not available.
#[cfg(not(unix))]
mod process {
    use std::process::{Child, Command};
    use std::time::Duration;

    use super::Ended;
    use crate::Error;

    pub(super) struct Forwarder;

    pub(super) fn own_group(_: &mut Command) -> Forwarder {
        Forwarder
    }

    pub(super) fn supervise(mut child: Child, _: Forwarder, _: Duration, _: &str) -> Result<Ended, Error> {
        let _ = child.kill();
        let _ = child.wait();
        Err(Error::Usage("run: --timeout needs process groups, which this system does not have".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_file_names() {
        assert_eq!(trace_pid("trace-123.json"), Some(123));
        for not in ["trace-.json", "trace-12a.json", "trace-%p.json", "merged.json", "trace-1.json.tmp"] {
            assert_eq!(trace_pid(not), None, "{not}");
        }
    }

    #[test]
    fn only_our_files_are_stale() {
        for ours in [
            "trace-123.json",
            "trace-%p.json",
            "merged.json",
            ".trace-123.json.123.0.tmp",
            ".merged.json.77.3.tmp",
            ".trace-%p.json.5.1.tmp",
        ] {
            assert!(is_ours(ours), "{ours}");
        }
        for theirs in
            ["notes.txt", "trace.json", "trace-1.jsonx", ".trace-1.json.tmp", ".x.1.2.tmp", "my-merged.json"]
        {
            assert!(!is_ours(theirs), "{theirs}");
        }
    }

    #[test]
    fn the_watchdog_is_a_quarter_of_the_timeout_and_at_least_100ms() {
        assert_eq!(watchdog_period(Duration::from_secs(30)), Duration::from_millis(7500));
        assert_eq!(watchdog_period(Duration::from_millis(200)), MIN_WATCHDOG);
    }

    #[test]
    fn commands_are_shown_quoted_where_needed() {
        let command: Vec<OsString> = ["cargo", "test", "--", "a b"].iter().map(OsString::from).collect();
        assert_eq!(describe_command(&command), "`cargo test -- \"a b\"`");
    }
}
