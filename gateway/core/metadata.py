"""File metadata: system attributes, Generic and Spazio2 user keys, and what may be posted.

System attributes are columns of the file row and always render (``""`` when unset); user keys
are free. Spazio2 keys carry the ``SPFB_SP2_FILE_SYS_MD.`` prefix or are one of the well-known
upload keys; both classes are stored alike, the class only decides how they are described.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.catalog.records import FileRecord
from gateway.core.mediatypes import is_media_type
from gateway.core.timefmt import iso_ms
from gateway.errors import RequestSyntaxError

SPAZIO2_PREFIX = "SPFB_SP2_FILE_SYS_MD."
SPAZIO2_UPLOAD_KEYS = frozenset({"QUEUE_NAME", "CORRELATION_ID"})
SYSTEM_ATTRIBUTES = (
    "dstFileName",
    "size",
    "correlationId",
    "putDate",
    "firstReadDate",
    "lastModifiedTime",
    "lastAccessTime",
    "creationTime",
    "datatype",
    "description",
)
WRITABLE = {
    "dstFileName": "dst_file_name",
    "correlationId": "correlation_id",
    "datatype": "datatype",
    "description": "description",
}
READ_ONLY = frozenset(SYSTEM_ATTRIBUTES) - WRITABLE.keys()
MAX_KEY_CHARS = 255
MAX_VALUE_CHARS = 4096
MAX_KEYS = 256  # keys in one posted document (what is stored is a flat object of scalars)


@dataclass(frozen=True, slots=True)
class MetadataUpdate:
    system: dict[str, str]  # catalog column → value
    user: dict[str, str]


def is_spazio2(key: str) -> bool:
    return key.startswith(SPAZIO2_PREFIX) or key in SPAZIO2_UPLOAD_KEYS


def system_attributes(record: FileRecord) -> dict[str, str]:
    return {
        "dstFileName": record.dst_file_name,
        "size": str(record.size),
        "correlationId": record.correlation_id,
        "putDate": iso_ms(record.put_date),
        "firstReadDate": iso_ms(record.first_read_date),
        "lastModifiedTime": iso_ms(record.last_modified_time),
        "lastAccessTime": iso_ms(record.last_access_time),
        "creationTime": iso_ms(record.creation_time),
        "datatype": record.datatype,
        "description": record.description,
    }


def parse_json_object(raw: bytes | str) -> dict[str, object]:
    """Decode a posted metadata document; anything but a JSON object is a syntax error.

    A document nested past the parser's recursion limit (``[[[[...`` a few thousand deep, well
    under the size limit) is a syntax error too, as is any nesting at all once decoded (values
    are scalars: :func:`validate`), and more than MAX_KEYS keys.
    """
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise RequestSyntaxError() from None
    if not isinstance(value, dict) or len(value) > MAX_KEYS:
        raise RequestSyntaxError()
    try:
        # A JSON escape can make a lone surrogate ("\ud800"), which no catalog can store.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise RequestSyntaxError() from None
    return value


def _scalar(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise RequestSyntaxError()


def _check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_CHARS or any(unicodedata.category(c) == "Cc" for c in key):
        raise RequestSyntaxError()


def validate(posted: Mapping[str, object]) -> MetadataUpdate:
    """Split posted metadata into system columns and user keys.

    Raises RequestSyntaxError ("Missing parameters or syntax error") for non-scalar values, bad
    keys, over-long values or values with NUL, a ``datatype`` that is not a media type, or an
    attempt to set a read-only attribute (size and the dates).
    """
    system: dict[str, str] = {}
    user: dict[str, str] = {}
    for key, raw in posted.items():
        _check_key(key)
        value = _scalar(raw)
        if len(value) > MAX_VALUE_CHARS or "\x00" in value:  # PostgreSQL text cannot hold NUL
            raise RequestSyntaxError()
        if key in READ_ONLY:
            raise RequestSyntaxError()
        if key == "datatype" and value and not is_media_type(value):
            raise RequestSyntaxError()  # it is sent back as a download's Content-Type
        if key in WRITABLE:
            system[WRITABLE[key]] = value
            continue
        if key == "CORRELATION_ID":
            system["correlation_id"] = value
        user[key] = value
    return MetadataUpdate(system=system, user=user)
