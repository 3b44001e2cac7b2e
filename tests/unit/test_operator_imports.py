"""What the operator process imports: nothing a worker needs and the operator does not."""

from __future__ import annotations

import subprocess
import sys


def test_the_operator_does_not_import_ccxt() -> None:
    # ccxt was most of the operator's resident memory at start (bench.operator_controlplane),
    # pulled in for metric names and the bots' settings models.
    probe = "import sys, tradingstack_operator.handlers; print('ccxt' in sys.modules)"
    answer = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)  # fmt: skip
    assert answer.stdout.strip() == "False"
