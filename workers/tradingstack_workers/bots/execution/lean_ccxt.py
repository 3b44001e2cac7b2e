"""ccxt with the one exchange a bot trades on, not all of them (issue #18).

``import ccxt`` runs ``ccxt/__init__.py``, which imports every exchange ccxt ships
(104 in 4.5): about 35 MB more resident memory in a live bot that talks to one of them,
and the reason a live bot sat above the 80 MB a worker may hold. ccxt has no supported way
to import one exchange; upstream tracks it as ccxt/ccxt#29573 ("splitting into core and
per-exchange modules", open).

:func:`exchange_class` therefore makes the ``ccxt`` package itself, once per process and
before anything imports ccxt: the package's own ``__init__.py`` run without its
``from ccxt.<id> import <id>`` lines (so the errors, ``Exchange``, ``exchanges`` and
``__version__`` are upstream's own), in a module with the real ``__path__`` placed in
``sys.modules``. ``import ccxt`` anywhere then gets that package, and ``ccxt.<id>``
and every module it needs resolve from the installed files as usual. The exchange's
module is imported by name and its class bound on the package, as ``__init__.py`` does;
any other exchange is loaded the same way when first read off the package
(``ccxt.kraken``, a module ``__getattr__``), so code written for the whole package
still works.

Why this is safe: ccxt's own modules import ``ccxt.base.*``, ``ccxt.abstract.<id>``,
``ccxt.static_dependencies.*`` and a parent exchange (``ccxt.binance`` for
``binanceusdm``) by module path and never read the package's attributes. Where ccxt is
already imported (whole), it is used as it is. Where ``__init__.py`` no longer has the
shape this relies on (one such import per listed exchange, the ``exchanges`` list), or
was installed compiled only, ccxt is imported whole, with a warning: more memory, the
same behaviour.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import logging
import sys
import threading
from importlib.abc import InspectLoader
from types import CodeType, ModuleType
from typing import Any

from .venue_config import VenueError

log = logging.getLogger(__name__)

_PACKAGE = "ccxt"
_LOCK = threading.RLock()


def exchange_class(exchange_id: str) -> type[Any]:
    """ccxt's client class for ``exchange_id``, loading no other exchange's modules.

    Raises :class:`VenueError` naming ``exchange.id`` when ccxt has no such exchange."""
    with _LOCK:
        package = _package()
        if exchange_id not in package.exchanges:
            raise VenueError(f"exchange.id: {exchange_id!r} is not an exchange ccxt knows")
        return _load(package, exchange_id)


def _load(package: ModuleType, exchange_id: str) -> type[Any]:
    """Import ``ccxt.<exchange_id>`` and bind its class on ``package``."""
    with _LOCK:
        importlib.import_module(f"{_PACKAGE}.{exchange_id}")
        # Importing ccxt.<id> (and a parent it derives from) binds the *module* on the
        # package; ccxt/__init__.py rebinds each name to the class.
        for name in package.exchanges:
            module = sys.modules.get(f"{_PACKAGE}.{name}")
            if module is not None:
                setattr(package, name, getattr(module, name))
        cls: type[Any] = getattr(package, exchange_id)
        return cls


def without_exchanges(source: str, filename: str) -> CodeType | None:
    """``ccxt/__init__.py`` (``source``) compiled without its per-exchange imports, or
    None when it does not have exactly one ``from ccxt.<id> import <id>`` per id of its
    ``exchanges`` list."""
    tree = ast.parse(source, filename)
    listed = _listed_exchanges(tree)
    if listed is None:
        return None
    kept: list[ast.stmt] = []
    dropped: list[str] = []
    for node in tree.body:
        name = _exchange_import(node)
        if name is not None and name in listed:
            dropped.append(name)
        else:
            kept.append(node)
    if sorted(dropped) != sorted(listed):
        return None
    tree.body = kept
    return compile(tree, filename, "exec")


def _package() -> ModuleType:
    loaded = sys.modules.get(_PACKAGE)
    if loaded is not None:
        return loaded
    spec = importlib.util.find_spec(_PACKAGE)  # finds the package without running it
    if spec is None or spec.origin is None or spec.submodule_search_locations is None:
        raise ModuleNotFoundError(f"No module named {_PACKAGE!r}", name=_PACKAGE)
    # None where only compiled files were installed: nothing to rewrite.
    source = spec.loader.get_source(_PACKAGE) if isinstance(spec.loader, InspectLoader) else None
    code = None if source is None else without_exchanges(source, spec.origin)
    if code is None:
        log.warning(
            "ccxt's __init__.py has no source or another shape: importing every exchange",
            extra={"ccxt_init": spec.origin},
        )
        return importlib.import_module(_PACKAGE)
    package = importlib.util.module_from_spec(spec)

    def load_on_access(name: str) -> type[Any]:
        """``ccxt.<id>`` of an exchange not loaded yet: loaded now, as if always there."""
        if name not in package.__dict__.get("exchanges", ()):
            raise AttributeError(f"module {_PACKAGE!r} has no attribute {name!r}")
        return _load(package, name)

    package.__getattr__ = load_on_access  # type: ignore[method-assign]
    sys.modules[_PACKAGE] = package
    try:
        exec(code, package.__dict__)
    except BaseException:
        del sys.modules[_PACKAGE]  # as a failed import leaves nothing behind
        raise
    return package


def _listed_exchanges(tree: ast.Module) -> list[str] | None:
    """The names of ``exchanges = ['alpha', ...]``, else None."""
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and [getattr(t, "id", None) for t in node.targets] == ["exchanges"]
            and isinstance(node.value, ast.List)
        ):
            names = [getattr(item, "value", None) for item in node.value.elts]
            strings = [name for name in names if isinstance(name, str)]
            return strings if len(strings) == len(names) else None
    return None


def _exchange_import(node: ast.stmt) -> str | None:
    """``x`` of a top-level ``from ccxt.x import x``, else None."""
    if not isinstance(node, ast.ImportFrom) or node.level != 0 or node.module is None:
        return None
    package, _, name = node.module.partition(".")
    if (
        package != _PACKAGE
        or "." in name
        or [(a.name, a.asname) for a in node.names] != [(name, None)]
    ):
        return None
    return name
