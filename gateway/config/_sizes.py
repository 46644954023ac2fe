"""Byte sizes as operators write them (``10GiB``, ``500 MB``, ``1.5 GiB``, ``1048576``).

Limits are easier to review as ``2GiB`` than as ``2147483648``, so every size in the
configuration goes through :func:`parse_size`. Decimal units (kB, MB, GB, TB, PB) are powers of
1000 and binary units (KiB, MiB, GiB, TiB, PiB) powers of 1024, matched case-insensitively; a
bare number is bytes. Fractions are allowed with a unit and round down to whole bytes. Single
letters (``10G``) are refused because they do not say which of the two families is meant.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_UNITS: dict[str, int] = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "pb": 10**15,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
    "pib": 2**50,
}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*")
UNITS_HINT = "write a whole number of bytes or a number with a unit: B, kB, MB, GB, TB, KiB, MiB, GiB, TiB"


def parse_size(value: object) -> int:
    """Return ``value`` as a positive number of bytes, or raise ``ValueError`` saying why.

    Accepts a positive ``int`` or a string as described in the module docstring. Booleans and
    floats are refused: YAML turns ``yes`` into ``True`` and a float loses bytes silently.
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        shown = repr(value).lower() if isinstance(value, bool | float) else f"a {type(value).__name__}"
        raise ValueError(f"expected a size, got {shown}")
    if isinstance(value, int):
        number = value
    else:
        match = _SIZE.fullmatch(value)
        if match is None or match.group(2).lower() not in _UNITS:
            raise ValueError(f"invalid size {value!r}")
        try:
            exact = Decimal(match.group(1)) * _UNITS[match.group(2).lower()]
        except InvalidOperation:  # pragma: no cover - the regex admits only decimal literals
            raise ValueError(f"invalid size {value!r}") from None
        number = int(exact)  # rounds toward zero: never grant more than was written
    if number <= 0:
        raise ValueError(f"a size must be positive, got {value!r}")
    return number
