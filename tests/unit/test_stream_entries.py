"""An XREADGROUP reply's (id, fields) pairs become entries delivered once."""

from __future__ import annotations

from tradingstack_workers.runtime.streams import StreamEntry, _first_deliveries


def test_pairs_become_entries_with_their_own_fields() -> None:
    fields = [{"n": "1"}, {"n": "2"}]
    entries = _first_deliveries([("1-0", fields[0]), ("1-1", fields[1])])
    assert entries == [StreamEntry("1-0", {"n": "1"}, 1), StreamEntry("1-1", {"n": "2"}, 1)]
    assert all(type(e) is StreamEntry for e in entries)
    assert entries[1].fields is fields[1]  # redis-py's new dict, not a copy
    assert _first_deliveries([]) == []


def test_an_entry_without_fields_reads_as_empty() -> None:
    entries = _first_deliveries([("1-0", {"n": "1"}), ("1-1", None)])
    assert [(e.id, e.fields, e.deliveries) for e in entries] == [
        ("1-0", {"n": "1"}, 1),
        ("1-1", {}, 1),
    ]
