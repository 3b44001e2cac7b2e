"""Buckets, the batch tally and the report queries A-E over crafted counts (no Redis)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from tradingstack_workers.intel import queries, tables
from tradingstack_workers.intel.alerts import AlertPolicy
from tradingstack_workers.intel.buckets import Layout, Window, bucket_of, window_starts
from tradingstack_workers.intel.metrics import EXPORTED, IntelMetrics
from tradingstack_workers.intel.store import Health
from tradingstack_workers.intel.tally import Tally
from tradingstack_workers.keys import Keys
from tradingstack_workers.wire.result import ExecutionResult

T = 1_769_929_500  # a bucket start (multiple of 60)


def test_bucket_of_uses_the_entry_ids_milliseconds() -> None:
    assert bucket_of(f"{T * 1000 + 59_999}-3", 60) == T
    assert bucket_of(f"{(T + 60) * 1000}-0", 60) == T + 60
    assert bucket_of(f"{T * 1000 + 12_345}-0", 10) == T + 10


def test_window_is_the_current_bucket_and_those_before() -> None:
    assert window_starts(T + 59.9, 300, 60) == [T, T - 60, T - 120, T - 180, T - 240]
    assert window_starts(T, 90, 60) == [T, T - 60]  # rounded up to whole buckets
    assert window_starts(T + 1, 5, 60) == [T]


def test_layout_keys_sit_under_the_intel_bucket_key() -> None:
    layout = Layout(Keys("q"), 60, 3600)
    assert layout.decisions(T) == f"q:p35:bucket:{T}:decisions"
    assert layout.reasons(T) == f"q:p35:bucket:{T}:reasons"
    assert layout.symbols(T) == f"q:p35:bucket:{T}:symbols"
    assert layout.symbol_reasons(T, "BTCUSDT") == f"q:p35:bucket:{T}:reasons:BTCUSDT"
    assert layout.expire_at(T) == T + 60 + 3600


def result(decision: str, reason: str, symbol: str = "BTCUSDT") -> ExecutionResult:
    return ExecutionResult.parse(
        {"decision": decision, "reason": reason, "symbol": symbol, "ts": "1769492127"}, None
    )


def test_the_tally_groups_a_batch_and_drops_execute_reasons() -> None:
    tally = Tally(60)
    tally.add(f"{T * 1000}-0", result("SKIP", "heat_limit"))
    tally.add(f"{T * 1000}-1", result("SKIP", "heat_limit"))
    tally.add(f"{T * 1000 + 61_000}-0", result("SKIP", "heat_limit"))
    tally.add(f"{T * 1000}-2", result("EXECUTE", "ok"))
    assert tally.groups == {
        (T, "SKIP", "heat_limit", "BTCUSDT"): [f"{T * 1000}-0", f"{T * 1000}-1"],
        (T + 60, "SKIP", "heat_limit", "BTCUSDT"): [f"{T * 1000 + 61_000}-0"],
        (T, "EXECUTE", "", "BTCUSDT"): [f"{T * 1000}-2"],
    }
    args = tally.script_args("g", Layout(Keys(), 60, 100))
    assert args[:3] == ["g", "quantum:p35:bucket:", 160]
    assert args[3:10] == [T, "SKIP", "heat_limit", "BTCUSDT", 2, f"{T * 1000}-0", f"{T * 1000}-1"]
    # the script reports one of the two SKIPs in T as already counted elsewhere
    assert tally.applied([1, 1, 1]) == {"SKIP": 2, "EXECUTE": 1}


def crafted() -> Window:
    """Two buckets as HGETALL returns them (strings)."""
    return Window.sum(
        [T, T - 60],
        60,
        decisions=[{"EXECUTE": "10", "SKIP": "50"},
                   {"BLOCKED": "30", "ERROR": "5", "UNKNOWN": "5"}],
        reasons=[{"heat_limit": "45", "no_position": "5"}, {"heat_limit": "15", "zzz": "20",
                                                            "aaa": "20", "none": "5"}],
        symbols=[{"BTCUSDT": "40", "ETHUSDT": "20"}, {"BTCUSDT": "40"}],
        symbol_reasons={"BTCUSDT": [{"heat_limit": "40"}, {"heat_limit": "15", "zzz": "20"}],
                        "ETHUSDT": [{"heat_limit": "5", "no_position": "5"}, {}]},
    )  # fmt: skip


def test_a_distribution_top_reasons_skip_rate_and_unknowns() -> None:
    a = queries.overview(crafted())
    assert a["total"] == 100
    assert [(d["decision"], d["count"]) for d in a["decisions"]] == [
        ("EXECUTE", 10), ("SKIP", 50), ("BLOCKED", 30), ("ERROR", 5), ("UNKNOWN", 5)]  # fmt: skip
    assert a["skip_rate_pct"] == 50.0
    # "none" (UNKNOWN without a reason) is not a gate (review D16): data quality says it.
    assert [r["reason"] for r in a["top_reasons"]] == ["heat_limit", "aaa", "zzz", "no_position"]
    assert a["top_reasons"][0] == {"reason": "heat_limit", "count": 60, "pct": 60.0}
    assert a["data_quality"]["unknown"] == 5
    assert a["data_quality"]["ok"] is False  # 5 % is not under the 5 % baseline
    assert a["window"] == {"start": T - 60, "end": T + 60, "buckets": 2, "bucket_seconds": 60}


def test_a_lists_at_most_fifteen_reasons() -> None:
    reasons = {f"r{i:02d}": str(i + 1) for i in range(20)}
    w = Window.sum([T], 60, decisions=[{"SKIP": "210"}], reasons=[reasons])
    top = queries.overview(w)["top_reasons"]
    assert len(top) == 15
    assert top[0]["reason"] == "r19"


def test_b_top_gates_per_symbol() -> None:
    b = queries.per_symbol(crafted())
    assert [s["symbol"] for s in b["symbols"]] == ["BTCUSDT", "ETHUSDT"]
    btc = b["symbols"][0]
    assert btc["total"] == 80
    assert btc["gates"] == [{"reason": "heat_limit", "count": 55, "pct": 68.75},
                            {"reason": "zzz", "count": 20, "pct": 25.0}]  # fmt: skip
    named = queries.per_symbol(crafted(), ["SOLUSDT", "ETHUSDT"])
    assert [(s["symbol"], s["total"], len(s["gates"])) for s in named["symbols"]] == [
        ("SOLUSDT", 0, 0), ("ETHUSDT", 20, 2)]  # fmt: skip


def test_c_gate_share_flags_dominant_gates_with_their_action() -> None:
    c = queries.gate_share(crafted(), 40, "quantum")
    assert [(g["reason"], g["dominant"]) for g in c["gates"][:2]] == [("heat_limit", True),
                                                                     ("aaa", False)]  # fmt: skip
    [dominant] = c["dominant"]
    assert dominant["reason"] == "heat_limit"
    assert "quantum:portfolio:heat" in dominant["action"]["diagnosis"][0]
    assert queries.gate_share(crafted(), 60, "q")["dominant"] == []  # above, not at


def test_d_drift_with_a_threshold_and_severities() -> None:
    policy = AlertPolicy()
    # Over the threshold, as report C and the alerts (review D14): 20 % is not over 20.
    assert [a["reason"] for a in queries.drift(crafted(), 20, policy, "q")["alerts"]] == [
        "heat_limit"]  # fmt: skip
    d = queries.drift(crafted(), 19, policy, "quantum")
    # heat_limit holds exactly 60 %: MEDIUM, not HIGH.
    assert [(a["reason"], a["severity"]) for a in d["alerts"]] == [
        ("heat_limit", "MEDIUM"), ("aaa", None), ("zzz", None)]  # fmt: skip
    assert d["alerts"][1]["action"]["meaning"] == "no entry in the action-mapping guide"
    assert not d["healthy"]
    assert queries.drift(crafted(), 60, policy, "quantum")["healthy"]
    empty = Window.sum([T], 60, decisions=[{}], reasons=[{}])
    assert queries.drift(empty, 40, policy, "q")["healthy"]


def test_e_health() -> None:
    h = Health(
        {"processed_total": "16300", "unknown_total": "18", "updated_ts": "1769929499.5"},
        {"name": "p35_decision_intel", "pending": 0, "lag": 0, "last-delivered-id": "1-0"},
        [
            {"name": "intel-b", "pending": 0, "idle": 5},
            {"name": "intel-a", "pending": 2, "idle": 9},
        ],
    )
    e = queries.health(h)
    assert (e["processed_total"], e["unknown_total"], e["pending"], e["lag"]) == (16300, 18, 0, 0)
    assert [c["name"] for c in e["consumers"]] == ["intel-a", "intel-b"]
    missing = queries.health(Health({}, None))
    assert (missing["group_exists"], missing["processed_total"], missing["pending"]) == (
        False, 0, None)  # fmt: skip


def test_tables_render_every_section() -> None:
    w = crafted()
    text = "\n".join(
        tables.overview(queries.overview(w))
        + tables.per_symbol(queries.per_symbol(w))
        + tables.gate_share(queries.gate_share(w, 40, "quantum"))
        + tables.drift(queries.drift(w, 40, AlertPolicy(), "quantum"))
        + tables.health(queries.health(Health({}, None)), T)
    )
    assert "DATA QUALITY: 5 UNKNOWN" in text
    assert "DOMINANT" in text
    assert "ALERT MEDIUM: heat_limit holds 60.00 %" in text
    assert "does not exist yet" in text
    assert tables.table(["a", "b"], []) == ["  a  b", "  -  -", "  (none)"]


def test_seed_metric_names_are_exported() -> None:
    registry = CollectorRegistry()
    metrics = IntelMetrics.create(registry)
    exported = {s.name for m in registry.collect() for s in m.samples}
    for name in EXPORTED:
        if name not in ("p35_malformed_total",):  # labelled by field: appears on first use
            assert name in exported, name
    metrics.counted({"SKIP": 3, "UNKNOWN": 1})
    assert registry.get_sample_value("p35_processed_total") == 4
    assert registry.get_sample_value("p35_unknown_decisions_total") == 1
    assert registry.get_sample_value("p35_decisions_total", {"decision": "SKIP"}) == 3
