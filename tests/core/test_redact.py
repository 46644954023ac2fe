"""What core/redact.py masks in a definition, in free text and in a run's params."""

from __future__ import annotations

from gateway.core import redact

DEFINITION = {
    "params": {"label": "x"},
    "steps": [
        {
            "name": "hook",
            "webhook": {
                "url": "https://user:pw-1234@erp.example/hook?token=qs-token-99&mode=a",
                "secret": "hmac-key-1",
                "headers": {"Authorization": "Bearer tok-777", "X-Trace": "trace-1"},
                "timeout_seconds": 5,
            },
        },
        {"name": "run", "command": {"argv": ["/bin/echo", "{path}"], "env": {"MODE": "batch-mode"}}},
    ],
}


def test_definition_masks_secret_keys_maps_and_url_credentials() -> None:
    shown = redact.definition(DEFINITION)
    hook = shown["steps"][0]["webhook"]
    assert hook["secret"] == "***" and hook["headers"] == {"Authorization": "***", "X-Trace": "***"}
    assert hook["url"] == "https://***@erp.example/hook?token=***&mode=***"
    assert hook["timeout_seconds"] == 5
    assert shown["steps"][1]["command"] == {"argv": ["/bin/echo", "{path}"], "env": {"MODE": "***"}}
    assert DEFINITION["steps"][0]["webhook"]["secret"] == "hmac-key-1"  # type: ignore[index]  # a copy


def test_values_in_then_text_scrubs_every_occurrence_longest_first() -> None:
    secrets = redact.values_in(DEFINITION)
    assert {"hmac-key-1", "Bearer tok-777", "qs-token-99", "user:pw-1234", "batch-mode"} <= secrets
    out = redact.text("got Bearer tok-777 and hmac-key-1 twice: hmac-key-1; MODE=batch-mode", secrets)
    assert out == "got *** and *** twice: ***; MODE=***"


def test_params_mask_secret_names_and_known_values() -> None:
    shown = redact.params({"api_token": "abc", "label": "key hmac-key-1", "x": "1"}, {"hmac-key-1"})
    assert shown == {"api_token": "***", "label": "key ***", "x": "1"}
