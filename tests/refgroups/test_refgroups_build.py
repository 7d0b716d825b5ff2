"""End-to-end builds from planted embeddings: identities, splits, references, files, checks, determinism."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bfrbench.errors import ArtifactError, ConfigError
from bfrbench.refgroups import (
    build_from_embeddings,
    check_refgroups,
    content_digest,
    read_ffhqref,
)


@pytest.fixture(scope="module")
def planted_set(synth):
    x, lab = synth.planted(60, (2, 6), 64, spread=0.6, seed=4, singletons=30)
    return x, lab


@pytest.fixture(scope="module")
def built(planted_set, synth, tmp_path_factory):
    x, _ = planted_set
    out = tmp_path_factory.mktemp("rg")
    rec = build_from_embeddings(synth.table(x), out, threshold=0.4, split="train=*,val=8,test=8", seed=3,
                                default_threshold=0.4)
    return out, rec


def test_identities_recover_the_planted_ones(built, planted_set):
    out, rec = built
    _, lab = planted_set
    g = pd.read_parquet(out / "groups.parquet")
    got = g["identity"].to_numpy()
    same_got = got[:, None] == got[None, :]
    same_true = lab[:, None] == lab[None, :]
    off = ~np.eye(lab.size, dtype=bool)
    assert (same_got & same_true & off).sum() == (same_true & off).sum()  # recall 1
    assert (same_got & ~same_true).sum() == 0  # precision 1
    sizes = np.bincount(lab)
    assert rec["counts"]["identities"] == int((sizes >= 2).sum()) == 60
    assert rec["counts"]["images_with_refs"] == int((sizes[lab] >= 2).sum())


def test_split_files_references_and_checks(built, planted_set):
    out, rec = built
    _, lab = planted_set
    assert check_refgroups(out) == []
    refs, splits = read_ffhqref(out)
    everything = sorted(n for s in splits.values() for n in s)
    assert everything == [f"{k:05d}.png" for k in range(lab.size)]  # every image exactly once
    g = pd.read_parquet(out / "groups.parquet").set_index("image")
    singles = g[g["identity_size"] == 1].index
    assert len(singles) == 30 and set(singles) <= set(splits["train"])
    assert rec["split"]["counts"]["val"]["identities"] == 8 and rec["split"]["counts"]["test"]["identities"] == 8
    for s in ("val", "test"):
        for gt, rl in refs[s].items():
            assert 2 <= len(rl) <= 9
            assert all(g.loc[r, "identity"] == g.loc[gt, "identity"] for r in rl)
            assert all(g.loc[r, "split"] == s for r in rl)
    # train keeps every neighbour: target refs == its graph neighbours
    pairs = pd.read_parquet(out / "pairs.parquet")
    nb: dict[str, set[str]] = {}
    for a, b in zip(pairs["image_a"], pairs["image_b"]):
        nb.setdefault(a, set()).add(b)
        nb.setdefault(b, set()).add(a)
    assert {gt: set(r) for gt, r in refs["train"].items()} == {k: v for k, v in nb.items() if k in refs["train"]}
    assert len(refs["train"]) == sum(g.loc[k, "split"] == "train" for k in nb)


def test_first_reference_is_farthest_from_target(built, planted_set):
    out, _ = built
    x, _ = planted_set
    u = x.astype(np.float64) / np.linalg.norm(x.astype(np.float64), axis=1, keepdims=True)
    r = pd.read_parquet(out / "references.parquet")
    for gt, refs, dists in zip(r["gt_image"], r["ref_images"], r["ref_dists"]):
        assert dists[0] == max(dists)
        want = 1 - u[[int(n[:5]) for n in refs]] @ u[int(gt[:5])]
        np.testing.assert_allclose(dists, want, atol=1e-12)
    test = r[r["split"] == "test"]
    assert all(min(d) >= 0.1 for d in test["ref_dists"])


def test_determinism_and_seed(built, planted_set, synth, tmp_path):
    out, rec = built
    x, _ = planted_set
    again = build_from_embeddings(synth.table(x), tmp_path / "a", threshold=0.4, split="train=*,val=8,test=8",
                                  seed=3, default_threshold=0.4)
    assert content_digest(tmp_path / "a") == content_digest(out)
    assert again["files"] == rec["files"]
    other = build_from_embeddings(synth.table(x), tmp_path / "b", threshold=0.4, split="train=*,val=8,test=8",
                                  seed=4, default_threshold=0.4, report=False)
    a = (out / "id_based_ffhq_split" / "test_image.txt").read_text()
    b = (tmp_path / "b" / "id_based_ffhq_split" / "test_image.txt").read_text()
    assert a != b
    assert other["counts"]["identities"] == rec["counts"]["identities"]
    assert other["counts"]["pairs"] == rec["counts"]["pairs"]


def test_stratified_test_split(planted_set, synth, tmp_path):
    x, lab = planted_set
    names = [f"{k:05d}.png" for k in range(lab.size)]
    group = np.where(lab < 6, "rare", "common")  # 6 of 60 identities are "rare"
    pd.DataFrame({"image": names, "skin": group}).to_csv(tmp_path / "attr.csv", index=False)
    rec = build_from_embeddings(synth.table(x), tmp_path / "o", threshold=0.4, split="train=*,val=6,test=8",
                                stratify_by="skin", attributes=tmp_path / "attr.csv", report=False)
    g = pd.read_parquet(tmp_path / "o" / "groups.parquet")
    test_ids = g[g["split"] == "test"].groupby("identity")["attribute"].first()
    assert len(test_ids) == 8 and (test_ids == "rare").sum() == 4
    assert rec["attributes_sha256"] and rec["stratify_by"] == "skin"
    with pytest.raises(ConfigError, match="together"):
        build_from_embeddings(synth.table(x), tmp_path / "p", threshold=0.4, stratify_by="skin")


def test_pool_mode_takes_references_from_the_pool(planted_set, synth, tmp_path):
    x, lab = planted_set
    first = np.array([np.flatnonzero(lab == i)[0] for i in range(60)])
    rest = np.setdiff1d(np.arange(lab.size), first)
    src = synth.table(x[first], [f"t{k:03d}.png" for k in range(first.size)])
    pool = synth.table(x[rest], [f"p{k:03d}.png" for k in range(rest.size)])
    rec = build_from_embeddings(src, tmp_path / "o", threshold=0.4, pool=pool, min_refs=1, report=False)
    refs, splits = read_ffhqref(tmp_path / "o")
    assert set(refs) == {"test"} and set(splits) == {"test"} and len(splits["test"]) == 60
    pool_lab = dict(zip(pool.names, lab[rest]))
    src_lab = dict(zip(src.names, lab[first]))
    assert refs["test"] and all(r.startswith("p") and pool_lab[r] == src_lab[gt]
                                for gt, rl in refs["test"].items() for r in rl)
    assert rec["counts"]["pool_images"] == rest.size and check_refgroups(tmp_path / "o") == []


def test_wrong_threshold_is_warned(synth, tmp_path):
    x, _ = synth.planted(20, (3, 5), 64, spread=0.6, seed=9)
    assert x.shape[0] > 50
    rec = build_from_embeddings(synth.table(x), tmp_path / "o", threshold=1.2, default_threshold=0.4,
                                split="train=*,val=0,test=0")
    text = " ".join(rec["warnings"])
    assert "differs from this embedder's documented default 0.4" in text
    assert "looks wrong" in text and "largest identity" in text
    assert "looks wrong" in (tmp_path / "o" / "report.md").read_text()
    assert rec["counts"]["identities"] == 1


def test_check_finds_an_identity_across_splits(built, tmp_path):
    import shutil

    out, _ = built
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    g = pd.read_parquet(bad / "groups.parquet")
    k = g.index[(g["split"] == "test")][0]
    g.loc[k, "split"] = "train"
    g.to_parquet(bad / "groups.parquet")
    problems = check_refgroups(bad)
    assert any("spans splits" in p for p in problems)
    with pytest.raises(ArtifactError, match="spans splits"):
        check_refgroups(bad, raise_on_problem=True)
    rec = json.loads((bad / "refgroups.json").read_text())
    assert rec["kind"] == "refgroups" and rec["format_version"] == 1


def test_rebuild_replaces_outputs_and_foreign_folders_are_refused(planted_set, synth, tmp_path):
    x, lab = planted_set
    out = tmp_path / "o"
    build_from_embeddings(synth.table(x), out, threshold=0.4, report=False)
    assert (out / "reference_mapping" / "train_references.csv").is_file()
    first = np.array([np.flatnonzero(lab == i)[0] for i in range(60)])
    rest = np.setdiff1d(np.arange(lab.size), first)
    build_from_embeddings(synth.table(x[first]), out, threshold=0.4, pool=synth.table(x[rest]), report=False)
    assert not (out / "reference_mapping" / "train_references.csv").exists()  # no stale file survives
    assert check_refgroups(out) == []
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        build_from_embeddings(synth.table(x), tmp_path / "foreign", threshold=0.4, report=False)


def test_near_threshold_warning_scales_with_the_threshold():
    from bfrbench.refgroups.report import threshold_warnings

    rng = np.random.default_rng(0)
    none = np.zeros(0)
    sizes = np.array([3, 1, 1])
    arcface_between = rng.normal(1.0, 0.07, 2000)   # ArcFace impostor distances
    dlib_between = rng.uniform(0.15, 0.22, 2000)    # dlib: different people ~0.17-0.20, threshold 0.085

    def near(th, d):
        return [m for m in threshold_warnings(th, th, none, sizes, 5000, 10, d) if "lie within" in m]

    assert near(0.4, arcface_between) == [] and near(0.085, dlib_between) == []
    hit = near(0.9, arcface_between)  # a threshold inside the impostor mass
    assert len(hit) == 1 and "within 0.225 above threshold 0.9" in hit[0]
    assert near(0.14, dlib_between)  # just under dlib's impostor mass: 0.14..0.175 holds > 25 %
