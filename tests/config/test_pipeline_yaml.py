"""Pipeline YAML problems at their line and column (gateway/config/pipeline_yaml.py)."""

from __future__ import annotations

from gateway.config.pipeline_yaml import locate, read


def test_pipeline_yaml_syntax_error_has_its_position() -> None:
    parsed = read("steps:\n  - name: a\n    command: {argv: [x]\n")
    (problem,) = parsed.problems
    assert problem.line >= 3 and problem.column >= 1 and problem.message.startswith("invalid YAML")


def test_pipeline_yaml_duplicate_keys_are_problems() -> None:
    parsed = read("steps: []\ndescription: a\ndescription: b\n")
    assert [(p.line, "duplicate" in p.message) for p in parsed.problems] == [(3, True)]


def test_pipeline_yaml_locate_walks_mappings_lists_and_quoted_keys() -> None:
    text = 'steps:\n  - name: a\n  - name: b\n    pull: {connection: nowhere}\nparams: {"odd key": 1}\n'
    parsed = read(text)
    assert not parsed.problems
    at = locate(parsed.node, "pipeline: steps[1].pull.connection: unknown connection 'nowhere'")
    assert (at.line, at.column, at.path) == (4, 12, "steps[1].pull.connection")
    assert at.message == "unknown connection 'nowhere'"
    item = locate(parsed.node, "pipeline: steps[1]: give exactly one kind")
    assert (item.line, item.column) == (3, 5)
    odd = locate(parsed.node, 'pipeline: params["odd key"]: bad')
    assert (odd.line, odd.column) == (5, 10)


def test_pipeline_yaml_locate_falls_back_to_the_deepest_node_found() -> None:
    parsed = read("steps:\n  - name: a\n")
    missing = locate(parsed.node, "pipeline: steps[7].name: nope")
    assert (missing.line, missing.column) == (1, 1)
    whole = locate(parsed.node, "pipeline: expected a task (a mapping with 'steps', ...), got a list")
    assert (whole.line, whole.path) == (1, "")


def test_pipeline_yaml_control_characters_have_their_position() -> None:
    (problem,) = read("steps:\n  - a\x08\n").problems
    assert (problem.line, problem.column) == (2, 6) and "invalid YAML" in problem.message
