"""The operator's Redis probe judges what sentinels and pods answered (pure part)."""

from __future__ import annotations

from tradingstack_operator.sentinel import PodView, judge
from tradingstack_workers.runtime.sentinel import agreed

H = "p-redis-{}.p-redis-headless.desk.svc.cluster.local"
P0, P1, P2 = (H.format(i) for i in range(3))


def test_agreement_needs_the_quorum_and_a_lead() -> None:
    assert agreed({P0: 2, P1: 1}, 2) == P0
    assert agreed({P0: 1}, 2) is None  # a lone sentinel is never trusted
    assert agreed({P0: 2, P1: 2}, 2) is None  # a tie is no agreement
    assert agreed({}, 1) is None


def test_a_settled_set_has_one_master_and_no_split_brain() -> None:
    pods = [
        PodView(P0, P1, "slave", P1),
        PodView(P1, P1, "master"),
        PodView(P2, P1, "slave", P1),
    ]
    view = judge(pods, 2)
    assert view.master == f"{P1}:6379"
    assert view.split_brain is None


def test_two_masters_are_a_split_brain_even_when_sentinels_agree() -> None:
    pods = [
        PodView(P0, P1, "master"),  # the healed former master, not demoted yet
        PodView(P1, P1, "master"),
        PodView(P2, P1, "slave", P1),
    ]
    view = judge(pods, 2)
    assert view.master == f"{P1}:6379"
    assert view.split_brain == "pods p-redis-0, p-redis-1 all report role master"


def test_sentinels_naming_different_masters_are_a_split_brain() -> None:
    pods = [PodView(P0, P0, "master"), PodView(P1, P1, "slave", P0), PodView(P2, P1)]
    view = judge(pods, 2)
    assert view.master == f"{P1}:6379"
    assert view.split_brain is not None
    assert "sentinels disagree (p-redis-0 names p-redis-0" in view.split_brain
    assert "p-redis-0 reports role master but the sentinels name p-redis-1" in view.split_brain


def test_a_replica_following_another_host_than_the_agreed_master_is_a_split_brain() -> None:
    pods = [
        PodView(P0, P1, "slave", P2),  # left pointing at the former master
        PodView(P1, P1, "master"),
        PodView(P2, P1, "slave", P1),
    ]
    view = judge(pods, 2)
    assert view.master == f"{P1}:6379"
    assert view.split_brain == "p-redis-0 follows p-redis-2, not p-redis-1"


def test_a_lone_answer_gives_no_master_and_no_accusation() -> None:
    pods = [PodView(P0, P0, "master"), PodView(P1), PodView(P2)]
    view = judge(pods, 2)
    assert view.master is None
    assert view.split_brain is None
