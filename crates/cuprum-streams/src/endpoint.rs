//! One side of a transfer: a borrowed descriptor plus the strategy used to
//! read or write it without ever blocking where cancellation could not be
//! noticed.
//!
//! * `O_NONBLOCK` descriptors are used directly; `EAGAIN` means "poll".
//! * Blocking pipes/sockets on Linux use `preadv2`/`pwritev2` with
//!   `RWF_NOWAIT` (non-blocking per call, without touching the shared file
//!   status flags the owner set).
//! * Otherwise a blocking pollable descriptor is polled first; writes to
//!   pipes and sockets are then capped at `PIPE_BUF` so they cannot block.
//! * Regular files and block devices are always ready and are never polled.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::BorrowedFd;

use crate::sys::{self, FdKind};
use crate::wait::{Canceller, Wake};

/// How an endpoint avoids blocking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `O_NONBLOCK` is set: try the operation, poll on `EAGAIN`.
    NonBlocking,
    /// Blocking descriptor, per-call `RWF_NOWAIT`; poll on `EAGAIN`.
    #[cfg(target_os = "linux")]
    NoWait,
    /// Blocking descriptor: poll before every operation.
    PollFirst,
    /// Regular file or block device: never poll.
    AlwaysReady,
}

/// Result of one write attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// This many bytes (at least one) were written.
    Bytes(usize),
    /// The reading side is gone (`EPIPE`, `ECONNRESET`, `POLLERR`/`POLLHUP`).
    Gone,
    /// Cancellation was requested while waiting.
    Cancelled,
}

/// A borrowed descriptor and its non-blocking strategy.
#[derive(Debug)]
pub struct Endpoint<'fd> {
    fd: BorrowedFd<'fd>,
    kind: FdKind,
    nonblocking: bool,
    mode: Mode,
}

impl<'fd> Endpoint<'fd> {
    /// Inspects `fd` and picks a strategy. `allow_nowait` permits the
    /// `RWF_NOWAIT` strategy for blocking descriptors (Linux only).
    ///
    /// # Errors
    /// `EBADF` or any other `fstat`/`fcntl` failure.
    pub fn new(fd: BorrowedFd<'fd>, allow_nowait: bool) -> io::Result<Self> {
        #[cfg(not(target_os = "linux"))]
        let _ = allow_nowait; // RWF_NOWAIT is Linux-only.
        let info = sys::fd_info(fd)?;
        let mode = match info.kind {
            FdKind::Regular | FdKind::Block => Mode::AlwaysReady,
            _ if info.nonblocking => Mode::NonBlocking,
            #[cfg(target_os = "linux")]
            _ if allow_nowait => Mode::NoWait,
            _ => Mode::PollFirst,
        };
        Ok(Self {
            fd,
            kind: info.kind,
            nonblocking: info.nonblocking,
            mode,
        })
    }

    /// The borrowed descriptor.
    #[must_use]
    pub fn fd(&self) -> BorrowedFd<'fd> {
        self.fd
    }

    /// The strategy currently in use.
    #[must_use]
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether `splice(SPLICE_F_NONBLOCK)` on this side can never block:
    /// pipes (the flag covers them), non-blocking descriptors and files.
    #[must_use]
    pub fn splice_never_blocks(&self) -> bool {
        self.nonblocking || matches!(self.kind, FdKind::Fifo | FdKind::Regular | FdKind::Block)
    }

    /// Reads at most `buf.len()` bytes, waiting (cancellably) for data.
    /// Returns the number of bytes read (0 at EOF), which are then
    /// initialised at the start of `buf`, or `None` if cancelled.
    ///
    /// # Errors
    /// Any read error other than `EINTR`/`EAGAIN`.
    pub fn read(
        &mut self,
        buf: &mut [MaybeUninit<u8>],
        cancel: &mut Canceller<'_>,
    ) -> io::Result<Option<usize>> {
        loop {
            if self.mode == Mode::PollFirst && cancel.wait_readable(self.fd)? == Wake::Cancelled {
                return Ok(None);
            }
            let attempt = match self.mode {
                #[cfg(target_os = "linux")]
                Mode::NoWait => sys::read_nowait(self.fd, buf),
                _ => sys::read(self.fd, buf),
            };
            match attempt {
                Ok(n) => return Ok(Some(n)),
                Err(e) => match self.classify(&e) {
                    Retry::Now => {}
                    Retry::AfterPoll => {
                        if cancel.wait_readable(self.fd)? == Wake::Cancelled {
                            return Ok(None);
                        }
                    }
                    Retry::Fail => return Err(e),
                },
            }
        }
    }

    /// Writes a non-empty prefix of `data`, waiting (cancellably) for room.
    ///
    /// # Errors
    /// Any write error other than `EINTR`/`EAGAIN`/`EPIPE`/`ECONNRESET`;
    /// `WriteZero` if the descriptor accepts nothing without an error.
    pub fn write(&mut self, data: &[u8], cancel: &mut Canceller<'_>) -> io::Result<Written> {
        debug_assert!(!data.is_empty());
        loop {
            let mut chunk = data;
            if self.mode == Mode::PollFirst {
                match cancel.wait_writable(self.fd)? {
                    Wake::Ready => {}
                    Wake::Gone => return Ok(Written::Gone),
                    Wake::Cancelled => return Ok(Written::Cancelled),
                }
                if matches!(self.kind, FdKind::Fifo | FdKind::Socket) {
                    chunk = &data[..data.len().min(sys::PIPE_BUF)];
                }
            }
            let attempt = match self.mode {
                #[cfg(target_os = "linux")]
                Mode::NoWait => sys::write_nowait(self.fd, chunk),
                _ => sys::write(self.fd, chunk),
            };
            match attempt {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => return Ok(Written::Bytes(n)),
                Err(e) if is_downstream_gone(&e) => return Ok(Written::Gone),
                Err(e) => match self.classify(&e) {
                    Retry::Now => {}
                    Retry::AfterPoll => match cancel.wait_writable(self.fd)? {
                        Wake::Ready => {}
                        Wake::Gone => return Ok(Written::Gone),
                        Wake::Cancelled => return Ok(Written::Cancelled),
                    },
                    Retry::Fail => return Err(e),
                },
            }
        }
    }

    /// Decides how to continue after a failed read/write, downgrading from
    /// `RWF_NOWAIT` when the descriptor or kernel does not support it.
    fn classify(&mut self, err: &io::Error) -> Retry {
        match sys::errno(err) {
            Some(libc::EINTR) => Retry::Now,
            Some(libc::EAGAIN) => Retry::AfterPoll,
            #[cfg(target_os = "linux")]
            Some(libc::EOPNOTSUPP | libc::EINVAL | libc::ENOSYS) if self.mode == Mode::NoWait => {
                self.mode = Mode::PollFirst;
                Retry::Now
            }
            _ => Retry::Fail,
        }
    }

    /// Reads at most `max` bytes into the spare capacity of `vec` (which
    /// must already be reserved) and appends them. Returns the number of
    /// bytes read (0 at EOF), or `None` if cancelled.
    ///
    /// # Errors
    /// As [`Endpoint::read`].
    ///
    /// # Panics
    /// If the kernel reports more bytes than were requested.
    pub fn read_append(
        &mut self,
        vec: &mut Vec<u8>,
        max: usize,
        cancel: &mut Canceller<'_>,
    ) -> io::Result<Option<usize>> {
        let spare = vec.spare_capacity_mut();
        let want = max.min(spare.len());
        let Some(n) = self.read(&mut spare[..want], cancel)? else {
            return Ok(None);
        };
        assert!(n <= want, "read() reported more bytes than requested");
        // SAFETY: the successful read initialised the first `n` (<= spare
        // capacity, checked above) bytes after `vec.len()`.
        unsafe { vec.set_len(vec.len() + n) };
        Ok(Some(n))
    }
}

/// What to do after a failed attempt.
enum Retry {
    /// Retry immediately (`EINTR`, strategy downgrade).
    Now,
    /// Wait for readiness, then retry (`EAGAIN`).
    AfterPoll,
    /// Give up with the error.
    Fail,
}

/// `EPIPE`/`ECONNRESET`: the downstream reader went away.
#[must_use]
pub fn is_downstream_gone(err: &io::Error) -> bool {
    matches!(sys::errno(err), Some(libc::EPIPE | libc::ECONNRESET))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{pipe, set_nonblocking, temp_file};
    use std::os::fd::AsFd;

    #[test]
    fn strategy_follows_the_descriptor() {
        let (r, w) = pipe();
        assert_eq!(
            Endpoint::new(r.as_fd(), false).unwrap().mode(),
            Mode::PollFirst
        );
        #[cfg(target_os = "linux")]
        assert_eq!(Endpoint::new(r.as_fd(), true).unwrap().mode(), Mode::NoWait);
        set_nonblocking(&w);
        assert_eq!(
            Endpoint::new(w.as_fd(), true).unwrap().mode(),
            Mode::NonBlocking
        );
        let file = temp_file(false);
        assert_eq!(
            Endpoint::new(file.as_fd(), true).unwrap().mode(),
            Mode::AlwaysReady
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn nowait_read_on_an_empty_blocking_pipe_waits_for_cancel() {
        let (r, _w) = pipe();
        let (cancel_r, cancel_w) = pipe();
        crate::sys::write(cancel_w.as_fd(), b"x").unwrap();
        let mut endpoint = Endpoint::new(r.as_fd(), true).unwrap();
        let mut cancel = Canceller::new(Some(cancel_r.as_fd()));
        let mut buf = [MaybeUninit::uninit(); 16];
        // A plain blocking read would hang here.
        assert_eq!(endpoint.read(&mut buf, &mut cancel).unwrap(), None);
        // Pipes support RWF_NOWAIT on any kernel this targets (>= 5.x).
        assert_eq!(endpoint.mode(), Mode::NoWait);
    }

    #[test]
    fn character_devices_work_in_any_mode() {
        let null = std::fs::File::options()
            .read(true)
            .write(true)
            .open("/dev/null")
            .unwrap();
        let mut cancel = Canceller::new(None);
        for allow_nowait in [true, false] {
            let mut endpoint = Endpoint::new(null.as_fd(), allow_nowait).unwrap();
            assert_eq!(
                endpoint.write(&[7; 10_000], &mut cancel).unwrap(),
                Written::Bytes(10_000)
            );
            let mut buf = [MaybeUninit::uninit(); 16];
            assert_eq!(endpoint.read(&mut buf, &mut cancel).unwrap(), Some(0));
        }
    }
}
