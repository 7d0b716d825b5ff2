"""Data parallel on CPU: 2 gloo processes == the single-process step they are equivalent to (2 x 2 images vs 1 x 4).

With one micro-batch per rank and LPIPS off (its per-micro-batch sum is not an average), a 2-rank step averages two
2-image means, which equals one 4-image micro-batch; the discriminator runs the same 3 power iterations per step
and no D-gradient leak happens in either. So the weights must agree up to float re-association. (The official
DDP trainer has the same semantics: each GPU accumulates its own micro-batches, DDP averages.)
"""

from __future__ import annotations

import numpy as np
import pytest
from dtbfr_train_helpers import random_tiny_swinir, write_pairs
from safetensors.torch import load_file

from bfrbench.errors import ConfigError
from bfrbench.methods.dtbfr.config import TrainConfig
from bfrbench.methods.dtbfr.loop import TrainData, train

pytestmark = pytest.mark.slow


def test_two_gloo_ranks_equal_one_process(tmp_path):
    pairs = write_pairs(tmp_path / "data", 4)
    g_cfg = random_tiny_swinir(tmp_path / "g0.safetensors")
    base = {"iterations": 2, "batch_size": 4, "lpips": 0.0, "disc_num_feat": 8, "save_every": 2,
            "drop_path_rate": 0.0, "seed": 1, "train_size": 32}
    kw = {"g_config": g_cfg, "g_init": str(tmp_path / "g0.safetensors"), "show_progress": False}
    train(tmp_path / "one", TrainConfig(micro_batch=4, **base), TrainData(pairs), **kw)
    two = train(tmp_path / "two", TrainConfig(micro_batch=2, **base), TrainData(pairs), devices=["cpu", "cpu"], **kw)
    assert two["iterations"] == 2
    g0 = load_file(str(tmp_path / "g0.safetensors"))
    for net, tol in (("G", 1e-7), ("D", 1e-6)):
        a = load_file(str(tmp_path / "one" / "ckpt" / "iter_000002" / f"{net}.safetensors"))
        b = load_file(str(tmp_path / "two" / "ckpt" / "iter_000002" / f"{net}.safetensors"))
        assert a.keys() == b.keys()
        diff = max(float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].is_floating_point())
        assert diff < tol, (net, diff)  # measured 4e-9 (G), 7e-8 (D)
    g1 = load_file(str(tmp_path / "two" / "ckpt" / "iter_000002" / "G.safetensors"))
    assert not np.allclose(g1["conv_last.weight"].numpy(), g0["conv_last.weight"].numpy())
    with pytest.raises(ConfigError, match="divisible"):
        train(tmp_path / "bad", TrainConfig(micro_batch=2, **{**base, "batch_size": 3}), TrainData(pairs),
              devices=["cpu", "cpu"], **kw)
