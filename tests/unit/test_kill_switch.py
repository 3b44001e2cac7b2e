"""The kill switch's pure parts: what the operator withholds, what intel and up report."""

from __future__ import annotations

from pathlib import Path

from tests.unit.render_corpus import children

from tradingstack_operator.reconcile.killswitch import KillSwitch, withhold_new_bots
from tradingstack_workers.intel import queries
from tradingstack_workers.intel.buckets import Window
from tradingstack_workers.intel.report import HALTED_BANNER, render_text
from tradingstack_workers.up import registry

T = 1_800_000_000


def bots(manifests: list[dict[str, object]]) -> set[str]:
    return {
        str(m["metadata"]["name"])  # type: ignore[index]
        for m in manifests
        if m["kind"] == "Deployment" and "-bot-" in str(m["metadata"]["name"])  # type: ignore[index]
    }


def test_no_new_bot_while_a_halt_is_unconfirmed() -> None:
    desired = children("full")
    assert bots(desired) == {"live-bot-bb-btc", "live-bot-rsi"}
    existing = [m for m in desired if m["metadata"]["name"] == "live-bot-rsi"]
    pending = KillSwitch(wanted=True, held=None, error="Redis not up yet")
    kept = withhold_new_bots(desired, existing, pending)
    assert bots(kept) == {"live-bot-rsi"}  # the existing one stays, nothing rolls
    assert len(desired) - len(kept) == 1  # its RBAC and budget are still applied
    confirmed = KillSwitch(wanted=True, held=True, replicated=True)
    assert withhold_new_bots(desired, existing, confirmed) == desired
    trading = KillSwitch(wanted=False, held=None)
    assert withhold_new_bots(desired, [], trading) == desired


def test_halted_is_the_dominant_gate_with_what_to_do() -> None:
    w = Window.sum([T], 60, decisions=[{"SKIP": "80", "EXECUTE": "20"}],
                   reasons=[{"halted": "80"}])  # fmt: skip
    c = queries.gate_share(w, 40, "desk")
    [dominant] = c["dominant"]
    assert (dominant["reason"], dominant["pct"]) == ("halted", 80.0)
    assert "kill switch" in dominant["action"]["meaning"]
    assert "redis-cli GET desk:control:halted" in dominant["action"]["diagnosis"]
    assert any("tradingstack resume" in a for a in dominant["action"]["actions"])
    text = render_text({"now": T, "halted": True, **c}, "c")
    assert text.startswith(HALTED_BANNER)
    assert not render_text({"now": T, "halted": False, **c}, "c").startswith(HALTED_BANNER)


def test_up_publishes_how_to_reach_it(tmp_path: Path) -> None:
    stack = registry.LocalStack(
        name="paper", manifest="/m.yaml", key_prefix="q", sentinels=(("127.0.0.1", 26379),),
        url=None, master_name="mymaster", password_file="/p", pid=1,
    )  # fmt: skip
    registry.publish(tmp_path, stack)
    assert registry.LocalStack.load(tmp_path) == stack
    counts = registry.components_of([("gate", True), ("gate", False), ("intel", True)])
    assert counts == {"gate": (1, 2), "intel": (1, 1)}
    registry.publish_status(tmp_path, counts, "127.0.0.1:6379")
    status = registry.read_status(tmp_path)
    assert status is not None
    assert status["components"]["gate"] == {"ready": 1, "desired": 2}
    assert registry.default_data_dir("paper") == Path(".tradingstack/paper")
