"""A soak of the local stack (``tradingstack up examples/paper.yaml``): steady load with
faults at random intervals; each process's memory growth per hour.

``python -m bench.soak --minutes 30`` by hand; the test command soaks 3 minutes
(tests/chaos/test_chaos.py). Faults: kill -9 of a random worker, or the Redis master
stopped for a second, every 60 to 180 s (20 to 40 s in ``--quick``, which lasts a
minute and a half). Each result: a process's resident memory growth per hour (the slope
after a warm-up; a restarted process is a new series) beside its size at the start; the
master's used_memory likewise. The per-fault rows, the key audit and the lost/doubled
totals go to stderr as JSON. Every row is recorded in ``soak_bench.jsonl`` of the
reliability folder (``.reliability/``, for scripts/reliability.py; not in ``--quick``)
and written to ``--out`` when given.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from tests.chaos import runner, soak
from tests.chaos.figures import soak_results
from tests.harness.reliability import record

from bench.common import parser


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--rate", type=float, default=10.0, help="proposals a second")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--out", type=Path, default=None, help="every row as JSON lines")
    args = p.parse_args()
    seconds, every = (90.0, (20.0, 40.0)) if args.quick else (args.minutes * 60, (60.0, 180.0))
    with (
        tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp,
        runner.running_stack(Path(tmp) / "data", args.rate) as (stack, load),
    ):
        rows = soak.run(stack, load, seconds=seconds, fault_every=every, seed=args.seed)
    for row in rows:
        if row["soak"] != "memory":
            print(json.dumps(row, default=str), file=sys.stderr)
    if not args.quick:
        for row in rows:
            record("soak_bench", row)
    if args.out is not None:
        args.out.write_text("".join(json.dumps(r, default=str) + "\n" for r in rows))
    for result in soak_results(rows):
        print(json.dumps(result, default=str), flush=True)
    (total,) = [r for r in rows if r["soak"] == "total"]
    return 0 if total["lost"] == total["doubled"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
