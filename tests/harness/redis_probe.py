"""The operator's Redis probe in a loop: ``python -m tests.harness.redis_probe``.

Runs ``tradingstack_operator.sentinel.observe`` (what the operator runs on every resync)
against the pods' FQDNs from wherever it is started (a network namespace of the pod
network) and appends one JSON line per observation: {"t": monotonic, "master": ...,
"split_brain": ...}.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from pathlib import Path

from tradingstack_operator.sentinel import observe
from tradingstack_workers.password import read_password


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--out", type=Path, required=True)
    args.add_argument("--password-file", type=Path, required=True)
    args.add_argument("--quorum", type=int, required=True)
    args.add_argument("--every", type=float, default=0.5)
    args.add_argument("--tls-ca-file", type=Path, help="reach the pods over TLS")
    args.add_argument("hosts", nargs="+")
    options = args.parse_args()
    password = read_password(options.password_file)
    tls_ca = options.tls_ca_file.read_text() if options.tls_ca_file else None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with options.out.open("a", encoding="utf-8") as out:
        while not stop.is_set():
            view = observe(options.hosts, password, options.quorum, tls_ca=tls_ca)
            line = {"t": time.monotonic(), "master": view.master, "split_brain": view.split_brain}
            out.write(json.dumps(line) + "\n")
            out.flush()
            stop.wait(options.every)


if __name__ == "__main__":
    main()
