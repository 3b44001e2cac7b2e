"""Loaded by every Python process started with this folder first on PYTHONPATH (a bot under
test): no socket may leave loopback (:mod:`tests.harness.loopback_guard`), for its whole life."""

import importlib.util
import pathlib

_path = pathlib.Path(__file__).resolve().parents[1] / "loopback_guard.py"
_spec = importlib.util.spec_from_file_location("_loopback_guard", _path)
if _spec is not None and _spec.loader is not None:
    _guard = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_guard)
    _guard.always_on()
