"""Names a package exports but imports on first use (PEP 562 module ``__getattr__``).

Issue #18 (memory per process): a package's ``__init__`` that imports every module makes
each light import pay for the heavy ones (numpy, the Kubernetes client). Such a package
lists where each name lives and sets ``__getattr__ = lazy_attributes(__name__, HOMES)``;
``from package import Name`` still works, and type checkers read the ``TYPE_CHECKING``
imports beside it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``homes`` maps a name to its module,
    relative to the package (``".synthetic"``). Raises AttributeError for other names."""

    def attribute(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(home, package), name)

    return attribute
