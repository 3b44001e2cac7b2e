"""The dead-letter entry: the original fields, byte for byte, plus why it was set aside.

Stream readers send an entry they cannot use to ``Keys.dead_letter(stream)``. Workers
read Redis with ``surrogateescape``, so an undecodable field arrives as lone
surrogates; encoding it back the same way writes the very bytes that came in, so
nothing is lost and the entry can be replayed once its writer is fixed.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Fields the reader adds (the original entry's own fields keep their names).
SOURCE_ID = "dead_source_id"
ERROR = "dead_error"
FIELD = "dead_field"
CAUSE = "dead_cause"
DELIVERIES = "dead_deliveries"
CONSUMER = "dead_consumer"
#: An error message is cut to this many characters.
MAX_ERROR = 2000


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def dead_letter_fields(
    fields: Mapping[str, str],
    *,
    source_id: str,
    error: str,
    field: str,
    cause: str,
    deliveries: int,
    consumer: str,
) -> dict[bytes, bytes]:
    """The entry to XADD to the dead-letter stream, as raw bytes."""
    out = {_bytes(k): _bytes(v) for k, v in fields.items()}
    out.update(
        {
            _bytes(SOURCE_ID): _bytes(source_id),
            _bytes(ERROR): _bytes(error[:MAX_ERROR]),
            _bytes(FIELD): _bytes(field),
            _bytes(CAUSE): _bytes(cause),
            _bytes(DELIVERIES): str(deliveries).encode(),
            _bytes(CONSUMER): _bytes(consumer),
        }
    )
    return out
