"""Process entry for one worker kind: validate the environment, then run the loop."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from typing import TypeVar

from .health import Routes
from .loop import Worker, WorkerContext, run_worker
from .settings import RuntimeSettings, SettingsError, load_settings

S = TypeVar("S", bound=RuntimeSettings)

#: Exit code for a bad environment, distinct from a crash (1).
EXIT_BAD_SETTINGS = 2


def main(
    settings_cls: type[S],
    factory: Callable[[WorkerContext[S]], Worker[S]],
    routes: Callable[[WorkerContext[S]], Routes] | None = None,
    *,
    gc_thresholds: tuple[int, int, int] | None = None,
) -> int:
    """Run the worker ``factory`` builds; the process exit code.

    ``gc_thresholds``: the cyclic collector's thresholds (CPython's are 700, 10, 10) for a
    kind whose steps allocate many short-lived containers beside long-lived ones; what
    the process imported by then is frozen out of every collection first.
    """
    if gc_thresholds is not None:
        gc.freeze()
        gc.set_threshold(*gc_thresholds)
    try:
        settings = load_settings(settings_cls)
    except SettingsError as exc:
        print(f"tradingstack {settings_cls.kind}: invalid settings: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    return run_worker(factory, settings, routes=routes)
