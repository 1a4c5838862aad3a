use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::thread::JoinHandleExt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::thread;
use std::time::{Duration, Instant};

use super::*;
use crate::testutil::{
    assert_within, check_stream, expected, heavy, pipe, set_nonblocking, spawn_producer,
    spawn_timed, spawn_verifier, spawn_verifier_with, temp_file, MIB,
};
use crate::{splice, sys};

const PROMPT: Duration = Duration::from_millis(100);

type PumpResult = Result<PumpOutcome, PumpError>;

/// One way of driving the pump.
#[derive(Debug, Clone, Copy)]
struct Setup {
    splice: bool,
    nonblocking: bool,
    nowait: bool,
}

const SETUPS: [Setup; 5] = [
    Setup {
        splice: true,
        nonblocking: true,
        nowait: true,
    },
    Setup {
        splice: true,
        nonblocking: false,
        nowait: true,
    },
    Setup {
        splice: false,
        nonblocking: true,
        nowait: true,
    },
    Setup {
        splice: false,
        nonblocking: false,
        nowait: true,
    },
    // Blocking descriptors without RWF_NOWAIT: poll before every call.
    Setup {
        splice: false,
        nonblocking: false,
        nowait: false,
    },
];

impl Setup {
    fn options(self, buffer_size: usize) -> PumpOptions {
        PumpOptions {
            buffer_size,
            use_splice: self.splice,
            allow_nowait: self.nowait,
        }
    }

    /// Applies the blocking mode to the pump's two ends.
    fn prepare(self, reader: &OwnedFd, writer: &OwnedFd) {
        if self.nonblocking {
            set_nonblocking(reader);
            set_nonblocking(writer);
        }
    }

    fn expect_spliced(self, outcome: &PumpOutcome) {
        if self.splice && splice::available() {
            assert_eq!(outcome.spliced, outcome.bytes, "{self:?}");
        } else {
            assert_eq!(outcome.spliced, 0, "{self:?}");
        }
    }
}

/// producer -> pipe -> pump -> pipe -> verifier, returning the outcome.
fn pipeline(setup: Setup, total: u64, buffer_size: usize) -> PumpOutcome {
    let (up_r, up_w) = pipe();
    let (down_r, down_w) = pipe();
    setup.prepare(&up_r, &down_w);
    let producer = spawn_producer(up_w, total);
    let verifier = spawn_verifier(down_r);
    let outcome = pump(
        up_r.as_fd(),
        down_w.as_fd(),
        None,
        &setup.options(buffer_size),
    )
    .unwrap();
    drop(down_w);
    assert_eq!(producer.join().unwrap(), total);
    assert_eq!(verifier.join().unwrap(), total, "{setup:?}");
    assert_eq!(outcome.bytes, total, "{setup:?}");
    assert_eq!(outcome.end, PumpEnd::Eof);
    setup.expect_spliced(&outcome);
    outcome
}

fn throughput(label: &str, bytes: u64, started: Instant) {
    let secs = started.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let mib = bytes as f64 / MIB as f64;
    eprintln!(
        "{label}: {mib:.0} MiB in {secs:.3} s = {:.0} MiB/s",
        mib / secs
    );
}

#[cfg(target_os = "linux")]
#[test]
fn splice_is_detected_on_linux() {
    assert!(splice::available());
    assert!(splice::available(), "cached answer");
}

#[test]
fn small_transfers_in_every_setup() {
    for setup in SETUPS {
        pipeline(setup, 100_003, DEFAULT_BUFFER_SIZE);
        pipeline(setup, 0, DEFAULT_BUFFER_SIZE);
    }
}

#[test]
fn one_byte_buffer() {
    for setup in SETUPS {
        pipeline(setup, 5_000, 1);
    }
}

#[test]
fn medium_transfers_with_odd_buffers() {
    for setup in SETUPS {
        pipeline(setup, 8 * MIB + 5, 100_000);
    }
}

#[test]
fn zero_buffer_size_is_rejected() {
    let (r, w) = pipe();
    let options = PumpOptions {
        buffer_size: 0,
        ..PumpOptions::default()
    };
    let err = pump(r.as_fd(), w.as_fd(), None, &options).unwrap_err();
    assert_eq!(err.error.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(err.bytes, 0);
}

#[test]
fn closed_cancel_pipe_counts_as_cancellation() {
    let (r, _w) = pipe();
    let (_down_r, down_w) = pipe();
    let (cancel_r, cancel_w) = pipe();
    drop(cancel_w);
    let outcome = pump(
        r.as_fd(),
        down_w.as_fd(),
        Some(cancel_r.as_fd()),
        &PumpOptions::default(),
    )
    .unwrap();
    assert_eq!(outcome.end, PumpEnd::Cancelled);
}

#[test]
fn large_splice_256_mib_nonblocking() {
    let _guard = heavy();
    let setup = SETUPS[0];
    let started = Instant::now();
    pipeline(setup, 256 * MIB, 1 << 20);
    throughput("splice 256 MiB, 1 MiB buffer", 256 * MIB, started);
}

#[test]
fn large_read_write_256_mib_nonblocking() {
    let _guard = heavy();
    let started = Instant::now();
    pipeline(SETUPS[2], 256 * MIB, 1 << 20);
    throughput("read/write 256 MiB, 1 MiB buffer", 256 * MIB, started);
}

#[test]
fn large_transfers_with_blocking_descriptors() {
    let _guard = heavy();
    for setup in [SETUPS[1], SETUPS[3], SETUPS[4]] {
        let started = Instant::now();
        pipeline(setup, 64 * MIB, DEFAULT_BUFFER_SIZE);
        throughput(&format!("{setup:?} 64 MiB"), 64 * MIB, started);
    }
}

#[test]
fn regular_file_to_regular_file_falls_back() {
    let total = 3 * MIB + 17;
    let mut src = temp_file(false);
    src.write_all(&expected(0, usize::try_from(total).unwrap()))
        .unwrap();
    for use_splice in [true, false] {
        src.seek(SeekFrom::Start(0)).unwrap();
        let mut dst = temp_file(false);
        let options = PumpOptions {
            use_splice,
            ..PumpOptions::default()
        };
        let outcome = pump(src.as_fd(), dst.as_fd(), None, &options).unwrap();
        // Neither side is a pipe: splice() says EINVAL, read/write takes over.
        assert_eq!(outcome.bytes, total);
        assert_eq!(outcome.spliced, 0);
        assert_eq!(outcome.end, PumpEnd::Eof);
        let mut copy = Vec::new();
        dst.seek(SeekFrom::Start(0)).unwrap();
        dst.read_to_end(&mut copy).unwrap();
        assert_eq!(copy.len() as u64, total);
        check_stream(&copy, 0);
    }
}

#[test]
fn regular_file_to_pipe_splices() {
    let total = 2 * MIB + 3;
    let mut src = temp_file(false);
    src.write_all(&expected(0, usize::try_from(total).unwrap()))
        .unwrap();
    src.seek(SeekFrom::Start(0)).unwrap();
    let (down_r, down_w) = pipe();
    set_nonblocking(&down_w);
    let verifier = spawn_verifier(down_r);
    let outcome = pump(src.as_fd(), down_w.as_fd(), None, &PumpOptions::default()).unwrap();
    drop(down_w);
    assert_eq!(verifier.join().unwrap(), total);
    assert_eq!(outcome.bytes, total);
    if splice::available() {
        assert_eq!(outcome.spliced, total);
    }
}

#[test]
fn pipe_to_append_only_file_falls_back_without_losing_bytes() {
    let total = 3 * MIB + 1;
    let (up_r, up_w) = pipe();
    set_nonblocking(&up_r);
    let producer = spawn_producer(up_w, total);
    let mut dst = temp_file(true);
    dst.write_all(b"").unwrap();
    let outcome = pump(up_r.as_fd(), dst.as_fd(), None, &PumpOptions::default()).unwrap();
    assert_eq!(producer.join().unwrap(), total);
    // splice() refuses O_APPEND output with EINVAL.
    assert_eq!(outcome.spliced, 0);
    assert_eq!(outcome.bytes, total);
    let mut copy = Vec::new();
    dst.seek(SeekFrom::Start(0)).unwrap();
    dst.read_to_end(&mut copy).unwrap();
    assert_eq!(copy.len() as u64, total);
    check_stream(&copy, 0);
}

#[test]
fn socketpair_to_socketpair_falls_back() {
    let total = 4 * MIB + 9;
    for nonblocking in [true, false] {
        let (src_peer, src) = UnixStream::pair().unwrap();
        let (dst, dst_peer) = UnixStream::pair().unwrap();
        src.set_nonblocking(nonblocking).unwrap();
        dst.set_nonblocking(nonblocking).unwrap();
        let producer = spawn_producer(OwnedFd::from(src_peer), total);
        let verifier = spawn_verifier(OwnedFd::from(dst_peer));
        let outcome = pump(src.as_fd(), dst.as_fd(), None, &PumpOptions::default()).unwrap();
        drop(dst);
        assert_eq!(producer.join().unwrap(), total);
        assert_eq!(verifier.join().unwrap(), total);
        assert_eq!(outcome.bytes, total);
        assert_eq!(outcome.spliced, 0);
        assert_eq!(outcome.end, PumpEnd::Eof);
    }
}

#[test]
fn downstream_closed_before_start_ends_quietly() {
    for setup in SETUPS {
        let (up_r, up_w) = pipe();
        let (down_r, down_w) = pipe();
        setup.prepare(&up_r, &down_w);
        drop(down_r);
        let producer = spawn_producer(up_w, MIB);
        let outcome = pump(up_r.as_fd(), down_w.as_fd(), None, &setup.options(4096)).unwrap();
        assert_eq!(outcome.end, PumpEnd::WriterGone, "{setup:?}");
        assert_eq!(outcome.bytes, 0);
        drop(up_r);
        producer.join().unwrap();
    }
}

#[test]
fn downstream_closing_mid_transfer_ends_quietly() {
    for setup in SETUPS {
        let (up_r, up_w) = pipe();
        let (down_r, down_w) = pipe();
        setup.prepare(&up_r, &down_w);
        let producer = spawn_producer(up_w, u64::MAX);
        // Reads 1 MiB (checking it), pauses so the pump blocks on a full
        // pipe, then closes its end.
        let verifier = spawn_verifier_with(down_r, 64 * 1024, Duration::from_millis(1), MIB);
        let outcome = pump(up_r.as_fd(), down_w.as_fd(), None, &setup.options(65536)).unwrap();
        assert_eq!(outcome.end, PumpEnd::WriterGone, "{setup:?}");
        assert_eq!(verifier.join().unwrap(), MIB);
        assert!(outcome.bytes >= MIB, "{setup:?}: {outcome:?}");
        drop(up_r);
        producer.join().unwrap();
    }
}

#[cfg(target_os = "linux")]
#[test]
fn short_writes_to_a_small_pipe() {
    let total = MIB + 7;
    for setup in SETUPS {
        let (up_r, up_w) = pipe();
        let (down_r, down_w) = pipe();
        assert_eq!(sys::set_pipe_size(down_w.as_fd(), 4096).unwrap(), 4096);
        setup.prepare(&up_r, &down_w);
        let producer = spawn_producer(up_w, total);
        let verifier = spawn_verifier_with(down_r, 1500, Duration::from_micros(20), u64::MAX);
        let outcome = pump(up_r.as_fd(), down_w.as_fd(), None, &setup.options(65536)).unwrap();
        drop(down_w);
        assert_eq!(producer.join().unwrap(), total);
        assert_eq!(verifier.join().unwrap(), total, "{setup:?}");
        assert_eq!(outcome.bytes, total);
        assert_eq!(outcome.end, PumpEnd::Eof);
    }
}

static SIGNALS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn count_signal(_: libc::c_int) {
    SIGNALS.fetch_add(1, Ordering::Relaxed);
}

/// Installs a no-op SIGUSR1 handler *without* `SA_RESTART`, so blocking
/// system calls in the signalled thread fail with `EINTR`.
fn install_eintr_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: an all-zero sigaction is a valid starting value.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = count_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = 0;
        // SAFETY: `action.sa_mask` is a valid sigset_t to initialise.
        unsafe { libc::sigemptyset(&raw mut action.sa_mask) };
        // SAFETY: valid signal number and action; the old action is unused.
        let rc = unsafe { libc::sigaction(libc::SIGUSR1, &raw const action, std::ptr::null_mut()) };
        assert_eq!(rc, 0);
    });
}

#[test]
fn signals_without_sa_restart_do_not_break_transfers() {
    install_eintr_handler();
    let _guard = heavy();
    let total = 24 * MIB + 11;
    for setup in SETUPS {
        let (up_r, up_w) = pipe();
        let (down_r, down_w) = pipe();
        setup.prepare(&up_r, &down_w);
        let before = SIGNALS.load(Ordering::Relaxed);
        let producer = spawn_producer(up_w, total);
        let done = Arc::new(AtomicBool::new(false));
        let done_in_pump = Arc::clone(&done);
        let pumper = thread::spawn(move || {
            let outcome = pump(up_r.as_fd(), down_w.as_fd(), None, &setup.options(65536));
            done_in_pump.store(true, Ordering::SeqCst);
            outcome
        });
        let target = pumper.as_pthread_t();
        let killer = thread::spawn(move || {
            let mut sent = 0usize;
            while !done.load(Ordering::SeqCst) {
                // SAFETY: the pump thread is joined only after this thread,
                // so `target` still names it (possibly exited, not reaped).
                unsafe { libc::pthread_kill(target, libc::SIGUSR1) };
                sent += 1;
                thread::sleep(Duration::from_micros(200));
            }
            sent
        });
        // Nobody reads until the pump, blocked on the full pipe, has been
        // interrupted a good number of times (a fast machine would
        // otherwise finish the transfer before the signals arrive).
        let deadline = Instant::now() + Duration::from_secs(20);
        while SIGNALS.load(Ordering::Relaxed) - before < 20 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
        let verifier = spawn_verifier_with(down_r, 32 * 1024, Duration::ZERO, u64::MAX);
        let sent = killer.join().unwrap();
        let outcome = pumper.join().unwrap().unwrap();
        assert_eq!(producer.join().unwrap(), total);
        assert_eq!(verifier.join().unwrap(), total, "{setup:?}");
        assert_eq!(outcome.bytes, total);
        assert_eq!(outcome.end, PumpEnd::Eof);
        let handled = SIGNALS.load(Ordering::Relaxed) - before;
        assert!(
            sent > 10 && handled > 10,
            "{setup:?}: sent {sent}, handled {handled}"
        );
    }
}

/// Spawns a pump with a cancel pipe; returns (handle, cancel write end,
/// keep-alive descriptors).
fn spawn_cancellable(
    setup: Setup,
    reader: OwnedFd,
    writer: OwnedFd,
) -> (thread::JoinHandle<(PumpResult, Instant)>, OwnedFd) {
    let (cancel_r, cancel_w) = pipe();
    setup.prepare(&reader, &writer);
    let handle = spawn_timed(move || {
        pump(
            reader.as_fd(),
            writer.as_fd(),
            Some(cancel_r.as_fd()),
            &setup.options(65536),
        )
    });
    (handle, cancel_w)
}

fn cancel_now(cancel_w: &OwnedFd) -> Instant {
    let now = Instant::now();
    assert_eq!(sys::write(cancel_w.as_fd(), b"x").unwrap(), 1);
    now
}

#[test]
fn cancel_while_waiting_for_an_empty_reader() {
    let _guard = heavy();
    for setup in SETUPS {
        let (up_r, up_w) = pipe();
        let (down_r, down_w) = pipe();
        let (handle, cancel_w) = spawn_cancellable(setup, up_r, down_w);
        thread::sleep(Duration::from_millis(30));
        let cancelled_at = cancel_now(&cancel_w);
        let (outcome, finished) = handle.join().unwrap();
        assert_within(cancelled_at, finished, PROMPT);
        let outcome = outcome.unwrap();
        assert_eq!(outcome.end, PumpEnd::Cancelled, "{setup:?}");
        assert_eq!(outcome.bytes, 0);
        drop((up_w, down_r));
    }
}

#[test]
fn cancel_while_waiting_for_a_full_writer() {
    let _guard = heavy();
    for setup in SETUPS {
        let (up_r, up_w) = pipe();
        let (down_r, down_w) = pipe();
        let producer = spawn_producer(up_w, u64::MAX);
        let (handle, cancel_w) = spawn_cancellable(setup, up_r, down_w);
        // Nobody reads `down_r`: the pump fills the pipe and waits.
        thread::sleep(Duration::from_millis(50));
        let cancelled_at = cancel_now(&cancel_w);
        let (outcome, finished) = handle.join().unwrap();
        assert_within(cancelled_at, finished, PROMPT);
        let outcome = outcome.unwrap();
        assert_eq!(outcome.end, PumpEnd::Cancelled, "{setup:?}");
        assert!(outcome.bytes > 0);
        // The pump closed nothing, the thread dropped its fds: what is in
        // the pipe is exactly what the pump reported.
        assert_eq!(
            spawn_verifier(down_r).join().unwrap(),
            outcome.bytes,
            "{setup:?}"
        );
        producer.join().unwrap();
    }
}

#[test]
fn cancel_while_data_flows() {
    let _guard = heavy();
    for setup in SETUPS {
        let (up_r, up_w) = pipe();
        let (down_r, down_w) = pipe();
        let producer = spawn_producer(up_w, u64::MAX);
        let verifier = spawn_verifier(down_r);
        let (handle, cancel_w) = spawn_cancellable(setup, up_r, down_w);
        thread::sleep(Duration::from_millis(50));
        let cancelled_at = cancel_now(&cancel_w);
        let (outcome, finished) = handle.join().unwrap();
        assert_within(cancelled_at, finished, PROMPT);
        let outcome = outcome.unwrap();
        assert_eq!(outcome.end, PumpEnd::Cancelled, "{setup:?}");
        assert!(outcome.bytes > 0);
        assert_eq!(verifier.join().unwrap(), outcome.bytes, "{setup:?}");
        producer.join().unwrap();
    }
}

#[test]
fn already_cancelled_pump_moves_nothing() {
    for setup in SETUPS {
        let (up_r, up_w) = pipe();
        let (_down_r, down_w) = pipe();
        let (cancel_r, cancel_w) = pipe();
        setup.prepare(&up_r, &down_w);
        sys::write(up_w.as_fd(), b"pending data").unwrap();
        sys::write(cancel_w.as_fd(), b"x").unwrap();
        let outcome = pump(
            up_r.as_fd(),
            down_w.as_fd(),
            Some(cancel_r.as_fd()),
            &setup.options(65536),
        )
        .unwrap();
        assert_eq!(outcome.end, PumpEnd::Cancelled);
        assert_eq!(outcome.bytes, 0);
    }
}

#[test]
fn end_names_are_the_python_values() {
    assert_eq!(PumpEnd::Eof.as_str(), "eof");
    assert_eq!(PumpEnd::WriterGone.as_str(), "writer_gone");
    assert_eq!(PumpEnd::Cancelled.as_str(), "cancelled");
}

/// A pump in a thread that has moved exactly `b"hello"` and waits for more
/// input; the test then ends it one way or another.
struct Staged {
    handle: thread::JoinHandle<PumpResult>,
    /// Feeds the pump (blocking).
    up_w: File,
    /// Downstream of the pump (blocking).
    down_r: File,
    /// The number of the pump's writer, owned by the pump thread.
    down_w: RawFd,
    cancel_w: OwnedFd,
}

const HELLO: &[u8] = b"hello";

fn staged(setup: Setup) -> Staged {
    let (up_r, up_w) = pipe();
    let (down_r, down_w) = pipe();
    let (cancel_r, cancel_w) = pipe();
    setup.prepare(&up_r, &down_w);
    let down_w_raw = down_w.as_raw_fd();
    let handle = thread::spawn(move || {
        pump(
            up_r.as_fd(),
            down_w.as_fd(),
            Some(cancel_r.as_fd()),
            &setup.options(65536),
        )
    });
    let mut up_w = File::from(up_w);
    let mut down_r = File::from(down_r);
    up_w.write_all(HELLO).unwrap();
    let mut seen = [0u8; HELLO.len()];
    down_r.read_exact(&mut seen).unwrap();
    assert_eq!(seen, HELLO);
    // The pump is now back to waiting on its reader: it touches the writer
    // again only once more input arrives.
    Staged {
        handle,
        up_w,
        down_r,
        down_w: down_w_raw,
        cancel_w,
    }
}

#[test]
fn eof_reports_the_bytes_moved() {
    for setup in SETUPS {
        let run = staged(setup);
        drop(run.up_w);
        let outcome = run.handle.join().unwrap().unwrap();
        assert_eq!(outcome.end, PumpEnd::Eof, "{setup:?}");
        assert_eq!(outcome.bytes, HELLO.len() as u64, "{setup:?}");
        drop((run.down_r, run.cancel_w));
    }
}

#[test]
fn writer_gone_reports_the_bytes_moved() {
    for setup in SETUPS {
        let mut run = staged(setup);
        drop(run.down_r);
        run.up_w.write_all(b"never delivered").unwrap();
        let outcome = run.handle.join().unwrap().unwrap();
        assert_eq!(outcome.end, PumpEnd::WriterGone, "{setup:?}");
        assert_eq!(outcome.bytes, HELLO.len() as u64, "{setup:?}");
        drop((run.up_w, run.cancel_w));
    }
}

#[test]
fn cancelled_reports_the_bytes_moved() {
    for setup in SETUPS {
        let run = staged(setup);
        cancel_now(&run.cancel_w);
        let outcome = run.handle.join().unwrap().unwrap();
        assert_eq!(outcome.end, PumpEnd::Cancelled, "{setup:?}");
        assert_eq!(outcome.bytes, HELLO.len() as u64, "{setup:?}");
        drop((run.up_w, run.down_r));
    }
}

#[test]
fn an_error_reports_the_bytes_moved_before_it() {
    let read_only = File::open("/dev/null").unwrap();
    for setup in SETUPS {
        let mut run = staged(setup);
        // Swap the pump's writer for a read-only descriptor under the same
        // number: its next write (or splice) fails with EBADF, which is not
        // "the reader went away".
        // SAFETY: both numbers are open; `run.down_w` stays owned (and is
        // later closed) by the pump thread, which is not using it now.
        let rc = unsafe { libc::dup2(read_only.as_raw_fd(), run.down_w) };
        assert_eq!(rc, run.down_w);
        run.up_w.write_all(b"more").unwrap();
        let failure = run.handle.join().unwrap().unwrap_err();
        assert_eq!(failure.error.raw_os_error(), Some(libc::EBADF), "{setup:?}");
        assert_eq!(failure.bytes, HELLO.len() as u64, "{setup:?}");
        if setup.splice && splice::available() {
            assert_eq!(failure.spliced, failure.bytes, "{setup:?}");
        }
        assert!(failure.to_string().contains("after 5 bytes"), "{failure}");
        drop((run.up_w, run.down_r, run.cancel_w));
    }
}
