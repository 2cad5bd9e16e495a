//! `lockprof`: the command-line shell over [`lockprof_cli`]. Parses arguments, runs the command,
//! prints errors as one `lockprof: error: …` line, and exits 0 (success), 1 (`check` found
//! failing findings) or 2 (error, including usage errors); `run` passes on its command's exit
//! code, or exits 124 after `--timeout`.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use lockprof_analysis::findings::FindingKind;
use lockprof_cli::commands::check::CheckOptions;
use lockprof_cli::commands::diff::DiffOptions;
use lockprof_cli::commands::flamegraph::FlamegraphOptions;
use lockprof_cli::commands::graph::GraphOptions;
use lockprof_cli::commands::pprof::PprofOptions;
use lockprof_cli::commands::report::{ReportFormat, ReportOptions, Sort};
use lockprof_cli::commands::run::{DEFAULT_OUT, RunOptions};
use lockprof_cli::commands::timeline::TimelineOptions;
use lockprof_cli::format::Format;
use lockprof_cli::output::PipeSafe;
use lockprof_cli::profile::{Blame, Selection, Weight};
use lockprof_cli::synthetic::{self, Synthetic};
use lockprof_cli::usage::{self, Usage};
use lockprof_cli::{Error, commands, demo, duration, input, kinds};

/// Runtime deadlock profiler: turns lockprof traces (`LOCKPROF_TRACE=path`) into reports and CI
/// verdicts.
#[derive(Parser)]
#[command(name = "lockprof", version)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
    /// The largest input read, in bytes (K, M, G: binary units); default: 512M for a trace, 1M
    /// for a suppression file. Also LOCKPROF_MAX_INPUT.
    #[arg(long, global = true, value_name = "BYTES", value_parser = input::parse_size)]
    max_input_size: Option<u64>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print the full report of a trace: every deadlock with its threads, locks, sites and
    /// stacks, then the contention profile.
    Report {
        /// The trace file.
        trace: PathBuf,
        /// The sort key of the contention table.
        #[arg(long, value_enum, value_name = "KEY", default_value_t)]
        sort: Sort,
        /// How many locks, and stacks of each kind, the contention section shows.
        #[arg(long, value_name = "N", default_value_t = ReportOptions::default().top, value_parser = positive)]
        top: usize,
        /// text: for people; json: the findings and contention figures for programs; html: one
        /// self-contained page with the cycles drawn, a sortable table and the flamegraph.
        #[arg(long, value_enum, value_name = "FORMAT", default_value_t)]
        format: ReportFormat,
        /// Where to write the report; default: standard output.
        #[arg(short, long, value_name = "OUT")]
        output: Option<PathBuf>,
    },
    /// Draw the contention profile as a flamegraph (SVG): waiting stacks as wide as their wait,
    /// each ending in the lock it waited for.
    ///
    /// A trace without a contention profile is an error; a profile in which nothing waited
    /// gives a flamegraph that says so (exit 0).
    Flamegraph {
        /// The trace file.
        trace: PathBuf,
        /// Where to write the SVG (or folded stacks); default: standard output.
        #[arg(short, long, value_name = "OUT")]
        output: Option<PathBuf>,
        /// Write folded stacks (`frame;frame;lock: LABEL WEIGHT` lines) instead of an SVG.
        #[arg(long)]
        folded: bool,
        #[command(flatten)]
        stacks: StackArgs,
    },
    /// Compare two traces of one program: a table of the locks whose figures changed most, and
    /// with -o a differential flamegraph (red: grew, blue: shrank).
    ///
    /// Locks are matched by kind, creation site and name, since ids differ between processes.
    Diff {
        /// The trace before the change.
        before: PathBuf,
        /// The trace after the change.
        after: PathBuf,
        /// Where to write the differential flamegraph (SVG); without it, only the table.
        #[arg(short, long, value_name = "OUT")]
        output: Option<PathBuf>,
        /// Write differential folded stacks (`stack BEFORE AFTER` lines) to OUT instead of an
        /// SVG.
        #[arg(long, requires = "output")]
        folded: bool,
        /// Scale BEFORE's stacks to AFTER's total before comparing (for runs of different
        /// lengths).
        #[arg(long)]
        normalize: bool,
        /// How many locks the table shows.
        #[arg(long, value_name = "N", default_value_t = DiffOptions::default().top, value_parser = positive)]
        top: usize,
        #[command(flatten)]
        stacks: StackArgs,
    },
    /// Write the trace's timeline (waits, and holds that others waited for) as Chrome
    /// trace-event JSON, for Perfetto or chrome://tracing.
    Timeline {
        /// The trace file.
        trace: PathBuf,
        /// Where to write the JSON; default: standard output.
        #[arg(short, long, value_name = "OUT")]
        output: Option<PathBuf>,
    },
    /// Write the lock-order graph and each deadlock's wait-for cycle (threads and locks) as
    /// Graphviz DOT: `lockprof graph t.json | dot -Tsvg > graph.svg`. Red edges: on a deadlock
    /// cycle, actual or potential; orange dashed: on a cycle a gate lock makes harmless.
    Graph {
        /// The trace file.
        trace: PathBuf,
        /// Where to write the DOT; default: standard output.
        #[arg(short, long, value_name = "OUT")]
        output: Option<PathBuf>,
    },
    /// Write the contention profile as a gzipped pprof profile (profile.proto), for `go tool
    /// pprof`: Go's contentions/count and delay/nanoseconds sample types, waiting and holding
    /// stacks under a root frame `[waiting] LOCK` or `[holding] LOCK`.
    Pprof {
        /// The trace file.
        trace: PathBuf,
        /// Where to write the profile (e.g. contention.pb.gz); default: standard output, if it
        /// is not a terminal.
        #[arg(short, long, value_name = "OUT")]
        output: Option<PathBuf>,
    },
    /// Exit 1 if any trace has failing findings (0 if none), with a short summary per trace.
    Check {
        /// The trace files.
        #[arg(required = true)]
        traces: Vec<PathBuf>,
        #[command(flatten)]
        options: CheckArgs,
    },
    /// Merge the traces of several processes (test binaries, CI shards) into one trace.
    ///
    /// Threads stay per process; locks are identified across processes by creation site, name
    /// and kind; identical stacks are stored once; deadlocks and lock orders are combined.
    Merge {
        /// The trace files.
        #[arg(required = true)]
        traces: Vec<PathBuf>,
        /// Where to write the merged trace (default: standard output).
        #[arg(short, long, value_name = "MERGED")]
        output: Option<PathBuf>,
    },
    /// Run a command with every process it starts writing its own trace; optionally check them.
    ///
    /// The command gets LOCKPROF_TRACE=DIR/trace-%p.json (stale traces in DIR are removed
    /// first), its standard input, output and error, and its exit code is passed on. With
    /// --check, the traces are merged into DIR/merged.json and checked after the command ends:
    /// exit 1 on failing findings. With --timeout, a command still running after DURATION is
    /// killed with its process group, and lockprof exits 124.
    #[command(override_usage = "lockprof run [OPTIONS] -- <COMMAND>...")]
    Run {
        /// The directory for the traces.
        #[arg(long, value_name = "DIR", default_value = DEFAULT_OUT)]
        out: PathBuf,
        /// Kill the command (and every process of its process group) if it is still running
        /// after DURATION: 500ms, 30s, 2m, 1h.
        #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
        timeout: Option<Duration>,
        /// Merge the traces and check them once the command has ended.
        #[arg(long)]
        check: bool,
        #[command(flatten)]
        options: CheckArgs,
        /// The command and its arguments (after `--`).
        #[arg(value_name = "COMMAND", required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<OsString>,
    },
    /// Run a bundled deadlock under lockprof and show what lockprof makes of it.
    Demo,
    /// Write a synthetic trace (for benchmarks and tests).
    #[command(name = synthetic::COMMAND, hide = true)]
    Synthetic {
        /// How many locks.
        #[arg(long, default_value_t = Synthetic::default().locks)]
        locks: usize,
        /// How many distinct stacks.
        #[arg(long, default_value_t = Synthetic::default().stacks)]
        stacks: usize,
        /// The seed of the locks and stacks.
        #[arg(long, default_value_t = Synthetic::default().seed)]
        seed: u64,
        /// The seed of the figures: traces that differ only in it are runs of one program.
        #[arg(long, default_value_t = 0)]
        variant: u64,
        /// Where to write the trace.
        #[arg(short, long, value_name = "OUT")]
        output: PathBuf,
    },
}

/// The options of a check (`check`, and `run --check`).
#[derive(Args)]
struct CheckArgs {
    /// The output format (default: text).
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<Format>,
    /// The kinds of findings that fail the check: deadlock, potential (potential-deadlock), or
    /// any rule id; repeat the option or separate with commas. Default: the kinds that fail by
    /// default (deadlock, potential-deadlock).
    #[arg(long, value_name = "KIND", value_delimiter = ',', value_parser = kinds::parse_kind)]
    fail_on: Vec<FindingKind>,
    /// The suppression file (default: lockprof.toml in the current directory, if there is one).
    #[arg(long, value_name = "FILE")]
    suppress: Option<PathBuf>,
}

/// Which stacks a flamegraph shows, and how wide (`flamegraph`, `diff`).
#[derive(Args)]
struct StackArgs {
    /// Whose stacks: waiter (where threads waited; default) or holder (where the lock they
    /// waited for was held).
    #[arg(long, value_enum, value_name = "WHOSE")]
    blame: Option<Blame>,
    /// What a stack's width measures: wait (time waited; default for waiters), hold (how long
    /// holders kept others waiting; default for holders) or count.
    #[arg(long, value_enum, value_name = "WEIGHT")]
    weight: Option<Weight>,
}

/// A whole number of at least 1.
fn positive(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

impl CheckArgs {
    fn given(&self) -> bool {
        self.format.is_some() || !self.fail_on.is_empty() || self.suppress.is_some()
    }

    fn into_options(self) -> CheckOptions {
        CheckOptions {
            format: self.format.unwrap_or_default(),
            fail_on: self.fail_on,
            suppress: self.suppress,
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            return match usage::usage(&error) {
                Usage::Show(text) => {
                    let _ = write!(std::io::stdout(), "{text}");
                    ExitCode::SUCCESS
                }
                Usage::Error(line) => fail(&line),
            };
        }
    };
    let mut out = PipeSafe::new(std::io::stdout().lock());
    let result = input::configure(cli.max_input_size).and_then(|()| match cli.command {
        Cmd::Report { trace, sort, top, format, output } => commands::report::run_to(
            &trace,
            &ReportOptions { format, sort, top },
            output.as_deref(),
            &mut out,
        ),
        Cmd::Flamegraph { trace, output, folded, stacks } => Selection::new(stacks.blame, stacks.weight)
            .and_then(|selection| {
                let options = FlamegraphOptions { selection, folded, output };
                commands::flamegraph::run(&trace, &options, &mut out, &mut std::io::stderr())
            }),
        Cmd::Diff { before, after, output, folded, normalize, top, stacks } => {
            Selection::new(stacks.blame, stacks.weight).and_then(|selection| {
                let options = DiffOptions { selection, folded, output, normalize, top };
                commands::diff::run(&before, &after, &options, &mut out, &mut std::io::stderr())
            })
        }
        Cmd::Timeline { trace, output } => {
            let options = TimelineOptions { output };
            commands::timeline::run(&trace, &options, &mut out, &mut std::io::stderr())
        }
        Cmd::Graph { trace, output } => {
            commands::graph::run(&trace, &GraphOptions { output }, &mut out, &mut std::io::stderr())
        }
        Cmd::Pprof { trace, output } => {
            let options = PprofOptions { output, stdout_is_terminal: std::io::stdout().is_terminal() };
            commands::pprof::run(&trace, &options, &mut out, &mut std::io::stderr())
        }
        Cmd::Synthetic { locks, stacks, seed, variant, output } => {
            synthetic::run(&Synthetic { locks, stacks, seed, variant }, &output, &mut std::io::stderr())
        }
        Cmd::Check { traces, options } => commands::check::run(&traces, &options.into_options(), &mut out),
        Cmd::Merge { traces, output } => {
            commands::merge::run(&traces, output.as_deref(), &mut out, &mut std::io::stderr())
        }
        Cmd::Run { out: dir, timeout, check, options, command } => {
            if !check && options.given() {
                Err(Error::Usage("run: --format, --fail-on and --suppress need --check".into()))
            } else {
                let check = check.then(|| options.into_options());
                let run = RunOptions { out: dir, timeout, check, command };
                commands::run::run(&run, &mut out, &mut std::io::stderr())
            }
        }
        Cmd::Demo => demo::run(&mut out),
    });
    let flushed = out.flush();
    let result = result.and_then(|status| flushed.map(|()| status).map_err(Error::from));
    match result {
        Ok(status) => ExitCode::from(status.exit_code()),
        Err(error) => fail(&error.to_string()),
    }
}

/// Prints `lockprof: error: <line>` and returns exit code 2.
fn fail(line: &str) -> ExitCode {
    // Not `eprintln!`, which panics if stderr is closed.
    let _ = writeln!(std::io::stderr(), "lockprof: error: {line}");
    ExitCode::from(Error::EXIT_CODE)
}
