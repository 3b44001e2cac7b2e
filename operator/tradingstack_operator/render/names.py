"""Every child's name, derived from the stack's name in this one place."""

from __future__ import annotations

import re

import tradingstack_workers

from ..spec import SpecProblem

#: The worker kinds with one Deployment per stack; bots have one per bot (BOT_COMPONENT).
WORKER_KINDS = tuple(kind for kind in tradingstack_workers.WORKER_KINDS if kind != "bots")
#: The component label of bot pods; each bot also carries BOT_LABEL.
BOT_COMPONENT = "bot"
REDIS_COMPONENT = "redis"
MASTER_NAME = "mymaster"
REDIS_PORT = 6379
SENTINEL_PORT = 26379
REDIS_METRICS_PORT = 9121
HTTP_PORT = 8080

# The longest fixed suffix of a name that must be a DNS-1035 label (a Service) or feed a
# pod hostname: the Redis headless Service; a StatefulSet pod is "<stack>-redis-<n>".
_LONGEST_LABEL_SUFFIX = "-redis-headless"
MAX_STACK_NAME = 63 - len(_LONGEST_LABEL_SUFFIX)
_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def check_stack_name(name: str) -> SpecProblem | None:
    """Service names are DNS-1035 labels: the stack name must leave room for the suffixes."""
    if not _DNS_1035.fullmatch(name):
        return SpecProblem(
            "metadata.name",
            f"{name!r} must start with a letter and hold only a-z, 0-9 and '-' "
            "(it names the stack's Services)",
        )
    if len(name) > MAX_STACK_NAME:
        return SpecProblem("metadata.name", f"{name!r} is longer than {MAX_STACK_NAME} characters")
    return None


def redis(stack: str) -> str:
    """The StatefulSet, the client Service, the PodDisruptionBudget."""
    return f"{stack}-redis"


def redis_headless(stack: str) -> str:
    return f"{stack}-redis-headless"


def redis_scripts(stack: str) -> str:
    return f"{stack}-redis-scripts"


def dashboards(stack: str) -> str:
    """The ConfigMap holding the stack's Grafana dashboards."""
    return f"{stack}-dashboards"


def redis_auth(stack: str) -> str:
    """The password Secret the operator generates when spec.redis.auth names none."""
    return f"{stack}-redis-auth"


def redis_users(stack: str) -> str:
    """The operator-generated Secret of the component users' passwords (one key each)."""
    return f"{stack}-redis-users"


def redis_pod_host(stack: str, namespace: str, ordinal: int, cluster_domain: str) -> str:
    """A Redis pod's stable hostname, as Redis and Sentinel announce it."""
    return f"{redis(stack)}-{ordinal}.{redis_headless(stack)}.{namespace}.svc.{cluster_domain}"


def redis_pod_hosts(stack: str, namespace: str, replicas: int, cluster_domain: str) -> list[str]:
    """Every Redis pod's stable hostname, by ordinal."""
    return [redis_pod_host(stack, namespace, i, cluster_domain) for i in range(replicas)]


def redis_service_host(stack: str, namespace: str, cluster_domain: str) -> str:
    """The client Service's DNS name: how a stack without Sentinel reaches its one server."""
    return f"{redis(stack)}.{namespace}.svc.{cluster_domain}"


def worker(stack: str, kind: str) -> str:
    """A worker's Deployment and its metrics Service."""
    return f"{stack}-{kind}"


def bot(stack: str, bot_name: str) -> str:
    """A bot's Deployment, ServiceAccount, Role and RoleBinding."""
    return f"{stack}-bot-{bot_name}"


def account(stack: str, bot_name: str) -> str:
    """A bot's paper account (its Redis keys): one per bot, so bots never share positions."""
    return f"{stack}-{bot_name}"


def redis_network_policy(stack: str) -> str:
    return f"{stack}-redis"


def metrics_network_policy(stack: str) -> str:
    return f"{stack}-metrics"


def service_monitor(stack: str) -> str:
    return f"{stack}-workers"


def pod_monitor(stack: str) -> str:
    return f"{stack}-bots"


def redis_pod_monitor(stack: str) -> str:
    return f"{stack}-redis"


def prometheus_rule(stack: str) -> str:
    return f"{stack}-alerts"
