"""Faults on the local stack of ``tradingstack up examples/paper.yaml`` under load: how long
the stack takes to recover from each, and what was lost or doubled (must be 0).

``python -m bench.chaos`` runs what the test command runs (tests/chaos/test_chaos.py):
kill -9 of each worker kind (a gate and intel in mid-batch, a bot's leader and standby),
every worker kind SIGSTOPped at once, the Redis master stopped for 1 s and for 5 s, the
master killed. ``--all`` adds every bot and a SIGSTOP of each kind on its own (one liveness window
each); ``--quick`` runs the cut only.

Each result: the recovery in seconds (from the fault until the victim is back, every
process ready, proposals judged again, the backlog judged and the hit kind's output
fresh), beside the verdict latency with no fault of the same run. Its params carry the
time of each recovery step, lost and doubled by stage, and the processes restarted.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from tests.chaos import faults, runner
from tests.chaos.figures import chaos_results

from bench.common import parser


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--all", action="store_true", help="every kind, every bot, kill and stop")
    p.add_argument("--rate", type=float, default=10.0, help="proposals a second")
    args = p.parse_args()
    chosen = (
        [faults.CUT] if args.quick else faults.all_faults() if args.all else faults.suite_faults()
    )
    with (
        tempfile.TemporaryDirectory(prefix="bench-chaos-") as tmp,
        runner.running_stack(Path(tmp) / "data", args.rate) as (stack, load),
    ):
        rows = [{"scenario": "baseline", **runner.baseline(stack, load)}]
        for fault in chosen:
            rows.append(runner.run_fault(stack, load, fault))
            print(json.dumps(rows[-1], default=str), file=sys.stderr)
    for result in chaos_results(rows):
        print(json.dumps(result, default=str), flush=True)
    return 0 if all(r["lost"] == r["doubled"] == 0 for r in rows[1:]) else 1


if __name__ == "__main__":
    sys.exit(main())
