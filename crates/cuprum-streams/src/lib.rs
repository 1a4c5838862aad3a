//! `cuprum._streams_rs`: the optional Rust stream engine of cuprum.
//!
//! This file only holds the Python module and thin shims; the engine lives
//! in plain-Rust modules over borrowed descriptors. Python owns every
//! descriptor passed in: the engine borrows them and never closes them.

#![warn(clippy::pedantic)]
#![forbid(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod consume;
pub mod endpoint;
pub mod pump;
pub mod splice;
pub mod sys;
pub mod wait;

#[cfg(test)]
mod testutil;

use std::io;
use std::os::fd::{BorrowedFd, RawFd};

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// Converts an I/O error to Python, keeping `errno` (`OSError(errno,
/// strerror)`, which Python maps to the matching subclass).
fn to_py_err(err: io::Error) -> PyErr {
    match err.raw_os_error() {
        Some(code) => {
            let text = io::Error::from_raw_os_error(code).to_string();
            let suffix = format!(" (os error {code})");
            let strerror = text.strip_suffix(&suffix).unwrap_or(&text).to_owned();
            PyOSError::new_err((code, strerror))
        }
        None => PyErr::from(err),
    }
}

/// Validates a Python `buffer_size`.
fn buffer_size_arg(buffer_size: i64) -> PyResult<usize> {
    usize::try_from(buffer_size)
        .ok()
        .filter(|&n| n >= 1)
        .ok_or_else(|| PyValueError::new_err("buffer_size must be >= 1"))
}

/// Borrows the descriptors of one call (`cancel_fd == -1` means none) and
/// runs `f` on them.
fn with_fds<T>(
    fds: &[RawFd],
    cancel_fd: RawFd,
    f: impl FnOnce(&[BorrowedFd<'_>], Option<BorrowedFd<'_>>) -> io::Result<T>,
) -> io::Result<T> {
    let borrowed = fds
        .iter()
        .map(|&fd| {
            // SAFETY: the Python caller owns these descriptors and keeps
            // them open until this call returns; they are only borrowed for
            // its duration and never closed here.
            unsafe { sys::borrow_raw(fd) }
        })
        .collect::<io::Result<Vec<_>>>()?;
    let cancel = if cancel_fd == -1 {
        None
    } else {
        // SAFETY: as above.
        Some(unsafe { sys::borrow_raw(cancel_fd) }?)
    };
    f(&borrowed, cancel)
}

/// Whether `splice(2)` is usable on this system (detected once at run time).
#[pyfunction]
#[pyo3(name = "splice_available")]
fn py_splice_available(py: Python<'_>) -> bool {
    py.detach(splice::available)
}

/// Converts a pump failure to Python: the exception of [`to_py_err`], with
/// the bytes written before the failure set as its `moved` attribute.
fn pump_err(py: Python<'_>, failure: pump::PumpError) -> PyErr {
    let err = to_py_err(failure.error);
    if let Err(attr_err) = err.value(py).setattr("moved", failure.bytes) {
        return attr_err; // only when Python is out of memory
    }
    err
}

/// Move bytes from `reader_fd` to `writer_fd` until EOF on the reader, the
/// downstream reader going away, or `cancel_fd` becoming readable.
///
/// Returns `(end, moved)`: `end` is `"eof"`, `"writer_gone"` (`EPIPE`,
/// `ECONNRESET`) or `"cancelled"`, `moved` the bytes written. Any other
/// I/O failure raises `OSError` (by `errno`) whose `moved` attribute holds
/// the bytes written before it. The descriptors are borrowed, never closed.
#[pyfunction]
#[pyo3(
    name = "pump",
    signature = (reader_fd, writer_fd, buffer_size = 65536, cancel_fd = -1, use_splice = true),
    text_signature = "(reader_fd, writer_fd, buffer_size=65536, cancel_fd=-1, use_splice=True)"
)]
fn py_pump(
    py: Python<'_>,
    reader_fd: RawFd,
    writer_fd: RawFd,
    buffer_size: i64,
    cancel_fd: RawFd,
    use_splice: bool,
) -> PyResult<(&'static str, u64)> {
    let options = pump::PumpOptions {
        buffer_size: buffer_size_arg(buffer_size)?,
        use_splice,
        ..pump::PumpOptions::default()
    };
    py.detach(|| {
        with_fds(&[reader_fd, writer_fd], cancel_fd, |fds, cancel| {
            Ok(pump::pump(fds[0], fds[1], cancel, &options))
        })
        .unwrap_or_else(|error| Err(error.into()))
    })
    .map(|outcome| (outcome.end.as_str(), outcome.bytes))
    .map_err(|failure| pump_err(py, failure))
}

/// Read `reader_fd` to EOF (or until `cancel_fd` is readable), keeping at
/// most `max_output` bytes. Returns `(kept_bytes, total_bytes_read)`.
///
/// With a `sink`, the kept bytes are not returned (`kept_bytes` is empty):
/// each piece is passed to `sink` as it is read, as a read-only
/// `memoryview` valid only during the call (it is released afterwards), so
/// the caller keeps the bytes where it wants them without a concatenation.
/// An exception from `sink` stops the reading and is raised.
#[pyfunction]
#[pyo3(
    name = "consume",
    signature = (reader_fd, max_output = None, buffer_size = 65536, cancel_fd = -1, sink = None),
    text_signature = "(reader_fd, max_output=None, buffer_size=65536, cancel_fd=-1, sink=None)"
)]
fn py_consume(
    py: Python<'_>,
    reader_fd: RawFd,
    max_output: Option<i64>,
    buffer_size: i64,
    cancel_fd: RawFd,
    sink: Option<Py<PyAny>>,
) -> PyResult<(Bound<'_, PyBytes>, u64)> {
    let max_output = max_output
        .map(|max| {
            usize::try_from(max).map_err(|_| PyValueError::new_err("max_output must be >= 0"))
        })
        .transpose()?;
    let options = consume::ConsumeOptions {
        max_output,
        buffer_size: buffer_size_arg(buffer_size)?,
        ..consume::ConsumeOptions::default()
    };
    if let Some(sink) = sink {
        let total = consume_to_sink(py, reader_fd, cancel_fd, &options, &sink)?;
        return Ok((PyBytes::new(py, b""), total));
    }
    let outcome = py
        .detach(|| {
            with_fds(&[reader_fd], cancel_fd, |fds, cancel| {
                consume::consume(fds[0], cancel, &options)
            })
        })
        .map_err(to_py_err)?;
    Ok((PyBytes::new(py, &outcome.kept), outcome.total))
}

/// The `sink` form of `consume`: reads without the GIL, takes it to hand
/// each piece over. Returns the bytes read.
fn consume_to_sink(
    py: Python<'_>,
    reader_fd: RawFd,
    cancel_fd: RawFd,
    options: &consume::ConsumeOptions,
    sink: &Py<PyAny>,
) -> PyResult<u64> {
    let mut failure: Option<PyErr> = None;
    let mut still_viewed = false;
    let mut scratch = Vec::new();
    let outcome = py.detach(|| {
        with_fds(&[reader_fd], cancel_fd, |fds, cancel| {
            consume::consume_into(fds[0], cancel, options, &mut scratch, |piece| {
                Python::attach(|py| hand_over(py, sink, piece, &mut still_viewed)).map_err(|err| {
                    failure = Some(err);
                    io::Error::other("the sink raised")
                })
            })
        })
    });
    if still_viewed {
        // A view of the buffer outlived its call: never free memory that
        // Python code can still read.
        std::mem::forget(scratch);
    }
    if let Some(err) = failure {
        return Err(err);
    }
    Ok(outcome.map_err(to_py_err)?.total)
}

/// Calls `sink` with a read-only view of `piece`, then releases the view.
fn hand_over(
    py: Python<'_>,
    sink: &Py<PyAny>,
    piece: &[u8],
    still_viewed: &mut bool,
) -> PyResult<()> {
    let len = isize::try_from(piece.len()).map_err(|_| PyValueError::new_err("piece too large"))?;
    // SAFETY: `PyMemoryView_FromMemory` with `PyBUF_READ` makes a read-only
    // view of `piece`, which stays alive and unchanged until the view is
    // released below (or, if it cannot be, is never freed: `still_viewed`).
    let view = unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            pyo3::ffi::PyMemoryView_FromMemory(
                piece.as_ptr().cast_mut().cast(),
                len,
                pyo3::ffi::PyBUF_READ,
            ),
        )
    }?;
    let called = sink.bind(py).call1((&view,));
    if view.call_method0("release").is_err() {
        *still_viewed = true;
    }
    called.map(drop)
}

/// The `cuprum._streams_rs` extension module.
#[pymodule]
#[pyo3(name = "_streams_rs")]
fn streams_rs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(py_splice_available, m)?)?;
    m.add_function(wrap_pyfunction!(py_pump, m)?)?;
    m.add_function(wrap_pyfunction!(py_consume, m)?)?;
    Ok(())
}
