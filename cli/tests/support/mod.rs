//! What the tests that run child processes share: every child runs under a time bound (a
//! waiting thread and a channel, no sleeps), and scratch directories clean up after themselves.

#![allow(dead_code)] // each test binary uses its own part of this

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// The lockprof binary under test.
pub const LOCKPROF: &str = env!("CARGO_BIN_EXE_lockprof");

/// The example program `run_scenarios` (`cli/examples/run_scenarios.rs`): `cargo test` builds it
/// beside the test binaries; if it is missing (a single test target was selected), it is built
/// here with the cargo that runs the tests.
pub fn scenarios() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let exe = Path::new(LOCKPROF)
            .parent()
            .expect("<target>/<profile>/lockprof")
            .join("examples")
            .join(format!("run_scenarios{}", std::env::consts::EXE_SUFFIX));
        if !exe.exists() {
            let mut build = Command::new(env!("CARGO"));
            build.args(["build", "--quiet", "-p", "lockprof-cli", "--example", "run_scenarios"]);
            if !cfg!(debug_assertions) {
                build.arg("--release");
            }
            let status = build.current_dir(workspace()).status().expect("run cargo to build run_scenarios");
            assert!(status.success(), "cargo build --example run_scenarios failed");
        }
        exe.to_string_lossy().into_owned()
    })
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("cli/ is inside the workspace").to_path_buf()
}

/// The target directory the lockprof binary was built in (`target/`, or `target/<triple>`).
pub fn target_dir() -> PathBuf {
    Path::new(LOCKPROF)
        .parent()
        .and_then(Path::parent)
        .expect("the lockprof binary is in <target>/<profile>/")
        .to_path_buf()
}

/// `lockprof ARGS` from the workspace root, with no lockprof settings from the environment.
pub fn lockprof(args: &[&str]) -> Command {
    let mut command = Command::new(LOCKPROF);
    command.args(args).current_dir(workspace());
    for var in [
        "LOCKPROF_TRACE",
        "LOCKPROF_ON_DEADLOCK",
        "LOCKPROF_ON_INVERSION",
        "LOCKPROF_GRACE_US",
        "LOCKPROF_WATCHDOG_MS",
    ] {
        command.env_remove(var);
    }
    command.env("RUST_BACKTRACE", "0");
    command
}

/// How a bounded child ended.
#[derive(Debug)]
pub struct Ran {
    /// Its exit code (`None` if a signal killed it).
    pub code: Option<i32>,
    /// Everything it wrote to stdout.
    pub stdout: String,
    /// Everything it wrote to stderr.
    pub stderr: String,
    /// From spawn to the end of its output.
    pub elapsed: Duration,
}

impl Ran {
    /// For assertion messages.
    pub fn show(&self) -> String {
        format!(
            "exit {:?} after {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// Runs `command` with `stdin` as its input, and waits for it to end and for its output to
/// close (so every process that inherited its stdout or stderr has ended too) at most `bound`.
/// Past it, the child is killed and the test fails.
pub fn run_bounded(mut command: Command, stdin: &[u8], bound: Duration) -> Ran {
    command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command.spawn().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let pid = child.id();
    let mut input = child.stdin.take().expect("piped stdin");
    let stdin = stdin.to_vec();
    // A child that does not read its input must not block the test.
    thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let (done, ended) = mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match ended.recv_timeout(bound) {
        Ok(output) => {
            let output = output.expect("wait for the child");
            Ran {
                code: output.status.code(),
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
                elapsed: started.elapsed(),
            }
        }
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            panic!("{command:?} (or a process that kept its output open) did not end within {bound:?}");
        }
    }
}

/// A scratch directory, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// A fresh, empty directory for the test `name`.
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("lockprof-cli-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create a scratch directory");
        Scratch(dir)
    }

    /// `name` inside it.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes `name` and returns its path as a string.
    pub fn file(&self, name: &str, content: &[u8]) -> String {
        let path = self.0.join(name);
        fs::write(&path, content).expect("write a scratch file");
        path.to_str().expect("UTF-8 temp path").to_owned()
    }

    /// The directory as a string.
    pub fn str(&self) -> &str {
        self.0.to_str().expect("UTF-8 temp path")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The 1-based lines of `source` (relative to the workspace) with an `// ACQ <label>` marker,
/// restricted to labels starting with `prefix`.
pub fn acquisition_lines(source: &str, prefix: &str) -> Vec<(String, u32)> {
    let text = fs::read_to_string(workspace().join(source)).unwrap_or_else(|e| panic!("read {source}: {e}"));
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let label = line.split("// ACQ ").nth(1)?.trim();
            label.starts_with(prefix).then(|| (label.to_owned(), u32::try_from(i + 1).expect("line number")))
        })
        .collect()
}
