//! The trace writer's rules, on real files: regular files replaced atomically with their
//! permissions, symbolic links written through, devices and FIFOs written directly, full disks
//! and directories reported as errors.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use lockprof_trace::load::load;
use lockprof_trace::schema::{Trace, WriteReason};
use lockprof_trace::write::{write_atomically, write_file};

/// Only a hang reaches it.
const HANG_BOUND: Duration = Duration::from_secs(60);

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("lockprof-trace-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create a scratch directory");
        Scratch(dir)
    }

    fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&self.0)
            .expect("list the scratch directory")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn trace(pid: u32) -> Trace {
    let mut trace = Trace::empty(WriteReason::Exit);
    trace.process.pid = pid;
    trace
}

#[test]
fn a_regular_file_is_replaced_whole_and_keeps_its_permissions() {
    let dir = Scratch::new("regular");
    let path = dir.0.join("t.json");
    write_atomically(&path, &trace(1)).expect("a new file");
    assert_eq!(load(&path).expect("readable").process.pid, 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod");
        write_atomically(&path, &trace(2)).expect("replaced");
        let mode = fs::metadata(&path).expect("the file").permissions().mode() & 0o7777;
        assert_eq!(mode, 0o640, "the replaced file's permissions are kept");
    }
    assert_eq!(load(&path).expect("readable").process.pid, 2);
    // A failed write leaves the old file as it was, and no temporary file.
    let failed = write_file(&path, |w| {
        w.write_all(b"half")?;
        Err(io::Error::other("interrupted"))
    });
    assert!(failed.is_err());
    assert_eq!(load(&path).expect("the old trace").process.pid, 2);
    assert_eq!(dir.entries(), ["t.json"]);
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_is_written_through_and_stays_a_link() {
    let dir = Scratch::new("symlink");
    fs::create_dir(dir.0.join("real")).expect("a directory for the target");
    let target = dir.0.join("real/t.json");
    fs::write(&target, b"old").expect("the target");
    let link = dir.0.join("link.json");
    std::os::unix::fs::symlink("real/t.json", &link).expect("a relative link");
    // A link to a link.
    let link2 = dir.0.join("link2.json");
    std::os::unix::fs::symlink(&link, &link2).expect("a link to the link");

    write_atomically(&link2, &trace(7)).expect("written through two links");
    for l in [&link, &link2] {
        assert!(fs::symlink_metadata(l).expect("the link").file_type().is_symlink(), "{l:?} stays a link");
    }
    assert_eq!(load(&target).expect("the target is the trace").process.pid, 7);
    // The temporary file was made beside the target, and is gone.
    assert_eq!(dir.entries(), ["link.json", "link2.json", "real"]);
    assert_eq!(fs::read_dir(dir.0.join("real")).expect("list").count(), 1);

    // A link to a file that does not exist yet creates it.
    let dangling = dir.0.join("dangling.json");
    std::os::unix::fs::symlink("real/new.json", &dangling).expect("a dangling link");
    write_atomically(&dangling, &trace(8)).expect("written through a dangling link");
    assert!(fs::symlink_metadata(&dangling).expect("the link").file_type().is_symlink());
    assert_eq!(load(&dir.0.join("real/new.json")).expect("created").process.pid, 8);
}

#[cfg(unix)]
#[test]
fn dev_null_is_written_to_and_stays_a_character_device() {
    use std::os::unix::fs::FileTypeExt;
    write_atomically(Path::new("/dev/null"), &trace(1)).expect("/dev/null takes anything");
    let meta = fs::metadata("/dev/null").expect("/dev/null");
    assert!(meta.file_type().is_char_device(), "/dev/null is still a character device: {meta:?}");
    // Nothing was left in /dev (as root, a temporary file there would have succeeded).
    let leftovers: Vec<_> = fs::read_dir("/dev")
        .expect("list /dev")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".null."))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_is_an_error() {
    let error = write_atomically(Path::new("/dev/full"), &trace(1)).expect_err("/dev/full is always full");
    assert_eq!(error.raw_os_error(), Some(28), "ENOSPC: {error}");
    // Also when the output is smaller than the buffer (the final flush fails).
    let error = write_file(Path::new("/dev/full"), |w| w.write_all(b"x")).expect_err("the flush fails");
    assert_eq!(error.raw_os_error(), Some(28), "ENOSPC: {error}");
}

#[test]
fn a_directory_is_refused_and_left_alone() {
    let dir = Scratch::new("directory");
    fs::write(dir.0.join("keep"), b"the user's").expect("a file in it");
    let error = write_atomically(&dir.0, &trace(1)).expect_err("a directory is no trace file");
    assert!(error.to_string().contains("directory"), "{error}");
    assert_eq!(dir.entries(), ["keep"]);
}

#[cfg(unix)]
#[test]
fn a_fifo_with_a_reader_gets_the_trace() {
    use std::os::unix::fs::FileTypeExt;
    let dir = Scratch::new("fifo");
    let fifo = dir.0.join("pipe");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("run mkfifo");
    assert!(made.success());
    let (sent, received) = mpsc::channel();
    let reading = fifo.clone();
    std::thread::spawn(move || {
        // Opening blocks until the writer opens its end; reading ends when it closes it.
        let mut bytes = Vec::new();
        let result = fs::File::open(&reading).and_then(|mut f| f.read_to_end(&mut bytes)).map(|_| bytes);
        let _ = sent.send(result);
    });
    let (wrote, written) = mpsc::channel();
    let writing = fifo.clone();
    std::thread::spawn(move || {
        let _ = wrote.send(write_atomically(&writing, &trace(42)));
    });
    written.recv_timeout(HANG_BOUND).expect("the writer ends").expect("written into the FIFO");
    let bytes = received.recv_timeout(HANG_BOUND).expect("the reader ends").expect("read");
    let read = lockprof_trace::load::parse(&bytes).expect("the reader got a whole trace");
    assert_eq!(read.process.pid, 42);
    assert!(fs::symlink_metadata(&fifo).expect("the FIFO").file_type().is_fifo(), "still a FIFO");
}

#[cfg(target_os = "linux")]
#[test]
fn an_open_file_named_through_proc_is_appended_to_not_replaced() {
    // `lockprof merge -o /dev/stdout >> log`: /dev/stdout is /proc/self/fd/1, a file this process
    // has open; it must neither be replaced (the shell's descriptor would point at a deleted file)
    // nor written over from its start.
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::io::AsRawFd;
    let dir = Scratch::new("proc");
    let log = dir.0.join("log.txt");
    fs::write(&log, b"previous\n").expect("a log with a line in it");
    let inode = fs::metadata(&log).expect("the log").ino();
    let open = fs::OpenOptions::new().append(true).open(&log).expect("open the log");
    let path = PathBuf::from(format!("/proc/self/fd/{}", open.as_raw_fd()));
    write_atomically(&path, &trace(9)).expect("written through /proc");
    drop(open);
    let bytes = fs::read(&log).expect("the log");
    let rest = bytes.strip_prefix(b"previous\n").expect("the log's line is kept, at its start");
    assert_eq!(lockprof_trace::load::parse(rest).expect("then the trace").process.pid, 9);
    assert_eq!(fs::metadata(&log).expect("the log").ino(), inode, "the same file, not a replacement");
    assert_eq!(dir.entries(), ["log.txt"]);
}
