from __future__ import annotations

import gc
import weakref
from pathlib import Path

from gateway.catalog.db import Database
from gateway.catalog.percatalog import PerCatalog


class _State:
    def __init__(self, db: Database) -> None:
        self.db_url = db.url


def test_each_catalog_has_its_own_value_however_they_alternate(tmp_path: Path) -> None:
    state: PerCatalog[_State] = PerCatalog(_State)
    a, b = Database(f"sqlite:///{tmp_path}/a.db"), Database(f"sqlite:///{tmp_path}/b.db")
    assert state.peek(a) is None
    first_a = state(a)
    assert state(a) is first_a and first_a.db_url == a.url
    first_b = state(b)  # the last-asked shortcut must not answer for another catalog
    assert first_b is not first_a and first_b.db_url == b.url
    assert state(a) is first_a and state(b) is first_b and state.peek(a) is first_a


def test_a_dropped_catalogs_value_goes_with_it(tmp_path: Path) -> None:
    state: PerCatalog[_State] = PerCatalog(_State)
    db = Database(f"sqlite:///{tmp_path}/a.db")
    value = weakref.ref(state(db))
    del db
    gc.collect()  # the engine holds cycles of its own
    assert value() is None
    other = Database(f"sqlite:///{tmp_path}/b.db")  # may reuse the dropped one's address
    assert state(other).db_url == other.url
