"""Transfer row ids (gateway/core/transfer_log.py ``new_id``): the textual UUIDv7 layout the
``/api/transfers`` answers expose, unique within a process and across processes."""

from __future__ import annotations

import os
import time
import uuid

from gateway.core.transfer_log import new_id


def test_ids_are_uuidv7_text_with_the_time_in_ms_and_ordered_within_a_process() -> None:
    before = time.time_ns() // 1_000_000
    ids = [new_id() for _ in range(20_000)]
    after = time.time_ns() // 1_000_000
    assert len(set(ids)) == len(ids)
    for text in ids[::997] + ids[-1:]:
        value = uuid.UUID(text)
        assert str(value) == text  # lower-case, hyphenated, 36 characters
        assert value.version == 7 and value.variant == uuid.RFC_4122
        assert before <= value.int >> 80 <= after
    # A counter, not randomness, follows the time: within one process they sort as made, except
    # where the 26-bit counter wraps (at most once in 20,000 ids).
    descents = sum(1 for a, b in zip(ids, ids[1:], strict=False) if b < a)
    assert descents <= 1


def test_a_forked_process_makes_ids_of_its_own() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its ids, then out without running the test runner's exit hooks
        os.close(read)
        os.write(write, " ".join(new_id() for _ in range(100)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        child = pipe.read().decode().split()
    os.waitpid(pid, 0)
    mine = [new_id() for _ in range(100)]
    assert len(child) == 100
    assert {c[-12:] for c in child}.isdisjoint({m[-12:] for m in mine})  # another node
    assert set(child).isdisjoint(mine)
