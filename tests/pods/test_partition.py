"""The master cut off from the network: a failover happens behind it, then it returns.

What it accepted while cut off was never acknowledged (WAIT 1 found no replica, then
min-replicas-to-write refused writes outright) and is gone once it rejoins as a replica;
the operator's probe reports the split brain while two pods claim to be master.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.harness.pod_clients import AckWriter, Outcome, Prober, writer_env
from tests.harness.podnet import PodNetwork
from tests.harness.redis_set import RedisSet, wait_until
from tests.pods.conftest import ACKED
from tradingstack_workers.runtime.settings import env_name

CUT_OFF = "quantum:pods:cutoff"


def _beside_the_master(redis_set: RedisSet, master: int, folder: Path) -> dict[str, str]:
    """A worker on the master's own side of the cut, talking to it directly."""
    env = writer_env(redis_set, folder)
    for name in ("redis_sentinels", "redis_sentinel_quorum", "redis_master_name"):
        env.pop(env_name(name), None)
    return env | {
        env_name("redis_url"): f"redis://{redis_set.fqdn(master)}:6379/0",
        env_name("redis_write_replicas"): "1",  # acknowledged only once a replica holds it
        env_name("redis_retry_budget_seconds"): "1",
    }


def test_a_cut_off_master_takes_no_acknowledged_write_and_rejoins_as_a_replica(
    net: PodNetwork, redis_set: RedisSet, writer: AckWriter, prober: Prober, tmp_path: Path
) -> None:
    old = redis_set.wait_settled()
    folder = tmp_path / "beside"
    beside = AckWriter(net, f"r{old}", _beside_the_master(redis_set, old, folder),
                       out=folder / "acks.txt", key=CUT_OFF, pause=0.05)  # fmt: skip
    try:
        beside.wait_acks(20, timeout=60)
        cut_at = time.monotonic()
        redis_set.cut(old)
        writer.wait_acks(100, timeout=90, after=cut_at)  # the others failed over
        print(f"\nno write acknowledged through Sentinel for "
              f"{writer.longest_gap(since=cut_at - 1):.2f} s after the cut")  # fmt: skip

        # The cut-off side keeps trying until min-replicas-to-write refuses it outright.
        def refused() -> list[Outcome]:
            return [o for o in beside.outcomes() if o.t > cut_at and "NoReplicasError" in o.reason]

        assert wait_until(refused, 60, "the cut-off master to refuse writes")
        taken = {int(m) for m in redis_set.local_cli(old, "SMEMBERS", CUT_OFF).split()}
        views_before_heal = len(prober.views())
        heal_at = time.monotonic()
        redis_set.heal(old)
        new = redis_set.wait_settled()
    finally:
        beside.stop()

    assert new != old
    assert redis_set.role(old) == ("slave", new)
    after_cut = [o for o in beside.outcomes() if o.t > cut_at + 0.5]
    assert after_cut
    assert [o for o in after_cut if o.kind == "ack"] == [], "acknowledged while cut off"
    acked_beside = set(beside.acked())
    # Writes the cut-off master applied without a replica's acknowledgement...
    unacknowledged = taken - acked_beside
    assert unacknowledged, "the cut-off master accepted nothing: the scenario did not happen"
    # ...are gone from the set once it rejoins: never merged into the new master's data.
    final = {int(m) for m in redis_set.client(new).smembers(CUT_OFF)}
    assert final & unacknowledged == set()
    assert acked_beside <= final
    writer.stop()
    held = {int(m) for m in redis_set.client(new).smembers(ACKED)}
    assert set(writer.acked()) <= held

    # The operator's probe saw two masters once the old one was back, until it was demoted.
    after_heal = [v for v in prober.views()[views_before_heal:] if v["t"] > heal_at]
    split = [v for v in after_heal if v["split_brain"]]
    assert split, f"no split brain reported after the heal: {after_heal[:5]}"
    print(f"split brain reported for {split[-1]['t'] - split[0]['t']:.1f} s: "
          f"{split[0]['split_brain']}")  # fmt: skip
    wait_until(lambda: (v := prober.views()[-1]) and not v["split_brain"] and v["master"], 60,
               "the probe to report one master again")  # fmt: skip
    assert prober.views()[-1]["master"] == f"{redis_set.fqdn(new)}:6379"
