//! Draining a descriptor into memory, keeping at most a prefix.

use std::io;
use std::os::fd::BorrowedFd;

use crate::endpoint::Endpoint;
use crate::pump::{reserve, DEFAULT_BUFFER_SIZE};
use crate::wait::Canceller;

/// Tuning knobs of [`consume`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumeOptions {
    /// Keep at most this many bytes (`None`: keep everything); the rest is
    /// read and dropped.
    pub max_output: Option<usize>,
    /// Bytes per `read` call; must be at least 1.
    pub buffer_size: usize,
    /// Allow per-call `RWF_NOWAIT` on a blocking descriptor (Linux).
    pub allow_nowait: bool,
}

impl Default for ConsumeOptions {
    fn default() -> Self {
        Self {
            max_output: None,
            buffer_size: DEFAULT_BUFFER_SIZE,
            allow_nowait: true,
        }
    }
}

/// Result of a successful [`consume`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumeOutcome {
    /// The first `min(total, max_output)` bytes read.
    pub kept: Vec<u8>,
    /// All bytes read, kept or dropped.
    pub total: u64,
    /// Whether reading stopped because of cancellation (not EOF).
    pub cancelled: bool,
}

/// Reads `reader` to EOF (or until `cancel` is readable).
///
/// Kept bytes are read straight into the spare capacity of one growing
/// `Vec`; once `max_output` bytes are kept, the rest goes through a scratch
/// buffer and is dropped.
///
/// # Errors
/// `InvalidInput` if `options.buffer_size` is 0, `OutOfMemory` if the
/// buffer cannot grow, or the first unexpected read error.
pub fn consume(
    reader: BorrowedFd<'_>,
    cancel: Option<BorrowedFd<'_>>,
    options: &ConsumeOptions,
) -> io::Result<ConsumeOutcome> {
    let buffer_size = check_buffer_size(options)?;
    let mut reader = Endpoint::new(reader, options.allow_nowait)?;
    let mut cancel = Canceller::new(cancel);
    let mut kept = Vec::new();
    let mut scratch = Vec::new();
    let mut total = 0u64;
    let cancelled = loop {
        if cancel.is_due_and_set()? {
            break true;
        }
        let room = options
            .max_output
            .map_or(usize::MAX, |max| max.saturating_sub(kept.len()));
        let got = if room > 0 {
            let want = buffer_size.min(room);
            reserve(&mut kept, want)?;
            reader.read_append(&mut kept, want, &mut cancel)?
        } else {
            if scratch.capacity() == 0 {
                reserve(&mut scratch, buffer_size)?;
            }
            scratch.clear();
            reader.read_append(&mut scratch, buffer_size, &mut cancel)?
        };
        match got {
            None => break true,
            Some(0) => break false,
            Some(n) => total += n as u64,
        }
    };
    Ok(ConsumeOutcome {
        kept,
        total,
        cancelled,
    })
}

/// Result of a successful [`consume_into`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrainOutcome {
    /// All bytes read, kept or dropped.
    pub total: u64,
    /// Whether reading stopped because of cancellation (not EOF).
    pub cancelled: bool,
}

/// Reads `reader` to EOF (or until `cancel` is readable), handing each kept
/// piece to `keep` as soon as it is read.
///
/// The caller's `scratch` buffer (grown to `options.buffer_size` bytes) is
/// reused for every read, so the caller decides where the bytes end up and
/// no fresh memory is touched per byte; it also decides when the buffer
/// may be freed. At most `max_output` bytes are handed over; the rest is
/// read and dropped.
///
/// # Errors
/// `InvalidInput` if `options.buffer_size` is 0, `OutOfMemory` if the
/// scratch buffer cannot be allocated, the first unexpected read error, or
/// the first error `keep` returns.
pub fn consume_into(
    reader: BorrowedFd<'_>,
    cancel: Option<BorrowedFd<'_>>,
    options: &ConsumeOptions,
    scratch: &mut Vec<u8>,
    mut keep: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<DrainOutcome> {
    let buffer_size = check_buffer_size(options)?;
    let mut reader = Endpoint::new(reader, options.allow_nowait)?;
    let mut cancel = Canceller::new(cancel);
    scratch.clear();
    reserve(scratch, buffer_size)?;
    let mut room = options.max_output.unwrap_or(usize::MAX);
    let mut total = 0u64;
    let cancelled = loop {
        if cancel.is_due_and_set()? {
            break true;
        }
        scratch.clear();
        match reader.read_append(scratch, buffer_size, &mut cancel)? {
            None => break true,
            Some(0) => break false,
            Some(n) => {
                total += n as u64;
                let kept = n.min(room);
                if kept > 0 {
                    room -= kept;
                    keep(&scratch[..kept])?;
                }
            }
        }
    };
    Ok(DrainOutcome { total, cancelled })
}

fn check_buffer_size(options: &ConsumeOptions) -> io::Result<usize> {
    if options.buffer_size == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "buffer_size must be at least 1",
        ));
    }
    Ok(options.buffer_size)
}

#[cfg(test)]
mod tests;
