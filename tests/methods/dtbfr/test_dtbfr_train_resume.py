"""The fine-tuning loop: killed mid-way and resumed == uninterrupted (bit for bit on CPU); logs; data order."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from dtbfr_train_helpers import random_tiny_swinir, write_pairs
from safetensors.torch import load_file

from bfrbench.errors import ArtifactError
from bfrbench.methods.dtbfr.config import TrainConfig
from bfrbench.methods.dtbfr.loop import TrainData, TrainingStopped, batch_indices, real_indices, train

CFG = TrainConfig(iterations=5, batch_size=4, micro_batch=2, lpips=0.0, disc_num_feat=8, save_every=2,
                  drop_path_rate=0.1, seed=3, train_size=32)  # 64x64 files resized to 32 (a GPU path, tiny)


def _state(folder):
    ptr = json.loads((folder / "latest.json").read_text())
    d = folder / ptr["dir"]
    extra = torch.load(d / "state.pt", weights_only=True)
    return ptr["iteration"], load_file(str(d / "G.safetensors")), load_file(str(d / "D.safetensors")), extra


def _log(folder):
    with open(folder / "log.csv", newline="") as fh:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(fh)]


def test_killed_then_resumed_equals_uninterrupted(tmp_path):
    pairs = write_pairs(tmp_path / "data", 6)
    g_cfg = random_tiny_swinir(tmp_path / "g0.safetensors")
    data = TrainData(pairs=pairs, real=tuple(p[2] for p in pairs[:5]))
    kw = {"g_config": g_cfg, "g_init": str(tmp_path / "g0.safetensors"), "show_progress": False}
    full = train(tmp_path / "full", CFG, data, **kw)
    seen: list[int] = []

    def kill_at_3(k, losses):
        seen.append(k)
        if k == 3:
            raise KeyboardInterrupt  # a kill between checkpoints (the last one is at iteration 2)

    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "cut", CFG, data, on_iteration=kill_at_3, **kw)
    assert _state(tmp_path / "cut")[0] == 2
    resumed = train(tmp_path / "cut", CFG, data, **kw)
    assert full["resumed_from"] == 0 and resumed["resumed_from"] == 2 and seen == [1, 2, 3]
    it_a, g_a, d_a, x_a = _state(tmp_path / "full")
    it_b, g_b, d_b, x_b = _state(tmp_path / "cut")
    assert it_a == it_b == 5
    assert g_a.keys() == g_b.keys() and all(torch.equal(g_a[k], g_b[k]) for k in g_a)
    assert d_a.keys() == d_b.keys() and all(torch.equal(d_a[k], d_b[k]) for k in d_a)  # incl. weight_u/weight_v
    for opt in ("opt_g", "opt_d"):
        for pid, st in x_a[opt]["state"].items():
            assert all(torch.equal(st[k], x_b[opt]["state"][pid][k]) for k in st)
    assert x_a["sched_g"] == x_b["sched_g"]
    # the weights really moved, and the CSV log of the resumed run equals the uninterrupted one (row 3 redone)
    g0 = load_file(str(tmp_path / "g0.safetensors"))
    assert not torch.equal(g0["conv_last.weight"], g_a["conv_last.weight"])
    assert _log(tmp_path / "full") == _log(tmp_path / "cut") and len(_log(tmp_path / "full")) == 5
    lrs = [float(r["lr"]) for r in _log(tmp_path / "full")]
    want = [5e-6 + 1.5e-5 * (1 + np.cos(np.pi * k / 5)) / 2 for k in range(5)]
    assert np.allclose(lrs, want, rtol=1e-12, atol=0)
    # old checkpoints pruned, TensorBoard written when the package exists
    assert sorted(p.name for p in (tmp_path / "full" / "ckpt").iterdir()) == ["iter_000004", "iter_000005"]
    assert full["tensorboard"] is True and any((tmp_path / "full" / "tb").iterdir())


def test_stop_after_and_corrupt_checkpoint(tmp_path):
    pairs = write_pairs(tmp_path / "data", 4)
    g_cfg = random_tiny_swinir(tmp_path / "g0.safetensors")
    cfg = TrainConfig(**{**CFG.to_dict(), "iterations": 3, "save_every": 1})
    kw = {"g_config": g_cfg, "g_init": str(tmp_path / "g0.safetensors"), "show_progress": False}
    with pytest.raises(TrainingStopped):
        train(tmp_path / "t", cfg, TrainData(pairs=pairs), stop_after=1, **kw)
    ck = tmp_path / "t" / "ckpt" / "iter_000001" / "D.safetensors"
    ck.write_bytes(ck.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(ArtifactError, match="SHA-256"):
        train(tmp_path / "t", cfg, TrainData(pairs=pairs), **kw)


def test_data_order_is_epochwise_and_seeded():
    batches = [batch_indices(10, 4, 7, k) for k in range(1, 7)]
    assert [len(b) for b in batches] == [4, 4, 2, 4, 4, 2]  # ceil(10/4) batches per epoch, last smaller
    assert sorted(np.concatenate(batches[:3])) == list(range(10))
    assert not np.array_equal(np.concatenate(batches[:3]), np.concatenate(batches[3:]))
    assert np.array_equal(batch_indices(10, 4, 7, 5), batches[4])
    assert not np.array_equal(batch_indices(10, 4, 8, 1), batches[0])
    r = np.concatenate([real_indices(3, 4, 7, k) for k in (1, 2, 3)])
    assert len(r) == 12 and sorted(r[:3]) == [0, 1, 2] and sorted(r[3:6]) == [0, 1, 2]
