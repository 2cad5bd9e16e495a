//! `lockprof`: the command-line shell over [`lockprof_cli`]. Parses arguments, runs the command,
//! prints errors as one `lockprof: error: …` line, and exits 0 (success), 1 (`check` found
//! failing findings) or 2 (error, including usage errors).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lockprof_cli::output::PipeSafe;
use lockprof_cli::{Error, commands, demo};

/// Runtime deadlock profiler: turns lockprof traces (`LOCKPROF_TRACE=path`) into reports and CI
/// verdicts.
#[derive(Parser)]
#[command(name = "lockprof", version)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print the full report of a trace: every deadlock with its threads, locks, sites and
    /// stacks.
    Report {
        /// The trace file.
        trace: PathBuf,
    },
    /// Exit 1 if any trace has failing findings (0 if none), with a short summary per trace.
    Check {
        /// The trace files.
        #[arg(required = true)]
        traces: Vec<PathBuf>,
    },
    /// Run a bundled deadlock under lockprof and show what lockprof makes of it.
    Demo,
    /// The demo's deadlocking child process.
    #[command(name = demo::scenario::COMMAND, hide = true)]
    DemoScenario,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = PipeSafe::new(std::io::stdout().lock());
    let result = match cli.command {
        Cmd::Report { trace } => commands::report::run(&trace, &mut out),
        Cmd::Check { traces } => commands::check::run(&traces, &mut out),
        Cmd::Demo => demo::run(&mut out),
        Cmd::DemoScenario => return ExitCode::from(demo::scenario::run().code()),
    };
    let flushed = out.flush();
    let result = result.and_then(|status| flushed.map(|()| status).map_err(Error::from));
    match result {
        Ok(status) => ExitCode::from(status.exit_code()),
        Err(error) => {
            // Not `eprintln!`, which panics if stderr is closed.
            let _ = writeln!(std::io::stderr(), "lockprof: error: {error}");
            ExitCode::from(Error::EXIT_CODE)
        }
    }
}
