"""``tradingstack halt|resume|status NAME``: act on a stack found by name.

``halt`` and ``resume`` set the kill switch in the stack's Redis directly (they work
while the operator is down) and wait for a replica to hold it; for a cluster they also
set ``spec.halted``, so the operator, when it reconciles, writes the same value rather
than undoing it. ``status`` prints what the stack is doing: components, Redis master,
the kill switch as Redis holds it, each bot account's positions and equity.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import redis

from tradingstack_operator.render import names
from tradingstack_operator.spec import GROUP, PLURAL, VERSION

from ..runtime import killswitch
from ..runtime.sentinel import close_client
from ..up.registry import read_status
from ..wire.errors import BadEntry
from ..wire.ledger import PortfolioStateHash
from .locate import NotFound, StackRef, locate


@dataclass(frozen=True)
class Where:
    """How the user pointed at the stack (CLI options)."""

    data_dir: str | None = None
    namespace: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    sentinels: tuple[tuple[str, int], ...] = ()


def find(name: str, where: Where) -> StackRef:
    """:func:`.locate.locate` with the user's options."""
    return locate(
        name, data_dir=where.data_dir, namespace=where.namespace, kubeconfig=where.kubeconfig,
        context=where.context, sentinels=where.sentinels,
    )  # fmt: skip


def _err(command: str, text: str) -> None:
    print(f"tradingstack {command}: {text}", file=sys.stderr)


def _patch_spec(ref: StackRef, halted: bool) -> str | None:
    """Set spec.halted on the TradingStack; None on success, else why not."""
    import kubernetes  # noqa: PLC0415 - only for a cluster

    api = kubernetes.client.CustomObjectsApi(ref.api)
    try:
        api.patch_namespaced_custom_object(
            GROUP, VERSION, ref.stack.namespace, PLURAL, ref.name, {"spec": {"halted": halted}},
            _request_timeout=10,
        )  # fmt: skip
    except kubernetes.client.ApiException as exc:
        return f"{exc.status} {exc.reason}"
    except Exception as exc:  # the API server went away between locate and patch
        return str(exc)
    return None


def switch_command(name: str, *, halted: bool, where: Where) -> int:
    """Halt (or resume) ``name``: 0 once Redis holds it on a replica, 1 otherwise."""
    verb = "halt" if halted else "resume"
    try:
        ref = find(name, where)
    except NotFound as exc:
        _err(verb, str(exc))
        return 1
    unpatched = _patch_spec(ref, halted) if ref.where == "cluster" else None
    try:
        client = ref.redis()
        try:
            state = killswitch.engage(client, ref.keys, halted, replicas=ref.replicas)
        finally:
            close_client(client)
    except redis.RedisError as exc:
        _err(verb, f"Redis unreachable ({ref.describe()}): {exc}")
        return 1
    value = killswitch.HALTED if state.halted else killswitch.TRADING
    word = "halted: bots open no new positions; exits still run" if state.halted else "trading"
    print(f"{ref.name}: {word} ({ref.keys.halted} = {value} in Redis)")
    code = 0
    if not state.replicated:
        _err(verb, "no replica acknowledged the write: a failover now could lose it; run again")
        code = 1
    if state.halted != halted:
        code = 1
    if unpatched is not None:
        _err(verb, f"spec.halted not set ({unpatched}): when the operator runs it will set "
                   f"{ref.keys.halted} back to spec.halted; set it with kubectl patch")  # fmt: skip
        code = 1
    return code


@dataclass
class Account:
    name: str
    cash_usd: float | None = None
    positions: dict[str, float] = field(default_factory=dict)
    marks: dict[str, float] = field(default_factory=dict)

    @property
    def equity_usd(self) -> float | None:
        if self.cash_usd is None or any(s not in self.marks for s in self.positions):
            return None
        return self.cash_usd + sum(q * self.marks[s] for s, q in self.positions.items())


def _floats(raw: Mapping[Any, Any]) -> dict[str, float]:
    """The fields that are finite numbers (NaN is no JSON)."""
    out = {}
    for key, value in raw.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            out[str(key)] = number
    return out


def _book(raw: Mapping[Any, Any]) -> dict[str, Any] | None:
    """The portfolio state as the gate and the governor parse it (every account's part
    summed: runtime.book); ``{"malformed": why}`` when they cannot; None when absent."""
    if not raw:
        return None
    try:
        state = PortfolioStateHash.parse({str(k): str(v) for k, v in raw.items()}, None)
    except BadEntry as exc:
        return {"malformed": str(exc)}
    return {"equity_usd": state.equity_usd, "drawdown": state.drawdown,
            "timestamp": state.timestamp}  # fmt: skip


def read_state(ref: StackRef) -> dict[str, Any]:
    """The stack's state as Redis and its supervisor (operator or up) report it. With
    Redis unreachable, what the supervisor reports still is, beside ``redis_error``."""
    if ref.where == "up":
        status = read_status(ref.data_dir) if ref.data_dir else None
        components = (status or {}).get("components", {})
        ready = None
    else:
        status = ref.body.get("status") or {}
        components = status.get("components", {})
        ready = next((c for c in status.get("conditions", []) if c.get("type") == "Ready"), None)
    state = {
        "name": ref.name,
        "where": ref.where,
        "namespace": ref.stack.namespace if ref.where == "cluster" else None,
        "spec_halted": ref.stack.spec.halted,
        "halted_key": ref.keys.halted,
        "ready": None if ready is None else {k: ready.get(k) for k in ("status", "reason")},
        "components": components,
    }
    try:
        return {**state, **_redis_state(ref), "redis_error": None}
    except redis.RedisError as exc:
        return {**state, "redis_master": None, "halted": None, "accounts": [], "portfolio": {},
                "book": None, "redis_error": str(exc)}  # fmt: skip


def _redis_state(ref: StackRef) -> dict[str, Any]:
    """What Redis holds: the master, the kill switch, each bot account, the book.

    Raises:
        redis.RedisError: Redis (or enough of its sentinels) did not answer.
    """
    keys = ref.keys
    client = ref.redis()
    try:
        held = killswitch.read(client, keys)
        accounts = []
        for bot in ref.stack.spec.bots:
            account = Account(names.account(ref.name, bot.name))
            cash = client.hget(keys.account(account.name), "cash")
            account.cash_usd = None if cash is None else float(str(cash))
            account.positions = _floats(client.hgetall(keys.positions(account.name)))
            account.marks = _floats(client.hgetall(keys.marks(account.name)))
            accounts.append(account)
        raw_book = client.hgetall(keys.portfolio_state)
        master = client.connection_pool.get_master_address() if ref.sentinels else None  # type: ignore[attr-defined]
    finally:
        close_client(client)
    return {
        "redis_master": f"{master[0]}:{master[1]}" if master else (ref.url or None),
        "halted": held,
        "accounts": [_account(a) for a in accounts],
        "portfolio": _floats(raw_book),
        "book": _book(raw_book),
    }


def _account(a: Account) -> dict[str, Any]:
    positions = {s: {"qty": q, "mark": a.marks.get(s)} for s, q in a.positions.items()}
    return {"account": a.name, "cash_usd": a.cash_usd, "equity_usd": a.equity_usd,
            "positions": positions}  # fmt: skip


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f} USD"


def render(state: Mapping[str, Any]) -> str:
    held = state["halted"]
    switch = {True: "HALTED (entries refused, exits run)", False: "trading",
              None: "trading (never set)"}[held]  # fmt: skip
    if state["redis_error"]:
        switch = "unknown (Redis unreachable)"
    where = state["where"] if state["where"] == "up" else f"cluster, {state['namespace']}"
    lines = [f"stack {state['name']} ({where})"]
    if state["redis_error"]:
        lines.append(f"redis:        unreachable: {state['redis_error']}")
    lines += [
        f"redis master: {state['redis_master'] or '-'}",
        f"kill switch:  {switch}  [{state['halted_key']}; spec.halted: "
        f"{str(state['spec_halted']).lower()}]",
    ]
    if state["ready"]:
        lines.append(f"ready:        {state['ready']['status']} ({state['ready']['reason']})")
    lines.append("components:")
    for name, counts in sorted(state["components"].items()):
        lines.append(f"  {name:<28} {counts.get('ready', 0)}/{counts.get('desired', 0)}")
    if not state["components"]:
        lines.append("  (none reported)")
    lines.append("accounts:" + ("  (Redis unreachable)" if state["redis_error"] else ""))
    for account in state["accounts"]:
        lines.append(f"  {account['account']:<28} equity {_money(account['equity_usd'])}"
                     f"  cash {_money(account['cash_usd'])}")  # fmt: skip
        for symbol, held_ in sorted(account["positions"].items()):
            mark = "-" if held_["mark"] is None else f"{held_['mark']:g}"
            lines.append(f"    {symbol:<12} {held_['qty']:g} @ {mark}")
    book = state["book"]  # every account's part summed: what the gate and governor judge
    if book is not None and "malformed" in book:
        lines.append(f"book:         malformed ({book['malformed']}): the gate denies entries")
    elif book is not None:
        lines.append(f"book:         equity {_money(book['equity_usd'])}"
                     f"  drawdown {book['drawdown']:.2f} %")  # fmt: skip
    return "\n".join(lines) + "\n"


def status_command(name: str, *, where: Where, as_json: bool = False) -> int:
    """Print the stack's state; 1 when it is not found, or when Redis is unreachable
    (what the supervisor reports is printed all the same: the moment Redis is down is
    when a user most wants to see the components)."""
    try:
        state = read_state(find(name, where))
    except NotFound as exc:
        _err("status", str(exc))
        return 1
    sys.stdout.write(json.dumps(state, indent=2, sort_keys=True) + "\n" if as_json
                     else render(state))  # fmt: skip
    if state["redis_error"]:
        _err("status", f"Redis unreachable: {state['redis_error']}")
        return 1
    return 0
