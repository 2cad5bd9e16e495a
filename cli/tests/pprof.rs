//! `lockprof pprof`: the gzipped profile read back by a small protobuf decoder of this test's
//! own (not the encoder's code), checked against the trace; and, where Go is installed, by
//! `go tool pprof -raw`, pprof's own reader. Without Go, that part is skipped with a message,
//! unless `LOCKPROF_REQUIRE_GO` is set (as CI sets it), which makes a missing Go a failure.

mod support;

use std::collections::HashMap;
use std::io::Read;
use std::process::Command;
use std::time::Duration;

use lockprof_trace::load::load;
use support::{Ran, Scratch, lockprof, run_bounded, workspace};

const BOUND: Duration = Duration::from_secs(60);
const LONG: &str = "fixtures/traces/hot_counter_long.json";
const SHORT: &str = "fixtures/traces/hot_counter_short.json";
const ABBA: &str = "fixtures/traces/abba.json";

fn run(args: &[&str]) -> Ran {
    run_bounded(lockprof(args), b"", BOUND)
}

// A protobuf decoder: fields as (number, value), nothing of the schema.

#[derive(Debug, Clone)]
enum Value {
    Varint(u64),
    Bytes(Vec<u8>),
}

fn read_varint(bytes: &[u8], at: &mut usize) -> u64 {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = bytes[*at];
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return value;
        }
    }
    panic!("varint longer than ten bytes");
}

fn fields(bytes: &[u8]) -> Vec<(u64, Value)> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < bytes.len() {
        let key = read_varint(bytes, &mut at);
        let value = match key & 7 {
            0 => Value::Varint(read_varint(bytes, &mut at)),
            2 => {
                let len = read_varint(bytes, &mut at) as usize;
                at += len;
                Value::Bytes(bytes[at - len..at].to_vec())
            }
            1 => {
                at += 8;
                Value::Bytes(bytes[at - 8..at].to_vec())
            }
            5 => {
                at += 4;
                Value::Bytes(bytes[at - 4..at].to_vec())
            }
            wire => panic!("wire type {wire} at byte {at}"),
        };
        out.push((key >> 3, value));
    }
    assert_eq!(at, bytes.len(), "a field runs past the end of its message");
    out
}

fn int(value: &Value) -> u64 {
    match value {
        Value::Varint(v) => *v,
        Value::Bytes(_) => panic!("expected a varint, got bytes"),
    }
}

fn bytes(value: &Value) -> &[u8] {
    match value {
        Value::Bytes(b) => b,
        Value::Varint(_) => panic!("expected bytes, got a varint"),
    }
}

/// Repeated integers, packed or not.
fn ints(message: &[(u64, Value)], field: u64) -> Vec<u64> {
    let mut out = Vec::new();
    for (n, value) in message {
        if *n == field {
            match value {
                Value::Varint(v) => out.push(*v),
                Value::Bytes(b) => {
                    let mut at = 0;
                    while at < b.len() {
                        out.push(read_varint(b, &mut at));
                    }
                }
            }
        }
    }
    out
}

fn one(message: &[(u64, Value)], field: u64) -> u64 {
    message.iter().find(|(n, _)| *n == field).map(|(_, v)| int(v)).unwrap_or(0)
}

fn messages(message: &[(u64, Value)], field: u64) -> Vec<Vec<(u64, Value)>> {
    message.iter().filter(|(n, _)| *n == field).map(|(_, v)| fields(bytes(v))).collect()
}

/// A decoded sample: values, frames (innermost first, as `function file:line`) and labels.
#[derive(Debug)]
struct Sample {
    values: Vec<i64>,
    frames: Vec<String>,
    labels: Vec<(String, String)>,
}

#[derive(Debug)]
struct Profile {
    sample_types: Vec<(String, String)>,
    samples: Vec<Sample>,
    default_type: String,
    period_type: (String, String),
}

fn decode(gzipped: &[u8]) -> Profile {
    assert_eq!(&gzipped[..2], [0x1f, 0x8b], "a gzip stream");
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(gzipped).read_to_end(&mut raw).expect("gunzip");
    let profile = fields(&raw);
    let strings: Vec<String> = profile
        .iter()
        .filter(|(n, _)| *n == 6)
        .map(|(_, v)| String::from_utf8(bytes(v).to_vec()).expect("UTF-8 string"))
        .collect();
    assert_eq!(strings.first().map(String::as_str), Some(""), "string_table[0] must be \"\"");
    let s = |i: u64| strings[i as usize].clone();
    let functions: HashMap<u64, (String, String)> =
        messages(&profile, 5).iter().map(|f| (one(f, 1), (s(one(f, 2)), s(one(f, 4))))).collect();
    let locations: HashMap<u64, String> = messages(&profile, 4)
        .iter()
        .map(|l| {
            let lines = messages(l, 4);
            assert_eq!(lines.len(), 1, "one line per location");
            let (name, file) = &functions[&one(&lines[0], 1)];
            (one(l, 1), format!("{name} {file}:{}", one(&lines[0], 2)))
        })
        .collect();
    let value_type = |m: &Vec<(u64, Value)>| (s(one(m, 1)), s(one(m, 2)));
    let samples = messages(&profile, 2)
        .iter()
        .map(|m| Sample {
            values: ints(m, 2).into_iter().map(|v| v as i64).collect(),
            frames: ints(m, 1).iter().map(|id| locations[id].clone()).collect(),
            labels: messages(m, 3)
                .iter()
                .map(|l| (s(one(l, 1)), if one(l, 2) != 0 { s(one(l, 2)) } else { one(l, 3).to_string() }))
                .collect(),
        })
        .collect();
    Profile {
        sample_types: messages(&profile, 1).iter().map(value_type).collect(),
        samples,
        default_type: s(one(&profile, 14)),
        period_type: value_type(&messages(&profile, 11)[0]),
    }
}

fn pprof_of(scratch: &Scratch, trace: &str) -> (Ran, Vec<u8>) {
    let out = scratch.path("contention.pb.gz");
    let ran = run(&["pprof", trace, "-o", out.to_str().expect("UTF-8")]);
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    (ran, std::fs::read(&out).expect("the profile"))
}

#[test]
fn the_profile_has_go_s_sample_types_and_the_trace_s_stacks_and_figures() {
    let scratch = Scratch::new("pprof");
    for path in [LONG, SHORT] {
        let (ran, gzipped) = pprof_of(&scratch, path);
        assert!(ran.stderr.starts_with("lockprof pprof: 1 stack waiting"), "{}", ran.show());
        let profile = decode(&gzipped);
        let types = |pairs: &[(&str, &str)]| {
            pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>()
        };
        assert_eq!(profile.sample_types, types(&[("contentions", "count"), ("delay", "nanoseconds")]));
        assert_eq!(profile.default_type, "delay");
        assert_eq!(profile.period_type, ("contentions".to_string(), "count".to_string()));

        let trace = load(&workspace().join(path)).expect("the trace");
        let contention = trace.contention.as_ref().expect("a profile");
        let expected: Vec<(&str, &lockprof_trace::schema::StackContention)> = contention
            .waiters
            .iter()
            .map(|row| ("waiting", row))
            .chain(contention.holders.iter().map(|row| ("holding", row)))
            .collect();
        assert_eq!(profile.samples.len(), expected.len());
        for (sample, (blame, row)) in profile.samples.iter().zip(expected) {
            assert_eq!(sample.values, [row.count as i64, row.ns as i64], "{path}: {blame} {row:?}");
            let lock = trace.lock(row.lock).expect("the lock");
            let stack = trace.stack(row.stack).expect("the stack");
            let mut frames: Vec<String> = stack
                .frames
                .iter()
                .map(|f| {
                    format!("{} {}:{}", f.function, f.file.as_deref().unwrap_or(""), f.line.unwrap_or(0))
                })
                .collect();
            frames.push(format!(
                "[{blame}] {:?} at {}:{} {}:{}",
                lock.name.as_deref().expect("named"),
                lock.site.file,
                lock.site.line,
                lock.site.file,
                lock.site.line
            ));
            assert_eq!(sample.frames, frames, "{path}: innermost first, the lock's root frame last");
            assert!(sample.labels.contains(&("blame".to_string(), blame.to_string())), "{:?}", sample.labels);
            assert!(
                sample.labels.contains(&("lock_id".to_string(), row.lock.to_string())),
                "{:?}",
                sample.labels
            );
            assert!(
                sample.labels.iter().any(|(k, v)| k == "lock" && v.starts_with("\"hot\" (")),
                "{:?}",
                sample.labels
            );
        }
    }
}

#[test]
fn a_profile_without_contention_is_valid_and_empty_and_no_profile_is_an_error() {
    let scratch = Scratch::new("pprof-empty");
    let mut trace: serde_json::Value =
        serde_json::from_slice(&std::fs::read(workspace().join(LONG)).expect("read")).expect("JSON");
    trace["contention"]["waiters"] = serde_json::json!([]);
    trace["contention"]["holders"] = serde_json::json!([]);
    let quiet = scratch.file("quiet.json", &serde_json::to_vec(&trace).expect("JSON"));
    let (ran, gzipped) = pprof_of(&scratch, &quiet);
    assert!(ran.stderr.contains("no contention"), "{}", ran.show());
    let profile = decode(&gzipped);
    assert!(profile.samples.is_empty());
    assert_eq!(profile.sample_types.len(), 2);

    let out = scratch.path("x.pb.gz");
    let ran = run(&["pprof", ABBA, "-o", out.to_str().expect("UTF-8")]);
    assert_eq!(ran.code, Some(2), "{}", ran.show());
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.show());
    assert!(ran.stderr.contains("no contention profile"), "{}", ran.show());
    assert!(!out.exists(), "no file for a failed run");
    let ran = run(&["pprof", "fixtures/traces/no-such.json", "-o", out.to_str().expect("UTF-8")]);
    assert_eq!(ran.code, Some(2), "{}", ran.show());
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.show());
}

#[test]
fn standard_output_gets_the_profile_when_it_is_not_a_terminal() {
    let mut command = lockprof(&["pprof", LONG]);
    command.stdout(std::process::Stdio::piped());
    let output = command.output().expect("run lockprof");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(decode(&output.stdout).samples.len(), 2);
}

/// pprof's own reader: `go tool pprof -raw` lists the samples with their values and frames.
#[test]
fn go_tool_pprof_reads_it() {
    let has_go = Command::new("go").arg("version").output().is_ok_and(|o| o.status.success());
    if !has_go {
        assert!(
            std::env::var_os("LOCKPROF_REQUIRE_GO").is_none(),
            "LOCKPROF_REQUIRE_GO is set but `go` is not on PATH (apt-get install golang-go)"
        );
        skipped(
            "SKIPPED go_tool_pprof_reads_it: `go` is not on PATH (set LOCKPROF_REQUIRE_GO=1 to require it)",
        );
        return;
    }
    let scratch = Scratch::new("pprof-go");
    let (_, _) = pprof_of(&scratch, LONG);
    let file = scratch.path("contention.pb.gz");
    let mut go = Command::new("go");
    go.args(["tool", "pprof", "-raw"])
        .arg(&file)
        .env("HOME", scratch.str())
        .env("PPROF_TMPDIR", scratch.str());
    let ran = run_bounded(go, b"", Duration::from_secs(120));
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    let raw = &ran.stdout;
    for needle in [
        "contentions/count delay/nanoseconds[dflt]",
        "849  224146521:",
        "742   12526291:",
        "blame:[waiting]",
        "blame:[holding]",
        "hot_counter::bump_hot_counter fixtures/src/bin/hot_counter.rs:37",
        "[waiting] \"hot\" at fixtures/src/bin/hot_counter.rs:56",
        "[FN][FL][LN]",
    ] {
        assert!(raw.contains(needle), "expected {needle:?} in go tool pprof -raw:\n{raw}");
    }
    let mut top = Command::new("go");
    top.args(["tool", "pprof", "-top", "-tagfocus=blame=waiting"]).arg(&file).env("HOME", scratch.str());
    let ran = run_bounded(top, b"", Duration::from_secs(120));
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    assert!(ran.stdout.contains("224.15ms"), "{}", ran.show());
}

/// Says that a check was skipped, on the real standard error: the test harness captures
/// `println!`, so a skip would otherwise pass unseen.
fn skipped(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{message}");
}
