"""The rings benchmark's ranking metrics, on a hand-made ground truth."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import rings_benchmark


@dataclass
class _Cluster:
    members: tuple[str, ...]


def _truth() -> pd.DataFrame:
    """Two rings (R1: a-d, R2: e-f), a family (f1-f3), an accountant's clients (c1-c2), and
    ordinary businesses o1-o6."""
    rows = [(b, "R1", None, None) for b in "abcd"] + [(b, "R2", None, None) for b in "ef"]
    rows += [(f"f{i}", None, "fam-1", None) for i in (1, 2, 3)]
    rows += [(f"c{i}", None, None, 7) for i in (1, 2)]
    rows += [(f"o{i}", None, None, None) for i in range(1, 7)]
    truth = pd.DataFrame(
        rows, columns=["business_id", "ring_id", "family_group", "lookalike_group"]
    )
    truth["lookalike_group"] = truth["lookalike_group"].astype("Int64")
    truth["shared_warehouse"] = None
    return truth


def test_a_cluster_that_is_one_lookalike_group_is_innocent_a_chance_member_is_not() -> None:
    ranked = [
        _Cluster(("a", "b", "c")),  # ring R1, 3 of 4 held
        _Cluster(("f1", "f2", "o1")),  # the family's sharing: innocent group
        _Cluster(("c1", "o2")),  # a client of the accountant trading with a stranger
        _Cluster(("o3", "o4")),  # ordinary pair
        _Cluster(("e", "f")),  # outside the top 2R = 4
    ]
    ranking = rings_benchmark.suspicion_ranking(ranked, _truth())
    assert ranking["top_clusters"] == 4
    assert ranking["rings_half_held"] == 1 and ranking["ring_recall_half_held"] == 0.5
    assert ranking["non_ring_clusters"] == 3
    assert ranking["innocent_clusters"] == 1 and ranking["innocent_share"] == 0.25
    assert ranking["innocent_family_clusters"] == 1
    assert ranking["lookalike_member_clusters"] == 2
    assert ranking["lookalike_business_share"] == round(5 / 17, 4)


def test_members_of_two_different_groups_do_not_make_an_innocent_group() -> None:
    ranked = [_Cluster(("f1", "c1")), _Cluster(("c1", "c2", "o1", "o2"))]
    ranking = rings_benchmark.suspicion_ranking(ranked[:1] + ranked[1:], _truth())
    assert ranking["innocent_clusters"] == 1  # the accountant's two clients, half the cluster
    assert ranking["lookalike_member_clusters"] == 2
