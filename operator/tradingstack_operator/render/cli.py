"""``tradingstack render FILE``: a TradingStack manifest to the children, as YAML."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from ..spec import SpecError, SpecProblem
from . import render
from .stack import stack_from_manifest


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the Redis scripts) as literal blocks, readable in review."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render_yaml(path: str | Path, namespace: str = "default") -> str:
    """Every child of the TradingStack in ``path``, as multi-document YAML.

    ``namespace`` applies when the manifest names none, as with ``kubectl apply``.
    Raises SpecError naming each offending field.
    """
    text = Path(path).read_text(encoding="utf-8")
    try:
        manifest: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError([SpecProblem(str(path), f"is not YAML: {exc}")]) from None
    if not isinstance(manifest, dict):
        raise SpecError([SpecProblem(str(path), "must hold one TradingStack object")])
    children = render(stack_from_manifest(manifest, namespace=namespace))
    # Key order is the builders' (apiVersion, kind, metadata, spec), stable across runs.
    return yaml.dump_all(children, Dumper=_Dumper, sort_keys=False, explicit_start=True)


def render_command(path: str, namespace: str = "default") -> int:
    """``tradingstack render FILE``: YAML on stdout, or each problem on stderr and exit 1."""
    try:
        text = render_yaml(path, namespace)
    except SpecError as exc:
        for problem in exc.problems:
            print(f"tradingstack render: {path}: {problem}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"tradingstack render: {path}: {exc.strerror}", file=sys.stderr)
        return 1
    sys.stdout.write(text)
    return 0
