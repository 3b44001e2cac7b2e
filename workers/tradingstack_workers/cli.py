"""The ``tradingstack`` command: one entry point, a subcommand per job."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: Worker kind -> module exposing ``main() -> int``. Imported lazily so one kind's
#: dependencies never slow another's start.
WORKER_KINDS: dict[str, str] = {
    kind: f"tradingstack_workers.{kind}.main" for kind in ("clusters", "gate", "governor")
}


def _worker(args: argparse.Namespace) -> int:
    module = WORKER_KINDS.get(args.kind)
    if module is None:
        known = ", ".join(sorted(WORKER_KINDS)) or "none installed"
        print(f"tradingstack worker: unknown kind {args.kind!r} (known: {known})", file=sys.stderr)
        return 2
    entry = importlib.import_module(module)
    code: int = entry.main()
    return code


def _operator(_args: argparse.Namespace) -> int:
    from tradingstack_operator.main import run  # noqa: PLC0415 - kopf loads only here

    return run()


def _render(args: argparse.Namespace) -> int:
    from tradingstack_operator.render.cli import render_command  # noqa: PLC0415

    return render_command(args.file)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tradingstack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    worker = commands.add_parser(
        "worker", help="run one worker kind (settings from TS_* variables)"
    )
    worker.add_argument("kind", help="worker kind")
    worker.set_defaults(run=_worker)
    operator = commands.add_parser("operator", help="run the Kubernetes operator (kopf)")
    operator.set_defaults(run=_operator)
    render = commands.add_parser("render", help="print the manifests a TradingStack becomes")
    render.add_argument("file", help="a TradingStack manifest (YAML)")
    render.set_defaults(run=_render)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
