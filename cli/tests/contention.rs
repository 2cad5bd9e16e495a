//! The contention commands on recorded and made-up traces: `report --sort/--top/--format json`,
//! `flamegraph` (SVG read back with an XML parser, and `--folded`), `diff` (table and
//! differential flamegraph), `timeline` (read back as trace-event JSON), their bad inputs, and
//! all of them on a synthetic trace.
//!
//! The recorded pair is `fixtures/traces/hot_counter_long.json` (three threads doing their work
//! inside the hot lock) and `hot_counter_short.json` (the fix: the work outside it).

mod support;

use std::fs;
use std::time::Duration;

use lockprof_trace::load::load;
use serde_json::Value;
use support::{Ran, Scratch, lockprof, run_bounded, workspace};

const BOUND: Duration = Duration::from_secs(60);
const LONG: &str = "fixtures/traces/hot_counter_long.json";
const SHORT: &str = "fixtures/traces/hot_counter_short.json";
const ABBA: &str = "fixtures/traces/abba.json";

fn run(args: &[&str]) -> Ran {
    run_bounded(lockprof(args), b"", BOUND)
}

fn ok(args: &[&str]) -> Ran {
    let ran = run(args);
    assert_eq!(ran.code, Some(0), "lockprof {args:?}: {}", ran.show());
    ran
}

/// An error as every command gives one: exit 2, nothing on stdout, one `lockprof: error:` line
/// that contains `needle`, no panic.
fn fails(args: &[&str], needle: &str) -> Ran {
    let ran = run(args);
    let what = format!("lockprof {args:?}: {}", ran.show());
    assert_eq!(ran.code, Some(2), "{what}");
    assert!(ran.stdout.is_empty(), "{what}");
    assert_eq!(ran.stderr.lines().count(), 1, "{what}");
    assert!(ran.stderr.starts_with("lockprof: error: "), "{what}");
    assert!(ran.stderr.contains(needle), "expected {needle:?} in: {what}");
    assert!(!ran.stderr.contains("panicked"), "{what}");
    ran
}

/// Parses `svg` as XML and returns the text of every `<title>` and `<text>` in it.
fn svg_texts(svg: &str) -> Vec<String> {
    // inferno's SVG declares the SVG 1.1 DTD, which roxmltree refuses unless allowed.
    let options = roxmltree::ParsingOptions { allow_dtd: true, ..roxmltree::ParsingOptions::default() };
    let doc = roxmltree::Document::parse_with_options(svg, options).unwrap_or_else(|e| {
        panic!("not well-formed XML ({e}); it starts: {}", svg.chars().take(500).collect::<String>())
    });
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| matches!(n.tag_name().name(), "title" | "text"))
        .filter_map(|n| n.text().map(str::to_owned))
        .collect()
}

fn read(path: &std::path::Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// A copy of `source` (workspace-relative) with `edit` applied, written into `scratch`.
fn edited(scratch: &Scratch, source: &str, name: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut trace: Value = serde_json::from_str(&read(&workspace().join(source))).expect("JSON");
    edit(&mut trace);
    scratch.file(name, &serde_json::to_vec_pretty(&trace).expect("serialise"))
}

// report

#[test]
fn report_sorts_and_cuts_the_contention_table() {
    let all = ok(&["report", LONG]);
    assert!(all.stdout.contains("Contention: 1 of 2 locks had to be waited for."), "{}", all.stdout);
    let table = |out: &str| -> Vec<String> {
        out.lines()
            .skip_while(|l| !l.starts_with("Contention:"))
            .skip(2)
            .take_while(|l| l.starts_with("  ") && !l.trim_start().starts_with("..."))
            .map(|l| l.trim().split("  ").next().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(
        table(&all.stdout),
        [
            "#1 \"hot\" (fixtures/src/bin/hot_counter.rs:56)",
            "#2 \"cold\" (fixtures/src/bin/hot_counter.rs:56)"
        ]
    );
    let top = ok(&["report", LONG, "--top", "1", "--sort", "acquisitions"]);
    assert_eq!(table(&top.stdout), ["#1 \"hot\" (fixtures/src/bin/hot_counter.rs:56)"]);
    assert!(top.stdout.contains("... 1 more lock (--top N)"), "{}", top.stdout);
    for sort in ["wait", "max-wait", "contended", "hold", "acquisitions"] {
        ok(&["report", LONG, "--sort", sort]);
    }
}

#[test]
fn report_json_has_the_rows_sorted_as_asked_the_stacks_and_the_findings() {
    let ran = ok(&["report", LONG, "--format", "json", "--sort", "acquisitions"]);
    let doc: Value = serde_json::from_str(&ran.stdout).expect("JSON");
    assert_eq!(doc["format"], "lockprof-report");
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["trace"], LONG);
    assert_eq!(doc["findings"], Value::Array(Vec::new()));
    let contention = &doc["contention"];
    assert_eq!(contention["sort"], "acquisitions");
    let locks = contention["locks"].as_array().expect("locks");
    assert_eq!(locks.len(), 2);
    let acquisitions: Vec<u64> = locks.iter().map(|l| l["acquisitions"].as_u64().expect("a count")).collect();
    assert!(acquisitions.windows(2).all(|w| w[0] >= w[1]), "{acquisitions:?}");
    let hot = &locks[0];
    for field in [
        "id",
        "label",
        "kind",
        "site",
        "name",
        "acquisitions",
        "contended",
        "wait_ns",
        "max_wait_ns",
        "mean_wait_ns",
        "hold_ns",
    ] {
        assert!(hot.get(field).is_some(), "no {field} in {hot}");
    }
    assert_eq!(hot["name"], "hot");
    assert_eq!(hot["kind"], "mutex");
    assert_eq!(hot["site"]["file"], "fixtures/src/bin/hot_counter.rs");
    assert_eq!(
        hot["mean_wait_ns"].as_u64(),
        Some(hot["wait_ns"].as_u64().unwrap() / hot["contended"].as_u64().unwrap())
    );
    let stack = &contention["waiting_stacks"][0];
    assert_eq!(stack["lock"], hot["id"]);
    assert_eq!(
        stack["frames"][0]["function"], "hot_counter::bump_hot_counter",
        "innermost frame first: {stack}"
    );
    assert!(contention["holding_stacks"].as_array().is_some_and(|s| !s.is_empty()));

    let cut = ok(&["report", LONG, "--format", "json", "--top", "1"]);
    let cut: Value = serde_json::from_str(&cut.stdout).expect("JSON");
    assert_eq!(cut["contention"]["locks"].as_array().map(Vec::len), Some(1));
    assert_eq!(cut["contention"]["locks_omitted"], 1);

    let abba = ok(&["report", ABBA, "--format", "json"]);
    let abba: Value = serde_json::from_str(&abba.stdout).expect("JSON");
    assert_eq!(abba["contention"], Value::Null);
    let finding = &abba["findings"][0];
    assert_eq!(finding["rule"], "deadlock");
    assert_eq!(finding["fails_by_default"], true);
    assert!(finding["sites"][0]["file"].is_string() && finding["sites"][0]["role"].is_string(), "{finding}");
}

// flamegraph

#[test]
fn the_flamegraph_is_well_formed_svg_naming_the_function_and_the_lock() {
    let scratch = Scratch::new("flamegraph-svg");
    let svg = scratch.path("hot.svg");
    let ran = ok(&["flamegraph", LONG, "-o", svg.to_str().expect("UTF-8")]);
    assert!(ran.stdout.is_empty());
    assert!(ran.stderr.starts_with("lockprof flamegraph: 1 stack on 1 lock ("), "{}", ran.show());
    let texts = svg_texts(&read(&svg));
    assert!(texts.iter().any(|t| t.contains("hot_counter::bump_hot_counter")), "{texts:?}");
    assert!(
        texts.iter().any(|t| t.contains("lock: \"hot\" (fixtures/src/bin/hot_counter.rs:56)")),
        "{texts:?}"
    );
    // To standard output, and the holders' view by count.
    let stdout = ok(&["flamegraph", LONG, "--blame", "holder", "--weight", "count"]);
    assert!(stdout.stderr.is_empty(), "{}", stdout.show());
    let texts = svg_texts(&stdout.stdout);
    assert!(texts.iter().any(|t| t.contains("bump_hot_counter") && t.contains("holds")), "{texts:?}");
}

#[test]
fn folded_stacks_run_outermost_first_to_the_lock() {
    let ran = ok(&["flamegraph", LONG, "--folded", "--weight", "count"]);
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", ran.stdout);
    let (stack, weight) = lines[0].rsplit_once(' ').expect("stack and weight");
    let frames: Vec<&str> = stack.split(';').collect();
    assert_eq!(frames.last(), Some(&"lock: \"hot\" (fixtures/src/bin/hot_counter.rs:56)"));
    assert_eq!(frames[frames.len() - 2], "hot_counter::bump_hot_counter");
    let trace = load(&workspace().join(LONG)).expect("a trace");
    let contended = trace.contention.expect("a profile").waiters.iter().map(|w| w.count).sum::<u64>();
    assert_eq!(weight.parse::<u64>().ok(), Some(contended));
}

#[test]
fn names_from_a_crafted_trace_cannot_break_the_svg_or_the_folded_lines() {
    let scratch = Scratch::new("flamegraph-crafted");
    let trace = edited(&scratch, LONG, "crafted.json", |t| {
        t["locks"][0]["name"] = Value::from("<b>&\"';\n\u{1b}[31m\u{fffe}");
        t["stacks"][0]["frames"][0]["function"] = Value::from("a;b</text>\n<script>x</script>\u{0}");
        t["stacks"][0]["frames"][1]["function"] = Value::from("");
        t["process"]["command"] = Value::from(vec!["<&>\u{7}"]);
    });
    let folded = ok(&["flamegraph", &trace, "--folded"]);
    assert_eq!(folded.stdout.lines().count(), 1, "{}", folded.stdout);
    assert!(
        folded.stdout.starts_with("??;a,b</text>\\n<script>x</script>\\u{0};lock: \"<b>&"),
        "{}",
        folded.stdout
    );
    let svg = ok(&["flamegraph", &trace]);
    let texts = svg_texts(&svg.stdout);
    assert!(texts.iter().any(|t| t.contains("<script>")), "shown as text: {texts:?}");
}

#[test]
fn a_profile_where_nothing_waited_is_an_empty_flamegraph_not_an_error() {
    let scratch = Scratch::new("flamegraph-empty");
    let trace = edited(&scratch, SHORT, "calm.json", |t| {
        t["contention"]["waiters"] = Value::Array(Vec::new());
    });
    let svg = scratch.path("calm.svg");
    let ran = ok(&["flamegraph", &trace, "-o", svg.to_str().expect("UTF-8")]);
    assert!(ran.stderr.contains("no contention"), "{}", ran.show());
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.show());
    assert!(svg_texts(&read(&svg)).iter().any(|t| t.contains("No contention")));
    let folded = ok(&["flamegraph", &trace, "--folded"]);
    assert!(folded.stdout.is_empty(), "{}", folded.show());
    // The holders still have their stacks.
    assert!(!ok(&["flamegraph", &trace, "--folded", "--blame", "holder"]).stdout.is_empty());
    // A diff to it: the flamegraph draws the waiting stacks that vanished, as they were (the
    // table still has the per-lock figures, which this edit kept; tests/flame.rs has the rest).
    let diff = scratch.path("diff.svg");
    let ran = ok(&["diff", LONG, &trace, "-o", diff.to_str().expect("UTF-8")]);
    assert!(ran.stdout.contains("\"hot\""), "{}", ran.stdout);
    let texts = svg_texts(&read(&diff));
    assert!(texts.iter().any(|t| t.starts_with("[vanished")), "{texts:?}");
    assert!(texts.iter().any(|t| t.contains("bump_hot_counter")), "{texts:?}");
}

// diff

#[test]
fn diff_shows_the_hot_lock_s_wait_going_down() {
    let scratch = Scratch::new("diff");
    let svg = scratch.path("diff.svg");
    let ran = ok(&["diff", LONG, SHORT, "-o", svg.to_str().expect("UTF-8")]);
    let row = ran
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("\"hot\""))
        .unwrap_or_else(|| panic!("no row for the hot lock:\n{}", ran.stdout));
    let cells: Vec<&str> = row.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
    assert_eq!(cells.len(), 5, "{row}");
    assert!(cells[3].starts_with('-'), "the change is negative: {row}");
    assert!(cells[4].starts_with('-') && cells[4].ends_with('%'), "{row}");
    // Lock ids differ between the two traces; the cold lock matched by identity did not change.
    assert!(!ran.stdout.contains("cold"), "{}", ran.stdout);
    assert!(ran.stderr.starts_with("lockprof diff: 1 stack before, 1 stack after, into "), "{}", ran.show());
    let texts = svg_texts(&read(&svg));
    assert!(texts.iter().any(|t| t.contains("bump_hot_counter")), "{texts:?}");

    let folded = scratch.path("diff.folded");
    ok(&["diff", LONG, SHORT, "-o", folded.to_str().expect("UTF-8"), "--folded"]);
    let text = read(&folded);
    let line = text.lines().next().expect("a line");
    let mut words = line.rsplitn(3, ' ');
    let (after, before) = (words.next().expect("after"), words.next().expect("before"));
    assert!(after.parse::<u64>().expect("a weight") < before.parse::<u64>().expect("a weight"), "{line}");

    // The other way round, it goes up; and without -o there is only the table.
    let back = ok(&["diff", SHORT, LONG, "--weight", "count"]);
    assert!(back.stderr.is_empty(), "{}", back.show());
    assert!(back.stdout.contains("Contended acquisitions by lock"), "{}", back.stdout);
    let row = back.stdout.lines().find(|l| l.contains("\"hot\"")).expect("a hot row");
    assert!(row.contains(" +"), "{row}");
}

// timeline

fn check_trace_events(text: &str) -> Value {
    let doc: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    assert_eq!(doc["displayTimeUnit"], "ns");
    let events = doc["traceEvents"].as_array().expect("traceEvents");
    for event in events {
        for field in ["ph", "ts", "pid", "tid", "name"] {
            assert!(event.get(field).is_some(), "no {field} in {event}");
        }
        assert!(event["ts"].as_f64().is_some_and(|ts| ts >= 0.0), "{event}");
        if event["ph"] == "X" {
            assert!(event["dur"].as_f64().is_some_and(|d| d >= 0.0), "{event}");
            assert!(matches!(event["cat"].as_str(), Some("wait" | "hold")), "{event}");
        } else {
            assert_eq!(event["ph"], "M", "{event}");
        }
    }
    doc
}

#[test]
fn the_timeline_is_trace_event_json() {
    let scratch = Scratch::new("timeline");
    let out = scratch.path("timeline.json");
    let ran = ok(&["timeline", LONG, "-o", out.to_str().expect("UTF-8")]);
    assert!(ran.stderr.starts_with("lockprof timeline: "), "{}", ran.show());
    let doc = check_trace_events(&read(&out));
    let events = doc["traceEvents"].as_array().expect("events");
    let trace = load(&workspace().join(LONG)).expect("a trace");
    let spans = trace.timeline.as_ref().expect("a timeline").spans.len();
    assert_eq!(events.iter().filter(|e| e["ph"] == "X").count(), spans);
    let names: Vec<&str> = events
        .iter()
        .filter(|e| e["name"] == "thread_name")
        .filter_map(|e| e["args"]["name"].as_str())
        .collect();
    assert_eq!(names, ["bumper-0", "bumper-1", "bumper-2"]);
    assert!(events.iter().any(|e| e["name"] == "wait #1 \"hot\" (fixtures/src/bin/hot_counter.rs:56)"));
    assert!(events.iter().any(|e| e["name"].as_str().is_some_and(|n| n.starts_with("hold "))));
    assert_eq!(doc["otherData"]["dropped_spans"], 0);
    // To standard output: the same document, and nothing on stderr.
    let stdout = ok(&["timeline", LONG]);
    assert!(stdout.stderr.is_empty(), "{}", stdout.show());
    assert_eq!(stdout.stdout, read(&out));
}

#[test]
fn dropped_spans_are_said_and_recorded() {
    let scratch = Scratch::new("timeline-dropped");
    let trace = edited(&scratch, SHORT, "dropped.json", |t| t["timeline"]["dropped"] = Value::from(17));
    let ran = ok(&["timeline", &trace]);
    assert!(ran.stderr.contains("warning") && ran.stderr.contains("17 spans were dropped"), "{}", ran.show());
    assert_eq!(check_trace_events(&ran.stdout)["otherData"]["dropped_spans"], 17);
    let empty = edited(&scratch, SHORT, "empty.json", |t| t["timeline"]["spans"] = Value::Array(Vec::new()));
    let ran = ok(&["timeline", &empty]);
    assert!(ran.stderr.contains("no spans"), "{}", ran.show());
    check_trace_events(&ran.stdout);
}

// bad input

#[test]
fn traces_without_the_section_a_command_needs_are_one_clear_error() {
    fails(&["flamegraph", ABBA], "no contention profile");
    fails(&["flamegraph", ABBA, "--folded"], "no contention profile");
    fails(&["diff", ABBA, SHORT], &format!("{ABBA}: no contention profile"));
    fails(&["diff", SHORT, ABBA], &format!("{ABBA}: no contention profile"));
    fails(&["timeline", ABBA], &format!("{ABBA}: no timeline"));
}

#[test]
fn bad_options_are_usage_errors() {
    for args in [
        &["flamegraph", LONG, "--blame", "waiter", "--weight", "hold"][..],
        &["flamegraph", LONG, "--blame", "holder", "--weight", "wait"],
        &["flamegraph", LONG, "--weight", "lots"],
        &["diff", LONG, SHORT, "--folded"],
        &["diff", LONG],
        &["diff", LONG, SHORT, "--top", "0"],
        &["report", LONG, "--top", "0"],
        &["report", LONG, "--sort", "name"],
        &["report", LONG, "--format", "yaml"],
        &["timeline"],
    ] {
        let ran = run(args);
        assert_eq!(ran.code, Some(2), "lockprof {args:?}: {}", ran.show());
        assert!(ran.stdout.is_empty() && !ran.stderr.contains("panicked"), "{}", ran.show());
    }
}

#[test]
fn unwritable_outputs_are_one_clear_error_and_leave_nothing_behind() {
    let scratch = Scratch::new("unwritable");
    let missing = scratch.path("no/such/dir/out.svg");
    let missing = missing.to_str().expect("UTF-8");
    let directory = scratch.str();
    for out in [missing, directory] {
        let cannot = format!("{out}: cannot write it");
        fails(&["flamegraph", LONG, "-o", out], &cannot);
        fails(&["flamegraph", LONG, "--folded", "-o", out], &cannot);
        fails(&["timeline", LONG, "-o", out], &cannot);
        fails(&["diff", LONG, SHORT, "-o", out], &cannot);
        fails(&["diff", LONG, SHORT, "--folded", "-o", out], &cannot);
    }
    let left: Vec<_> = fs::read_dir(scratch.str()).expect("list").collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

// synthetic

#[test]
fn every_command_runs_on_a_synthetic_trace() {
    let scratch = Scratch::new("synthetic");
    let (before, after) = (scratch.path("before.json"), scratch.path("after.json"));
    let (before, after) = (before.to_str().expect("UTF-8"), after.to_str().expect("UTF-8"));
    let ran = ok(&["__synthetic", "--locks", "200", "--stacks", "2000", "-o", before]);
    assert!(ran.stderr.contains("200 locks, 2000 stacks"), "{}", ran.show());
    ok(&["__synthetic", "--locks", "200", "--stacks", "2000", "--variant", "1", "-o", after]);
    let trace = load(std::path::Path::new(before)).expect("the synthetic trace is valid");
    assert_eq!((trace.locks.len(), trace.stacks.len()), (200, 2000));

    let report = ok(&["report", before, "--top", "3"]);
    assert!(report.stdout.contains("... 197 more locks (--top N)"), "{}", report.stdout);
    let json = ok(&["report", before, "--format", "json"]);
    let json: Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(json["contention"]["locks_profiled"], 200);

    let svg = scratch.path("big.svg");
    ok(&["flamegraph", before, "-o", svg.to_str().expect("UTF-8")]);
    svg_texts(&read(&svg));
    let folded = ok(&["flamegraph", before, "--folded"]);
    assert_eq!(folded.stdout.lines().count(), 2000, "every stack is distinct");
    let diff_svg = scratch.path("diff.svg");
    let diff = ok(&["diff", before, after, "-o", diff_svg.to_str().expect("UTF-8")]);
    assert!(diff.stdout.contains("more changed (--top N)"), "{}", diff.stdout);
    svg_texts(&read(&diff_svg));
    let timeline = ok(&["timeline", before]);
    assert!(timeline.stderr.contains("spans were dropped"), "{}", timeline.show());
    check_trace_events(&timeline.stdout);
}

#[test]
fn a_lock_name_longer_than_a_format_width_is_shortened_not_panicked_on() {
    // Regression: a label over 65,535 characters made `report` and `diff` panic ("Formatting
    // argument out of range", exit 101), in the width of the table's first column.
    let scratch = Scratch::new("long-label");
    let mut trace: Value =
        serde_json::from_slice(&fs::read(workspace().join(SHORT)).expect("read the fixture")).expect("JSON");
    let long_name = "L".repeat(70_000);
    trace["locks"][0]["name"] = Value::String(long_name.clone());
    trace["locks"][0]["site"]["file"] = Value::String(format!("src/{}.rs", "d/".repeat(40_000)));
    let path = scratch.file("long.json", &serde_json::to_vec(&trace).expect("serialise"));

    let report = ok(&["report", &path]);
    assert!(report.stdout.contains(&format!("{}…\"", "L".repeat(10))), "{}", report.show());
    assert!(!report.stdout.contains(&long_name), "the name is shortened in the text report");
    assert!(report.stdout.lines().all(|l| l.chars().count() < 1000), "no line is 70,000 characters");
    let json = ok(&["report", &path, "--format", "json"]);
    assert!(json.stdout.contains(&long_name), "JSON keeps the whole name");
    for (before, after) in [(path.as_str(), SHORT), (SHORT, path.as_str())] {
        let diff = ok(&["diff", before, after]);
        assert!(diff.stdout.contains('…'), "{}", diff.show());
        assert!(diff.stdout.lines().all(|l| l.chars().count() < 1000), "{}", diff.show());
    }
}
