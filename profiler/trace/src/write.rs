//! Writing a trace file: atomically (a temporary file in the same directory, then a rename).

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::schema::Trace;

/// Serialises `trace` to a temporary file beside `path` and renames it over `path`, so a reader
/// sees either the previous complete trace or the new one, never a partial file.
pub fn write_atomically(path: &Path, trace: &Trace) -> std::io::Result<()> {
    // One writer at a time: the deadlock write and the exit write may race.
    static WRITING: Mutex<()> = Mutex::new(());
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let _one = WRITING.lock().unwrap_or_else(|e| e.into_inner());

    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = path.with_file_name(format!(
        ".{file_name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        serde_json::to_writer_pretty(&mut file, trace)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}
