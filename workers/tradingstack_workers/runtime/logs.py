"""Structured JSON logs on stdout: one object per line, fields a log shipper can index.

python-json-logger writes them (it keeps its list of a LogRecord's own attributes up to
date, renders ``stack_info`` and serialises datetimes, enums and dataclasses); this
module only fixes the field names: ``ts`` (UTC, milliseconds, ``Z``), ``level``,
``logger``, ``msg``, the static fields (``kind``, ``instance``), every ``extra=`` key,
and ``exc``/``stack_info`` when present. An ``extra=`` key never replaces one of these.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable
from typing import Any, TextIO

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonEncoder
from pythonjsonlogger.json import JsonFormatter as _LibraryFormatter

_RENAMED = {
    "asctime": "ts",
    "levelname": "level",
    "name": "logger",
    "message": "msg",
    "exc_info": "exc",
}


class _Encoder(JsonEncoder):
    """The library's encoder, with ``repr`` for what it cannot render (a dataclass that
    holds a lock or a queue cannot be deep-copied): a line is never lost to a field."""

    def default(self, o: Any) -> Any:
        try:
            return super().default(o)
        except Exception:
            return repr(o)


class JsonFormatter(_LibraryFormatter):
    default_time_format = "%Y-%m-%dT%H:%M:%S"
    default_msec_format = "%s.%03dZ"

    def __init__(self, static: dict[str, str], reserved: Iterable[str] = ()) -> None:
        """``reserved``: record attributes that are no fields (beyond a LogRecord's own)."""
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields=_RENAMED,
            static_fields=static,
            reserved_attrs=[*RESERVED_ATTRS, *reserved],
            json_encoder=_Encoder,
        )
        self._static = static

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        """UTC, whatever the host's zone."""
        stamp = time.strftime(self.default_time_format, time.gmtime(record.created))
        return self.default_msec_format % (stamp, record.msecs)

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        # The library lets an extra= key overwrite a field; ours must mean what they say.
        log_data.update(self._static)
        log_data["ts"] = self.formatTime(record)
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["msg"] = record.getMessage()


def configure(
    level: str,
    static: dict[str, str],
    stream: TextIO = sys.stdout,
    formatter: JsonFormatter | None = None,
) -> None:
    """Route every logger to one JSON handler; ``static`` fields go on every line
    (``formatter``: a subclass of :class:`JsonFormatter` built with them instead)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter or JsonFormatter(static))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
