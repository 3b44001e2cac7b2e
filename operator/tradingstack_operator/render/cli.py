"""``tradingstack render FILE``: a TradingStack manifest to the children, as YAML."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from ..manifests import Dumper, load_manifest
from ..spec import SpecError
from . import render
from .stack import stack_from_manifest


def render_yaml(path: str | Path, namespace: str = "default") -> str:
    """Every child of the TradingStack in ``path``, as multi-document YAML.

    ``namespace`` applies when the manifest names none, as with ``kubectl apply``.
    Raises SpecError naming each offending field (a key defined twice included).
    """
    manifest = load_manifest(path)
    children = render(stack_from_manifest(manifest, namespace=namespace))
    # Key order is the builders' (apiVersion, kind, metadata, spec), stable across runs.
    return yaml.dump_all(children, Dumper=Dumper, sort_keys=False, explicit_start=True)


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
