"""``up --env [KIND:]TS_X=V``: worker variables from the command line, checked before
anything starts.

Each value is checked by the settings model of every kind it goes to
(:data:`tradingstack_workers.kinds.SETTINGS`, the models the workers load at start), on
the environment a replica of that kind would get: a value a worker would refuse is
refused here, once, instead of by a child restarted with back-off forever.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from ..kinds import SETTINGS
from ..runtime.settings import SettingsError, check_settings, env_name
from .plan import Container, PlanError, Redis, local_env

#: What ``up`` sets for each process itself: a value given once for every replica
#: would collide (one port for two processes) or point a worker away from ``up``'s Redis.
_REDIS = ("redis_url", "redis_sentinels", "redis_password_file", "redis_username", "redis_password")
SET_BY_UP = {
    env_name("http_port"): "each process gets a port of its own, its probe's (see --base-port)",
    env_name("instance"): "each process is named <deployment>-<n>",
    **{
        env_name(field): "every worker reaches the Redis `up` starts, as its `worker` user"
        for field in _REDIS
    },
}


def _kinds_with(name: str, kinds: Collection[str]) -> list[str]:
    """The kinds among ``kinds`` whose settings have the variable ``name``."""
    return sorted(
        kind
        for kind in kinds
        if any(SETTINGS[kind].env_name(field) == name for field in SETTINGS[kind].model_fields)
    )


def parse_overrides(items: Sequence[str], kinds: Collection[str]) -> dict[str, dict[str, str]]:
    """``[KIND:]NAME=VALUE`` items (``--env``) by worker kind, for a stack running ``kinds``.

    ``KIND:`` sends the variable to that kind, which must run in the stack; without it the
    variable goes to every kind of the stack that has such a setting, and is refused when
    none has. Raises :class:`PlanError` naming the item and the problem.
    """
    out: dict[str, dict[str, str]] = {}
    for item in items:
        target, sep, value = item.partition("=")
        if not sep:
            raise PlanError(f"--env {item!r}: expected [KIND:]NAME=VALUE")
        kind, colon, name = target.rpartition(":")
        if not name.startswith("TS_"):
            raise PlanError(f"--env {item!r}: only TS_* variables configure a worker")
        if name in SET_BY_UP:
            raise PlanError(f"--env {item!r}: {name} is set by `up`: {SET_BY_UP[name]}")
        running = ", ".join(sorted(kinds))
        if colon and kind not in SETTINGS:
            raise PlanError(
                f"--env {item!r}: unknown worker kind {kind!r} (kinds: {', '.join(SETTINGS)})"
            )
        if colon and kind not in kinds:
            raise PlanError(f"--env {item!r}: this stack runs no {kind} worker (it runs {running})")
        targets = [kind] if colon else _kinds_with(name, kinds)
        if not targets:
            raise PlanError(
                f"--env {item!r}: {name} is a setting of no worker this stack runs ({running})"
            )
        for target_kind in targets:
            out.setdefault(target_kind, {})[name] = value
    return out


def check_environments(
    found: Sequence[Container],
    overrides: Mapping[str, Mapping[str, str]],
    redis: Redis,
    now: float,
) -> None:
    """Every container's local environment with its overrides, as its settings model
    reads it (an exchange key not exported is found here too), and the input files it
    names read as the worker reads them at ``now`` (epoch seconds: a bot's CSV feed).

    ``redis``: where the workers will reach Redis (its password file need not exist yet:
    nothing is read). Raises :class:`PlanError` naming the worker and each problem.
    """
    for container in found:
        instance = f"{container.deployment}-0"
        env = local_env(container.env, instance=instance, redis=redis, http_port=1)
        env.update(overrides.get(container.kind, {}))
        try:
            check_settings(SETTINGS[container.kind], env).check_inputs(now)
        except SettingsError as exc:
            raise PlanError(
                f"the {container.kind} worker ({instance}) would refuse its settings: {exc}"
            ) from None
