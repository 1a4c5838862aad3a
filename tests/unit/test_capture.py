"""`LineSplitter` and `Capture` (`cuprum._capture`): lines and bounded capture."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from cuprum._capture import Capture, LineSplitter


def split_all(
    chunks: Iterable[bytes],
    *,
    split_cr: bool = False,
    encoding: str = "utf-8",
    errors: str = "replace",
) -> list[str]:
    splitter = LineSplitter(encoding, errors, split_cr=split_cr)
    lines: list[str] = []
    for chunk in chunks:
        lines.extend(splitter.feed(chunk))
    lines.extend(splitter.finish())
    return lines


def cut(data: bytes, points: Iterable[int]) -> list[bytes]:
    """``data`` cut at ``points`` (any order, duplicates allowed)."""
    bounds = [0, *sorted(set(points)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def every_split(data: bytes) -> Iterable[list[bytes]]:
    """``data`` whole, byte by byte, and cut once at every position."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    for i in range(len(data) + 1):
        yield [data[:i], data[i:]]


def oracle(data: bytes, *, split_cr: bool) -> list[str]:
    """The lines of ``data`` decoded as a whole.

    Without split_cr: split on "\\n"; a line that ended with "\\r\\n" loses its
    "\\r"; a last piece without newline is a line unless it is empty (and
    keeps a trailing "\\r", which ended no line). With split_cr: "\\r\\n",
    "\\r" and "\\n" each end a line; an empty last piece is not a line.
    """
    text = data.decode("utf-8", errors="replace")
    if split_cr:
        pieces = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        last = pieces.pop()
        return pieces + ([last] if last else [])
    pieces = text.split("\n")
    last = pieces.pop()
    lines = [piece.removesuffix("\r") for piece in pieces]
    return lines + ([last] if last else [])


# ------------------------------------------------------------ LineSplitter


@pytest.mark.parametrize("split_cr", [False, True])
def test_newline_ends_lines(split_cr: bool) -> None:
    assert split_all([b"a\nbb\n\nccc\n"], split_cr=split_cr) == ["a", "bb", "", "ccc"]


@pytest.mark.parametrize("split_cr", [False, True])
def test_crlf_is_one_line_end(split_cr: bool) -> None:
    assert split_all([b"a\r\nb\r\n\r\nc\r\n"], split_cr=split_cr) == ["a", "b", "", "c"]


@pytest.mark.parametrize("split_cr", [False, True])
def test_last_line_without_newline_is_yielded(split_cr: bool) -> None:
    assert split_all([b"one\ntwo"], split_cr=split_cr) == ["one", "two"]
    assert split_all([b"only"], split_cr=split_cr) == ["only"]


@pytest.mark.parametrize("split_cr", [False, True])
def test_empty_stream_and_trailing_newline_give_no_empty_line(split_cr: bool) -> None:
    assert split_all([], split_cr=split_cr) == []
    assert split_all([b""], split_cr=split_cr) == []
    assert split_all([b"x\n"], split_cr=split_cr) == ["x"]
    assert split_all([b"\n"], split_cr=split_cr) == [""]


def test_feed_returns_only_completed_lines() -> None:
    splitter = LineSplitter("utf-8", "replace")
    assert splitter.feed(b"par") == []
    assert splitter.feed(b"tial") == []
    assert splitter.feed(b" line\nnext") == ["partial line"]
    assert splitter.feed(b"") == []
    assert splitter.finish() == ["next"]
    assert splitter.finish() == []  # nothing left after the end


def test_without_split_cr_a_lone_cr_stays_in_the_line() -> None:
    assert split_all([b"10%\r50%\r100%\ndone\n"]) == ["10%\r50%\r100%", "done"]


def test_split_cr_splits_progress_output() -> None:
    data = b"10%\r50%\r100%\ndone\n"
    assert split_all([data], split_cr=True) == ["10%", "50%", "100%", "done"]
    assert split_all([b"a\rb\r"], split_cr=True) == ["a", "b"]
    assert split_all([b"a\r\rb"], split_cr=True) == ["a", "", "b"]


@pytest.mark.parametrize("split_cr", [False, True])
def test_crlf_split_across_chunks_is_one_line_end(split_cr: bool) -> None:
    assert split_all([b"a\r", b"\nb\r", b"\n"], split_cr=split_cr) == ["a", "b"]
    assert split_all([b"a\r", b"", b"\nb"], split_cr=split_cr) == ["a", "b"]


def test_split_cr_holds_back_a_trailing_cr_until_it_knows() -> None:
    splitter = LineSplitter("utf-8", "replace", split_cr=True)
    assert splitter.feed(b"50%\r") == []  # may be the first half of \r\n
    assert splitter.feed(b"60%\r") == ["50%"]  # it was a lone \r
    assert splitter.feed(b"\n") == ["60%"]  # that one was \r\n
    assert splitter.finish() == []


def test_split_cr_a_final_lone_cr_ends_the_line() -> None:
    splitter = LineSplitter("utf-8", "replace", split_cr=True)
    assert splitter.feed(b"99%\r") == []
    assert splitter.finish() == ["99%"]


def test_invalid_utf8_is_replaced() -> None:
    assert split_all([b"ok\xff\xfebad\n\xc3\n"]) == ["ok\ufffd\ufffdbad", "\ufffd"]


def test_invalid_utf8_at_the_very_end_is_replaced() -> None:
    # An incomplete sequence that never completes is flushed by finish().
    assert split_all([b"end\xe2\x82"]) == ["end\ufffd"]


def test_errors_strict_raises_on_invalid_utf8() -> None:
    with pytest.raises(UnicodeDecodeError):
        split_all([b"bad\xff\n"], errors="strict")


@pytest.mark.parametrize("char", ["é", "€", "𝄞", "漢"])
def test_multibyte_character_split_across_chunks_is_decoded_whole(char: str) -> None:
    data = f"a{char}b\n{char}\n".encode()
    for chunks in every_split(data):
        assert split_all(chunks) == [f"a{char}b", char], chunks


def test_other_encodings() -> None:
    data = "zaÿ\nçà\n".encode("latin-1")
    assert split_all([data[:3], data[3:]], encoding="latin-1") == ["zaÿ", "çà"]
    utf16 = "ab\ncd\n".encode("utf-16-le")
    assert split_all([utf16[:3], utf16[3:7], utf16[7:]], encoding="utf-16-le") == ["ab", "cd"]


# A byte alphabet that makes line ends, \r, multibyte and broken UTF-8 common.
_PIECES = st.sampled_from(
    [
        *(b"a", b"xyz", b" ", b"\n", b"\r", b"\r\n", b"\n\r"),
        *("é".encode(), "€".encode(), "𝄞".encode()),
        *(b"\xff", b"\xe2\x82", b"\xc3", b"\xf0\x9d", b"\x80"),
    ]
)
_DATA = st.one_of(st.binary(max_size=200), st.lists(_PIECES, max_size=60).map(b"".join))


@given(data=_DATA, points=st.lists(st.integers(min_value=0, max_value=200), max_size=12))
@example(data=b"a\r\nb", points=[2])
@example(data="x€y\n".encode(), points=[2, 3])
@example(data=b"\xe2\x82\n", points=[1])
@example(data=b"a\r", points=[])
def test_lines_match_whole_decode_without_split_cr(data: bytes, points: list[int]) -> None:
    chunks = cut(data, [p for p in points if p <= len(data)])
    assert b"".join(chunks) == data
    assert split_all(chunks) == oracle(data, split_cr=False)


@given(data=_DATA, points=st.lists(st.integers(min_value=0, max_value=200), max_size=12))
@example(data=b"a\r\nb", points=[2])
@example(data=b"a\r\r\nb\r", points=[2, 3, 6])
@example(data=b"\r", points=[])
def test_lines_match_whole_decode_with_split_cr(data: bytes, points: list[int]) -> None:
    chunks = cut(data, [p for p in points if p <= len(data)])
    assert split_all(chunks, split_cr=True) == oracle(data, split_cr=True)


# ---------------------------------------------------------------- Capture


def test_capture_without_limit_keeps_everything() -> None:
    capture = Capture(None)
    assert capture.getvalue() == b""
    assert not capture.truncated
    for chunk in (b"abc", b"", b"defg"):
        capture.add(chunk)
    assert capture.getvalue() == b"abcdefg"
    assert capture.getvalue() == b"abcdefg"  # idempotent
    assert (capture.kept, capture.total) == (7, 7)
    assert not capture.truncated


def test_capture_keeps_the_first_max_output_bytes() -> None:
    capture = Capture(10)
    capture.add(b"12345")
    assert not capture.truncated
    capture.add(b"67890abc")  # crosses the limit inside the chunk
    capture.add(b"more")  # entirely over the limit
    assert capture.getvalue() == b"1234567890"
    assert capture.kept == 10
    assert capture.total == 17
    assert capture.truncated


def test_capture_exactly_at_the_limit_is_not_truncated() -> None:
    capture = Capture(6)
    capture.add(b"abc")
    capture.add(b"def")
    assert capture.getvalue() == b"abcdef"
    assert not capture.truncated
    capture.add(b"")
    assert not capture.truncated
    capture.add(b"g")
    assert capture.truncated
    assert capture.getvalue() == b"abcdef"


def test_capture_with_zero_limit_keeps_nothing() -> None:
    capture = Capture(0)
    assert not capture.truncated
    capture.add(b"x")
    assert capture.getvalue() == b""
    assert capture.truncated
    assert capture.total == 1


def test_capture_keeps_and_counts_what_rust_consume_read() -> None:
    capture = Capture(6)
    capture.add(b"ab")  # the first read, on the event loop
    capture.keep(memoryview(b"wx"))  # pieces the Rust consume call kept...
    capture.keep(memoryview(b"yz"))
    capture.count(100)  # ...and everything it read
    assert capture.getvalue() == b"abwxyz"
    assert capture.kept == 6
    assert capture.total == 102
    assert capture.truncated
    empty = Capture(None)
    empty.count(0)
    assert empty.getvalue() == b""
    assert not empty.truncated


def test_capture_returns_bytes_and_can_be_read_again_and_added_to() -> None:
    capture = Capture(None)
    capture.add(memoryview(b"abc"))
    first = capture.getvalue()
    assert type(first) is bytes
    capture.add(b"def")  # after a partial result was taken (a timeout)
    assert capture.getvalue() == b"abcdef"
    assert first == b"abc"


@given(
    chunks=st.lists(st.binary(max_size=50), max_size=20),
    limit=st.one_of(st.none(), st.integers(min_value=0, max_value=300)),
)
def test_capture_property(chunks: list[bytes], limit: int | None) -> None:
    capture = Capture(limit)
    for chunk in chunks:
        capture.add(chunk)
    data = b"".join(chunks)
    expected = data if limit is None else data[:limit]
    assert capture.getvalue() == expected
    assert capture.kept == len(expected)
    assert capture.total == len(data)
    assert capture.truncated == (len(data) > len(expected))
