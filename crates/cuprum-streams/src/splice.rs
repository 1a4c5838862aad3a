//! `splice(2)` support (Linux only): run-time detection and the zero-copy
//! transfer loop used by [`crate::pump::pump`].

#[cfg(target_os = "linux")]
use std::io;
#[cfg(target_os = "linux")]
use std::os::fd::AsFd;
#[cfg(target_os = "linux")]
use std::sync::OnceLock;

#[cfg(target_os = "linux")]
use crate::endpoint::{is_downstream_gone, Endpoint};
#[cfg(target_os = "linux")]
use crate::pump::{Progress, PumpEnd};
#[cfg(target_os = "linux")]
use crate::sys;
#[cfg(target_os = "linux")]
use crate::wait::{Canceller, Wake};

/// Whether `splice(2)` works here: on Linux, one byte is actually spliced
/// between two fresh pipes (once; the answer is cached). Always false
/// elsewhere.
#[must_use]
pub fn available() -> bool {
    #[cfg(target_os = "linux")]
    {
        static AVAILABLE: OnceLock<bool> = OnceLock::new();
        *AVAILABLE.get_or_init(|| probe().unwrap_or(false))
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// Splices one byte between two pipes created (and closed) here.
#[cfg(target_os = "linux")]
fn probe() -> io::Result<bool> {
    let (src_r, src_w) = sys::pipe()?;
    let (dst_r, dst_w) = sys::pipe()?;
    if sys::write(src_w.as_fd(), b"!")? != 1 {
        return Ok(false);
    }
    match sys::splice(src_r.as_fd(), dst_w.as_fd(), 1, libc::SPLICE_F_NONBLOCK) {
        Ok(1) => {
            let mut byte = [std::mem::MaybeUninit::uninit(); 1];
            Ok(sys::read(dst_r.as_fd(), &mut byte)? == 1)
        }
        // EINVAL/ENOSYS (unsupported), EPERM (seccomp), anything odd.
        Ok(_) | Err(_) => Ok(false),
    }
}

/// Splices from `reader` to `writer` with `SPLICE_F_MOVE | SPLICE_F_NONBLOCK`.
///
/// On `EAGAIN` the side that is not ready is polled (with `cancel`).
/// Returns `None` when the kernel refuses to splice this pair (`EINVAL`,
/// `ENOSYS`): no bytes are lost, the caller continues with read/write.
#[cfg(target_os = "linux")]
pub(crate) fn transfer(
    reader: &Endpoint<'_>,
    writer: &Endpoint<'_>,
    cancel: &mut Canceller<'_>,
    len: usize,
    progress: &mut Progress,
) -> io::Result<Option<PumpEnd>> {
    const FLAGS: libc::c_uint = libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK;
    let mut gather = Gather::default();
    loop {
        if cancel.is_due_and_set()? {
            return Ok(Some(PumpEnd::Cancelled));
        }
        let err = match sys::splice(reader.fd(), writer.fd(), len, FLAGS) {
            Ok(0) => return Ok(Some(PumpEnd::Eof)),
            Ok(n) => {
                progress.bytes += n as u64;
                progress.spliced += n as u64;
                continue;
            }
            Err(err) => err,
        };
        if is_downstream_gone(&err) {
            return Ok(Some(PumpEnd::WriterGone));
        }
        match sys::errno(&err) {
            Some(libc::EINTR) => {}
            Some(libc::EAGAIN) => {
                let starved = sys::buffered(reader.fd()).is_ok_and(|n| n == 0);
                // Either side may be the one not ready; each wait returns at
                // once if its side is ready.
                if cancel.wait_readable(reader.fd())? == Wake::Cancelled {
                    return Ok(Some(PumpEnd::Cancelled));
                }
                if starved {
                    gather.woken(reader);
                }
                match cancel.wait_writable(writer.fd())? {
                    Wake::Ready => {}
                    Wake::Gone => return Ok(Some(PumpEnd::WriterGone)),
                    Wake::Cancelled => return Ok(Some(PumpEnd::Cancelled)),
                }
            }
            Some(libc::EINVAL | libc::ENOSYS) => return Ok(None),
            _ => return Err(err),
        }
    }
}

/// Gathering small writes. A writer that writes small pieces (`seq`,
/// `grep`: 4 KiB at a time) into an empty pipe wakes the pump for each
/// piece. When the pump is woken again within [`Gather::STREAMING`] of its
/// last wake-up and finds less than [`Gather::SMALL`] bytes waiting, it
/// sleeps [`Gather::PAUSE`] first, so one wake-up moves many pieces. An
/// isolated write is moved at once; a stream of small writes gets at most
/// `PAUSE` of extra latency per pump.
#[cfg(target_os = "linux")]
#[derive(Debug, Default)]
struct Gather {
    last_wake: Option<std::time::Instant>,
}

#[cfg(target_os = "linux")]
impl Gather {
    const STREAMING: std::time::Duration = std::time::Duration::from_millis(2);
    const SMALL: usize = 64 * 1024;
    const PAUSE: std::time::Duration = std::time::Duration::from_micros(250);

    /// Called when the pump was woken by data arriving in an empty source.
    fn woken(&mut self, reader: &Endpoint<'_>) {
        let now = std::time::Instant::now();
        let streaming = self
            .last_wake
            .is_some_and(|last| now.duration_since(last) < Self::STREAMING);
        if streaming && sys::buffered(reader.fd()).is_ok_and(|n| n < Self::SMALL) {
            std::thread::sleep(Self::PAUSE);
        }
        self.last_wake = Some(now);
    }
}
