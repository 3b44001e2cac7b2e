"""The ``tradingstack`` command: one entry point, a subcommand per job."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from . import WORKER_KINDS


def main_module(kind: str) -> str:
    """The module whose ``main() -> int`` runs worker ``kind``."""
    return f"tradingstack_workers.{kind}.main"


def _worker(args: argparse.Namespace) -> int:
    if args.kind not in WORKER_KINDS:
        known = ", ".join(sorted(WORKER_KINDS))
        print(f"tradingstack worker: unknown kind {args.kind!r} (known: {known})", file=sys.stderr)
        return 2
    # Imported lazily so one kind's dependencies never slow another's start.
    entry = importlib.import_module(main_module(args.kind))
    code: int = entry.main()
    return code


def _operator(_args: argparse.Namespace) -> int:
    from tradingstack_operator.main import run  # noqa: PLC0415 - kopf loads only here

    return run()


def _render(args: argparse.Namespace) -> int:
    from tradingstack_operator.render.cli import render_command  # noqa: PLC0415

    return render_command(args.file)


def _port(text: str) -> int:
    """A TCP port for argparse: refused there, in one line, before anything starts."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1..65535)")
    return int(text)


def _percent(text: str) -> float:
    """A share in percent, 0..100, for argparse."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 100:  # NaN fails too
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage in 0..100")
    return value


def _unix_seconds(text: str) -> float:
    """A Unix time in seconds, for argparse; milliseconds are refused, not misread (the
    wire's bound of the seconds unit)."""
    from .wire.fields import EPOCH_MAX_SECONDS  # noqa: PLC0415

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < EPOCH_MAX_SECONDS:  # NaN and inf fail too
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a Unix time in seconds (milliseconds? divide by 1000)"
        )
    return value


def _sentinel(text: str) -> tuple[str, int]:
    from .stacks.locate import parse_sentinel  # noqa: PLC0415

    try:
        return parse_sentinel(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def live_view(no_tui: bool, stdout: TextIO) -> bool:
    """Whether ``up`` draws its live view: on a terminal, unless ``--no-tui``. Redirected
    to a file or a pipe it prints the JSON event lines instead (the view's frames would
    reach the file only at exit)."""
    return not no_tui and stdout.isatty()


def _up(args: argparse.Namespace) -> int:
    from .up.runner import up_command  # noqa: PLC0415

    return up_command(
        args.file,
        data_dir=args.data_dir,
        base_port=args.base_port,
        env=args.env,
        tui=live_view(args.no_tui, sys.stdout),
    )


def _add_up(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = commands.add_parser(
        "up", help="run a TradingStack on this machine: Redis and every worker, supervised"
    )
    up.add_argument("file", help="a TradingStack manifest (YAML)")
    up.add_argument(
        "--data-dir", metavar="DIR", help="Redis data, password, logs (default .tradingstack/NAME)"
    )
    up.add_argument(
        "--no-tui",
        action="store_true",
        help="JSON event lines on stdout instead of the live view (always when stdout is "
        "not a terminal)",
    )
    up.add_argument("--base-port", type=_port, metavar="N", help="first loopback port to use")
    up.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="[KIND:]NAME=VALUE",
        help="override a worker variable, e.g. bots:TS_CYCLE_SECONDS=1 (repeatable)",
    )
    up.set_defaults(run=_up)


def _where(args: argparse.Namespace) -> Any:
    from .stacks.commands import Where  # noqa: PLC0415

    return Where(
        data_dir=args.data_dir,
        namespace=args.namespace,
        kubeconfig=args.kubeconfig,
        context=args.context,
        sentinels=tuple(args.sentinel),
    )


def _add_where(parser: argparse.ArgumentParser) -> None:
    """How a stack is found by name: ``up``'s data dir, or a cluster's kubeconfig."""
    parser.add_argument(
        "--data-dir", metavar="DIR", help="a stack run by `up` (default .tradingstack/NAME)"
    )
    parser.add_argument("-n", "--namespace", help="the stack's namespace in the cluster")
    parser.add_argument("--kubeconfig", metavar="FILE", help="default $KUBECONFIG or ~/.kube")
    parser.add_argument("--context", help="kubeconfig context")
    parser.add_argument(
        "--sentinel", action="append", default=[], metavar="HOST:PORT", type=_sentinel,
        help="reach the stack's sentinels here (a port-forward) instead of by pod DNS",
    )  # fmt: skip


def _switch(args: argparse.Namespace) -> int:
    from .stacks.commands import switch_command  # noqa: PLC0415

    return switch_command(args.name, halted=args.halted, where=_where(args))


def _status(args: argparse.Namespace) -> int:
    from .stacks.commands import status_command  # noqa: PLC0415

    return status_command(args.name, where=_where(args), as_json=args.json)


def _add_stack_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for verb, halted, text in (
        ("halt", True, "kill switch: the stack's bots open no new positions (exits still run)"),
        ("resume", False, "release the kill switch: the stack's bots may open positions again"),
    ):
        command = commands.add_parser(verb, help=text)
        command.add_argument("name", help="the TradingStack's name")
        _add_where(command)
        command.set_defaults(run=_switch, halted=halted)
    status = commands.add_parser(
        "status", help="a stack's components, Redis master, kill switch, positions and equity"
    )
    status.add_argument("name", help="the TradingStack's name")
    status.add_argument("--json", action="store_true", help="JSON for scripts")
    _add_where(status)
    status.set_defaults(run=_status)


def _intel_report(args: argparse.Namespace) -> int:
    from .intel.report import report_command  # noqa: PLC0415

    environ = None
    if args.stack is not None:
        from .stacks.commands import find  # noqa: PLC0415
        from .stacks.environ import worker_environ  # noqa: PLC0415
        from .stacks.locate import NotFound  # noqa: PLC0415

        try:
            environ = worker_environ(find(args.stack, _where(args)), "intel")
        except NotFound as exc:
            print(f"tradingstack intel report: {exc}", file=sys.stderr)
            return 1
    return report_command(
        args.query,
        as_json=args.json,
        symbols=args.symbols,
        threshold_pct=args.threshold,
        now=args.now,
        environ=environ,
    )


def _add_intel(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    intel = commands.add_parser("intel", help="P3.5 decision intelligence")
    intel_commands = intel.add_subparsers(dest="intel_command", required=True)
    report = intel_commands.add_parser(
        "report",
        help="why are we not trading: a) overview b) per symbol c) gate share d) drift e) health",
    )
    report.add_argument("query", nargs="?", default="all", choices=["a", "b", "c", "d", "e", "all"])
    report.add_argument("--json", action="store_true", help="JSON for scripts")
    report.add_argument(
        "--symbols", nargs="*", default=[], help="symbols for b (default: all in the window)"
    )
    report.add_argument(
        "--threshold", type=_percent, metavar="PCT", help="drift threshold for c and d (default 40)"
    )
    report.add_argument("--now", type=_unix_seconds, help="report as of this Unix time (s)")
    report.add_argument(
        "--stack", metavar="NAME", help="the stack to report on (default: TS_* variables)"
    )
    _add_where(report)
    report.set_defaults(run=_intel_report)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tradingstack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    worker = commands.add_parser(
        "worker", help="run one worker kind (settings from TS_* variables)"
    )
    worker.add_argument("kind", help=f"worker kind: {', '.join(WORKER_KINDS)}")
    worker.set_defaults(run=_worker)
    operator = commands.add_parser("operator", help="run the Kubernetes operator (kopf)")
    operator.set_defaults(run=_operator)
    render = commands.add_parser("render", help="print the manifests a TradingStack becomes")
    render.add_argument("file", help="a TradingStack manifest (YAML)")
    render.set_defaults(run=_render)
    _add_intel(commands)
    _add_up(commands)
    _add_stack_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
