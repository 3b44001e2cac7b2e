"""The Redis pods' exporter sidecars, run from the rendered image's version, and the
rendered Redis alerts evaluated by promtool on what they report.

Every state below is made for real on the pods (a settled set, a partition that leaves
two masters, a dead master with no failover, memory filled to maxmemory, a data volume
that refuses an AOF rewrite); each alert check holds one scrape of every answering
exporter steady for an hour of promtool's time, so the ``for`` of each rule is met by the
state the pods were in, not by a hand-written series.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from pathlib import Path

import pytest
import redis

from tests.harness.exporter import Sample, assert_alerts, scrape, value
from tests.harness.redis_set import RedisSet, wait_until
from tradingstack_operator.render.alerts import EXPORTER_METRICS, redis_alerts

#: The alerts on the exporters' series (alerts.redis_alerts), none expected to fire.
QUIET: dict[str, list[dict[str, str]]] = {alert.name: [] for alert in redis_alerts("")}


def _all_up(
    redis_set: RedisSet, ordinals: list[int], inside: Collection[int] = ()
) -> dict[int, list[Sample]] | None:
    """Every listed exporter's scrape, once each reports its server up (else None)."""
    scrapes = {i: scrape(redis_set, i, inside=i in inside) for i in ordinals}
    return scrapes if all(value(s, "redis_up") == 1 for s in scrapes.values()) else None


def _role(samples: list[Sample]) -> str | None:
    info = [s for s in samples if s.name == "redis_instance_info"]
    return info[0].label("role") if info else None


def _stack_labels(redis_set: RedisSet) -> dict[str, str]:
    return {"namespace": redis_set.stack.namespace, "stack": redis_set.stack.name}


def test_every_exporter_scrapes_its_own_server(redis_set: RedisSet, tmp_path: Path) -> None:
    master = redis_set.wait_settled()
    every = list(range(redis_set.replicas))
    scrapes = wait_until(lambda: _all_up(redis_set, every), 60, "every exporter up")

    roles = {i: _role(s) for i, s in scrapes.items()}
    assert roles == {i: "master" if i == master else "slave" for i in every}
    for ordinal, samples in scrapes.items():
        if ordinal == master:
            assert value(samples, "redis_master_link_up") is None
            continue
        (link,) = [s for s in samples if s.name == "redis_master_link_up"]
        assert link.value == 1
        assert redis_set.ordinal_of(link.label("master_host")) == master
    assert all((value(s, "redis_memory_max_bytes") or 0) > 0 for s in scrapes.values())
    # The names the alerts read are the exporter's, not claims kept by hand.
    exported = {s.name for samples in scrapes.values() for s in samples}
    assert EXPORTER_METRICS - exported == set()
    # The exporter user's ACL allows every command the exporter sends (it logs a refusal once).
    for pod in redis_set.pods.values():
        assert "NOPERM" not in (pod.logs / "metrics.log").read_text(errors="replace")

    assert_alerts(redis_set, [s for v in scrapes.values() for s in v], QUIET, tmp_path)


def test_two_masters_after_a_failover_behind_a_cut_off_master(
    redis_set: RedisSet, tmp_path: Path
) -> None:
    old = redis_set.wait_settled()
    others = [i for i in range(redis_set.replicas) if i != old]
    redis_set.cut(old)

    def two_masters() -> dict[int, list[Sample]] | None:
        # The cut-off pod is scraped from its own side of the cut (a Prometheus there).
        scrapes = _all_up(redis_set, list(range(redis_set.replicas)), inside={old})
        if scrapes is None or [_role(s) for s in scrapes.values()].count("master") != 2:
            return None
        return scrapes

    scrapes = wait_until(two_masters, 120, "a failover behind the cut-off master")
    assert _role(scrapes[old]) == "master"
    samples = [s for v in scrapes.values() for s in v]
    assert_alerts(redis_set, samples, QUIET | {"TradingStackRedisTwoMasters":
                                               [_stack_labels(redis_set)]}, tmp_path)  # fmt: skip

    redis_set.heal(old)
    new = redis_set.wait_settled()
    assert new in others
    healed = wait_until(lambda: _all_up(redis_set, list(range(redis_set.replicas))), 60,
                        "every exporter up after the heal")  # fmt: skip
    assert [_role(s) for s in healed.values()].count("master") == 1
    assert_alerts(redis_set, [s for v in healed.values() for s in v], QUIET, tmp_path / "healed")


def test_a_dead_master_without_failover_leaves_no_master_and_replica_links_down(
    redis_set: RedisSet, tmp_path: Path
) -> None:
    master = redis_set.wait_settled()
    replicas = [i for i in range(redis_set.replicas) if i != master]
    # The sentinels wait an hour before they call it down: no failover ends the state.
    redis_set.sentinel_set(list(range(redis_set.replicas)), "down-after-milliseconds", "3600000")
    redis_set.kill(master)

    def links_down() -> dict[int, list[Sample]] | None:
        scrapes = _all_up(redis_set, replicas)
        if scrapes is None:
            return None
        down = all(value(s, "redis_master_link_up") == 0 for s in scrapes.values())
        return scrapes if down else None

    scrapes = wait_until(links_down, 60, "the replicas to report their master link down")
    assert {_role(s) for s in scrapes.values()} == {"slave"}
    samples = [s for v in scrapes.values() for s in v]
    links = [dict(s.labels) for s in samples if s.name == "redis_master_link_up"]
    assert_alerts(redis_set, samples, QUIET | {
        "TradingStackRedisNoMasterRole": [_stack_labels(redis_set)],
        "TradingStackRedisReplicaLinkDown": links,
    }, tmp_path)  # fmt: skip


@pytest.mark.redis_spec(resources={"limits": {"cpu": "500m", "memory": "64Mi"}},
                        maxmemoryPercent=10)  # fmt: skip
def test_memory_near_maxmemory(redis_set: RedisSet, tmp_path: Path) -> None:
    master = redis_set.wait_settled()
    client = redis_set.client(master, timeout=10)
    maxmemory = int(client.info("memory")["maxmemory"])
    chunk = "x" * (64 * 1024)
    for n in range(maxmemory // len(chunk)):
        if int(client.info("memory")["used_memory"]) > 0.93 * maxmemory:
            break
        client.set(f"quantum:pods:ballast:{n}", chunk)
    every = list(range(redis_set.replicas))

    def high() -> dict[int, list[Sample]] | None:
        scrapes = _all_up(redis_set, every)
        if scrapes is None:
            return None
        used, most = (value(scrapes[master], n) or 0 for n in
                      ("redis_memory_used_bytes", "redis_memory_max_bytes"))  # fmt: skip
        return scrapes if most == maxmemory and used > 0.9 * most else None

    scrapes = wait_until(high, 60, "the master's exporter to report memory over 90 %")
    over = []  # the used-memory series of each pod over 90 % by its own exporter
    for samples in scrapes.values():
        (used,) = [s for s in samples if s.name == "redis_memory_used_bytes"]
        if used.value > 0.9 * (value(samples, "redis_memory_max_bytes") or float("inf")):
            over.append(dict(used.labels))
    assert redis_set.pod_name(master) in {labels["pod"] for labels in over}
    samples = [s for v in scrapes.values() for s in v]
    assert_alerts(redis_set, samples, QUIET | {"TradingStackRedisMemoryHigh": over}, tmp_path)


def test_an_aof_rewrite_that_cannot_write_its_files(redis_set: RedisSet, tmp_path: Path) -> None:
    master = redis_set.wait_settled()
    replica = next(i for i in range(redis_set.replicas) if i != master)
    # The replica's data volume turns read-only to its Redis user (a volume gone bad).
    claim = redis_set.claim(replica)
    folders = [claim, *(p for p in claim.iterdir() if p.is_dir())]
    for folder in folders:
        folder.chmod(0o550)
    with contextlib.suppress(redis.ResponseError):  # refused at once, or fails in the child
        redis_set.client(replica).bgrewriteaof()
    every = list(range(redis_set.replicas))

    def failed() -> dict[int, list[Sample]] | None:
        scrapes = _all_up(redis_set, every)
        if scrapes is None or value(scrapes[replica], "redis_aof_last_bgrewrite_status") != 0:
            return None
        return scrapes

    scrapes = wait_until(failed, 60, "the replica's exporter to report the rewrite failed")
    samples = [s for v in scrapes.values() for s in v]
    broken = [dict(s.labels) for s in samples if s.value == 0 and s.name in
              ("redis_aof_last_bgrewrite_status", "redis_aof_last_write_status")]  # fmt: skip
    assert {labels["pod"] for labels in broken} == {redis_set.pod_name(replica)}
    assert_alerts(redis_set, samples, QUIET | {"TradingStackRedisAofErrors": broken}, tmp_path)
    for folder in folders:
        folder.chmod(0o770)
