"""``gateway.frozen``: records immutable to the type checker, cheap to build at run time."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest
from mypy import api as mypy_api

from gateway.catalog.records import NewRun
from gateway.core.paths import VirtualPath
from gateway.frozen import frozen


@frozen
class _Pair:
    name: str
    tags: tuple[str, ...] = ()


def test_records_compare_and_hash_by_value_as_frozen_dataclasses_do() -> None:
    assert _Pair("a", ("x",)) == _Pair("a", ("x",)) != _Pair("a")
    assert len({_Pair("a"), _Pair("a"), _Pair("b")}) == 2
    assert {VirtualPath(("in", "x")): 1}[VirtualPath(("in", "x"))] == 1
    assert dataclasses.replace(_Pair("a"), tags=("y",)) == _Pair("a", ("y",))


def test_records_have_slots_and_default_factories() -> None:
    with pytest.raises(AttributeError):
        _Pair("a").__dict__  # noqa: B018
    first, second = NewRun("c", "a", "k", 1, "o"), NewRun("c", "a", "k", 1, "o")
    assert first.params == {} and first.params is not second.params


def test_assigning_a_field_is_a_type_error(tmp_path: Path) -> None:
    """What ``frozen=True`` enforced at run time, the type checker enforces for the whole code base."""
    source = tmp_path / "assign.py"
    source.write_text(
        textwrap.dedent(
            """
            from gateway.frozen import frozen

            @frozen
            class R:
                a: int

            R(1).a = 2
            """
        )
    )
    out, _, status = mypy_api.run([str(source), "--no-incremental", "--follow-imports=silent", "--no-error-summary"])
    assert status == 1 and 'Property "a" defined in "R" is read-only' in out, out
