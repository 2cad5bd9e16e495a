//! `lockprof graph`: the DOT of the recorded traces (a deadlock, a potential deadlock, a ring of
//! three, an ordered program), checked line by line for the nodes, edges and highlights that
//! matter; and, where Graphviz is installed, rendered by `dot -Tsvg`. Without `dot`, that part is
//! skipped with a message, unless `LOCKPROF_REQUIRE_DOT` is set (as CI sets it).

mod support;

use std::process::Command;
use std::time::Duration;

use support::{Ran, Scratch, lockprof, run_bounded};

const BOUND: Duration = Duration::from_secs(60);
const RED: &str = "color=\"#d62728\"";

fn run(args: &[&str]) -> Ran {
    run_bounded(lockprof(args), b"", BOUND)
}

fn graph(trace: &str) -> String {
    let ran = run(&["graph", trace]);
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    assert!(ran.stderr.is_empty(), "{}", ran.show());
    ran.stdout
}

/// The one line of `dot` that contains every one of `needles`.
fn line<'d>(dot: &'d str, needles: &[&str]) -> &'d str {
    let found: Vec<&str> = dot.lines().filter(|l| needles.iter().all(|n| l.contains(n))).collect();
    assert_eq!(found.len(), 1, "expected one line with {needles:?} in:\n{dot}");
    found[0]
}

#[test]
fn an_abba_deadlock_is_a_red_cycle_of_threads_and_locks() {
    let dot = graph("fixtures/traces/abba.json");
    assert!(dot.starts_with("digraph lockprof {\n"), "{dot}");
    assert!(dot.ends_with("}\n"), "{dot}");
    // Nodes: lock label with id, and its creation site.
    line(
        &dot,
        &[
            "    lock_1 [label=\"lock #1 \\\"A\\\"\\nmutex created at fixtures/src/bin/abba.rs:10:22\"",
            "shape=box",
        ],
    );
    line(&dot, &["d1_thread_2 [label=\"thread #2 \\\"ba\\\"\"", "shape=ellipse"]);
    // The wait-for cycle: thread → the lock it waits for → the thread holding it, all red.
    assert!(
        line(&dot, &["d1_thread_1 -> d1_lock_2", "waits at fixtures/src/bin/abba.rs:21:36"]).contains(RED)
    );
    assert!(
        line(&dot, &["d1_lock_2 -> d1_thread_2", "held since fixtures/src/bin/abba.rs:32:35"]).contains(RED)
    );
    assert!(line(&dot, &["d1_thread_2 -> d1_lock_1"]).contains(RED));
    assert!(line(&dot, &["d1_lock_1 -> d1_thread_1"]).contains(RED));
    line(&dot, &["subgraph cluster_deadlock_1 {"]);
    // The lock orders that deadlocked are red in the lock-order graph too.
    assert!(line(&dot, &["    lock_1 -> lock_2"]).contains(RED));
    assert!(line(&dot, &["    lock_2 -> lock_1"]).contains(RED));
}

#[test]
fn a_potential_deadlock_is_red_and_an_ordered_program_is_not() {
    let dot = graph("fixtures/traces/credit_audit.json");
    assert!(!dot.contains("cluster_deadlock"), "{dot}");
    let edge = line(&dot, &["    lock_1 -> lock_2", "held since fixtures/src/bin/credit_audit.rs:13:29"]);
    assert!(edge.contains(RED) && edge.contains("penwidth"), "{edge}");
    assert!(line(&dot, &["    lock_2 -> lock_1"]).contains(RED));

    let dot = graph("fixtures/traces/bank_transfer_ordered.json");
    assert!(!dot.contains(RED), "no cycle, no red:\n{dot}");
    assert!(dot.contains(" -> "), "{dot}");

    let dot = graph("fixtures/traces/ring_of_three.json");
    assert_eq!(dot.lines().filter(|l| l.contains(" -> d1_") && l.contains(RED)).count(), 6, "{dot}");
    let dot = graph("fixtures/traces/minimal.json");
    assert!(dot.contains("no lock was taken while holding another"), "{dot}");
}

#[test]
fn output_goes_to_a_file_and_bad_input_is_one_line() {
    let scratch = Scratch::new("graph");
    let out = scratch.path("g.dot");
    let ran = run(&["graph", "fixtures/traces/abba.json", "-o", out.to_str().expect("UTF-8")]);
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    assert!(
        ran.stderr.starts_with("lockprof graph: 2 lock-order edges and 1 deadlock into "),
        "{}",
        ran.show()
    );
    assert_eq!(std::fs::read_to_string(&out).expect("written"), graph("fixtures/traces/abba.json"));
    let bad = scratch.file("bad.json", b"{\"format\": \"other\"}");
    let ran = run(&["graph", &bad]);
    assert_eq!(ran.code, Some(2), "{}", ran.show());
    assert!(ran.stdout.is_empty());
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.show());
}

/// Graphviz accepts every recorded trace's graph.
#[test]
fn dot_renders_every_graph() {
    if !Command::new("dot").arg("-V").output().is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var_os("LOCKPROF_REQUIRE_DOT").is_none(),
            "LOCKPROF_REQUIRE_DOT is set but `dot` is not on PATH (apt-get install graphviz)"
        );
        skipped(
            "SKIPPED dot_renders_every_graph: `dot` (Graphviz) is not on PATH (set LOCKPROF_REQUIRE_DOT=1 to require it)",
        );
        return;
    }
    let traces = support::workspace().join("fixtures/traces");
    let mut rendered = 0;
    for entry in std::fs::read_dir(&traces).expect("fixtures") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let dot = graph(path.to_str().expect("UTF-8"));
        let mut command = Command::new("dot");
        command.arg("-Tsvg");
        let ran = run_bounded(command, dot.as_bytes(), BOUND);
        assert_eq!(ran.code, Some(0), "dot -Tsvg on the graph of {}: {}", path.display(), ran.show());
        assert!(ran.stderr.is_empty(), "dot warned on {}: {}", path.display(), ran.show());
        assert!(ran.stdout.contains("<svg"), "{}", ran.show());
        rendered += 1;
    }
    assert!(rendered >= 8, "{rendered}");
}

/// Says that a check was skipped, on the real standard error: the test harness captures
/// `println!`, so a skip would otherwise pass unseen.
fn skipped(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{message}");
}
