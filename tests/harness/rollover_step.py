"""The operator's password rollover step, serving calls: ``python -m tests.harness.rollover_step``.

Builds ``tradingstack_operator.rotation.password_rollover`` (what the reconciler calls on
every run) with a kubeconfig, so it reads the stack's Secrets through the API server and
reaches the Redis pods by their FQDNs from wherever it is started (a network namespace of
the pod network). One process for many calls: the step remembers the admin password it
last logged in with, as in the operator. Each line on stdin is a JSON list of the
stack's observed children; each answer on stdout is one JSON line
``{"checksum": ..., "rollover": {...} | null}``. Ends when stdin closes or on SIGTERM.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import signal
import sys
from pathlib import Path

import kubernetes

from tradingstack_operator.kube import Kube
from tradingstack_operator.render.stack import Options
from tradingstack_operator.rotation import password_rollover
from tradingstack_operator.sentinel import PassCredentials
from tradingstack_operator.spec import parse_spec


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--kubeconfig", type=Path, required=True)
    args.add_argument("--name", required=True)
    args.add_argument("--namespace", required=True)
    args.add_argument("--spec", required=True, help="the TradingStack's spec, as JSON")
    args.add_argument("--cluster-domain", default=Options().cluster_domain)
    options = args.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    api = kubernetes.config.new_client_from_config(config_file=str(options.kubeconfig))
    kube = Kube(api, timeout=10.0)
    step = password_rollover(kube, Options(cluster_domain=options.cluster_domain))
    spec = parse_spec(json.loads(options.spec))
    try:
        for line in sys.stdin:
            # Each call a reconcile pass, which reads the admin Secret anew.
            credentials = PassCredentials.of(kube, options.name, options.namespace, spec)
            checksum, rollover = step(
                options.name, options.namespace, spec, json.loads(line), credentials
            )
            answer = {"checksum": checksum,
                      "rollover": dataclasses.asdict(rollover) if rollover else None}  # fmt: skip
            print(json.dumps(answer), flush=True)
    finally:
        api.close()


if __name__ == "__main__":
    main()
