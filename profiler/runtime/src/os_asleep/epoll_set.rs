//! Whether an epoll set can only be made ready by this process (`super`, "What is accepted as
//! asleep for good"): every member an eventfd, or a connected Unix socket whose peer is open in
//! this process, still the file the set watches under its number.

use super::read;

/// Whether every member of epoll set `epfd` can only be made ready by this process.
pub(super) fn epoll_set_internal(epfd: i32) -> Option<bool> {
    if link(epfd)? != "anon_inode:[eventpoll]" {
        return Some(false);
    }
    let targets = super::parse_epoll_targets(&read(&format!("/proc/self/fdinfo/{epfd}"))?)?;
    let mut sockets = None;
    for (index, &(fd, ino)) in targets.iter().enumerate() {
        let target = link(fd)?;
        let internal = target == "anon_inode:[eventfd]"
            || super::socket_inode(&target)
                .is_some_and(|ino| unix_socket_to_this_process(fd, ino, &mut sockets));
        // Items registered under the same number before this one: kcmp's index among them.
        // Checked only for an eventfd or a socket, whose `stat` cannot block (a FUSE file's
        // could wait for its daemon).
        let earlier = targets[..index].iter().filter(|&&(f, _)| f == fd).count();
        if !internal || !still_watched_under(epfd, fd, ino, earlier)? {
            return Some(false);
        }
    }
    Some(true)
}

/// Whether descriptor `fd` still names the file that the `earlier`-th item registered under
/// `fd` in epoll set `epfd` watches (inode `ino`). The inode tells a socket, a pipe or a file
/// apart, not two anonymous-inode files (an eventfd and a timerfd share theirs): `kcmp`
/// (`KCMP_EPOLL_TFD`) compares the files themselves where the kernel lets it run (a kernel
/// without `CONFIG_KCMP`, or a seccomp filter such as Docker's default, says `ENOSYS` or
/// `EPERM`: then the inode alone is relied on, the limit the module docs state).
fn still_watched_under(epfd: i32, fd: i32, ino: u64, earlier: usize) -> Option<bool> {
    use std::os::unix::fs::MetadataExt;
    if std::fs::metadata(format!("/proc/self/fd/{fd}")).ok()?.ino() != ino {
        return Some(false);
    }
    /// `struct kcmp_epoll_slot` of `<linux/kcmp.h>`.
    #[repr(C)]
    struct KcmpEpollSlot {
        efd: u32,
        tfd: u32,
        toff: u32,
    }
    const KCMP_EPOLL_TFD: libc::c_int = 7;
    let slot = KcmpEpollSlot {
        efd: u32::try_from(epfd).ok()?,
        tfd: u32::try_from(fd).ok()?,
        toff: u32::try_from(earlier).ok()?,
    };
    let pid = libc::pid_t::try_from(std::process::id()).ok()?;
    // SAFETY: `kcmp` only reads `slot`, a valid `struct kcmp_epoll_slot`, and compares two
    // files of this process; it changes nothing.
    let got = unsafe {
        libc::syscall(
            libc::SYS_kcmp,
            pid,
            pid,
            KCMP_EPOLL_TFD,
            libc::c_ulong::try_from(fd).ok()?,
            std::ptr::from_ref(&slot),
        )
    };
    let unavailable = || {
        let errno = std::io::Error::last_os_error().raw_os_error();
        errno == Some(libc::ENOSYS) || errno == Some(libc::EPERM)
    };
    Some(got == 0 || (got == -1 && unavailable()))
}

fn link(fd: i32) -> Option<String> {
    Some(std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()?.to_str()?.to_owned())
}

fn sockopt<T: Copy>(fd: i32, option: libc::c_int, mut value: T) -> Option<T> {
    let mut len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` is a valid, writable `T` (plain integers) of `len` bytes, which is what `getsockopt`
    // writes at most; an `fd` that is no socket (or was closed meanwhile) only makes it fail.
    let got = unsafe {
        libc::getsockopt(fd, libc::SOL_SOCKET, option, std::ptr::from_mut(&mut value).cast(), &mut len)
    };
    (got == 0 && len as usize == std::mem::size_of::<T>()).then_some(value)
}

/// A connected (not listening) Unix socket, inode `ino`, whose peer was made by this process
/// (`SO_PEERCRED`) and is open in it now (the kernel's socket diagnostics name the peer; it
/// must be among `sockets`, this process's open sockets, read once). The second condition
/// rejects a socket pair whose other end went to a child (as its standard output, say) that
/// has exited, leaving it to a process it started: `SO_PEERCRED` names the pair's creator,
/// not the end's holders.
fn unix_socket_to_this_process(fd: i32, ino: u64, sockets: &mut Option<Vec<u64>>) -> bool {
    let domain = sockopt::<libc::c_int>(fd, libc::SO_DOMAIN, 0);
    let listening = sockopt::<libc::c_int>(fd, libc::SO_ACCEPTCONN, 0);
    let peer = sockopt(fd, libc::SO_PEERCRED, libc::ucred { pid: 0, uid: 0, gid: 0 });
    let ours = domain == Some(libc::AF_UNIX)
        && listening == Some(0)
        && peer.is_some_and(|p| i64::from(p.pid) == i64::from(std::process::id()));
    ours && match unix_peer(ino) {
        Peer::Open(peer) => {
            sockets.get_or_insert_with(|| open_sockets().unwrap_or_default()).binary_search(&peer).is_ok()
        }
        Peer::Unknown => true, // no socket diagnostics in this kernel: the limit the module docs state
        Peer::None => false,
    }
}

/// The inodes of the sockets open in this process, sorted, from `/proc/self/fd` (a
/// descriptor closed meanwhile is left out, which only makes the check stricter).
fn open_sockets() -> Option<Vec<u64>> {
    let mut inodes: Vec<u64> = std::fs::read_dir("/proc/self/fd")
        .ok()?
        .filter_map(|entry| super::socket_inode(std::fs::read_link(entry.ok()?.path()).ok()?.to_str()?))
        .collect();
    inodes.sort_unstable();
    Some(inodes)
}

/// What the kernel says of a Unix socket's peer.
enum Peer {
    /// The peer's inode.
    Open(u64),
    /// No peer (or no such socket any more).
    None,
    /// The kernel cannot say (no `NETLINK_SOCK_DIAG` for Unix sockets).
    Unknown,
}

/// The peer of Unix socket `ino`, from `NETLINK_SOCK_DIAG` (`SOCK_DIAG_BY_FAMILY`,
/// `UDIAG_SHOW_PEER`), the way `ss -x` finds it.
fn unix_peer(ino: u64) -> Peer {
    /// `struct nlmsghdr` then `struct unix_diag_req` of `<linux/unix_diag.h>`.
    #[repr(C)]
    struct Request {
        len: u32,
        kind: u16,
        flags: u16,
        seq: u32,
        pid: u32,
        family: u8,
        protocol: u8,
        pad: u16,
        states: u32,
        ino: u32,
        show: u32,
        cookie: [u32; 2],
    }
    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const NLMSG_ERROR: u16 = 2;
    const UDIAG_SHOW_PEER: u32 = 4;
    const UNIX_DIAG_PEER: u16 = 2;
    let Ok(ino32) = u32::try_from(ino) else { return Peer::Unknown };
    // SAFETY: a plain socket call; the descriptor is owned by `socket` below.
    let raw = unsafe {
        libc::socket(libc::AF_NETLINK, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, libc::NETLINK_SOCK_DIAG)
    };
    if raw < 0 {
        return Peer::Unknown;
    }
    // SAFETY: `raw` is a fresh descriptor owned by nobody else.
    let socket = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) };
    let fd = std::os::fd::AsRawFd::as_raw_fd(&socket);
    let request = Request {
        len: std::mem::size_of::<Request>() as u32,
        kind: SOCK_DIAG_BY_FAMILY,
        flags: libc::NLM_F_REQUEST as u16,
        seq: 1,
        pid: 0,
        family: libc::AF_UNIX as u8,
        protocol: 0,
        pad: 0,
        states: u32::MAX,
        ino: ino32,
        show: UDIAG_SHOW_PEER,
        cookie: [u32::MAX; 2],
    };
    let size = std::mem::size_of::<Request>();
    // SAFETY: `request` is `size` readable bytes.
    let sent = unsafe { libc::send(fd, std::ptr::from_ref(&request).cast(), size, 0) };
    if usize::try_from(sent).ok() != Some(size) {
        return Peer::Unknown;
    }
    let mut reply = [0u8; 512];
    // SAFETY: `reply` is writable for its length; the kernel queued its answer during `send`,
    // and `MSG_DONTWAIT` keeps the watchdog from blocking if it did not.
    let got = unsafe { libc::recv(fd, reply.as_mut_ptr().cast(), reply.len(), libc::MSG_DONTWAIT) };
    let Ok(got) = usize::try_from(got) else { return Peer::Unknown };
    let reply = &reply[..got];
    let u16_at = |at: usize| Some(u16::from_ne_bytes(reply.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_ne_bytes(reply.get(at..at + 4)?.try_into().ok()?));
    let (Some(len), Some(kind)) = (u32_at(0), u16_at(4)) else { return Peer::Unknown };
    if kind == NLMSG_ERROR {
        // ENOENT: no such socket; any other error: the kernel cannot say.
        let errno = u32_at(16).map(|e| e as i32);
        return if errno == Some(-libc::ENOENT) { Peer::None } else { Peer::Unknown };
    }
    if kind != SOCK_DIAG_BY_FAMILY || u32_at(20) != Some(ino32) {
        return Peer::Unknown;
    }
    // The attributes after the header (16 bytes) and `struct unix_diag_msg` (16 bytes).
    let end = (len as usize).min(reply.len());
    let mut at = 32;
    while at + 4 <= end {
        let (Some(attr_len), Some(attr_kind)) = (u16_at(at), u16_at(at + 2)) else { break };
        if attr_kind == UNIX_DIAG_PEER {
            return u32_at(at + 4).map_or(Peer::Unknown, |peer| Peer::Open(u64::from(peer)));
        }
        if attr_len < 4 {
            break;
        }
        at += (usize::from(attr_len) + 3) & !3;
    }
    Peer::None
}
