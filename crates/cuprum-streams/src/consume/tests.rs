use std::os::fd::AsFd;
use std::thread;
use std::time::Duration;

use super::*;
use crate::sys;
use crate::testutil::{
    assert_within, check_stream, heavy, pipe, set_nonblocking, spawn_producer, spawn_timed, MIB,
};

/// `(nonblocking, allow_nowait)` pairs.
const MIB_USIZE: usize = 1 << 20;

const MODES: [(bool, bool); 3] = [(true, true), (false, true), (false, false)];

fn run(total: u64, max_output: Option<usize>, buffer_size: usize) {
    for (nonblocking, allow_nowait) in MODES {
        let (r, w) = pipe();
        if nonblocking {
            set_nonblocking(&r);
        }
        let producer = spawn_producer(w, total);
        let options = ConsumeOptions {
            max_output,
            buffer_size,
            allow_nowait,
        };
        let outcome = consume(r.as_fd(), None, &options).unwrap();
        assert_eq!(producer.join().unwrap(), total);
        assert_eq!(outcome.total, total);
        assert!(!outcome.cancelled);
        let expect_kept = max_output.map_or(total, |max| total.min(max as u64));
        assert_eq!(outcome.kept.len() as u64, expect_kept);
        check_stream(&outcome.kept, 0);
    }
}

#[test]
fn keeps_everything_without_a_limit() {
    run(5 * MIB + 3, None, DEFAULT_BUFFER_SIZE);
    run(0, None, DEFAULT_BUFFER_SIZE);
    run(10_000, None, 1);
}

#[test]
fn keeps_a_prefix_and_counts_the_rest() {
    run(3 * MIB + 1, Some(1000), DEFAULT_BUFFER_SIZE);
    run(3 * MIB + 1, Some(0), DEFAULT_BUFFER_SIZE);
    run(3 * MIB + 1, Some(MIB_USIZE + 5), 4096);
    run(1000, Some(MIB_USIZE), DEFAULT_BUFFER_SIZE);
    run(1000, Some(1000), 7);
}

#[test]
fn large_consume_with_limit() {
    let _guard = heavy();
    run(64 * MIB, Some(MIB_USIZE), 1 << 20);
}

#[test]
fn zero_buffer_size_is_rejected() {
    let (r, _w) = pipe();
    let options = ConsumeOptions {
        buffer_size: 0,
        ..ConsumeOptions::default()
    };
    let err = consume(r.as_fd(), None, &options).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn cancel_while_waiting_for_data() {
    let _guard = heavy();
    for (nonblocking, allow_nowait) in MODES {
        let (r, w) = pipe();
        let (cancel_r, cancel_w) = pipe();
        if nonblocking {
            set_nonblocking(&r);
        }
        sys::write(w.as_fd(), b"early bytes").unwrap();
        let handle = spawn_timed(move || {
            let options = ConsumeOptions {
                max_output: Some(5),
                allow_nowait,
                ..ConsumeOptions::default()
            };
            consume(r.as_fd(), Some(cancel_r.as_fd()), &options)
        });
        thread::sleep(Duration::from_millis(30));
        let cancelled_at = std::time::Instant::now();
        sys::write(cancel_w.as_fd(), b"x").unwrap();
        let (outcome, finished) = handle.join().unwrap();
        assert_within(cancelled_at, finished, Duration::from_millis(100));
        let outcome = outcome.unwrap();
        assert!(outcome.cancelled);
        assert_eq!(outcome.kept, b"early");
        assert_eq!(outcome.total, 11);
        drop(w);
    }
}

#[test]
fn already_cancelled_consume_reads_nothing() {
    let (r, w) = pipe();
    let (cancel_r, cancel_w) = pipe();
    sys::write(w.as_fd(), b"data").unwrap();
    sys::write(cancel_w.as_fd(), b"x").unwrap();
    let outcome = consume(
        r.as_fd(),
        Some(cancel_r.as_fd()),
        &ConsumeOptions::default(),
    )
    .unwrap();
    assert!(outcome.cancelled);
    assert_eq!(outcome.total, 0);
    assert!(outcome.kept.is_empty());
}

fn run_into(total: u64, max_output: Option<usize>, buffer_size: usize) {
    for (nonblocking, allow_nowait) in MODES {
        let (r, w) = pipe();
        if nonblocking {
            set_nonblocking(&r);
        }
        let producer = spawn_producer(w, total);
        let options = ConsumeOptions {
            max_output,
            buffer_size,
            allow_nowait,
        };
        let mut kept = Vec::new();
        let mut pieces = 0usize;
        let mut scratch = Vec::new();
        let outcome = consume_into(r.as_fd(), None, &options, &mut scratch, |piece| {
            assert!(!piece.is_empty() && piece.len() <= buffer_size);
            pieces += 1;
            kept.extend_from_slice(piece);
            Ok(())
        })
        .unwrap();
        assert_eq!(producer.join().unwrap(), total);
        assert_eq!(outcome.total, total);
        assert!(!outcome.cancelled);
        let expect_kept = max_output.map_or(total, |max| total.min(max as u64));
        assert_eq!(kept.len() as u64, expect_kept);
        assert!(pieces as u64 <= expect_kept);
        check_stream(&kept, 0);
    }
}

#[test]
fn consume_into_hands_over_everything_without_a_limit() {
    run_into(5 * MIB + 3, None, DEFAULT_BUFFER_SIZE);
    run_into(0, None, DEFAULT_BUFFER_SIZE);
    run_into(10_000, None, 1);
}

#[test]
fn consume_into_hands_over_a_prefix_and_counts_the_rest() {
    run_into(3 * MIB + 1, Some(1000), DEFAULT_BUFFER_SIZE);
    run_into(3 * MIB + 1, Some(0), DEFAULT_BUFFER_SIZE);
    run_into(3 * MIB + 1, Some(MIB_USIZE + 5), 4096);
    run_into(1000, Some(1000), 7);
}

#[test]
fn consume_into_stops_at_the_first_error_of_its_sink() {
    let (r, w) = pipe();
    let producer = spawn_producer(w, 3 * MIB);
    let mut calls = 0;
    let mut scratch = Vec::new();
    let options = ConsumeOptions::default();
    let err = consume_into(r.as_fd(), None, &options, &mut scratch, |_| {
        calls += 1;
        Err(io::Error::other("sink refused"))
    })
    .unwrap_err();
    assert_eq!(err.to_string(), "sink refused");
    assert_eq!(calls, 1);
    drop(r);
    let _ = producer.join();
}

#[test]
fn consume_into_rejects_a_zero_buffer_size() {
    let (r, _w) = pipe();
    let options = ConsumeOptions {
        buffer_size: 0,
        ..ConsumeOptions::default()
    };
    let err = consume_into(r.as_fd(), None, &options, &mut Vec::new(), |_| Ok(())).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}
