"""The chaos reconciliation's book stage (tests/chaos/ledger.py), on hand-made figures."""

from __future__ import annotations

from tests.chaos.ledger import Snapshot, reconcile


def book(positions: dict[str, dict[str, float]], snapshots: dict[str, dict[str, str]]) -> int:
    snap = Snapshot(
        proposals=(), verdicts=(), results=(), fills={}, positions=positions,
        intel_counted=0, intel_drained=True, result_len=0, snapshots=snapshots,
    )  # fmt: skip
    return reconcile(snap, settled_before=0.0).stages["book"]["lost"]


def test_each_accounts_position_is_its_part_and_the_parts_sum_to_the_book() -> None:
    positions = {"a": {"BTCUSDT": 0.5}, "b": {"BTCUSDT": -0.2}}
    good = {"position_amt": "0.3", "position_amt:a": "0.5", "position_amt:b": "-0.2"}
    assert book(positions, {"BTCUSDT": good}) == 0
    assert book({"a": {}, "b": {}}, {"BTCUSDT": {"position_amt": "0"}}) == 0
    assert book(positions, {"BTCUSDT": {**good, "position_amt:b": "-0.3"}}) == 2  # part, sum
    assert book(positions, {"BTCUSDT": {**good, "position_amt": "0.5"}}) == 1  # last writer's
    assert book(positions, {}) == 1  # held, but no snapshot
