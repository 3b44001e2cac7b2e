"""Bots: one Deployment per strategy instance, active-standby through a Kubernetes Lease."""

from __future__ import annotations

import json
import math

from tradingstack_workers.bots.settings import DEFAULT_FEED
from tradingstack_workers.runtime.settings import env_name

from ..spec.bots import BotSpec, ExchangeSpec
from . import env, leases, names, pods, workers
from .stack import Manifest, Stack

KIND = "bots"


def bot_env(stack: Stack, bot: BotSpec) -> list[Manifest]:
    """The bot's environment. The kill switch is not in it: bots read it from Redis on
    every cycle (the operator writes it), so halting and resuming roll no pod.

    Each bot trades its own paper account and elects its trader through its own Lease
    (named like its Deployment, in the pod's namespace), so two bots never fence each
    other off.
    """
    values: dict[str, env.Value] = {
        "bot_name": bot.name,
        "strategy": bot.strategy,
        "symbols": bot.symbols,
        # Sorted keys: the same params always hash to the same config.
        "params": json.dumps(bot.params, sort_keys=True, separators=(",", ":")),
        "mode": stack.spec.mode,
        "account": names.account(stack.name, bot.name),
        "feed": json.dumps(_feed(bot), sort_keys=True, separators=(",", ":")),
        "leadership": "kubernetes",
        "lease_name": names.bot(stack.name, bot.name),
    }
    if bot.exchange is not None:
        values["exchange"] = json.dumps(_venue(bot.exchange), sort_keys=True, separators=(",", ":"))
    return [
        *env.runtime_env(stack, KIND),
        *env.settings_env(KIND, values),
        pods.field_env(env_name("lease_namespace"), "metadata.namespace"),
        *(_credentials(bot.exchange) if bot.exchange is not None else []),
    ]


def _venue(exchange: ExchangeSpec) -> dict[str, object]:
    """``TS_EXCHANGE``: everything but the credentials, which come from the Secret."""
    return exchange.model_dump(by_alias=True, exclude={"credentials_secret"}, exclude_none=True)


#: The exchange Secret's keys and the variables they fill (password: only some exchanges).
CREDENTIAL_KEYS = (("exchange_api_key", "apiKey"), ("exchange_secret", "secret"))
PASSWORD_KEY = ("exchange_password", "password")


def _credentials(exchange: ExchangeSpec) -> list[Manifest]:
    """The key from the Secret by reference: its values never appear in a manifest."""
    secret = exchange.credentials_secret
    if secret is None:
        return []

    def ref(field: str, key: str, *, optional: bool) -> Manifest:
        selector = {"name": secret.name, "key": key, **({"optional": True} if optional else {})}
        return {"name": env_name(field), "valueFrom": {"secretKeyRef": selector}}

    return [
        *(ref(field, key, optional=False) for field, key in CREDENTIAL_KEYS),
        ref(*PASSWORD_KEY, optional=True),
    ]


def _feed(bot: BotSpec) -> dict[str, object]:
    """The exchange's candles when the bot has an exchange; otherwise the synthetic feed:
    one market factor with loading sqrt(rho) gives every pair of the bot's symbols a
    return correlation of rho."""
    if bot.exchange is not None:
        return {"kind": "exchange", "interval_s": bot.feed.interval_seconds}
    loading = round(math.sqrt(bot.feed.correlation), 6)
    factors = {"market": dict.fromkeys(bot.symbols, loading)} if loading > 0 else None
    return DEFAULT_FEED | {
        "interval_s": bot.feed.interval_seconds,
        "seed": bot.feed.seed,
        **({"factors": factors} if factors else {}),
    }


def manifests(stack: Stack, bot: BotSpec) -> list[Manifest]:
    """The bot's Deployment, disruption budget and Lease RBAC; no Service: a PodMonitor
    scrapes standbys too."""
    name = names.bot(stack.name, bot.name)
    workload = workers.deployment(
        stack,
        name,
        KIND,
        names.BOT_COMPONENT,
        replicas=bot.replicas,
        resources=bot.resources,
        environ=bot_env(stack, bot),
        bot=bot.name,
        # A new pod joins as standby before an old one leaves; the Lease decides who trades.
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        service_account=name,
    )
    rbac = leases.holder_rbac(stack, name, names.BOT_COMPONENT, lease=name, bot=bot.name)
    budget = pods.disruption_budget(stack, name, names.BOT_COMPONENT, bot.name)
    return [*rbac, workload, budget]
