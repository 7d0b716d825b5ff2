"""Identity-disjoint split, stratification, and reference selection (de-duplication + FPS order)."""

from __future__ import annotations

import numpy as np
import pytest

from bfrbench.errors import ConfigError
from bfrbench.refgroups.select import fps_order, select_references
from bfrbench.refgroups.split import (
    identity_strata,
    parse_split_spec,
    split_identities,
    split_sizes,
)


def test_parse_and_sizes():
    assert parse_split_spec("train=*,val=300,test=150") == {"train": None, "val": 300, "test": 150}
    assert split_sizes(parse_split_spec("train=*,val=300,test=150"), 6523) == {"train": 6073, "val": 300, "test": 150}
    assert split_sizes(parse_split_spec("train=0.9,val=0.05,test=0.05"), 1000) == {"train": 900, "val": 50, "test": 50}
    # tiny collections still get one val and one test identity
    assert split_sizes(parse_split_spec("train=0.9,val=0.05,test=0.05"), 5) == {"train": 3, "val": 1, "test": 1}
    for bad, msg in [("train=0.5,val=0.2", "sum to 1"), ("dev=1.0", "NAME=VALUE"), ("train=*,val=*", "one '*'"),
                     ("train=0.5,val=3", "mix"), ("train=x", "not a number")]:
        with pytest.raises(ConfigError, match=msg):
            parse_split_spec(bad)
    with pytest.raises(ConfigError, match="only 10"):
        split_sizes(parse_split_spec("train=*,val=8,test=8"), 10)


def test_split_is_seeded_disjoint_and_complete():
    keys = [f"id{k}" for k in range(200)]
    a = split_identities(keys, parse_split_spec("train=*,val=20,test=10"), seed=1)
    b = split_identities(list(reversed(keys)), parse_split_spec("train=*,val=20,test=10"), seed=1)
    c = split_identities(keys, parse_split_spec("train=*,val=20,test=10"), seed=2)
    assert a == b  # input order is irrelevant
    assert a != c
    assert set(a) == set(keys)
    vals = list(a.values())
    assert (vals.count("train"), vals.count("val"), vals.count("test")) == (170, 20, 10)


def test_stratification_oversamples_the_rare_group():
    keys = [f"id{k:03d}" for k in range(200)]
    strata = {k: ("rare" if n < 12 else "common") for n, k in enumerate(keys)}  # 6 % rare
    out = split_identities(keys, parse_split_spec("train=*,val=10,test=20"), seed=0, strata=strata)
    test = [k for k, s in out.items() if s == "test"]
    assert len(test) == 20
    assert sum(strata[k] == "rare" for k in test) == 10  # balanced: 50 % instead of 6 %
    plain = split_identities(keys, parse_split_spec("train=*,val=10,test=20"), seed=0)
    assert sum(strata[k] == "rare" for k, s in plain.items() if s == "test") < 6


def test_identity_strata_majority_vote():
    image_id = {"a": "1", "b": "1", "c": "1", "d": "2", "e": "3"}
    values = {"a": "x", "b": "y", "c": "y", "d": "z"}
    assert identity_strata(image_id, values) == {"1": "y", "2": "z", "3": "unknown"}


def _vec(deg: float) -> np.ndarray:
    r = np.deg2rad(deg)
    return np.array([np.cos(r), np.sin(r), 0.0])


def test_fps_order_starts_farthest_from_target_and_spreads():
    target = _vec(0)
    cands = np.stack([_vec(a) for a in (10, 50, 20, 48, 30)])
    # farthest from target: 50 deg (pos 1); then farthest from it: 10 (pos 0); then the one maximising the
    # distance to its nearest chosen: 30 (20 from both) vs 20 (10 from 10) vs 48 (2 from 50) -> 30
    assert fps_order(target, cands) == [1, 0, 4, 2, 3]
    assert fps_order(target, cands, max_refs=2) == [1, 0]


def test_fps_ties_go_to_the_smallest_index():
    target = _vec(0)
    cands = np.stack([_vec(30), _vec(-30), _vec(30)])
    assert fps_order(target, cands)[0] == 0


def test_select_references_min_dist_dedup_and_min_refs():
    t = _vec(0)
    angles = np.array([2.0, 40.0, 41.0, 60.0, 25.0])  # 2 deg is a near-duplicate of the target
    vecs = np.stack([_vec(a) for a in angles])
    idx = np.array([7, 3, 9, 5, 1])
    min_dist = 1 - np.cos(np.deg2rad(5))  # 5 degrees
    sel = select_references(t, idx, vecs, min_dist=min_dist, max_refs=9, min_refs=2)
    # 2 deg dropped (too close to the target); 60 first (farthest from target), then 25 (35 from 60), then
    # 41 (16 from 25, beats 40 with 15); 40 is then 1 deg from 41, a near-duplicate, and is dropped
    assert sel.refs == [5, 1, 9]
    np.testing.assert_allclose(sel.dists, 1 - np.cos(np.deg2rad([60, 25, 41])))
    assert select_references(t, idx, vecs, min_dist=min_dist, max_refs=9, min_refs=4).refs == []
    every = select_references(t, idx, vecs, min_dist=0.0, max_refs=None, min_refs=1)
    assert sorted(every.refs) == sorted(idx.tolist())
    with pytest.raises(ConfigError):
        select_references(t, idx, vecs, min_dist=0.1, max_refs=1, min_refs=2)
