"""The house order: what two workers share lives in ``wire`` (or ``runtime``), never in a
worker's own package; no worker kind imports another."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tradingstack_workers
from tradingstack_workers import WORKER_KINDS

PACKAGE = Path(tradingstack_workers.__file__).parent


def _kinds_in(source: str, module: tuple[str, ...], own: str) -> set[str]:
    """Worker kinds (other than ``own``) that ``source``, the module ``module``, imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(module[: len(module) - node.level])
                target = [*base, *(node.module or "").split(".")]
            else:
                target = (node.module or "").split(".")
            names = [[*target, alias.name] for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name.split(".") for alias in node.names]
        else:
            continue
        for parts in names:
            if len(parts) > 1 and parts[0] == "tradingstack_workers" and parts[1] in WORKER_KINDS:
                found.add(parts[1])
    return found - {own}


def _imported_kinds(path: Path, own: str) -> set[str]:
    module = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return _kinds_in(path.read_text(), module, own)


@pytest.mark.parametrize("kind", WORKER_KINDS)
def test_no_worker_imports_another_workers_package(kind: str) -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(kinds)
        for path in sorted((PACKAGE / kind).rglob("*.py"))
        if (kinds := _imported_kinds(path, kind))
    }
    assert offenders == {}


def test_wire_imports_no_worker_package() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(kinds)
        for path in sorted((PACKAGE / "wire").rglob("*.py"))
        if (kinds := _imported_kinds(path, "wire"))
    }
    assert offenders == {}


def test_the_check_sees_every_spelling_of_a_cross_import() -> None:
    module = ("tradingstack_workers", "gate", "store")
    source = (
        "from ..intel import worker\n"
        "import tradingstack_workers.clusters.worker\n"
        "from tradingstack_workers import governor\n"
        "from ..wire import BadEntry\nfrom . import decide\n"
    )
    assert _kinds_in(source, module, "gate") == {"intel", "clusters", "governor"}
