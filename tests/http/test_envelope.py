"""``ok`` assembles its body from pieces: it must be the bytes json_response would send."""

from __future__ import annotations

import json

import pytest

from gateway.http import envelope


@pytest.mark.parametrize("message", ["Upload successful", "File deleted", 'quote " back\\slash', "ünï\u2028\x01"])
@pytest.mark.parametrize("fileset", [None, 0, 7, 2**62])
def test_ok_is_the_json_envelope_byte_for_byte(message: str, fileset: int | None) -> None:
    response = envelope.ok(message, fileset, status=201)
    body = json.loads(bytes(response.body))
    assert list(body) == ["result", "timestamp", "message", *(["fileset"] if fileset is not None else [])]
    expected = {"result": "ok", "timestamp": body["timestamp"], "message": message}
    if fileset is not None:
        expected["fileset"] = str(fileset)
    reference = envelope.json_response(expected, 201)
    assert response.body == reference.body
    assert response.status_code == 201
    assert response.raw_headers == reference.raw_headers
