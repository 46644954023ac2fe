"""State kept per catalog: caches and counters that belong to one ``Database``.

A serving process has one catalog; tests open several, one after another or side by side, and
each must see only its own state, dropped with it. So the state lives in a weak mapping keyed
by the ``Database``, and the catalog asked for last is remembered beside it: the request path
asks several of these per request (sessions, rate limits, transfer rows), and a
``WeakKeyDictionary`` lookup makes a weak reference and runs Python code each time, where
checking the last one is a call of the reference it keeps and a comparison.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

from gateway.catalog.db import Database

T = TypeVar("T")


class PerCatalog(Generic[T]):
    """``state(db)``: the value for ``db``, made by ``make(db)`` the first time it is asked for."""

    __slots__ = ("_last", "_make", "_values")

    def __init__(self, make: Callable[[Database], T]) -> None:
        self._make = make
        self._values: weakref.WeakKeyDictionary[Database, T] = weakref.WeakKeyDictionary()
        self._last: tuple[weakref.ref[Database], T] | None = None

    def __call__(self, db: Database) -> T:
        last = self._last
        if last is not None and last[0]() is db:
            return last[1]
        value = self._values.get(db)
        if value is None:
            value = self._values[db] = self._make(db)
        self._last = (weakref.ref(db, self._forget), value)
        return value

    def _forget(self, ref: weakref.ref[Database]) -> None:
        """The last catalog is gone: its value goes with it (unless another holds it)."""
        last = self._last
        if last is not None and last[0] is ref:
            self._last = None

    def peek(self, db: Database) -> T | None:
        """The value for ``db`` if one was made, without making it."""
        return self._values.get(db)
