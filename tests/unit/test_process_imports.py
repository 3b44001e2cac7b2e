"""What each process imports: nothing it does not use. ccxt alone is about 45 MiB resident
and numpy about 15, against the 80 MB a worker may hold (issue #18, bench.memory)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("ccxt", "numpy", "scipy")

#: The heavy libraries each worker kind loads at start: numpy where its decisions use it
#: (the bots' indicators and synthetic feed, the clusters' matrices). ccxt in none: a live
#: bot loads it when it connects to its exchange, a paper bot never.
WORKER_LOADS = {
    "bots": {"numpy"},
    "clusters": {"numpy"},
    "gate": set(),
    "governor": set(),
    "intel": set(),
}


def loaded(module: str) -> set[str]:
    """The libraries of :data:`HEAVY` in ``sys.modules`` of a fresh interpreter once it
    imported ``module``."""
    probe = f"import sys, {module}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    answer = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)  # fmt: skip
    return set(answer.stdout.split())


def test_the_operator_imports_none_of_them() -> None:
    # ccxt was most of the operator's resident memory at start (bench.operator_controlplane),
    # pulled in for metric names and the bots' settings models; numpy came with the
    # strategies' parameter models and the feeds' specs, which it reads and never computes.
    assert loaded("tradingstack_operator.main, tradingstack_operator.handlers") == set()


@pytest.mark.parametrize("kind", sorted(WORKER_LOADS))
def test_a_worker_loads_only_the_heavy_libraries_it_uses(kind: str) -> None:
    assert loaded(f"tradingstack_workers.{kind}.main") == WORKER_LOADS[kind]
