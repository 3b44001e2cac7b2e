"""The real helm binary on the chart: template, lint, and the rendered objects as dicts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from tests.harness.tools import CHART, run, tool

Manifest = dict[str, Any]


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; the API server's decoder refuses them."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(k, deep=deep) for k, _ in node.value]
        repeated = {k for k in keys if keys.count(k) > 1}
        if repeated:
            raise yaml.constructor.ConstructorError(
                None, None, f"repeated keys {sorted(map(str, repeated))}", node.start_mark
            )
        return super().construct_mapping(node, deep=deep)


def load_all(text: str) -> list[Manifest]:
    return [d for d in yaml.load_all(text, Loader=_UniqueKeyLoader) if d]


def template_raw(
    home: Path,
    values: Mapping[str, Any] | None = None,
    *,
    namespace: str = "desk",
    release: str = "ts",
    extra: Sequence[str] = (),
) -> tuple[int, str, str]:
    """``helm template`` with ``values`` as a values file: (exit code, stdout, stderr)."""
    argv = [tool("helm"), "template", release, str(CHART), "--namespace", namespace, *extra]
    if values is not None:
        path = home / "values.json"
        path.write_text(json.dumps(values))
        argv += ["--values", str(path)]
    result = run(argv, home)
    return result.returncode, result.stdout, result.stderr


def template(home: Path, values: Mapping[str, Any] | None = None, **kwargs: Any) -> list[Manifest]:
    code, out, err = template_raw(home, values, **kwargs)
    assert code == 0, err
    return load_all(out)


def kinds(manifests: Sequence[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def one(manifests: Sequence[Manifest], kind: str) -> Manifest:
    found = kinds(manifests, kind)
    assert len(found) == 1, f"{len(found)} {kind}"
    return found[0]
