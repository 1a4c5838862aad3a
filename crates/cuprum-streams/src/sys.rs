//! Thin, safe wrappers over the POSIX calls the engine needs.
//!
//! Every function borrows its descriptors; nothing here closes a descriptor
//! it was handed. The only descriptors this module creates are the pipes
//! returned (as [`OwnedFd`]) by [`pipe`].

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// Writes of at most this many bytes to a pipe never block once `poll()`
/// has reported `POLLOUT` (POSIX `PIPE_BUF`).
#[cfg(target_os = "linux")]
pub const PIPE_BUF: usize = libc::PIPE_BUF;
/// Writes of at most this many bytes to a pipe never block once `poll()`
/// has reported `POLLOUT` (the POSIX minimum for `PIPE_BUF`).
#[cfg(not(target_os = "linux"))]
pub const PIPE_BUF: usize = 512;

/// Turns a `-1`-on-error return value into an `io::Result`.
fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Turns a `-1`-on-error byte count into an `io::Result<usize>`.
fn cvt_len(ret: libc::ssize_t) -> io::Result<usize> {
    // A negative value other than -1 is never returned; `try_from` fails
    // exactly on -1 and then errno holds the error.
    usize::try_from(ret).map_err(|_| io::Error::last_os_error())
}

/// `read(2)` into possibly uninitialised memory; returns the number of bytes
/// read, which are then initialised at the start of `buf`.
///
/// # Errors
/// The `errno` of a failed `read(2)`, `EINTR` and `EAGAIN` included.
pub fn read(fd: BorrowedFd<'_>, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the duration
    // of the call.
    let ret = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    cvt_len(ret)
}

/// `preadv2(2)` at the current file position with `RWF_NOWAIT`: a read that
/// fails with `EAGAIN` instead of blocking, whatever `O_NONBLOCK` says.
/// Like [`read`], the returned count of bytes is initialised in `buf`.
///
/// # Errors
/// The `errno` of a failed `preadv2(2)`; `EOPNOTSUPP` (or `EINVAL`/`ENOSYS`
/// on old kernels) when the descriptor does not support `RWF_NOWAIT`.
#[cfg(target_os = "linux")]
pub fn read_nowait(fd: BorrowedFd<'_>, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
    let iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: one iovec describing memory valid for writes of `buf.len()`
    // bytes; offset -1 means "use and update the file position".
    let ret = unsafe { libc::preadv2(fd.as_raw_fd(), &raw const iov, 1, -1, libc::RWF_NOWAIT) };
    cvt_len(ret)
}

/// `write(2)`; returns the number of bytes written (possibly short).
///
/// # Errors
/// The `errno` of a failed `write(2)`, `EINTR`, `EAGAIN` and `EPIPE` included.
pub fn write(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes.
    let ret = unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
    cvt_len(ret)
}

/// `pwritev2(2)` at the current file position with `RWF_NOWAIT`.
///
/// # Errors
/// As [`write`]; `EOPNOTSUPP` (or `EINVAL`/`ENOSYS` on old kernels) when the
/// descriptor does not support `RWF_NOWAIT`.
#[cfg(target_os = "linux")]
pub fn write_nowait(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    let iov = libc::iovec {
        iov_base: buf.as_ptr().cast_mut().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: one iovec describing memory valid for reads of `buf.len()`
    // bytes (the kernel does not write through it); offset -1 means "use and
    // update the file position".
    let ret = unsafe { libc::pwritev2(fd.as_raw_fd(), &raw const iov, 1, -1, libc::RWF_NOWAIT) };
    cvt_len(ret)
}

/// `splice(2)` of up to `len` bytes from `from` to `to` at their current
/// file positions.
///
/// # Errors
/// The `errno` of a failed `splice(2)`; notably `EINVAL` when neither side
/// is a pipe or a side does not support splicing.
#[cfg(target_os = "linux")]
pub fn splice(
    from: BorrowedFd<'_>,
    to: BorrowedFd<'_>,
    len: usize,
    flags: libc::c_uint,
) -> io::Result<usize> {
    let (null_in, null_out) = (std::ptr::null_mut(), std::ptr::null_mut());
    // SAFETY: no memory is passed; null offsets use the file positions.
    let ret = unsafe {
        libc::splice(
            from.as_raw_fd(),
            null_in,
            to.as_raw_fd(),
            null_out,
            len,
            flags,
        )
    };
    cvt_len(ret)
}

/// `poll(2)`; returns the number of entries with non-zero `revents`.
///
/// # Errors
/// The `errno` of a failed `poll(2)`, `EINTR` included.
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: libc::c_int) -> io::Result<usize> {
    let nfds = libc::nfds_t::try_from(fds.len())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `fds` is a valid, writable array of `nfds` pollfd structures.
    let ret = unsafe { libc::poll(fds.as_mut_ptr(), nfds, timeout_ms) };
    Ok(cvt(ret)?.unsigned_abs() as usize)
}

/// What kind of file a descriptor refers to (from `fstat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdKind {
    /// A pipe or FIFO.
    Fifo,
    /// A socket.
    Socket,
    /// A regular file: always "ready", never blocks indefinitely.
    Regular,
    /// A block device: always "ready", never blocks indefinitely.
    Block,
    /// A character device (tty, `/dev/null`, ...).
    Char,
    /// Anything else (directories, event fds, ...).
    Other,
}

/// File type and status flags of a descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdInfo {
    /// The file type.
    pub kind: FdKind,
    /// Whether `O_NONBLOCK` is set on the open file description.
    pub nonblocking: bool,
}

/// Inspects a descriptor with `fstat(2)` and `fcntl(F_GETFL)`.
///
/// # Errors
/// `EBADF` for a closed descriptor, or any other `fstat`/`fcntl` error.
pub fn fd_info(fd: BorrowedFd<'_>) -> io::Result<FdInfo> {
    let mut st = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is valid for writes of one `struct stat`.
    cvt(unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: a successful fstat() initialised the whole structure.
    let mode = unsafe { st.assume_init() }.st_mode & libc::S_IFMT;
    let kind = match mode {
        libc::S_IFIFO => FdKind::Fifo,
        libc::S_IFSOCK => FdKind::Socket,
        libc::S_IFREG => FdKind::Regular,
        libc::S_IFBLK => FdKind::Block,
        libc::S_IFCHR => FdKind::Char,
        _ => FdKind::Other,
    };
    let flags = get_status_flags(fd)?;
    Ok(FdInfo {
        kind,
        nonblocking: flags & libc::O_NONBLOCK != 0,
    })
}

/// `fcntl(F_GETFL)`.
fn get_status_flags(fd: BorrowedFd<'_>) -> io::Result<libc::c_int> {
    // SAFETY: F_GETFL takes no pointer argument.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })
}

/// Sets or clears `O_NONBLOCK` (used on descriptors the caller owns).
///
/// # Errors
/// Any `fcntl` error.
pub fn set_nonblocking(fd: BorrowedFd<'_>, nonblocking: bool) -> io::Result<()> {
    let flags = get_status_flags(fd)?;
    let new = if nonblocking {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    if new != flags {
        // SAFETY: F_SETFL takes an integer argument.
        cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, new) })?;
    }
    Ok(())
}

/// Borrows a raw descriptor after checking that it is open.
///
/// # Errors
/// `EBADF` when `raw` is negative or not an open descriptor.
///
/// # Safety
/// `raw` must stay open (and keep referring to the same file) for the whole
/// lifetime `'a`. The returned borrow never closes it.
pub unsafe fn borrow_raw<'a>(raw: RawFd) -> io::Result<BorrowedFd<'a>> {
    if raw < 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: F_GETFD takes no pointer argument; it merely validates `raw`.
    cvt(unsafe { libc::fcntl(raw, libc::F_GETFD) })?;
    // SAFETY: `raw` is a non-negative, open descriptor and the caller
    // guarantees it stays open for `'a`.
    Ok(unsafe { BorrowedFd::borrow_raw(raw) })
}

/// Creates a close-on-exec pipe, returning `(read_end, write_end)`.
///
/// # Errors
/// Any `pipe2`/`pipe`/`fcntl` error (e.g. `EMFILE`).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds: [libc::c_int; 2] = [-1; 2];
    #[cfg(target_os = "linux")]
    // SAFETY: `fds` is valid for writes of two ints.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    #[cfg(not(target_os = "linux"))]
    // SAFETY: `fds` is valid for writes of two ints.
    cvt(unsafe { libc::pipe(fds.as_mut_ptr()) })?;
    // SAFETY: pipe() succeeded, so both are fresh descriptors owned by us.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    #[cfg(not(target_os = "linux"))]
    for fd in [&read_end, &write_end] {
        // SAFETY: F_SETFD takes an integer argument.
        cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) })?;
    }
    Ok((read_end, write_end))
}

/// Resizes a pipe with `F_SETPIPE_SZ`; returns the new capacity.
///
/// # Errors
/// Any `fcntl` error.
#[cfg(target_os = "linux")]
pub fn set_pipe_size(fd: BorrowedFd<'_>, size: libc::c_int) -> io::Result<usize> {
    // SAFETY: F_SETPIPE_SZ takes an integer argument.
    let ret = cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, size) })?;
    Ok(ret.unsigned_abs() as usize)
}

/// Bytes waiting to be read in the pipe `fd` (`FIONREAD`).
///
/// # Errors
/// Any `ioctl` error.
#[cfg(target_os = "linux")]
pub fn buffered(fd: BorrowedFd<'_>) -> io::Result<usize> {
    let mut count: libc::c_int = 0;
    // SAFETY: FIONREAD writes one `int` through the pointer, which points to
    // `count`, alive for the call.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &raw mut count) })?;
    Ok(count.unsigned_abs() as usize)
}

/// The `errno` of an error, if it has one.
#[must_use]
pub fn errno(err: &io::Error) -> Option<libc::c_int> {
    err.raw_os_error()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn pipe_roundtrip_and_flags() {
        let (r, w) = pipe().unwrap();
        assert_eq!(write(w.as_fd(), b"abc").unwrap(), 3);
        let mut buf = [MaybeUninit::uninit(); 8];
        assert_eq!(read(r.as_fd(), &mut buf).unwrap(), 3);

        let info = fd_info(r.as_fd()).unwrap();
        assert_eq!(info.kind, FdKind::Fifo);
        assert!(!info.nonblocking);
        set_nonblocking(r.as_fd(), true).unwrap();
        assert!(fd_info(r.as_fd()).unwrap().nonblocking);
        let err = read(r.as_fd(), &mut buf).unwrap_err();
        assert_eq!(errno(&err), Some(libc::EAGAIN));
    }

    #[test]
    fn borrow_raw_rejects_bad_descriptors() {
        // SAFETY: the calls fail before anything is borrowed.
        let err = unsafe { borrow_raw(-1) }.unwrap_err();
        assert_eq!(errno(&err), Some(libc::EBADF));
        let (r, _w) = pipe().unwrap();
        let raw = r.as_raw_fd();
        drop(r);
        // SAFETY: as above; `raw` was just closed.
        let err = unsafe { borrow_raw(raw) }.unwrap_err();
        assert_eq!(errno(&err), Some(libc::EBADF));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn nowait_on_blocking_pipe_does_not_block() {
        let (r, w) = pipe().unwrap();
        let mut buf = [MaybeUninit::uninit(); 8];
        let err = read_nowait(r.as_fd(), &mut buf).unwrap_err();
        assert!(matches!(
            errno(&err),
            Some(libc::EAGAIN | libc::EOPNOTSUPP | libc::EINVAL | libc::ENOSYS)
        ));
        assert_eq!(set_pipe_size(w.as_fd(), 4096).unwrap(), 4096);
    }
}
