"""Query parameters of the listing endpoints, validated into a ListQuery (or a 400 naming them)."""

from __future__ import annotations

from starlette.datastructures import QueryParams

from gateway.core.listing import ElementType, ListQuery
from gateway.core.metadata import SYSTEM_ATTRIBUTES
from gateway.errors import InvalidParameterError

SORTS = ("name", "size", "put_date", "read_date", "expiry_date")
TYPES = ("all", "files", "folders")
MAX_LIMIT = 10_000
MAX_FILTER_CHARS = 1024


def _choice(params: QueryParams, name: str, choices: tuple[str, ...], default: str) -> str:
    value = params.get(name, default) or default
    if value not in choices:
        raise InvalidParameterError(name, f"expected one of {', '.join(choices)}")
    return value


def _integer(params: QueryParams, name: str, default: int, maximum: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) > maximum:
        raise InvalidParameterError(name, f"expected an integer from 0 to {maximum}")
    return int(raw)


def pattern(params: QueryParams) -> str:
    value = params.get("filter", "*") or "*"
    if len(value) > MAX_FILTER_CHARS or "\x00" in value:
        raise InvalidParameterError("filter", f"at most {MAX_FILTER_CHARS} characters, no NUL")
    return value


def element_type(params: QueryParams) -> ElementType:
    return _choice(params, "type", TYPES, "all")  # type: ignore[return-value]


def list_query(params: QueryParams) -> ListQuery:
    return ListQuery(
        pattern=pattern(params),
        type=element_type(params),
        sort=_choice(params, "sort", SORTS, "name"),  # type: ignore[arg-type]
        descending=_choice(params, "direction", ("asc", "desc"), "asc") == "desc",
        start=_integer(params, "start", 0, 2**62),
        limit=_integer(params, "limit", 500, MAX_LIMIT),
    )


def attributes(params: QueryParams) -> tuple[str, ...]:
    """Requested attribute names, in the order asked; unknown names are kept (they render as "")."""
    raw = params.get("attributes")
    if raw is None or raw.strip() == "":
        return SYSTEM_ATTRIBUTES
    names = tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
    if len(names) > 64:
        raise InvalidParameterError("attributes", "at most 64 names")
    return names
