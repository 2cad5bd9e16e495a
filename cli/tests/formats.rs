//! `lockprof check --format junit|sarif|github`, `--fail-on`, suppressions, and `lockprof
//! merge`, on the golden traces in `fixtures/traces` (and variants of them made here).
//!
//! The JUnit output is read back with an XML parser; the SARIF output is validated against the
//! SARIF 2.1.0 JSON schema vendored in `fixtures/sarif` (see its README for where it comes from).

mod support;

use std::time::Duration;

use lockprof_analysis::findings::{FindingKind, findings};
use lockprof_trace::load::load;
use serde_json::Value;
use support::{Ran, Scratch, lockprof, run_bounded, workspace};

const BOUND: Duration = Duration::from_secs(60);
const ABBA: &str = "fixtures/traces/abba.json";
const RING: &str = "fixtures/traces/ring_of_three.json";
const CLEAN: &str = "fixtures/traces/ordered_contention.json";
const INVERSION: &str = "fixtures/traces/credit_audit.json";

fn check(args: &[&str]) -> Ran {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    run_bounded(lockprof(&all), b"", BOUND)
}

/// `abba.json` with its thread names replaced by `name`, written into `scratch`.
fn abba_with_thread_name(scratch: &Scratch, name: &str) -> String {
    let mut trace: Value =
        serde_json::from_slice(&std::fs::read(workspace().join(ABBA)).expect("read abba.json"))
            .expect("JSON");
    for thread in trace["threads"].as_array_mut().expect("threads") {
        thread["name"] = Value::from(name);
    }
    scratch.file("named.json", &serde_json::to_vec(&trace).expect("serialise"))
}

// JUnit

#[test]
fn junit_has_a_failure_per_finding_that_a_parser_reads() {
    let ran = check(&["--format", "junit", ABBA, RING]);
    assert_eq!(ran.code, Some(1), "{}", ran.show());
    let doc =
        roxmltree::Document::parse(&ran.stdout).unwrap_or_else(|e| panic!("not XML ({e}):\n{}", ran.stdout));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suites: Vec<_> = root.children().filter(|n| n.has_tag_name("testsuite")).collect();
    assert_eq!(suites.len(), 2);
    for (suite, source) in suites.iter().zip([ABBA, RING]) {
        assert_eq!(suite.attribute("name"), Some(source));
        let cases: Vec<_> = suite.children().filter(|n| n.has_tag_name("testcase")).collect();
        let names: Vec<_> = cases.iter().filter_map(|c| c.attribute("name")).collect();
        let kinds: Vec<_> = FindingKind::ALL.iter().map(|k| k.rule_id()).collect();
        assert_eq!(names, kinds, "one testcase per kind");
        let deadlock =
            cases.iter().find(|c| c.attribute("name") == Some("deadlock")).expect("deadlock testcase");
        let failures: Vec<_> = deadlock.children().filter(|n| n.has_tag_name("failure")).collect();
        assert_eq!(failures.len(), 1, "{}", ran.stdout);
        assert_eq!(failures[0].attribute("type"), Some("deadlock"));
        assert!(failures[0].attribute("message").is_some_and(|m| m.starts_with("deadlock: thread #")));
        assert!(
            failures[0].text().is_some_and(|t| t.contains(".rs:")),
            "the sites are in the failure's text"
        );
        assert_eq!(suite.attribute("failures"), Some("1"));
    }
    assert_eq!(root.attribute("failures"), Some("2"));
}

#[test]
fn junit_of_a_clean_trace_has_no_failure() {
    let ran = check(&["--format", "junit", CLEAN]);
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    let doc = roxmltree::Document::parse(&ran.stdout).expect("XML");
    assert_eq!(doc.descendants().filter(|n| n.has_tag_name("failure")).count(), 0);
    assert!(doc.descendants().filter(|n| n.has_tag_name("testcase")).count() >= 1);
}

#[test]
fn junit_escapes_what_the_trace_puts_in_it() {
    let scratch = Scratch::new("junit-escape");
    let nasty = "<&\"'>]]>\u{1}\u{7f}";
    let trace = abba_with_thread_name(&scratch, nasty);
    let ran = check(&["--format", "junit", &trace]);
    assert_eq!(ran.code, Some(1), "{}", ran.show());
    let doc =
        roxmltree::Document::parse(&ran.stdout).unwrap_or_else(|e| panic!("not XML ({e}):\n{}", ran.stdout));
    let failure = doc.descendants().find(|n| n.has_tag_name("failure")).expect("a failure");
    // Labels quote names as Rust string literals: the name survives, escaped, both ways.
    let label = format!("{nasty:?}");
    assert!(failure.attribute("message").is_some_and(|m| m.contains(&label)), "{}", ran.stdout);
    assert!(failure.text().is_some_and(|t| t.contains(&label)), "{}", ran.stdout);
}

// SARIF

fn sarif_validator() -> jsonschema::Validator {
    let path = workspace().join("fixtures/sarif/sarif-2.1.0-rtm.5.json");
    let mut schema: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read the SARIF schema")).expect("JSON");
    // The `pattern` of the `language` properties (which lockprof does not write) in the published
    // schema has a lone `]`, which ECMA-262 reads as a literal only outside Unicode mode, so the
    // meta-schema's check of `"format": "regex"` rejects the schema. Escaping it keeps the
    // pattern's meaning; the file itself stays as published.
    const BROKEN: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$";
    fn fix(value: &mut Value) -> usize {
        match value {
            Value::Object(map) => map
                .iter_mut()
                .map(|(key, v)| {
                    if key == "pattern" && *v == BROKEN {
                        *v = Value::from(BROKEN.replace("]?$", r"\]?$"));
                        1
                    } else {
                        fix(v)
                    }
                })
                .sum(),
            Value::Array(items) => items.iter_mut().map(fix).sum(),
            _ => 0,
        }
    }
    assert!(fix(&mut schema) > 0, "the vendored schema changed: revisit this work-around");
    jsonschema::options().should_validate_formats(true).build(&schema).expect("the SARIF schema compiles")
}

fn assert_valid_sarif(text: &str) -> Value {
    let log: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"));
    let validator = sarif_validator();
    let errors: Vec<String> =
        validator.iter_errors(&log).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "not valid SARIF 2.1.0:\n{}\n{text}", errors.join("\n"));
    log
}

#[test]
fn the_schema_check_rejects_what_is_not_sarif() {
    let validator = sarif_validator();
    let ran = check(&["--format", "sarif", ABBA]);
    let good: Value = serde_json::from_str(&ran.stdout).expect("JSON");
    assert!(validator.is_valid(&good));
    let mut bad = good.clone();
    bad["version"] = Value::from("2.0.0");
    assert!(!validator.is_valid(&bad));
    let mut bad = good.clone();
    bad["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = Value::from(0);
    assert!(!validator.is_valid(&bad));
    let mut bad = good;
    bad["runs"][0]["results"][0]["level"] = Value::from("fatal");
    assert!(!validator.is_valid(&bad));
}

#[test]
fn sarif_is_valid_and_locates_every_finding_at_its_sites() {
    let ran = check(&["--format", "sarif", ABBA, RING, INVERSION, CLEAN]);
    assert_eq!(ran.code, Some(1), "{}", ran.show());
    let log = assert_valid_sarif(&ran.stdout);
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    let kinds: Vec<&str> = FindingKind::ALL.iter().map(|k| k.rule_id()).collect();
    assert_eq!(rules, kinds);
    let results = run["results"].as_array().expect("results");
    let expected: usize = [ABBA, RING, INVERSION, CLEAN]
        .iter()
        .map(|t| findings(&load(&workspace().join(t)).expect("load")).len())
        .sum();
    assert_eq!(results.len(), expected, "one result per finding");

    // abba's deadlock: found by thread "ab" waiting at abba.rs:21:36; three more sites related.
    let first = &results[0];
    assert_eq!(first["ruleId"], "deadlock");
    assert_eq!(first["level"], "error");
    assert_eq!(first["properties"]["trace"], ABBA);
    assert!(first["message"]["text"].as_str().is_some_and(|m| m.starts_with("deadlock: thread #1 \"ab\"")));
    let location = &first["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "fixtures/src/bin/abba.rs");
    assert_eq!(location["artifactLocation"]["uriBaseId"], "%SRCROOT%");
    assert_eq!(location["region"]["startLine"], 21);
    assert_eq!(location["region"]["startColumn"], 36);
    let related = first["relatedLocations"].as_array().expect("related locations");
    let lines: Vec<u64> =
        related.iter().filter_map(|l| l["physicalLocation"]["region"]["startLine"].as_u64()).collect();
    assert_eq!(lines, [19, 34, 32]);
    // The lock-order inversion, with its rule.
    let inversion = results.iter().find(|r| r["ruleId"] == "potential-deadlock").expect("the inversion");
    assert_eq!(
        inversion["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "fixtures/src/bin/credit_audit.rs"
    );
}

#[test]
fn sarif_stays_valid_with_odd_paths_suppressions_and_kinds_that_do_not_fail() {
    let scratch = Scratch::new("sarif-odd");
    let mut trace: Value =
        serde_json::from_slice(&std::fs::read(workspace().join(ABBA)).expect("read")).expect("JSON");
    // A dependency outside the checkout, and a path that needs escaping.
    trace["deadlocks"][0]["cycle"][0]["wait_site"]["file"] =
        Value::from("/home/ci/.cargo/registry/src/x y/lib.rs");
    trace["deadlocks"][0]["cycle"][1]["wait_site"]["file"] = Value::from("src/we[ird]#%.rs");
    let odd = scratch.file("odd.json", &serde_json::to_vec(&trace).expect("serialise"));
    let suppress = scratch.file(
        "s.toml",
        b"[[suppress]]\nrule = \"potential\"\nlock = \"ledger\"\nreason = \"audit runs alone at start-up\"\n",
    );
    let ran =
        check(&["--format", "sarif", "--fail-on", "potential", "--suppress", &suppress, &odd, INVERSION]);
    assert_eq!(ran.code, Some(0), "the deadlock does not fail, the inversion is suppressed: {}", ran.show());
    let log = assert_valid_sarif(&ran.stdout);
    let results = log["runs"][0]["results"].as_array().expect("results");
    let uri = &results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"];
    assert_eq!(uri, "file:///home/ci/.cargo/registry/src/x%20y/lib.rs");
    assert_eq!(results[0]["level"], "warning");
    let suppressed = results.iter().find(|r| r["ruleId"] == "potential-deadlock").expect("the inversion");
    assert_eq!(suppressed["suppressions"][0]["kind"], "external");
    assert!(suppressed["suppressions"][0]["justification"].as_str().is_some_and(|j| j.contains("start-up")));
}

// GitHub Actions

#[test]
fn github_prints_one_error_per_failing_finding() {
    let ran = check(&["--format", "github", ABBA, RING, CLEAN]);
    assert_eq!(ran.code, Some(1), "{}", ran.show());
    let errors: Vec<&str> = ran.stdout.lines().filter(|l| l.starts_with("::error ")).collect();
    assert_eq!(errors.len(), 2, "{}", ran.stdout);
    assert!(
        errors[0].starts_with(
            "::error file=fixtures/src/bin/abba.rs,line=21,col=36,title=lockprof deadlock::deadlock: "
        ),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].starts_with("::error file=fixtures/src/bin/ring_of_three.rs,line=23,col=55,"),
        "{}",
        errors[1]
    );
    // The sites follow the title in the message, as escaped line breaks.
    assert!(
        errors[0].contains("%0Athread #1 \"ab\" acquired lock #1 \"A\" at fixtures/src/bin/abba.rs:19:35")
    );
    assert!(ran.stdout.ends_with(
        "lockprof check: failed: 2 findings in 2 of 3 traces (`lockprof report TRACE` shows the stacks)\n"
    ));
}

#[test]
fn github_escapes_what_the_trace_puts_in_it() {
    let scratch = Scratch::new("github-escape");
    let trace = abba_with_thread_name(&scratch, "50%\r\nx,y:z");
    let ran = check(&["--format", "github", &trace]);
    assert_eq!(ran.code, Some(1), "{}", ran.show());
    let errors: Vec<&str> = ran.stdout.lines().filter(|l| l.starts_with("::error ")).collect();
    assert_eq!(errors.len(), 1, "one line, whatever the name holds: {}", ran.stdout);
    // Labels escape the line break themselves; the runner's escapes take care of the `%`.
    assert!(errors[0].contains("thread #1 \"50%25\\r\\nx,y:z\""), "{}", errors[0]);
}

// --fail-on

#[test]
fn fail_on_chooses_what_fails() {
    let ran = check(&["--fail-on", "potential", ABBA]);
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    assert!(ran.stdout.contains("  not failing: deadlock: "), "{}", ran.show());
    let ran = check(&["--fail-on", "potential", INVERSION]);
    assert_eq!(ran.code, Some(1), "{}", ran.show());
    for args in [
        &["--fail-on", "deadlock,potential", ABBA][..],
        &["--fail-on", "potential", "--fail-on", "deadlock", ABBA],
    ] {
        assert_eq!(check(args).code, Some(1), "{args:?}");
    }
    let ran = check(&["--fail-on", "livelock", ABBA]);
    assert_eq!(ran.code, Some(2), "{}", ran.show());
    assert!(ran.stderr.contains("unknown finding kind"), "{}", ran.show());
}

// Suppressions

#[test]
fn lockprof_toml_in_the_current_directory_suppresses_with_a_reason() {
    let scratch = Scratch::new("suppress-default");
    scratch.file(
        "lockprof.toml",
        b"# known\n[[suppress]]\nrule = \"deadlock\"\nsite = \"fixtures/src/bin/abba.rs:21\"\nreason = \"the abba fixture deadlocks on purpose\"\n",
    );
    let abba = workspace().join(ABBA);
    let mut command = lockprof(&["check", abba.to_str().expect("UTF-8 path")]);
    command.current_dir(&scratch.0);
    let ran = run_bounded(command, b"", BOUND);
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    assert!(ran.stdout.contains("(no failing findings; 1 suppressed)"), "{}", ran.show());
    assert!(ran.stdout.contains("  suppressed: deadlock: thread #1"), "{}", ran.show());
    assert!(
        ran.stdout.contains("    reason: the abba fixture deadlocks on purpose (lockprof.toml:2)"),
        "{}",
        ran.show()
    );
    assert!(ran.stdout.ends_with("lockprof check: passed: no failing findings in 1 trace (1 suppressed)\n"));
}

#[test]
fn suppress_names_a_file_and_matches_by_lock_name() {
    let scratch = Scratch::new("suppress-file");
    let by_lock =
        scratch.file("s.toml", b"[[suppress]]\nrule = \"deadlock\"\nlock = \"B\"\nreason = \"known\"\n");
    let ran = check(&["--suppress", &by_lock, ABBA, RING]);
    assert_eq!(ran.code, Some(1), "ring_of_three has no lock B: {}", ran.show());
    assert!(
        ran.stdout.starts_with(&format!("ok   {ABBA} (no failing findings; 1 suppressed)\n")),
        "{}",
        ran.show()
    );
    assert!(ran.stdout.contains(&format!("FAIL {RING} (1 finding: 1 deadlock)")), "{}", ran.show());
}

#[test]
fn a_bad_suppression_file_is_one_line_and_exit_2() {
    let scratch = Scratch::new("suppress-bad");
    let cases: [(&str, &[u8]); 4] = [
        ("no-reason.toml", b"[[suppress]]\nrule = \"deadlock\"\nsite = \"a.rs\"\n"),
        ("typo.toml", b"[[suppress]]\nrule = \"deadlock\"\nsite = \"a.rs\"\nraeson = \"x\"\n"),
        ("not-utf8.toml", b"\xff\xfe"),
        ("unknown-kind.toml", b"[[suppress]]\nrule = \"livelock\"\nlock = \"a\"\nreason = \"x\"\n"),
    ];
    let mut files: Vec<String> = cases.iter().map(|(name, content)| scratch.file(name, content)).collect();
    files.push(scratch.path("missing.toml").to_str().expect("UTF-8").to_owned());
    for file in &files {
        let ran = check(&["--suppress", file, ABBA]);
        assert_eq!(ran.code, Some(2), "{file}: {}", ran.show());
        assert!(ran.stdout.is_empty(), "{file}: {}", ran.show());
        assert_eq!(ran.stderr.lines().count(), 1, "{file}: {}", ran.show());
        assert!(ran.stderr.starts_with(&format!("lockprof: error: {file}")), "{file}: {}", ran.show());
    }
}

// merge

#[test]
fn merge_writes_one_trace_that_check_and_report_read() {
    let scratch = Scratch::new("merge");
    let merged = scratch.path("merged.json");
    let merged = merged.to_str().expect("UTF-8");
    let ran = run_bounded(lockprof(&["merge", ABBA, RING, CLEAN, "-o", merged]), b"", BOUND);
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    assert!(ran.stdout.is_empty(), "{}", ran.show());
    assert!(ran.stderr.starts_with("lockprof merge: merged 3 traces ("), "{}", ran.show());
    let trace = load(std::path::Path::new(merged)).expect("the merged trace loads");
    assert_eq!(trace.process.pid, 0);
    assert_eq!(trace.process.command, ["lockprof merge", ABBA, RING, CLEAN]);
    assert_eq!(trace.deadlocks.len(), 2);

    let ran = check(&[merged]);
    assert_eq!(ran.code, Some(1), "{}", ran.show());
    assert!(ran.stdout.contains("(2 findings: 2 deadlock)"), "{}", ran.show());
    let ran = run_bounded(lockprof(&["report", merged]), b"", BOUND);
    assert_eq!(ran.code, Some(0), "{}", ran.show());

    // Without -o, the merged trace is the output.
    let ran = run_bounded(lockprof(&["merge", ABBA]), b"", BOUND);
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    let alone = lockprof_trace::load::parse(ran.stdout.as_bytes()).expect("a trace on stdout");
    assert_eq!(alone.deadlocks.len(), 1);
}

#[test]
fn merge_with_a_bad_input_writes_nothing() {
    let scratch = Scratch::new("merge-bad");
    let out = scratch.path("merged.json");
    let ran = run_bounded(
        lockprof(&["merge", ABBA, "fixtures/bad-input/truncated.json", "-o", out.to_str().expect("UTF-8")]),
        b"",
        BOUND,
    );
    assert_eq!(ran.code, Some(2), "{}", ran.show());
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.show());
    assert!(ran.stderr.starts_with("lockprof: error: fixtures/bad-input/truncated.json: "), "{}", ran.show());
    assert!(!out.exists());
}
