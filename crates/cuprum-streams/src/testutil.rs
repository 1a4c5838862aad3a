//! Helpers shared by the unit tests: pipes, a deterministic byte stream and
//! threads producing / verifying it.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Mutex, MutexGuard, Once, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::sys;

/// Prime length, so the pattern never lines up with buffer sizes.
pub const PATTERN_LEN: usize = 1_048_573;

pub const MIB: u64 = 1024 * 1024;

/// Makes `write()` to a reader-less pipe fail with `EPIPE` instead of
/// killing the test process (as Python does).
pub fn ignore_sigpipe() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: installing SIG_IGN has no preconditions.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    });
}

/// Large transfers saturate both CPUs; run them one at a time so timing
/// sensitive tests are not starved.
pub fn heavy() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A fresh `(read_end, write_end)` pipe.
pub fn pipe() -> (OwnedFd, OwnedFd) {
    ignore_sigpipe();
    sys::pipe().expect("pipe")
}

pub fn set_nonblocking(fd: &OwnedFd) {
    sys::set_nonblocking(fd.as_fd(), true).expect("O_NONBLOCK");
}

/// The repeating test pattern (xorshift bytes).
pub fn pattern() -> &'static [u8] {
    static PATTERN: OnceLock<Vec<u8>> = OnceLock::new();
    PATTERN.get_or_init(|| {
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        (0..PATTERN_LEN)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[3]
            })
            .collect()
    })
}

/// Stream bytes `[offset, offset + len)`, cycled from the pattern.
pub fn expected(offset: u64, len: usize) -> Vec<u8> {
    let p = pattern();
    let mut out = Vec::with_capacity(len);
    let mut pos = usize::try_from(offset % PATTERN_LEN as u64).unwrap();
    while out.len() < len {
        let take = (len - out.len()).min(PATTERN_LEN - pos);
        out.extend_from_slice(&p[pos..pos + take]);
        pos = 0;
    }
    out
}

/// Asserts that `data` is the stream at `offset` (memcmp speed).
pub fn check_stream(data: &[u8], offset: u64) {
    let p = pattern();
    let mut pos = usize::try_from(offset % PATTERN_LEN as u64).unwrap();
    let mut rest = data;
    let mut at = offset;
    while !rest.is_empty() {
        let take = rest.len().min(PATTERN_LEN - pos);
        assert!(
            rest[..take] == p[pos..pos + take],
            "stream corrupted near byte {at}"
        );
        rest = &rest[take..];
        at += take as u64;
        pos = 0;
    }
}

/// Writes `total` stream bytes to `fd` (blocking), then closes it. Stops
/// quietly on `EPIPE`. Returns the bytes written.
pub fn spawn_producer(fd: OwnedFd, total: u64) -> JoinHandle<u64> {
    thread::spawn(move || {
        let mut file = File::from(fd);
        let p = pattern();
        let mut written = 0u64;
        while written < total {
            let pos = usize::try_from(written % PATTERN_LEN as u64).unwrap();
            let left = usize::try_from(total - written).unwrap_or(usize::MAX);
            let chunk = &p[pos..PATTERN_LEN.min(pos + left).min(pos + 200_000)];
            match file.write(chunk) {
                Ok(n) => written += n as u64,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => break,
                Err(e) => panic!("producer: {e}"),
            }
        }
        written
    })
}

/// Reads `fd` (blocking) to EOF, checking the stream; `chunk` bytes per
/// read, sleeping `pause` after each read. Stops (closing `fd`) after
/// `limit` bytes. Returns the bytes read.
pub fn spawn_verifier_with(
    fd: OwnedFd,
    chunk: usize,
    pause: Duration,
    limit: u64,
) -> JoinHandle<u64> {
    thread::spawn(move || {
        let mut file = File::from(fd);
        let mut buf = vec![0u8; chunk];
        let mut seen = 0u64;
        while seen < limit {
            let want = usize::try_from(limit - seen)
                .unwrap_or(usize::MAX)
                .min(chunk);
            match file.read(&mut buf[..want]) {
                Ok(0) => break,
                Ok(n) => {
                    check_stream(&buf[..n], seen);
                    seen += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => panic!("verifier: {e}"),
            }
            if !pause.is_zero() {
                thread::sleep(pause);
            }
        }
        seen
    })
}

/// Reads `fd` to EOF, checking the stream. Returns the bytes read.
pub fn spawn_verifier(fd: OwnedFd) -> JoinHandle<u64> {
    spawn_verifier_with(fd, 256 * 1024, Duration::ZERO, u64::MAX)
}

/// An unlinked read/write temporary file.
pub fn temp_file(append: bool) -> File {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("cuprum-streams-test-{}-{n}", std::process::id()));
    let file = File::options()
        .read(true)
        .write(true)
        .append(append)
        .create_new(true)
        .open(&path)
        .expect("temp file");
    std::fs::remove_file(&path).expect("unlink temp file");
    file
}

/// Runs `f` on a new thread; returns its handle and a receiver of the time
/// at which it finished.
pub fn spawn_timed<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<(T, Instant)> {
    thread::spawn(move || {
        let value = f();
        (value, Instant::now())
    })
}

/// Asserts that `finished` is at most `bound` after `start`.
pub fn assert_within(start: Instant, finished: Instant, bound: Duration) {
    let took = finished.saturating_duration_since(start);
    assert!(took < bound, "took {took:?}, expected < {bound:?}");
}
