//! What lockprof adds to inferno's flamegraphs, read back from the SVG: the root bar of
//! `flamegraph` and `diff` is labelled (not blank), and a `diff` from a contended trace to its
//! fix draws the stacks that vanished (from BEFORE, in blue) as well as the new ones (red).

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{Ran, Scratch, lockprof, run_bounded, workspace};

const LONG: &str = "fixtures/traces/hot_counter_long.json";
const SHORT: &str = "fixtures/traces/hot_counter_short.json";

fn ok(args: &[&str]) -> Ran {
    let ran = run_bounded(lockprof(args), b"", Duration::from_secs(60));
    assert_eq!(ran.code, Some(0), "lockprof {args:?}: {}", ran.show());
    ran
}

/// A frame of the SVG: its tooltip, text, fill colour and width (`fg:w`, in the profile's unit).
#[derive(Debug)]
struct Bar {
    title: String,
    text: String,
    fill: (u8, u8, u8),
    width: u64,
}

fn bars(svg: &str) -> Vec<Bar> {
    let options = roxmltree::ParsingOptions { allow_dtd: true, ..roxmltree::ParsingOptions::default() };
    let doc = roxmltree::Document::parse_with_options(svg, options).expect("well-formed SVG");
    let frames = doc.descendants().find(|n| n.attribute("id") == Some("frames")).expect("the frames");
    frames
        .children()
        .filter(|g| g.has_tag_name("g"))
        .map(|g| {
            let child = |name: &str| g.children().find(|c| c.has_tag_name(name)).expect(name);
            let rect = child("rect");
            let fill = rect.attribute("fill").expect("fill");
            let rgb: Vec<u8> = fill
                .trim_start_matches("rgb(")
                .trim_end_matches(')')
                .split(',')
                .map(|c| c.trim().parse().expect("a colour component"))
                .collect();
            Bar {
                title: child("title").text().unwrap_or_default().to_owned(),
                text: child("text").text().unwrap_or_default().to_owned(),
                fill: (rgb[0], rgb[1], rgb[2]),
                width: rect
                    .attributes()
                    .find(|a| a.name() == "w")
                    .expect("fg:w")
                    .value()
                    .parse()
                    .expect("a width"),
            }
        })
        .collect()
}

fn bar<'b>(bars: &'b [Bar], title_starts: &str) -> &'b Bar {
    bars.iter()
        .find(|b| b.title.starts_with(title_starts))
        .unwrap_or_else(|| panic!("no bar titled {title_starts:?} in {bars:#?}"))
}

fn is_blue(fill: (u8, u8, u8)) -> bool {
    fill.2 == 255 && fill.0 < 255
}

fn is_red(fill: (u8, u8, u8)) -> bool {
    fill.0 == 255 && fill.2 < 255
}

#[test]
fn the_flamegraph_s_root_bar_says_what_it_is() {
    let svg = ok(&["flamegraph", LONG]).stdout;
    let bars = bars(&svg);
    let root = bar(&bars, "all lock waits in fixtures/traces/hot_counter_long.json (");
    assert_eq!(root.text, "all lock waits in fixtures/traces/hot_counter_long.json");
    assert_eq!(root.width, 224_146_521);
    assert!(
        bars.iter().all(|b| !b.text.is_empty() || b.width < root.width / 10),
        "no blank wide bar: {bars:#?}"
    );
    let holders = self::bars(&ok(&["flamegraph", LONG, "--blame", "holder"]).stdout);
    assert!(holders.iter().any(|b| b.text.starts_with("all contended holds in ")), "{holders:#?}");
}

/// The natural direction: BEFORE contended, AFTER fixed, with the waiting stack replaced by
/// another. The old stack is drawn from BEFORE, blue, as wide as it was; the new one red.
#[test]
fn a_diff_to_the_fix_draws_what_vanished_in_blue_and_what_is_new_in_red() {
    let scratch = Scratch::new("flame-diff");
    let mut trace: Value =
        serde_json::from_slice(&std::fs::read(workspace().join(SHORT)).expect("read")).expect("JSON");
    for stack in trace["stacks"].as_array_mut().expect("stacks") {
        stack["frames"][0]["function"] = Value::from("hot_counter::bump_outside_the_lock");
    }
    let fixed = scratch.file("fixed.json", &serde_json::to_vec(&trace).expect("JSON"));
    let svg = scratch.path("diff.svg");
    let ran = ok(&["diff", LONG, &fixed, "-o", svg.to_str().expect("UTF-8")]);
    assert!(ran.stderr.contains("1 stack before, 1 stack after"), "{}", ran.show());
    let bars = bars(&std::fs::read_to_string(&svg).expect("the SVG"));

    let root = bar(&bars, "all lock waits in fixtures/traces/hot_counter_long.json → ");
    assert!(root.text.starts_with("all lock waits in "), "{root:?}");

    // inferno colours a differential by its leaves (the frames above are white): the lock.
    let vanished = bar(&bars, "[vanished: as wide as in BEFORE] (");
    assert_eq!(vanished.width, 224_146_521, "as wide as BEFORE's wait");
    assert_eq!(bar(&bars, "hot_counter::bump_hot_counter (").width, 224_146_521);
    let short_wait = trace["contention"]["waiters"][0]["ns"].as_u64().expect("ns");
    assert_eq!(
        bar(&bars, "hot_counter::bump_outside_the_lock (").width,
        short_wait,
        "as wide as AFTER's wait"
    );
    let leaves: Vec<&Bar> = bars.iter().filter(|b| b.title.starts_with("lock: \"hot\" (")).collect();
    assert_eq!(leaves.len(), 2, "{leaves:#?}");
    let old = leaves.iter().find(|b| b.width == 224_146_521).expect("the vanished stack's leaf");
    assert!(is_blue(old.fill), "{old:?}");
    let new = leaves.iter().find(|b| b.width == short_wait).expect("the new stack's leaf");
    assert!(is_red(new.fill), "{new:?}");
    assert_eq!(root.width, 224_146_521 + short_wait);
}

/// A fix that leaves no contention at all: everything vanished, all of it drawn, in blue.
#[test]
fn a_diff_to_a_trace_without_waits_draws_everything_that_vanished() {
    let scratch = Scratch::new("flame-gone");
    let mut trace: Value =
        serde_json::from_slice(&std::fs::read(workspace().join(SHORT)).expect("read")).expect("JSON");
    trace["contention"]["waiters"] = Value::Array(Vec::new());
    let calm = scratch.file("calm.json", &serde_json::to_vec(&trace).expect("JSON"));
    let svg = scratch.path("diff.svg");
    ok(&["diff", LONG, &calm, "-o", svg.to_str().expect("UTF-8"), "--normalize"]);
    let found = bars(&std::fs::read_to_string(&svg).expect("the SVG"));
    let old = bar(&found, "lock: \"hot\" (");
    assert!(is_blue(old.fill), "{old:?}");
    assert_eq!(old.width, 224_146_521, "not normalised to an empty AFTER");
    assert!(found.iter().any(|b| b.title.starts_with("hot_counter::bump_hot_counter (")), "{found:#?}");
    // The same stacks both ways: nothing vanished, no [vanished] tower.
    let same = scratch.path("same.svg");
    ok(&["diff", LONG, SHORT, "-o", same.to_str().expect("UTF-8")]);
    let same = bars(&std::fs::read_to_string(&same).expect("the SVG"));
    assert!(same.iter().all(|b| !b.title.starts_with("[vanished")), "{same:#?}");
    assert!(is_blue(bar(&same, "lock: \"hot\" (").fill));
}
