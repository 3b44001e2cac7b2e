"""YAML in and out, strictly: one loader for every command, one dumper for every output.

PyYAML keeps the last of two equal keys, so a file with ``halted: true`` and later
``halted: false`` would silently turn the kill switch off; kubectl refuses such a file,
and so does :func:`load_manifest`, naming the key's path and both lines. The dumper
writes shared objects out in full (no ``&id001`` anchors and ``*id001`` aliases, which
confuse reviewers, GitOps diffs and some tools) and multi-line strings as blocks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .spec import SpecError, SpecProblem


def _duplicates(node: yaml.Node, path: str) -> list[SpecProblem]:
    """Every key defined twice in one mapping, anywhere under ``node``."""
    problems: list[SpecProblem] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[object, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else id(key_node)
            where = f"{path}.{key}" if path else str(key)
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(SpecProblem(where, f"defined twice (lines {seen[key]} and {line})"))
            else:
                seen[key] = line
            problems += _duplicates(value_node, where)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            problems += _duplicates(item, f"{path}[{i}]")
    return problems


def _at(mark: yaml.Mark | None) -> str:
    """Where in the file, as editors count (from 1); the file itself is named by the caller."""
    return "line 1" if mark is None else f"line {mark.line + 1}, column {mark.column + 1}"


def _not_yaml(exc: yaml.YAMLError) -> SpecProblem:
    """PyYAML's error without its own rendering of the place ("<unicode string>", line)."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        return SpecProblem("line 1", f"not YAML: {exc}")
    what = "; ".join(part for part in (exc.context, exc.problem) if part)
    return SpecProblem(_at(exc.problem_mark or exc.context_mark), f"not YAML: {what}")


def parse_manifest(text: str) -> dict[str, Any]:
    """One YAML object from ``text``; :class:`SpecError` for bad YAML (at its line and
    column), repeated keys, or anything but a single mapping."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise SpecError([_not_yaml(exc)]) from None
    if not isinstance(node, yaml.MappingNode):
        where = _at(node.start_mark if node is not None else None)
        raise SpecError([SpecProblem(where, "must hold one TradingStack object (a mapping)")])
    problems = _duplicates(node, "")
    if problems:
        raise SpecError(problems)
    manifest: dict[str, Any] = yaml.SafeLoader("").construct_document(node)
    return manifest


def load_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest in the file at ``path`` (see :func:`parse_manifest`); OSError when
    unreadable. Messages name no file: the caller prints it once."""
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpecError([SpecProblem(f"line {line}", "not UTF-8 text")]) from None
    return parse_manifest(text)


class Dumper(yaml.SafeDumper):
    """No anchors or aliases; multi-line strings (the Redis scripts) as literal blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


Dumper.add_representer(str, _str)
