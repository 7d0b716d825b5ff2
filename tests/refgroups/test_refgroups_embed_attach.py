"""Embedding extraction (cache, failures, shards) and attaching references to a test set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from manifest_factory import write_manifest

from bfrbench.errors import ArtifactError, ConfigError
from bfrbench.refgroups import (
    attach_references,
    build_refgroups,
    embed_folder,
    load_embeddings,
    save_embeddings,
)


def test_embed_folder_caches_by_content_and_skips_bad_images(synth, face_folder, tmp_path):
    src, labels = face_folder
    folder = tmp_path / "src"
    folder.mkdir()
    for name in sorted(labels)[:10]:
        (folder / name).write_bytes((src / name).read_bytes())
    (folder / "broken.png").write_bytes(b"not an image")
    emb = synth.GridEmbedder()
    cache = tmp_path / "cache"
    t1 = embed_folder(folder, emb, batch_size=4, shard_size=3, cache_dir=cache)
    assert t1.names == sorted(labels)[:10]
    assert [f["input"] for f in t1.failures] == ["broken.png"] and "not a recognised image" in t1.failures[0]["reason"]
    assert t1.vectors.shape == (10, 192) and t1.vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(t1.vectors, axis=1), 1.0, atol=1e-6)
    assert emb.images == 10 and emb.calls == 4  # shards of 3 -> batches 3,3,3,1
    # a renamed copy has the same bytes: served from the cache
    (folder / "zz_copy.png").write_bytes((folder / min(labels)).read_bytes())
    t2 = embed_folder(folder, emb, cache_dir=cache)
    assert emb.images == 10
    np.testing.assert_array_equal(t2.vectors[:10], t1.vectors)
    np.testing.assert_array_equal(t2.vectors[10], t1.vectors[0])
    save_embeddings(t2, tmp_path / "out")
    back = load_embeddings(tmp_path / "out")
    assert back.names == t2.names and back.model_id == "grid-8x8-v1"
    np.testing.assert_array_equal(back.vectors, t2.vectors)
    (tmp_path / "out" / "embeddings.npy").write_bytes(b"x")
    with pytest.raises(ArtifactError, match="SHA-256"):
        load_embeddings(tmp_path / "out")


def test_embed_folder_errors(synth, tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        embed_folder(tmp_path / "nope", synth.GridEmbedder())
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no images"):
        embed_folder(tmp_path / "empty", synth.GridEmbedder())


@pytest.fixture(scope="module")
def folder_build(synth, face_folder, tmp_path_factory):
    src, labels = face_folder
    out = tmp_path_factory.mktemp("rg_folder")
    rec = build_refgroups(src, out, embedder=synth.GridEmbedder(), split="train=*,val=2,test=2", seed=1,
                          cache_dir=tmp_path_factory.mktemp("cache"))
    return src, labels, out, rec


def test_folder_build_groups_identities(folder_build):
    src, labels, out, rec = folder_build
    g = pd.read_parquet(out / "groups.parquet")
    got = dict(zip(g["image"], g["identity"]))
    for a in labels:
        for b in labels:
            assert (got[a] == got[b]) == (labels[a] == labels[b]), (a, b)
    assert rec["threshold"] == 0.35 and rec["embedder"]["default_threshold"] == 0.35
    assert rec["src"] == str(src.resolve()) and rec["counts"]["identities"] == 8
    assert rec["split"]["counts"]["test"]["targets"] == 8  # 2 identities x 4 images, 3 refs each


def test_attach_references_to_a_test_set(folder_build, tmp_path):
    src, _, out, _ = folder_build
    refs = pd.read_parquet(out / "references.parquet")
    test = refs[refs["split"] == "test"].set_index("gt_image")
    ts = tmp_path / "ts"
    targets = sorted(test.index)[:3]
    write_manifest(ts, [{"id": t[:-4], "src_path": str(src / t)} for t in targets]
                   + [{"id": "other", "src_path": "/elsewhere/x.png"}])
    counts = attach_references(ts, out, max_refs=2)
    assert counts["ids"] == 4 and counts["with_refs"] == 3
    r = pd.read_parquet(ts / "references.parquet")
    assert list(r.columns) == ["id", "ref_paths", "ref_ids"] and list(r["id"]) == sorted(t[:-4] for t in targets)
    for row in r.itertuples(index=False):
        want = list(test.loc[f"{row.id}.png", "ref_images"])[:2]
        assert list(row.ref_ids) == want
        assert [p.split("/")[0] for p in row.ref_paths] == ["refs", "refs"]
        for p, name in zip(row.ref_paths, row.ref_ids):
            assert (ts / p).read_bytes() == (src / name).read_bytes()
    # matching by stem when the test set was built from a copy of the images
    ts2 = tmp_path / "ts2"
    write_manifest(ts2, [{"id": "a", "src_path": f"/copy/{targets[0]}"}])
    assert attach_references(ts2, out, link="symlink")["with_refs"] == 1
    assert (ts2 / pd.read_parquet(ts2 / "references.parquet")["ref_paths"][0][0]).is_symlink()
    with pytest.raises(ArtifactError, match="manifest"):
        attach_references(tmp_path, out)


def test_missing_reference_file_is_a_check_problem(folder_build, tmp_path):
    import json
    import shutil

    from bfrbench.refgroups import check_refgroups

    src, _, out, _ = folder_build
    moved = tmp_path / "src"
    shutil.copytree(src, moved)
    copy = tmp_path / "rg"
    shutil.copytree(out, copy)
    rec = json.loads((copy / "refgroups.json").read_text())
    rec["src"] = str(moved)
    (copy / "refgroups.json").write_text(json.dumps(rec))
    assert check_refgroups(copy) == []
    victim = pd.read_parquet(copy / "references.parquet")["ref_images"][0][0]
    (moved / victim).unlink()
    assert any("reference file missing" in p and victim in p for p in check_refgroups(copy))


def test_build_testset_cli_attaches_references_and_runs_a_reference_method(folder_build, tmp_path, capsys):
    import json

    import cv2

    from bfrbench.cli import main
    from bfrbench.io import read_image, write_png
    from bfrbench.methods import METHODS
    from bfrbench.methods._base import Restorer
    from bfrbench.methods.runner import restore

    faces, _, rg, _ = folder_build
    src = tmp_path / "hq"  # 256 px copies (the test-set minimum) of the first 6 faces: matched by file stem
    for f in sorted(faces.glob("*.png"))[:6]:
        write_png(src / f.name, np.repeat(np.repeat(read_image(f), 4, axis=0), 4, axis=1))
    ts = tmp_path / "ts"
    args = ["build", "testset", "--preset", "gfpgan", "--src", str(src), "--out", str(ts),
            "--refgroups", str(rg), "--max-refs", "2", "--json"]
    assert main(args) == 0
    printed = json.loads(capsys.readouterr().out)
    table = pd.read_parquet(rg / "references.parquet")
    want = {Path(g).stem: list(r) for g, r in zip(table["gt_image"], table["ref_images"])}
    r = pd.read_parquet(ts / "references.parquet")
    assert printed["references"] == {"ids": 6, "with_refs": len(r), "ref_files": len({p for ps in r["ref_paths"] for p in ps}), "refused": 0}
    assert len(r) == sum(1 for p in src.glob("*.png") if p.stem in want)
    assert len(r) >= 1
    for item, ids in zip(r["id"], r["ref_ids"]):
        assert list(ids) == want[item][:2]
    meta = json.loads((ts / "testset.json").read_text())
    assert meta["references"]["max_refs"] == 2 and meta["references"]["counts"]["with_refs"] == len(r)
    # a resumed build keeps the record; references reach a reference method in stored order
    assert main(args[:-5]) == 0
    assert json.loads((ts / "testset.json").read_text())["references"] == meta["references"]
    seen: dict[str, list[int]] = {}

    class MeanRefs(Restorer):
        name = "mean-refs"
        uses_refs = True
        max_refs = 4

        def restore(self, lq, *, refs=None, seeds=None, context=None):
            for ctx, rr in zip(context, refs):
                seen[ctx["id"]] = [x.copy() for x in rr]
            return lq.copy()

    METHODS.register("mean-refs", MeanRefs)
    try:
        restore("mean-refs", ts, tmp_path / "run")
    finally:
        METHODS._entries.pop("mean-refs", None)

    for item, paths in zip(r["id"], r["ref_paths"]):
        # same references, same order; 64 px files enlarged to 512 with INTER_CUBIC (docs/artifacts.md)
        want_px = [cv2.resize(read_image(ts / p), (512, 512), interpolation=cv2.INTER_CUBIC) for p in paths]
        assert len(seen[item]) == 2 and all(np.array_equal(a, b) for a, b in zip(seen[item], want_px))
    capsys.readouterr()
    bad = ["build", "testset", "--preset", "gfpgan", "--src", str(src), "--out", str(tmp_path / "x")]
    assert main(bad + ["--max-refs", "2"]) != 0 and "--max-refs needs --refgroups" in capsys.readouterr().err
    assert main(bad + ["--refgroups", str(src)]) != 0 and "no refgroups.json" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # refused before any work
