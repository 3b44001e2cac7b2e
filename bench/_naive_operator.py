"""The naive baseline of bench.operator_controlplane: apply everything, every pass.

A level-based loop with no diff: every ``--interval`` seconds it lists the stacks of one
namespace and server-side-applies every rendered child and the status of each, whether
anything changed or not. It is what our reconciler is measured against; it is never used.
"""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType

import kubernetes

from tradingstack_operator.kube import STACKS, Kube
from tradingstack_operator.render import render_children
from tradingstack_operator.resources import adopt
from tradingstack_operator.spec import SpecError, parse_spec


def one_pass(kube: Kube, namespace: str) -> None:
    for body in kube.list(STACKS, namespace):
        meta = body["metadata"]
        try:
            spec = parse_spec(body.get("spec") or {})
        except SpecError:
            continue
        for child in render_children(meta["name"], namespace, spec):
            adopt(child, body)
            kube.apply(child)
        kube.patch_status(namespace, meta["name"], {"status": {"phase": "Progressing"}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--interval", type=float, default=10.0)
    args = parser.parse_args()
    stop = threading.Event()

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    kube = Kube(kubernetes.config.new_client_from_config())
    while not stop.is_set():
        one_pass(kube, args.namespace)
        stop.wait(args.interval)


if __name__ == "__main__":
    main()
