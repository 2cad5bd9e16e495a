//! Reads the frames back out of the text of a resolved [`std::backtrace::Backtrace`].
//!
//! std's `Backtrace` resolves its frames with the symboliser inside libstd, which costs a
//! profiled program no compile time, but it exposes them only as text (`Backtrace::frames` is
//! unstable). Its alternate form (`{:#}`, std's "full" format) is, per frame:
//!
//! ```text
//!    3: 0x55d4c3b1a2b3 - app::transfer::h0123456789abcdef
//!                              at /home/me/app/src/main.rs:12
//!              inlined_callee::h0123456789abcdef
//!                              at /home/me/app/src/lib.rs:40:5
//! ```
//!
//! a numbered line with the address and the name, a line with ` at FILE:LINE` when the debug
//! info has both, and, for a frame that is several inlined functions, one unnumbered name line
//! (and its ` at` line) per inlined function. The full format is read rather than the short one
//! because the short one rewrites paths relative to the current directory, while the trace makes
//! every path relative to one base itself (`trace/paths.rs`).
//!
//! Whatever the text, [`parse`] returns frames and never panics: a line it does not recognise is
//! skipped, and an unsupported or disabled backtrace (`"unsupported backtrace"`) has no frames.

use lockprof_trace::schema::Frame;

/// The frames of `text` (a `{:#}`-formatted `std::backtrace::Backtrace`), innermost first, one
/// per function (an inlined function is a frame of its own, as the debug info has it).
pub(crate) fn parse(text: &str) -> Vec<Frame> {
    let mut frames: Vec<Frame> = Vec::new();
    // Whether the last frame may still take an ` at` line (only the line right after a name).
    let mut open = false;
    for line in text.lines() {
        let line = line.trim();
        if let Some(location) = line.strip_prefix("at ") {
            if let Some(frame) = frames.last_mut().filter(|_| open) {
                let (file, number) = file_and_line(location);
                frame.file = Some(file.to_owned());
                frame.line = number;
            }
            open = false;
        } else if let Some(rest) = numbered(line) {
            frames.push(named(rest));
            open = true;
        } else if !line.is_empty() && !frames.is_empty() {
            // An inlined function of the frame above: a name line without a number.
            frames.push(named(line));
            open = true;
        } else {
            open = false;
        }
    }
    frames
}

/// The rest of `line` after its frame number (`"12: "`), if it starts with one.
fn numbered(line: &str) -> Option<&str> {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    line[digits..].strip_prefix(':').map(str::trim_start)
}

/// A frame named by what follows the frame number: `0xADDRESS - NAME` in the full format, or
/// just `NAME`.
fn named(rest: &str) -> Frame {
    let name = rest.strip_prefix("0x").map_or(rest, |hex| {
        let after = hex.trim_start_matches(|c: char| c.is_ascii_hexdigit()).trim_start();
        after.strip_prefix('-').unwrap_or(rest)
    });
    let name = without_hash(name.trim());
    let function =
        if name.is_empty() || name == "<unknown>" { "??".to_owned() } else { without_disambiguators(name) };
    Frame { function, file: None, line: None }
}

/// `name` without the hash a legacy-mangled symbol carries in the full format
/// (`app::main::h0123456789abcdef` is `app::main`), so names match the short format's.
fn without_hash(name: &str) -> &str {
    match name.rsplit_once("::h") {
        Some((path, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => path,
        _ => name,
    }
}

/// `name` without the crate disambiguators of a v0-mangled symbol in the full format
/// (`<std[e28293b1aa0f68bd]::backtrace::Backtrace>::create` is
/// `<std::backtrace::Backtrace>::create`; libstd's own symbols are v0-mangled): a bracket right
/// after an identifier holding only lowercase hex digits. A slice type (`<[u8]>`) follows no
/// identifier and stays.
fn without_disambiguators(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(open) = rest.find('[') {
        let after_identifier =
            rest[..open].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_');
        let hex = rest[open + 1..].find(']').map(|len| &rest[open + 1..open + 1 + len]);
        match hex {
            Some(hex)
                if after_identifier
                    && !hex.is_empty()
                    && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
            {
                out.push_str(&rest[..open]);
                rest = &rest[open + hex.len() + 2..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `FILE:LINE` (std prints no column; `FILE:LINE:COLUMN` is read too) split into the file and
/// the line. The numbers are taken from the end, so a path with colons (`C:\src\main.rs:7`)
/// keeps them; a location without a number is all file.
fn file_and_line(location: &str) -> (&str, Option<u32>) {
    match trailing_number(location) {
        Some((rest, last)) => match trailing_number(rest) {
            Some((file, line)) => (file, Some(line)),
            None => (rest, Some(last)),
        },
        None => (location, None),
    }
}

/// `s` split before its last `:NUMBER`, if it ends with one after something.
fn trailing_number(s: &str) -> Option<(&str, u32)> {
    let (rest, number) = s.rsplit_once(':')?;
    let digits = !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit());
    if !digits || rest.is_empty() {
        return None;
    }
    Some((rest, number.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(function: &str, file: Option<&str>, line: Option<u32>) -> Frame {
        Frame { function: function.to_owned(), file: file.map(str::to_owned), line }
    }

    #[test]
    fn full_format_frames_with_locations_and_inlined_functions() {
        let text = "   0:     0x55d4c3b1a2b3 - std::backtrace::Backtrace::create::h1a2b3c4d5e6f7081\n\
                    \x20                              at /rustc/abc/library/std/src/backtrace.rs:331:13\n\
                    \x20  1:     0x55d4c3b1a2c0 - app::transfer::h0123456789abcdef\n\
                    \x20                              at /home/me/app/src/main.rs:12\n\
                    \x20                          app::inlined::h0123456789abcdef\n\
                    \x20                              at /home/me/app/src/lib.rs:40\n\
                    \x20  2:     0x7f0000000000 - <unknown>\n\
                    \x20  3:                0x0 - \n";
        assert_eq!(
            parse(text),
            [
                at(
                    "std::backtrace::Backtrace::create",
                    Some("/rustc/abc/library/std/src/backtrace.rs"),
                    Some(331)
                ),
                at("app::transfer", Some("/home/me/app/src/main.rs"), Some(12)),
                at("app::inlined", Some("/home/me/app/src/lib.rs"), Some(40)),
                at("??", None, None),
                at("??", None, None),
            ]
        );
    }

    #[test]
    fn short_format_and_generic_names_keep_their_text() {
        let text = "   0: <lockprof::mutex::Mutex<T> as core::fmt::Debug>::fmt\n             at ./src/x.rs:3:9\n   1: main - 2\n";
        assert_eq!(
            parse(text),
            [
                at("<lockprof::mutex::Mutex<T> as core::fmt::Debug>::fmt", Some("./src/x.rs"), Some(3)),
                at("main - 2", None, None)
            ]
        );
    }

    #[test]
    fn odd_text_gives_no_frames_or_partial_ones_and_never_panics() {
        for text in ["", "disabled backtrace", "unsupported backtrace", "\n\n", "at /a.rs:1", ":", "0:", "12"]
        {
            let frames = parse(text);
            assert!(frames.len() <= 1, "{text:?}: {frames:?}");
            assert!(frames.iter().all(|f| f.file.is_none()), "{text:?}: {frames:?}");
        }
        // A frame without its location, then one whose location has no number.
        let frames =
            parse("   0: 0x1 - a::b\n   1: 0x2 - c::d\n       at /src/weird\n       at /src/second.rs:4\n");
        assert_eq!(frames, [at("a::b", None, None), at("c::d", Some("/src/weird"), None)]);
        // Numbers out of range, empty pieces, colons everywhere.
        let frames = parse("0: x\n at :\n1: y\n at ::99999999999\n2: z\n at a:b:c\n");
        assert_eq!(
            frames,
            [at("x", Some(":"), None), at("y", Some("::99999999999"), None), at("z", Some("a:b:c"), None)]
        );
        // Every prefix of real text parses without panicking (cut mid-line, mid-character).
        let text = "   0: 0x5 - app::é::h0123456789abcdef\n             at C:\\src\\main.rs:7\n";
        for end in (0..=text.len()).filter(|&end| text.is_char_boundary(end)) {
            let _ = parse(&text[..end]);
        }
    }

    #[test]
    fn v0_crate_disambiguators_go_and_slices_stay() {
        let frames = parse(
            "   0: 0x5 - <std[e28293b1aa0f68bd]::backtrace::Backtrace>::create\n\
             \x20  1: 0x6 - <[u8] as app[1f]::Fe>::f::<[abc]>\n\
             \x20  2: 0x7 - a[\n   3: 0x8 - b[]x[12\n",
        );
        let names: Vec<&str> = frames.iter().map(|f| f.function.as_str()).collect();
        assert_eq!(
            names,
            ["<std::backtrace::Backtrace>::create", "<[u8] as app::Fe>::f::<[abc]>", "a[", "b[]x[12"]
        );
    }

    #[test]
    fn windows_paths_keep_their_drive_and_hashes_only_legacy_ones_go() {
        let frames = parse(
            "   0: 0x5 - app::main::h0123456789abcdef\n             at C:\\Users\\me\\app\\src\\main.rs:7\n   1: 0x6 - app::h12\n",
        );
        assert_eq!(
            frames,
            [at("app::main", Some("C:\\Users\\me\\app\\src\\main.rs"), Some(7)), at("app::h12", None, None)]
        );
    }

    #[test]
    fn a_real_backtrace_reads_back_with_this_function_and_its_file() {
        let text = format!("{:#}", std::backtrace::Backtrace::force_capture());
        let frames = parse(&text);
        let here = frames.iter().find(|f| f.function.contains("a_real_backtrace_reads_back"));
        let here = here.unwrap_or_else(|| panic!("this test's frame in {frames:#?}\nfrom\n{text}"));
        // Tests build with debug info: this frame has this file and a line in it.
        assert!(here.file.as_deref().is_some_and(|f| f.ends_with("stack_text.rs")), "{here:?}");
        assert!(here.line.is_some_and(|l| l > 0), "{here:?}");
        assert!(frames.iter().all(|f| without_hash(&f.function) == f.function), "{frames:#?}");
    }
}
