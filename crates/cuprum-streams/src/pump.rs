//! The pump: move bytes from one borrowed descriptor to another until EOF,
//! until the downstream reader goes away, or until cancellation.

use std::fmt;
use std::io;
use std::os::fd::BorrowedFd;

use crate::endpoint::{Endpoint, Written};
use crate::wait::Canceller;

/// Default transfer size per system call.
pub const DEFAULT_BUFFER_SIZE: usize = 64 * 1024;

/// Tuning knobs of [`pump`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PumpOptions {
    /// Bytes per `read`/`write`/`splice` call; must be at least 1.
    pub buffer_size: usize,
    /// Try `splice(2)` first (Linux); falls back to read/write when the
    /// kernel refuses it for these descriptors.
    pub use_splice: bool,
    /// Allow per-call `RWF_NOWAIT` on blocking descriptors (Linux); when
    /// false, blocking descriptors are polled before every operation.
    pub allow_nowait: bool,
}

impl Default for PumpOptions {
    fn default() -> Self {
        Self {
            buffer_size: DEFAULT_BUFFER_SIZE,
            use_splice: true,
            allow_nowait: true,
        }
    }
}

/// Why a pump stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PumpEnd {
    /// The reader reached end of file; everything read was written.
    Eof,
    /// The writer's reading side went away (`EPIPE`, `ECONNRESET`,
    /// `POLLERR`/`POLLHUP`).
    WriterGone,
    /// The cancellation descriptor became readable.
    Cancelled,
}

impl PumpEnd {
    /// The name the Python module reports: `"eof"`, `"writer_gone"` or
    /// `"cancelled"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Eof => "eof",
            Self::WriterGone => "writer_gone",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Result of a successful [`pump`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PumpOutcome {
    /// Bytes written to the writer.
    pub bytes: u64,
    /// How many of those bytes were moved by `splice(2)`.
    pub spliced: u64,
    /// Why the pump stopped.
    pub end: PumpEnd,
}

/// A failed [`pump`]: the error, and what was moved before it.
#[derive(Debug)]
pub struct PumpError {
    /// The first unexpected I/O error.
    pub error: io::Error,
    /// Bytes written to the writer before the error.
    pub bytes: u64,
    /// How many of those bytes were moved by `splice(2)`.
    pub spliced: u64,
}

impl From<io::Error> for PumpError {
    /// An error before any byte moved.
    fn from(error: io::Error) -> Self {
        Self {
            error,
            bytes: 0,
            spliced: 0,
        }
    }
}

impl fmt::Display for PumpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (after {} bytes)", self.error, self.bytes)
    }
}

impl std::error::Error for PumpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Byte counters shared by the splice and read/write loops.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    pub(crate) bytes: u64,
    pub(crate) spliced: u64,
}

/// Moves bytes from `reader` to `writer`.
///
/// Both descriptors are borrowed (never closed) and may be blocking or
/// `O_NONBLOCK`. Waiting always polls the data descriptor together with
/// `cancel`, so a readable `cancel` stops the pump promptly. Every ending
/// reports the bytes written so far, a failure included.
///
/// # Errors
/// `InvalidInput` if `options.buffer_size` is 0; otherwise the first
/// unexpected I/O error (`EPIPE`/`ECONNRESET` on the writer are not errors
/// but [`PumpEnd::WriterGone`]), with the bytes moved before it.
pub fn pump(
    reader: BorrowedFd<'_>,
    writer: BorrowedFd<'_>,
    cancel: Option<BorrowedFd<'_>>,
    options: &PumpOptions,
) -> Result<PumpOutcome, PumpError> {
    let mut progress = Progress::default();
    match run(reader, writer, cancel, options, &mut progress) {
        Ok(end) => Ok(outcome(&progress, end)),
        Err(error) => Err(PumpError {
            error,
            bytes: progress.bytes,
            spliced: progress.spliced,
        }),
    }
}

/// The body of [`pump`], counting into `progress` as it goes.
fn run(
    reader: BorrowedFd<'_>,
    writer: BorrowedFd<'_>,
    cancel: Option<BorrowedFd<'_>>,
    options: &PumpOptions,
    progress: &mut Progress,
) -> io::Result<PumpEnd> {
    if options.buffer_size == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "buffer_size must be at least 1",
        ));
    }
    let mut reader = Endpoint::new(reader, options.allow_nowait)?;
    let mut writer = Endpoint::new(writer, options.allow_nowait)?;
    let mut cancel = Canceller::new(cancel);

    #[cfg(target_os = "linux")]
    if options.use_splice
        && crate::splice::available()
        && reader.splice_never_blocks()
        && writer.splice_never_blocks()
    {
        let end =
            crate::splice::transfer(&reader, &writer, &mut cancel, options.buffer_size, progress)?;
        if let Some(end) = end {
            return Ok(end);
        }
        // splice() is not supported for this pair: nothing was lost, carry
        // on with read/write.
    }

    copy(
        &mut reader,
        &mut writer,
        &mut cancel,
        options.buffer_size,
        progress,
    )
}

fn outcome(progress: &Progress, end: PumpEnd) -> PumpOutcome {
    PumpOutcome {
        bytes: progress.bytes,
        spliced: progress.spliced,
        end,
    }
}

/// Reserves `additional` bytes, reporting failure as `OutOfMemory`.
pub(crate) fn reserve(vec: &mut Vec<u8>, additional: usize) -> io::Result<()> {
    vec.try_reserve(additional)
        .map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))
}

/// The read/write loop: one buffer, short writes retried until the chunk is
/// fully written (still watching `cancel`).
fn copy(
    reader: &mut Endpoint<'_>,
    writer: &mut Endpoint<'_>,
    cancel: &mut Canceller<'_>,
    buffer_size: usize,
    progress: &mut Progress,
) -> io::Result<PumpEnd> {
    let mut buf = Vec::new();
    reserve(&mut buf, buffer_size)?;
    loop {
        if cancel.is_due_and_set()? {
            return Ok(PumpEnd::Cancelled);
        }
        buf.clear();
        match reader.read_append(&mut buf, buffer_size, cancel)? {
            None => return Ok(PumpEnd::Cancelled),
            Some(0) => return Ok(PumpEnd::Eof),
            Some(_) => {}
        }
        let mut pending = buf.as_slice();
        while !pending.is_empty() {
            match writer.write(pending, cancel)? {
                Written::Bytes(n) => {
                    progress.bytes += n as u64;
                    pending = &pending[n..];
                }
                Written::Gone => return Ok(PumpEnd::WriterGone),
                Written::Cancelled => return Ok(PumpEnd::Cancelled),
            }
            if !pending.is_empty() && cancel.is_due_and_set()? {
                return Ok(PumpEnd::Cancelled);
            }
        }
    }
}

#[cfg(test)]
mod tests;
