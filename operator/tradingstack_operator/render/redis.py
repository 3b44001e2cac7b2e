"""Redis: a StatefulSet with a Sentinel beside each server, its Services, budget and scripts."""

from __future__ import annotations

from . import names, pods
from .redis_pod import containers, timings, volumes
from .redis_scripts import SCRIPTS
from .stack import Manifest, Stack

COMPONENT = names.REDIS_COMPONENT
#: A pod counts as available only after being ready this long: a rollout or a disruption
#: never moves on from a replica that has only just finished its sync.
MIN_READY_SECONDS = 10


def _claim(stack: Stack) -> Manifest:
    storage = stack.spec.redis.storage
    spec: Manifest = {"accessModes": ["ReadWriteOnce"],
                      "resources": {"requests": {"storage": storage.size}}}  # fmt: skip
    if storage.storage_class_name is not None:
        spec["storageClassName"] = storage.storage_class_name
    # Labelled, so claims retained after the stack is deleted can be found by stack.
    return {"metadata": {"name": "data", "labels": pods.labels(stack, COMPONENT)}, "spec": spec}


def _statefulset(stack: Stack) -> Manifest:
    spec = stack.spec.redis
    selector = pods.selector(stack, COMPONENT)
    pod_volumes = volumes(stack)
    pod_containers = containers(stack)
    pod = pods.pod_spec(
        stack,
        pod_containers,
        spread=selector,
        volumes=pod_volumes,
        grace_seconds=timings(stack).grace,
        fs_group_on_mismatch=True,
        placement=spec.placement,
        required_spread=spec.anti_affinity == "required",
        zone_spread_too=True,
        priority_class_name=spec.priority_class_name,
    )
    annotations = {
        pods.CONFIG_HASH: pods.config_hash(
            [c.get("env") for c in pod_containers], SCRIPTS, pod_volumes
        ),
        "kubectl.kubernetes.io/default-container": "redis",
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": pods.metadata(stack, names.redis(stack.name), COMPONENT),
        "spec": {
            "replicas": spec.replicas,
            "serviceName": names.redis_headless(stack.name),
            # Every pod starts at once: after a cold start the master is whichever pod the
            # sentinels agree on from their recorded views, not whichever pod starts first
            # (OrderedReady would wait for pod 0 to be ready, which may be a replica
            # waiting for its master).
            "podManagementPolicy": "Parallel",
            "minReadySeconds": MIN_READY_SECONDS,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": pods.labels(stack, COMPONENT), "annotations": annotations},
                "spec": pod,
            },
            "volumeClaimTemplates": [_claim(stack)],
            # Deleting the stack keeps the data; the claims are removed by hand.
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Retain",
                "whenScaled": "Retain",
            },
        },
    }


def _ports(stack: Stack) -> list[Manifest]:
    ports = [{"name": "redis", "port": names.REDIS_PORT, "targetPort": "redis",
              "protocol": "TCP"}]  # fmt: skip
    if stack.spec.redis.sentinel_enabled:
        ports.append({"name": "sentinel", "port": names.SENTINEL_PORT,
                      "targetPort": "sentinel", "protocol": "TCP"})  # fmt: skip
    return ports


def _services(stack: Stack) -> list[Manifest]:
    selector = pods.selector(stack, COMPONENT)
    headless = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": pods.metadata(stack, names.redis_headless(stack.name), COMPONENT),
        "spec": {
            "clusterIP": "None",
            # Pods find each other by name before they are ready (first boot, failover).
            "publishNotReadyAddresses": True,
            "selector": selector,
            "ports": _ports(stack),
        },
    }
    # With Sentinel, clients ask the sentinels for the master: 6379 through a load-balanced
    # Service could land on a read-only replica, so only 26379 is offered.
    if stack.spec.redis.sentinel_enabled:
        client_selector, client_ports = selector, _ports(stack)[1:]
    else:
        # Without Sentinel pod 0 is the only master: the Service sends clients there only.
        pod_0 = {"statefulset.kubernetes.io/pod-name": f"{names.redis(stack.name)}-0"}
        client_selector, client_ports = selector | pod_0, _ports(stack)
    client = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": pods.metadata(stack, names.redis(stack.name), COMPONENT),
        "spec": {"selector": client_selector, "ports": client_ports},
    }
    return [headless, client]


def manifests(stack: Stack) -> list[Manifest]:
    """Scripts, Services, the StatefulSet and (with replicas) its disruption budget."""
    scripts = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": pods.metadata(stack, names.redis_scripts(stack.name), COMPONENT),
        "data": dict(SCRIPTS),
    }
    out = [scripts, *_services(stack), _statefulset(stack)]
    if stack.spec.redis.replicas > 1:
        out.append(
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": pods.metadata(stack, names.redis(stack.name), COMPONENT),
                "spec": {"maxUnavailable": 1, "selector": {"matchLabels": pods.selector(
                    stack, COMPONENT)}},
            }
        )  # fmt: skip
    return out
