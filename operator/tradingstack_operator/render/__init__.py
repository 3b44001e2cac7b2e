"""The renderer: a TradingStack to its child manifests, as plain dicts.

Pure: no API calls, no clock, no randomness, so the same spec always renders the same
children and a resync over an unchanged stack has nothing to write. Owner references
are the operator's to add.
"""

from __future__ import annotations

from ..resources import CHILD_RESOURCES, resource_of
from ..spec import SpecError, TradingStackSpec
from . import bots, monitoring, names, network, redis, workers
from .stack import Manifest, Options, Stack, stack_from_manifest

__all__ = ["Manifest", "Options", "Stack", "render", "render_children", "stack_from_manifest"]

_ORDER = {resource: i for i, resource in enumerate(CHILD_RESOURCES)}


def render(stack: Stack) -> list[Manifest]:
    """Every child of the stack, in apply order (config and RBAC before workloads).

    Raises SpecError when the stack's name cannot name its children (a Service name is
    a DNS-1035 label), so nothing is applied rather than some children.
    """
    if (problem := names.check_stack_name(stack.name)) is not None:
        raise SpecError([problem])
    children = [
        *redis.manifests(stack),
        *(
            m
            for kind in workers.enabled_workers(stack.spec)
            for m in workers.manifests(stack, kind)
        ),
        *(m for bot in stack.spec.bots for m in bots.manifests(stack, bot)),
        *monitoring.manifests(stack),
        *network.manifests(stack),
    ]
    # sorted() is stable: within a kind, the builders' order stands.
    return sorted(children, key=lambda m: _ORDER[resource_of(m)])


def render_children(
    name: str, namespace: str, spec: TradingStackSpec, options: Options | None = None
) -> list[Manifest]:
    """``render`` for the reconciler, which holds the stack's name, namespace and spec."""
    return render(Stack(name=name, namespace=namespace, spec=spec, options=options or Options()))
