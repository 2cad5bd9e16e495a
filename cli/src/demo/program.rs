//! Where `lockprof demo` finds the program it runs: `lockprof-demo` (in the fixtures package,
//! `fixtures/src/bin/lockprof-demo.rs`), a program that links the `lockprof` lock crate as any
//! user's program would. The CLI does not link it itself.
//!
//! In order: `LOCKPROF_DEMO_PROGRAM` if set; `lockprof-demo` beside this executable (where a
//! `cargo build --workspace` puts it); otherwise it is built with cargo from the source tree this
//! CLI was built from (a clone, for `cargo run -p lockprof-cli -- demo` and for
//! `cargo install --path cli`), and cargo says where the program is.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Error;

/// The demo program's name.
pub const NAME: &str = "lockprof-demo";

/// The demo program, built first if need be.
pub fn find_or_build() -> Result<PathBuf, Error> {
    if let Some(path) = std::env::var_os("LOCKPROF_DEMO_PROGRAM") {
        return Ok(PathBuf::from(path));
    }
    let file = format!("{NAME}{}", std::env::consts::EXE_SUFFIX);
    if let Some(beside) = std::env::current_exe().ok().and_then(|exe| exe.parent().map(|dir| dir.join(&file)))
    {
        if beside.is_file() {
            return Ok(beside);
        }
    }
    build()
}

/// Builds the program with cargo from this CLI's source tree, in the profile of this CLI.
fn build() -> Result<PathBuf, Error> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("Cargo.toml");
    if !manifest.is_file() {
        return Err(Error::Demo(format!(
            "cannot find the demo program `{NAME}`: put it beside lockprof (cargo build -p lockprof-fixtures --bin {NAME}) or name it in LOCKPROF_DEMO_PROGRAM"
        )));
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(["build", "--quiet", "--message-format=json", "-p", "lockprof-fixtures", "--bin", NAME])
        .arg("--manifest-path")
        .arg(&manifest)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    let output = command
        .output()
        .map_err(|e| Error::Demo(format!("cannot run cargo to build the demo program `{NAME}`: {e}")))?;
    if !output.status.success() {
        return Err(Error::Demo(format!(
            "cargo could not build the demo program `{NAME}` ({})",
            output.status
        )));
    }
    executable_in(&output.stdout)
        .ok_or_else(|| Error::Demo(format!("cargo built the demo program `{NAME}` but did not say where")))
}

/// The executable of the `lockprof-demo` artifact in cargo's JSON messages.
fn executable_in(messages: &[u8]) -> Option<PathBuf> {
    String::from_utf8_lossy(messages)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == NAME)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_executable_is_read_from_cargos_messages() {
        let messages =
            br#"{"reason":"compiler-artifact","target":{"name":"lockprof"},"executable":"/t/lockprof"}
{"reason":"compiler-artifact","target":{"name":"lockprof-demo"},"executable":"/t/lockprof-demo"}
{"reason":"build-finished","success":true}"#;
        assert_eq!(executable_in(messages), Some(PathBuf::from("/t/lockprof-demo")));
        assert_eq!(executable_in(b"{\"reason\":\"build-finished\"}"), None);
    }
}
