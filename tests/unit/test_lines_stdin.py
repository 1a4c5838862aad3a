"""`lines()` streams its stdin: the child starts before the input has ended."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

import anyio
import pytest
from anyio.abc import ByteReceiveStream
from anyio.streams.memory import MemoryObjectReceiveStream

from cuprum import CAT, SH, TimeoutExpired, sh
from tests.helpers import LeakChecker

cat = sh.make(CAT)
shell = sh.make(SH)


class ChunkStream(ByteReceiveStream):
    """A byte stream fed by the test, one chunk at a time, that may never end."""

    def __init__(self, chunks: MemoryObjectReceiveStream[bytes]) -> None:
        self._chunks = chunks

    async def receive(self, max_bytes: int = 65536) -> bytes:
        try:
            return await self._chunks.receive()
        except anyio.EndOfStream:
            raise
        except anyio.ClosedResourceError:
            raise anyio.EndOfStream from None

    async def aclose(self) -> None:
        await self._chunks.aclose()


async def test_lines_answers_while_stdin_is_still_open(
    anyio_backend: str, leak_check: LeakChecker
) -> None:
    send, receive = anyio.create_memory_object_stream[bytes](10)
    seen: list[str] = []
    async with send:
        lines = cat().lines(stdin=ChunkStream(receive))
        await send.send(b"first\n")
        async for line in lines:
            seen.append(line)
            if line == "first":
                await send.send(b"second\n")  # only sent once the first came back
            elif line == "second":
                await send.aclose()  # end of input: cat ends, the loop ends
    assert seen == ["first", "second"]
    receive.close()


async def test_lines_with_an_endless_stdin_can_be_left(
    anyio_backend: str, leak_check: LeakChecker
) -> None:
    send, receive = anyio.create_memory_object_stream[bytes](10)
    async with send, receive:
        await send.send(b"hello\n")
        async with aclosing(cat().lines(stdin=ChunkStream(receive))) as lines:
            async for line in lines:
                assert line == "hello"
                break  # cat still waits for more input: leaving ends it


async def test_lines_with_an_endless_stdin_times_out_with_the_lines_so_far(
    anyio_backend: str, leak_check: LeakChecker
) -> None:
    send, receive = anyio.create_memory_object_stream[bytes](10)
    seen: list[str] = []

    async def read_all() -> None:
        async for line in cat().lines(stdin=ChunkStream(receive), timeout=0.5):
            seen.append(line)

    async with send, receive:
        await send.send(b"one\n")
        with pytest.raises(TimeoutExpired):
            await read_all()
    assert seen == ["one"]


async def test_lines_streams_a_large_stdin_through_a_pipeline(
    anyio_backend: str, leak_check: LeakChecker
) -> None:
    # More than any pipe holds: written while the lines are read.
    count = 200_000

    async def numbers() -> AsyncIterator[bytes]:
        for start in range(0, count, 1000):
            yield b"".join(b"%d\n" % n for n in range(start, start + 1000))

    total = 0
    last = ""
    async for line in (cat() | shell("-c", "cat")).lines(stdin=numbers()):
        total += 1
        last = line
    assert (total, last) == (count, str(count - 1))


async def test_lines_with_a_non_bytes_chunk_raises_type_error(
    anyio_backend: str, leak_check: LeakChecker
) -> None:
    async def bad() -> AsyncIterator[object]:
        yield b"ok\n"
        yield "not bytes"

    with pytest.raises(TypeError, match="str"):
        async for _ in cat().lines(stdin=bad()):  # type: ignore[arg-type]
            pass


async def test_a_stdin_generator_that_never_ends_times_out(
    anyio_backend: str, leak_check: LeakChecker
) -> None:
    async def forever() -> AsyncIterator[bytes]:
        yield b"x\n"
        await anyio.sleep_forever()

    with pytest.raises(TimeoutExpired):
        async for _ in cat().lines(stdin=forever(), timeout=0.3):
            pass


async def test_only_the_stages_still_running_have_timed_out(
    anyio_backend: str, leak_check: LeakChecker
) -> None:
    pipeline = shell("-c", "echo early") | shell("-c", "cat; exec sleep 60")
    with pytest.raises(TimeoutExpired) as caught:
        async for _ in pipeline.lines(timeout=0.5):
            pass
    stages = caught.value.result.stages  # type: ignore[union-attr]
    assert [s.timed_out for s in stages] == [False, True]
    assert [s.ok for s in stages] == [True, False]
