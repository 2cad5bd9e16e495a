//! `lockprof report --format html`: the page's content and self-containment, checked in its
//! text; and, where Chromium is installed, the page loaded in headless Chromium: it renders, its
//! script runs (it marks the page ready and logs one message), nothing logs an error to the
//! console, and each cycle's SVG is in the DOM. Without Chromium that part is skipped with a
//! message, unless `LOCKPROF_REQUIRE_BROWSER` is set (as CI sets it).

mod support;

use std::process::Command;
use std::time::Duration;

use support::{Ran, Scratch, lockprof, run_bounded, workspace};

const BOUND: Duration = Duration::from_secs(120);
const ABBA: &str = "fixtures/traces/abba.json";
const LONG: &str = "fixtures/traces/hot_counter_long.json";
const CREDIT: &str = "fixtures/traces/credit_audit.json";
const RING: &str = "fixtures/traces/ring_of_three.json";

fn html(trace: &str) -> String {
    let ran = run_bounded(lockprof(&["report", trace, "--format", "html"]), b"", BOUND);
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    assert!(ran.stdout.starts_with("<!DOCTYPE html>\n"), "{}", ran.show());
    assert!(ran.stdout.trim_end().ends_with("</html>"), "{}", ran.show());
    ran.stdout
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let mut out = Vec::new();
    for chunk in text.as_bytes().chunks(4) {
        let pad = chunk.iter().filter(|&&c| c == b'=').count();
        let n = chunk.iter().filter(|&&c| c != b'=').fold(0u32, |n, &c| (n << 6) | value(c)) << (6 * pad);
        out.extend_from_slice(&n.to_be_bytes()[1..4 - pad]);
    }
    out
}

/// Nothing on the page is fetched: no stylesheet or script links, no remote sources.
fn assert_self_contained(page: &str) {
    for needle in ["<link", "@import", "src=\"http", "href=\"http", "url(http", "src=\"//", "<script src"] {
        assert!(!page.contains(needle), "{needle:?} in the page");
    }
    for (at, _) in page.match_indices(" src=\"") {
        assert!(page[at + 6..].starts_with("data:"), "a src that is not inline: {}", &page[at..at + 60]);
    }
}

#[test]
fn a_deadlock_is_drawn_with_its_sites_and_source_lines() {
    let page = html(ABBA);
    assert_self_contained(&page);
    assert!(
        page.contains("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"ring\" id=\"deadlock-1-cycle\"")
    );
    assert_eq!(page.matches("class=\"edge deadlock\"").count(), 4, "two waits and two holds");
    assert!(page.contains("<ellipse"), "threads");
    assert!(page.contains("lock #2 &quot;B&quot;"), "lock labels");
    assert!(page.contains("mutex created at abba.rs:11:22"), "creation sites in the drawing");
    // Sites with their source lines (read from the workspace, where lockprof runs).
    assert!(page.contains("<code class=\"site\">fixtures/src/bin/abba.rs:21:36</code>"), "sites");
    assert!(
        page.contains("<span class=\"lineno\">21</span>let mut second = b.lock().unwrap(); // ACQ ab-second"),
        "source lines"
    );
    assert!(page.contains("class=\"badge fail\">1 failing"), "the verdict");
}

#[test]
fn lock_order_cycles_contention_and_the_flamegraph_are_on_the_page() {
    let page = html(CREDIT);
    assert!(page.contains("id=\"order-1-cycle\""), "the potential deadlock's cycle");
    assert!(page.contains("class=\"edge potential\""));
    assert!(!page.contains("id=\"contention-table\""), "no profile, no table");

    let page = html(LONG);
    assert_self_contained(&page);
    assert!(page.contains("<table class=\"sortable\" id=\"contention-table\">"));
    assert!(page.contains("<td data-value=\"224146521\">224.15 ms</td>"), "wait, sortable by its value");
    let start = page.find("src=\"data:image/svg+xml;base64,").expect("the flamegraph") + 31;
    let end = start + page[start..].find('"').expect("its end");
    let svg = String::from_utf8(base64_decode(&page[start..end])).expect("UTF-8 SVG");
    assert!(svg.contains("all lock waits in fixtures/traces/hot_counter_long.json"), "the labelled root");
    assert!(svg.contains("hot_counter::bump_hot_counter"));
}

#[test]
fn crafted_names_are_escaped_and_the_file_is_written_whole() {
    let scratch = Scratch::new("html");
    let mut trace: serde_json::Value =
        serde_json::from_slice(&std::fs::read(workspace().join(ABBA)).expect("read")).expect("JSON");
    trace["locks"][0]["name"] = serde_json::Value::from("<script>alert(1)</script>&\"");
    trace["threads"][0]["name"] = serde_json::Value::from("</svg><img src=x>");
    let crafted = scratch.file("crafted.json", &serde_json::to_vec(&trace).expect("JSON"));
    let out = scratch.path("report.html");
    let ran = run_bounded(
        lockprof(&["report", &crafted, "--format", "html", "-o", out.to_str().expect("UTF-8")]),
        b"",
        BOUND,
    );
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    assert!(ran.stdout.is_empty(), "{}", ran.show());
    let page = std::fs::read_to_string(&out).expect("the page");
    assert!(!page.contains("<script>alert"), "a name became markup");
    assert!(!page.contains("<img"), "a name became markup");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&amp;"), "{page}");
    assert_self_contained(&page);
    // Text and JSON go to -o too.
    let text = scratch.path("report.txt");
    let ran = run_bounded(lockprof(&["report", ABBA, "-o", text.to_str().expect("UTF-8")]), b"", BOUND);
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    assert!(std::fs::read_to_string(&text).expect("the text").starts_with("lockprof report: "));

    let missing = scratch.path("missing.json");
    let ran = run_bounded(
        lockprof(&[
            "report",
            missing.to_str().expect("UTF-8"),
            "--format",
            "html",
            "-o",
            out.to_str().expect("UTF-8"),
        ]),
        b"",
        BOUND,
    );
    assert_eq!(ran.code, Some(2), "{}", ran.show());
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.show());
}

/// Sorts the contention table by clicking its headers, logging `sorted: ORDER LOCKS` each time.
const SORT_PROBE: &str = r##"<script>
(function () {
  var headers = document.querySelectorAll("#contention-table thead th");
  function log(th) {
    var locks = Array.prototype.map.call(
      document.querySelectorAll("#contention-table tbody tr td:first-child b"),
      function (b) { return JSON.parse(b.textContent.split(" ")[1]); }); // "#1 \"hot\" (src/...)"
    console.log("sorted: " + th.getAttribute("aria-sort") + " " + locks.join(","));
  }
  headers[2].click(); log(headers[2]);
  headers[2].click(); log(headers[2]);
  headers[0].click(); log(headers[0]);
})();
</script></body>"##;

/// The Chromium on PATH, if any.
fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|name| Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success()))
}

/// Loads `page` in headless Chromium: the DOM after its scripts ran, and Chromium's log.
fn load_in_chromium(browser: &str, scratch: &Scratch, name: &str, page: &str) -> Ran {
    let file = scratch.file(&format!("{name}.html"), page.as_bytes());
    let profile = scratch.path(&format!("{name}-profile"));
    let mut command = Command::new(browser);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("file://{file}"));
    run_bounded(command, b"", BOUND)
}

#[test]
fn chromium_renders_every_page_without_console_errors() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("LOCKPROF_REQUIRE_BROWSER").is_none(),
            "LOCKPROF_REQUIRE_BROWSER is set but no Chromium is on PATH (apt-get install chromium)"
        );
        skipped(
            "SKIPPED chromium_renders_every_page_without_console_errors: no chromium on PATH (set LOCKPROF_REQUIRE_BROWSER=1 to require it)",
        );
        return;
    };
    let scratch = Scratch::new("html-chromium");
    for (trace, cycles) in [
        (ABBA, &["deadlock-1-cycle"][..]),
        (RING, &["deadlock-1-cycle"][..]),
        (CREDIT, &["order-1-cycle"][..]),
        (LONG, &[][..]),
    ] {
        let name = trace.rsplit('/').next().expect("a name").trim_end_matches(".json");
        let mut page = html(trace);
        if trace == LONG {
            // Click the acquisitions header twice and the lock header once, as a reader would,
            // and log the order of the rows each time.
            page = page.replace("</body>", SORT_PROBE);
        }
        let ran = load_in_chromium(browser, &scratch, name, &page);
        assert_eq!(ran.code, Some(0), "{trace}: {}", ran.show());
        let dom = &ran.stdout;
        assert!(
            dom.contains("data-report=\"ready\""),
            "{trace}: the page's script did not run: {}",
            ran.show()
        );
        for cycle in cycles {
            assert!(
                dom.contains(&format!("class=\"ring\" id=\"{cycle}\"")),
                "{trace}: the cycle's SVG {cycle} is not in the DOM"
            );
        }
        let console: Vec<&str> = ran.stderr.lines().filter(|l| l.contains("CONSOLE")).collect();
        if trace == LONG {
            assert!(dom.contains("data-sortable=\"ready\""), "the table's sorting was not set up");
            for expected in [
                "\"sorted: descending hot,cold\"",
                "\"sorted: ascending cold,hot\"",
                "\"sorted: ascending cold,hot\"",
            ] {
                assert!(console.iter().any(|l| l.contains(expected)), "{expected} not logged: {console:#?}");
            }
        }
        let console: Vec<&str> = console.into_iter().filter(|l| !l.contains("\"sorted: ")).collect();
        assert!(
            console.iter().any(|l| l.contains("\"lockprof report: ready\"")),
            "{trace}: the page's console message was not captured, so errors would not be either: {}",
            ran.show()
        );
        let errors: Vec<&&str> =
            console.iter().filter(|l| !l.contains("\"lockprof report: ready\"")).collect();
        assert!(errors.is_empty(), "{trace}: console messages: {errors:#?}");
        assert!(!ran.stderr.contains("Uncaught"), "{trace}: {}", ran.show());
    }
}

/// Says that a check was skipped, on the real standard error: the test harness captures
/// `println!`, so a skip would otherwise pass unseen.
fn skipped(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{message}");
}
