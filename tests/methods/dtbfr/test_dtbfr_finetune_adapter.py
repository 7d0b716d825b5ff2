"""The ``dtbfr`` restorer (inference = the fine-tuned SwinIR alone): formula, batching, dtypes, run records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from dtbfr_train_helpers import real_faces

from bfrbench.errors import ArtifactError, ConfigError
from bfrbench.methods import METHODS


def _weights(shared: Path) -> str:
    return str(shared / "dtbfr" / "swinir_tiny_weights.safetensors")


def test_dtbfr_is_clamped_rounded_swinir(shared_fixtures):
    """Official run_swinir.py: y = clamp(SwinIR(lq / 255), 0, 1), saved as round(255 y)."""
    from bfrbench.methods.dtbfr.loading import load_swinir
    from bfrbench.methods.dtbfr.swinir import swinir_config

    lq = np.stack(real_faces(3, 64))
    r = METHODS.create("dtbfr", weights=_weights(shared_fixtures), config="tiny", batch_size=2)
    got = r.restore_chunk(lq)
    net = load_swinir(_weights(shared_fixtures), swinir_config("tiny"))
    with torch.no_grad():
        y = net(torch.from_numpy(lq).permute(0, 3, 1, 2).float() / 255).clamp(0, 1)
    want = (y * 255).round().byte().permute(0, 2, 3, 1).numpy()
    assert np.array_equal(got, want)
    assert 20 < np.abs(got.astype(int) - lq).mean()  # random weights: really a network output, not the input


def test_batches_and_dtypes(shared_fixtures):
    lq = np.stack(real_faces(3, 512))
    outs = {}
    for bs in (1, 3):
        r = METHODS.create("dtbfr", weights=_weights(shared_fixtures), config="tiny", batch_size=bs, size=64)
        outs[bs] = r.restore(lq)
    assert outs[1].shape == (3, 512, 512, 3) and outs[1].dtype == np.uint8
    assert np.array_equal(outs[1], outs[3])  # batch size does not change the bytes
    bf = METHODS.create("dtbfr", weights=_weights(shared_fixtures), config="tiny", size=64, dtype="bf16").restore(lq)
    diff = np.abs(bf.astype(int) - outs[1])
    assert 0 < diff.mean() < 2.0 and diff.max() <= 12  # bf16 runs, close to fp32
    with pytest.raises(ConfigError):
        METHODS.create("dtbfr", run="x", weights=_weights(shared_fixtures))


def test_run_record_selects_verified_weights(shared_fixtures, tmp_path):
    from bfrbench.io import sha256_file
    from bfrbench.methods.dtbfr.swinir import swinir_config

    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    w = run / "model" / "swinir.safetensors"
    w.write_bytes(Path(_weights(shared_fixtures)).read_bytes())
    rec = {"kind": "dtbfr-model", "format_version": 1, "weights": "model/swinir.safetensors",
           "weights_sha256": sha256_file(w), "swinir_config": swinir_config("tiny").to_dict()}
    (run / "model.json").write_text(json.dumps(rec))
    lq = np.stack(real_faces(2, 512))
    by_run = METHODS.create("dtbfr", run=str(run), size=64)
    direct = METHODS.create("dtbfr", weights=_weights(shared_fixtures), config="tiny", size=64)
    assert np.array_equal(by_run.restore(lq), direct.restore(lq))
    assert by_run.weight_hashes() == {"swinir": sha256_file(w)}
    w.write_bytes(w.read_bytes()[:-4] + b"\0\0\0\0")  # tampered weights
    with pytest.raises(ArtifactError, match="SHA-256"):
        METHODS.create("dtbfr", run=str(run), size=64).restore(lq)
    with pytest.raises(ArtifactError, match="model.json"):
        METHODS.create("dtbfr", run=str(tmp_path / "nothing")).restore(lq)
