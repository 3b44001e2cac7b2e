"""JSON log lines and the heartbeat's notion of age."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import queue

from tradingstack_workers.runtime import logs
from tradingstack_workers.runtime.health import Heartbeat


def test_log_lines_are_json_with_static_and_extra_fields() -> None:
    stream = io.StringIO()
    logs.configure("INFO", {"kind": "gate"}, stream=stream)
    logging.getLogger("t").info("permit issued", extra={"proposal": "p-1", "k": 0.748})
    logging.getLogger("t").debug("hidden")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("t").exception("failed")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["msg"] == "permit issued"
    assert first["kind"] == "gate"
    assert first["proposal"] == "p-1"
    assert first["k"] == 0.748
    assert first["level"] == "INFO"
    assert first["ts"].endswith("Z")
    assert "ValueError: boom" in second["exc"]


def test_heartbeat_age_follows_the_injected_clock() -> None:
    now = [100.0]
    beats: list[float] = []
    heartbeat = Heartbeat(on_beat=beats.append, clock=lambda: now[0])
    now[0] = 103.0
    assert heartbeat.age() == 3.0
    heartbeat.beat()
    assert heartbeat.age() == 0.0
    assert len(beats) == 1


def test_extra_fields_never_replace_the_formatters_own_and_stack_info_is_kept() -> None:
    """The hand-written formatter lost stack_info and let extra= overwrite ts and kind."""
    stream = io.StringIO()
    logs.configure("INFO", {"kind": "gate", "instance": "g-0"}, stream=stream)
    logging.getLogger("t").info("x", extra={"kind": "oops", "ts": 1, "level": "LOW"})
    logging.getLogger("t").info("y", stack_info=True)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (first["kind"], first["instance"], first["level"]) == ("gate", "g-0", "INFO")
    assert isinstance(first["ts"], str)
    assert first["ts"].endswith("Z")
    assert "test_extra_fields_never_replace" in second["stack_info"]


def test_a_value_the_library_cannot_render_is_its_repr_never_a_lost_line() -> None:
    """kopf's OperatorSettings (a dataclass holding a queue) broke the line it rode on."""

    @dataclasses.dataclass
    class Holder:
        queue: queue.SimpleQueue[int] = dataclasses.field(default_factory=queue.SimpleQueue)

    stream = io.StringIO()
    logs.configure("INFO", {"kind": "gate"}, stream=stream)
    try:
        logging.getLogger("t").info("with a holder", extra={"holder": Holder(), "n": 1})
    finally:
        logging.getLogger().handlers.clear()
    line = json.loads(stream.getvalue())
    assert (line["msg"], line["n"]) == ("with a holder", 1)
    assert "Holder" in line["holder"]
