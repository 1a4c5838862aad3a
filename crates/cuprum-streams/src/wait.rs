//! Waiting for a data descriptor with `poll(2)` while watching an optional
//! cancellation descriptor.
//!
//! The cancellation descriptor is polled together with the data descriptor,
//! so an infinite timeout is safe: writing a byte to (or closing the write
//! end of) the cancellation pipe wakes the waiter at once.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

use crate::sys;

/// While data flows freely (no waiting), the cancellation descriptor is
/// still checked at least this often.
pub const CHECK_INTERVAL: Duration = Duration::from_millis(10);

/// The outcome of waiting for a data descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The descriptor is ready for the requested operation (for a reader this
    /// includes hang-up and error: the next read reports EOF or the error).
    Ready,
    /// A writer's peer is gone (`POLLERR`/`POLLHUP`): treat as `EPIPE`.
    Gone,
    /// The cancellation descriptor became readable.
    Cancelled,
}

/// An optional cancellation descriptor plus the time it was last checked.
#[derive(Debug)]
pub struct Canceller<'fd> {
    fd: Option<BorrowedFd<'fd>>,
    last_check: Option<Instant>,
}

const CANCEL_EVENTS: libc::c_short = libc::POLLIN | libc::POLLHUP | libc::POLLERR;

impl<'fd> Canceller<'fd> {
    /// Watches `fd` (readable = cancelled); `None` never cancels.
    #[must_use]
    pub fn new(fd: Option<BorrowedFd<'fd>>) -> Self {
        Self {
            fd,
            last_check: None,
        }
    }

    /// Checks the cancellation descriptor without blocking, but at most once
    /// per [`CHECK_INTERVAL`] (the first call always checks).
    ///
    /// # Errors
    /// A `poll(2)` failure, or `EBADF` if the descriptor was closed.
    pub fn is_due_and_set(&mut self) -> io::Result<bool> {
        let Some(fd) = self.fd else {
            return Ok(false);
        };
        let now = Instant::now();
        if self
            .last_check
            .is_some_and(|last| now.duration_since(last) < CHECK_INTERVAL)
        {
            return Ok(false);
        }
        self.last_check = Some(now);
        let mut fds = [pollfd(fd, libc::POLLIN)];
        poll_retrying(&mut fds, 0)?;
        Ok(fds[0].revents & CANCEL_EVENTS != 0)
    }

    /// Blocks until `fd` is readable (or hung up / in error), or cancelled.
    ///
    /// # Errors
    /// A `poll(2)` failure, or `EBADF` if a descriptor is invalid.
    pub fn wait_readable(&mut self, fd: BorrowedFd<'_>) -> io::Result<Wake> {
        self.wait(fd, libc::POLLIN).map(|revents| match revents {
            None => Wake::Cancelled,
            Some(_) => Wake::Ready,
        })
    }

    /// Blocks until `fd` is writable, its peer is gone, or cancelled.
    ///
    /// # Errors
    /// A `poll(2)` failure, or `EBADF` if a descriptor is invalid.
    pub fn wait_writable(&mut self, fd: BorrowedFd<'_>) -> io::Result<Wake> {
        self.wait(fd, libc::POLLOUT).map(|revents| match revents {
            None => Wake::Cancelled,
            Some(r) if r & (libc::POLLERR | libc::POLLHUP) != 0 => Wake::Gone,
            Some(_) => Wake::Ready,
        })
    }

    /// Polls `fd` for `events` plus the cancellation descriptor with an
    /// infinite timeout; `None` means cancelled.
    fn wait(
        &mut self,
        fd: BorrowedFd<'_>,
        events: libc::c_short,
    ) -> io::Result<Option<libc::c_short>> {
        let mut fds = [pollfd(fd, events), pollfd(fd, 0)];
        let nfds = match self.fd {
            Some(cancel) => {
                fds[1] = pollfd(cancel, libc::POLLIN);
                2
            }
            None => 1,
        };
        let fds = &mut fds[..nfds];
        loop {
            poll_retrying(fds, -1)?;
            self.last_check = Some(Instant::now());
            if fds.len() == 2 && fds[1].revents & CANCEL_EVENTS != 0 {
                return Ok(None);
            }
            if fds[0].revents != 0 {
                return Ok(Some(fds[0].revents));
            }
        }
    }
}

fn pollfd(fd: BorrowedFd<'_>, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    }
}

/// `poll(2)`, retried on `EINTR`; `POLLNVAL` on any entry becomes `EBADF`.
fn poll_retrying(fds: &mut [libc::pollfd], timeout_ms: libc::c_int) -> io::Result<()> {
    loop {
        match sys::poll(fds, timeout_ms) {
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if fds.iter().any(|p| p.revents & libc::POLLNVAL != 0) {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn cancel_states() {
        let (cr, cw) = sys::pipe().unwrap();
        let mut c = Canceller::new(Some(cr.as_fd()));
        assert!(!c.is_due_and_set().unwrap());
        sys::write(cw.as_fd(), b"x").unwrap();
        // Rate limited: the second immediate check is skipped.
        assert!(!c.is_due_and_set().unwrap());
        std::thread::sleep(CHECK_INTERVAL + Duration::from_millis(1));
        assert!(c.is_due_and_set().unwrap());

        let (r, _w) = sys::pipe().unwrap();
        assert_eq!(c.wait_readable(r.as_fd()).unwrap(), Wake::Cancelled);
        assert!(!Canceller::new(None).is_due_and_set().unwrap());
    }

    #[test]
    fn closed_cancel_writer_cancels() {
        let (cr, cw) = sys::pipe().unwrap();
        drop(cw);
        let (r, _w) = sys::pipe().unwrap();
        let mut c = Canceller::new(Some(cr.as_fd()));
        assert_eq!(c.wait_readable(r.as_fd()).unwrap(), Wake::Cancelled);
    }

    #[test]
    fn writer_without_reader_is_gone() {
        let (r, w) = sys::pipe().unwrap();
        let mut c = Canceller::new(None);
        assert_eq!(c.wait_writable(w.as_fd()).unwrap(), Wake::Ready);
        drop(r);
        assert_eq!(c.wait_writable(w.as_fd()).unwrap(), Wake::Gone);
    }
}
