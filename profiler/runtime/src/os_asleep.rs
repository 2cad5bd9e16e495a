//! Whether the whole process is asleep for good, as the operating system shows it: every thread
//! (but the one asking) blocked in a wait that only a thread of this process could end.
//!
//! This is what makes a deadlock among *tasks* provable. A task is not a thread: while one of its
//! futures waits for a lock, another future of the same task (a `join!` branch, a `select!`
//! loser kept alive, a `FuturesUnordered` member) may hold a guard of the cycle and be woken by
//! a timer, a socket or a signal, and release it. Nothing in tokio's public API tells these apart
//! when the cycle closes. What can be shown instead is that *nothing will ever run again*: then no
//! future is polled, no guard is dropped, and every published wait is permanent.
//!
//! # What is accepted as asleep for good (Linux, x86_64 and aarch64)
//!
//! A thread is read from `/proc/self/task/TID/syscall` (which succeeds only for a thread that is
//! off the processor and blocked: the kernel waits for it to be inactive and checks that its
//! switch count did not change while it read the registers). Its wait must be one of:
//! - `futex` `FUTEX_WAIT` or `FUTEX_WAIT_BITSET` with no timeout, on a *private* futex (the flag,
//!   or an address in a private anonymous mapping, as glibc's `pthread_join` uses: a private
//!   *file* mapping is not enough, since a page of it not yet written is keyed by the file, which
//!   another process can map and wake): only a thread sharing this process's memory can wake
//!   it. std's and parking_lot's locks, condition variables, `park`, and tokio's idle workers
//!   wait so;
//! - `epoll_wait`/`epoll_pwait` with an infinite timeout (or `epoll_pwait2` with none), on an
//!   epoll set whose every member is an eventfd, or a connected Unix socket whose peer this
//!   process made (`SO_PEERCRED`) and has open now (the kernel's socket diagnostics name the
//!   peer's inode, which must be among `/proc/self/fd`'s sockets), and not a listening one:
//!   tokio's I/O driver parked with no timer due waits so (its waker is an eventfd; its signal
//!   driver's is a socket pair). The set's `fdinfo` names each member by the descriptor number it was registered under, which may name
//!   another file since (closed, its file kept alive by a duplicate, the number reused): each
//!   number must still name the watched file, by its inode and by `kcmp(KCMP_EPOLL_TFD)`.
//!
//! Anything else (a timed wait, `nanosleep`, `read`, `accept`, `poll`, `wait4`, a socket to
//! another process, a pipe, a timerfd, a running thread) means "not asleep for good", and so do
//! these process-wide conditions: a signal handler other than std's `SIGSEGV`/`SIGBUS` ones
//! and glibc's two internal ones (`SigCgt`: a handler may run on a signal from outside and wake
//! anyone), `SIGCHLD` ignored or flagged `SA_NOCLDWAIT`, or a child process (which may hold an
//! end of a socket pair, or an eventfd).
//!
//! # Why "asleep for good" is never claimed falsely
//!
//! The check reads the thread list, then three passes over every listed thread but itself: (A)
//! the state (`S`) and the voluntary and involuntary switch counts from `status`; (B) the wait
//! from `syscall`; (C) the state and the counts again; then the list again, and the children.
//!
//! For each thread `X`, with reads `a_X < b_X < c_X`: its counts did not change between `a_X` and
//! `c_X`, and it was blocked at `b_X`. Had it run at any moment of `[a_X, b_X]`, it would have had
//! to switch out again, voluntarily, to be blocked at `b_X`, which counts; so it was blocked
//! throughout `[a_X, b_X]`, in the one wait read at `b_X` (a thread changes its wait only by
//! running). Every pass-A read precedes every pass-B read, so at any instant `t` between the last
//! `a` and the first `b`, every listed thread was blocked in the wait read for it. A thread not
//! listed at `t` was created by a thread running before `t`: it would still be alive (nothing runs
//! after `t` to end it, see below) and in the second list, which equals the first.
//!
//! After `t`, the first thread to run again would have to be woken by something other than a
//! thread of the process (none runs): a futex wake from another process (impossible on a private
//! futex), a timeout (none), a signal (no handler but std's fault handlers, which return to a
//! wait that retries, and glibc's internal ones, which only a running thread of the process
//! sends; a default action ends the process), or an event on a member of an
//! epoll set. An eventfd and a socket pair are written by the threads holding them: this
//! process's, and no child's (there is none, and `SIGCHLD` is not ignored, so a child that exited
//! would stay listed as a zombie). So nothing runs after `t`: the process is asleep for good.
//!
//! The asking thread is the profiler's watchdog, which runs no user code and holds nothing a user
//! thread could wait for while it asks; it is the only thread left out.
//!
//! Stated assumptions (the kind no check can see): no other process writes this process's memory
//! or acts on its descriptors (a debugger, `process_vm_writev`, an eventfd or socket end passed
//! away over `SCM_RIGHTS` or `pidfd_getfd`, or inherited by a process that outlived the child
//! that started it, a grandchild, which `children` does not list: an eventfd, or a socket end of
//! which this process kept a copy), no eventfd is signalled by the kernel on its own (Linux AIO
//! completions, io_uring, KVM), and no signal is sent from outside to glibc's internal handlers (they return, but an `epoll_wait` they interrupt returns
//! `EINTR`: tokio's driver only parks again). Where `kcmp` is not allowed (see above), an epoll
//! member's number reused by an eventfd while the member is another anonymous-inode file (a
//! timerfd, say) is not seen either; nor, without Unix socket diagnostics (`CONFIG_UNIX_DIAG`),
//! a socket's peer held only by another process.

/// Whether every thread of the process but the calling one is asleep for good (see the module
/// docs). `false` wherever that cannot be shown, including every platform but Linux on x86_64
/// and aarch64.
pub(crate) fn all_others_asleep_for_good() -> bool {
    imp::confirm().unwrap_or(false)
}

/// One thread's scheduling state as `/proc/…/status` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sched {
    sleeping: bool,
    switches: u64,
}

fn parse_status(text: &str) -> Option<Sched> {
    let mut state = None;
    let mut switches = 0u64;
    let mut counted = 0;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        match key {
            "State" => state = value.chars().next(),
            "voluntary_ctxt_switches" | "nonvoluntary_ctxt_switches" => {
                switches = switches.checked_add(value.parse::<u64>().ok()?)?;
                counted += 1;
            }
            _ => {}
        }
    }
    (counted == 2).then_some(Sched { sleeping: state? == 'S', switches })
}

/// A process-wide mask (`SigCgt:` and the like) from `/proc/self/status`.
fn parse_mask(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    u64::from_str_radix(line[key.len()..].trim(), 16).ok()
}

/// The bits of `SIGBUS` (7) and `SIGSEGV` (11) in a signal mask, std's stack-overflow handlers,
/// and of glibc's internal 32 and 33 (`SIGCANCEL`, `SIGSETXID`), which only a thread of the
/// process sends (`pthread_cancel`, `setuid`).
const STD_HANDLERS: u64 = (1 << (7 - 1)) | (1 << (11 - 1)) | (1 << (32 - 1)) | (1 << (33 - 1));
/// The bit of `SIGCHLD` (17).
const SIGCHLD_BIT: u64 = 1 << (17 - 1);

/// Whether no signal can run code in the process nor reap a child unseen.
fn signals_quiet(status: &str) -> Option<bool> {
    let caught = parse_mask(status, "SigCgt:")?;
    let ignored = parse_mask(status, "SigIgn:")?;
    Some(caught & !STD_HANDLERS == 0 && ignored & SIGCHLD_BIT == 0)
}

/// A blocked thread's system call and its six arguments, from `/proc/…/syscall`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Syscall {
    nr: i64,
    args: [u64; 6],
}

fn parse_syscall(text: &str) -> Option<Syscall> {
    let mut words = text.split_whitespace();
    let nr: i64 = words.next()?.parse().ok()?;
    if nr < 0 {
        return None; // blocked outside a system call, or "running"
    }
    let mut args = [0u64; 6];
    for arg in &mut args {
        *arg = u64::from_str_radix(words.next()?.strip_prefix("0x")?, 16).ok()?;
    }
    Some(Syscall { nr, args })
}

/// The system call numbers the check understands.
struct Numbers {
    futex: i64,
    epoll_wait: Option<i64>,
    epoll_pwait: i64,
    epoll_pwait2: i64,
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
const NUMBERS: Option<Numbers> =
    Some(Numbers { futex: 202, epoll_wait: Some(232), epoll_pwait: 281, epoll_pwait2: 441 });
#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
const NUMBERS: Option<Numbers> =
    Some(Numbers { futex: 98, epoll_wait: None, epoll_pwait: 22, epoll_pwait2: 441 });
#[cfg(not(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64"))))]
const NUMBERS: Option<Numbers> = None;

/// A wait that only a thread of the process can end, pending the checks of its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sleep {
    /// An untimed futex wait; `private`: flagged so (else its address must be in private memory).
    Futex { addr: u64, private: bool },
    /// An untimed epoll wait on this epoll descriptor.
    Epoll { epfd: i32 },
}

const FUTEX_WAIT: u64 = 0;
const FUTEX_WAIT_BITSET: u64 = 9;
const FUTEX_PRIVATE_FLAG: u64 = 128;
const FUTEX_CLOCK_REALTIME: u64 = 256;

fn classify(call: Syscall, numbers: &Numbers) -> Option<Sleep> {
    let [a0, a1, _, a3, _, _] = call.args;
    if call.nr == numbers.futex {
        let command = a1 & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
        let untimed = a3 == 0;
        return ((command == FUTEX_WAIT || command == FUTEX_WAIT_BITSET) && untimed)
            .then_some(Sleep::Futex { addr: a0, private: a1 & FUTEX_PRIVATE_FLAG != 0 });
    }
    let epfd = i32::try_from(a0).ok()?;
    if Some(call.nr) == numbers.epoll_wait || call.nr == numbers.epoll_pwait {
        // The timeout is an `int`: negative is infinite.
        return ((a3 as u32 as i32) < 0).then_some(Sleep::Epoll { epfd });
    }
    if call.nr == numbers.epoll_pwait2 {
        return (a3 == 0).then_some(Sleep::Epoll { epfd });
    }
    None
}

/// The items of an epoll set, from `/proc/self/fdinfo/EPFD`: each one's descriptor number *at
/// registration* and the inode of the file it watches. The number may name another file now (the
/// registered one closed while a duplicate keeps its file, and thus the item, alive; the number
/// reused), so the caller checks that it still names the watched file.
fn parse_epoll_targets(fdinfo: &str) -> Option<Vec<(i32, u64)>> {
    fdinfo
        .lines()
        .filter_map(|l| l.strip_prefix("tfd:"))
        .map(|rest| {
            let fd = rest.split_whitespace().next()?.parse().ok()?;
            let ino = rest.split_whitespace().find_map(|w| w.strip_prefix("ino:"))?;
            Some((fd, u64::from_str_radix(ino, 16).ok()?))
        })
        .collect()
}

/// Whether `addr` lies in a private *anonymous* mapping, from `/proc/self/maps`. A private file
/// mapping is not enough: until a page of it is written, a shared futex there is keyed by the
/// file's page, which another process mapping the file can wake.
fn in_private_mapping(maps: &str, addr: u64) -> bool {
    maps.lines().any(|line| {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else { return false };
        let (Some(_offset), Some(_device), Some(inode)) = (fields.next(), fields.next(), fields.next())
        else {
            return false;
        };
        let Some((start, end)) = range.split_once('-') else { return false };
        let (Ok(start), Ok(end)) = (u64::from_str_radix(start, 16), u64::from_str_radix(end, 16)) else {
            return false;
        };
        (start..end).contains(&addr) && perms.as_bytes().get(3) == Some(&b'p') && inode == "0"
    })
}

/// The inode of a socket from its `/proc/self/fd` link (`socket:[1234]`).
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
}

#[cfg(target_os = "linux")]
mod epoll_set;

/// The OS ids of the process's threads (Linux: `/proc/self/task`), sorted; `None` where they
/// cannot be listed.
pub(crate) fn os_threads() -> Option<Vec<i32>> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let mut tids = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task").ok()? {
        tids.push(entry.ok()?.file_name().to_str()?.parse::<i32>().ok()?);
    }
    tids.sort_unstable();
    Some(tids)
}

/// A file of `/proc` as text.
#[cfg(target_os = "linux")]
fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

#[cfg(target_os = "linux")]
mod imp {
    use super::{NUMBERS, Sched, Sleep, read};

    /// Whether `SIGCHLD`'s action has `SA_NOCLDWAIT`: children are then reaped as they exit,
    /// so one that acted and exited between the passes would not be seen as a zombie.
    fn children_reaped_unseen() -> bool {
        // SAFETY: a zeroed `sigaction` is a valid value to be overwritten; with a null new
        // action, `sigaction` only reads the current one into `old`.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: as above; `old` is a valid, writable `struct sigaction`.
        let got = unsafe { libc::sigaction(libc::SIGCHLD, std::ptr::null(), &mut old) };
        got != 0 || old.sa_flags & libc::SA_NOCLDWAIT != 0
    }

    fn sched(tid: i32) -> Option<Sched> {
        super::parse_status(&read(&format!("/proc/self/task/{tid}/status"))?)
    }

    pub(super) fn confirm() -> Option<bool> {
        let numbers = NUMBERS.as_ref()?;
        if !super::signals_quiet(&read("/proc/self/status")?)? || children_reaped_unseen() {
            return Some(false);
        }
        let me = crate::threads::os_tid();
        let listed = super::os_threads()?;
        let others: Vec<i32> = listed.iter().copied().filter(|&t| t != me).collect();
        // Pass A.
        let mut before = Vec::with_capacity(others.len());
        for &tid in &others {
            let s = sched(tid)?;
            if !s.sleeping {
                return Some(false);
            }
            before.push(s);
        }
        // Pass B.
        let mut maps: Option<String> = None;
        for &tid in &others {
            let call = super::parse_syscall(&read(&format!("/proc/self/task/{tid}/syscall"))?);
            let Some(sleep) = call.and_then(|c| super::classify(c, numbers)) else { return Some(false) };
            let ok = match sleep {
                Sleep::Futex { private: true, .. } => true,
                Sleep::Futex { addr, private: false } => {
                    let maps = maps.get_or_insert_with(|| read("/proc/self/maps").unwrap_or_default());
                    super::in_private_mapping(maps, addr)
                }
                Sleep::Epoll { epfd } => super::epoll_set::epoll_set_internal(epfd)?,
            };
            if !ok {
                return Some(false);
            }
        }
        // Pass C, the list again, and no child.
        for (&tid, then) in others.iter().zip(&before) {
            if sched(tid)? != *then {
                return Some(false);
            }
        }
        if super::os_threads()? != listed {
            return Some(false);
        }
        for &tid in &listed {
            if !read(&format!("/proc/self/task/{tid}/children"))?.trim().is_empty() {
                return Some(false);
            }
        }
        Some(true)
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    pub(super) fn confirm() -> Option<bool> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const X86: Numbers = Numbers { futex: 202, epoll_wait: Some(232), epoll_pwait: 281, epoll_pwait2: 441 };

    #[test]
    fn status_gives_the_state_and_both_switch_counts() {
        let text =
            "Name:\tx\nState:\tS (sleeping)\nvoluntary_ctxt_switches:\t7\nnonvoluntary_ctxt_switches:\t2\n";
        assert_eq!(parse_status(text), Some(Sched { sleeping: true, switches: 9 }));
        let running = text.replace("S (sleeping)", "R (running)");
        assert_eq!(parse_status(&running), Some(Sched { sleeping: false, switches: 9 }));
        assert_eq!(parse_status("State:\tS (sleeping)\n"), None, "no counts, no claim");
    }

    #[test]
    fn only_stds_fault_handlers_are_quiet() {
        let status = |caught: &str, ignored: &str| format!("SigIgn:\t{ignored}\nSigCgt:\t{caught}\n");
        assert_eq!(signals_quiet(&status("0000000000000440", "0000000000001000")), Some(true));
        assert_eq!(signals_quiet(&status("0000000180000440", "0000000000001006")), Some(true), "glibc's own");
        assert_eq!(signals_quiet(&status("0000000000000000", "0000000000000000")), Some(true));
        // SIGINT caught (tokio::signal::ctrl_c, say): a handler may run and wake anyone.
        assert_eq!(signals_quiet(&status("0000000000000442", "0000000000000000")), Some(false));
        // SIGCHLD ignored: children are reaped unseen.
        assert_eq!(signals_quiet(&status("0000000000000440", "0000000000010000")), Some(false));
        assert_eq!(signals_quiet("SigCgt:\tzz\n"), None);
    }

    #[test]
    fn syscall_lines_parse_and_running_threads_do_not() {
        let line = "202 0x7f00 0x189 0x0 0x0 0x0 0xffffffff 0x7ffd 0x7f65\n";
        assert_eq!(
            parse_syscall(line),
            Some(Syscall { nr: 202, args: [0x7f00, 0x189, 0, 0, 0, 0xffff_ffff] })
        );
        assert_eq!(parse_syscall("running\n"), None);
        assert_eq!(parse_syscall("-1 0x7ffd 0x7f65\n"), None);
        assert_eq!(parse_syscall("202 0x1 0x2\n"), None, "truncated");
    }

    #[test]
    fn untimed_futex_waits_are_sleeps_and_timed_ones_are_not() {
        let futex = |op: u64, timeout: u64| Syscall { nr: 202, args: [0x1000, op, 0, timeout, 0, 0] };
        // std's Condvar::wait: FUTEX_WAIT_BITSET | PRIVATE | CLOCK_REALTIME, no timeout.
        assert_eq!(classify(futex(0x189, 0), &X86), Some(Sleep::Futex { addr: 0x1000, private: true }));
        assert_eq!(classify(futex(0x80, 0), &X86), Some(Sleep::Futex { addr: 0x1000, private: true }));
        // glibc's pthread_join: a shared FUTEX_WAIT.
        assert_eq!(classify(futex(0, 0), &X86), Some(Sleep::Futex { addr: 0x1000, private: false }));
        assert_eq!(classify(futex(0x189, 0x7ffd_0000), &X86), None, "timed");
        assert_eq!(classify(futex(0x86, 0), &X86), None, "FUTEX_LOCK_PI is not understood");
    }

    #[test]
    fn only_infinite_epoll_waits_are_sleeps() {
        let epoll = |nr: i64, timeout: u64| Syscall { nr, args: [5, 0x1000, 1024, timeout, 0, 8] };
        assert_eq!(classify(epoll(232, 0xffff_ffff), &X86), Some(Sleep::Epoll { epfd: 5 }));
        assert_eq!(classify(epoll(281, 0xffff_ffff_ffff_ffff), &X86), Some(Sleep::Epoll { epfd: 5 }));
        assert_eq!(classify(epoll(281, 250), &X86), None, "a timer is due");
        assert_eq!(classify(epoll(441, 0), &X86), Some(Sleep::Epoll { epfd: 5 }));
        assert_eq!(classify(epoll(441, 0x7ffd_0000), &X86), None);
        assert_eq!(classify(epoll(230, 0), &X86), None, "clock_nanosleep");
        assert_eq!(classify(epoll(0, 0), &X86), None, "read");
    }

    #[test]
    fn epoll_targets_come_from_the_tfd_lines() {
        let fdinfo = "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\n\
                      tfd:        6 events:       19 data: 0 pos:0 ino:1057 sdev:f\n\
                      tfd:       11 events: 80000019 data: 1 pos:0 ino:a2 sdev:8\n";
        assert_eq!(parse_epoll_targets(fdinfo), Some(vec![(6, 0x1057), (11, 0xa2)]));
        assert_eq!(parse_epoll_targets("tfd:        6 events:       19 data: 0 pos:0\n"), None, "no inode");
        assert_eq!(parse_epoll_targets("pos:\t0\n"), Some(vec![]));
    }

    #[test]
    fn socket_links_give_their_inode() {
        assert_eq!(socket_inode("socket:[1060473]"), Some(1_060_473));
        assert_eq!(socket_inode("anon_inode:[eventfd]"), None);
        assert_eq!(socket_inode("pipe:[12]"), None);
    }

    #[test]
    fn a_shared_futex_counts_only_in_private_memory() {
        let maps = "7f0000000000-7f0000800000 rw-p 00000000 00:00 0 \n\
                    7f1000000000-7f1000001000 rw-s 00000000 00:05 77 /dev/shm/x\n\
                    7f2000000000-7f2000001000 r--p 00000000 08:01 1234 /tmp/file\n";
        assert!(in_private_mapping(maps, 0x7f00_0000_1000));
        assert!(!in_private_mapping(maps, 0x7f10_0000_0010), "shared memory: another process may wake it");
        assert!(
            !in_private_mapping(maps, 0x7f20_0000_0010),
            "a private file page not yet written is keyed by the file: another process may wake it"
        );
        assert!(!in_private_mapping(maps, 0x10), "unmapped");
    }

    /// The calling test thread is running: the check, which leaves out only the thread asking,
    /// sees the harness's other threads (at least the main one waits with a timeout, or runs).
    #[test]
    fn a_test_process_is_never_asleep_for_good() {
        let spinner = std::thread::spawn(|| {
            let start = std::time::Instant::now();
            while start.elapsed() < std::time::Duration::from_millis(50) {
                std::hint::spin_loop();
            }
        });
        assert!(!all_others_asleep_for_good());
        spinner.join().unwrap();
    }
}
