"""DDP path on CPU: two gloo ranks on loopback (torchrun) train like one process with the whole batch."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_two_ranks_match_one_process(tmp_path: Path, clr_faces: Path, clr_recipe: str) -> None:
    from safetensors.torch import load_file

    from bfrbench.methods.clrface.train import TrainOptions, train_stage

    single = tmp_path / "single"
    train_stage("irn", TrainOptions(faces=str(clr_faces), recipe=clr_recipe, out=str(single), iters=2, config="tiny",
                                    batch_size=4, progress=False, tensorboard=False))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1", "BFRBENCH_PROGRESS": "0"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
           f"--master_port={_free_port()}", "-m", "bfrbench", "train", "clrface", "--stage", "irn", "--faces",
           str(clr_faces), "--recipe", clr_recipe, "--out", str(tmp_path / "ddp"), "--iters", "2", "--config", "tiny",
           "--batch-size", "4", "--ddp", "--no-tensorboard"]
    res = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    a = load_file(str(single / "irn.safetensors"))
    b = load_file(str(tmp_path / "ddp" / "irn.safetensors"))
    assert a.keys() == b.keys()
    diff = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert diff < 1e-4  # the same update up to float re-association of the gradient mean
    from bfrbench.methods.clrface.config import CLRFaceConfig
    from bfrbench.methods.clrface.pipeline import build_network
    from bfrbench.rng import item_seed

    init = build_network(CLRFaceConfig.tiny(), "irn", item_seed(0, "irn", "init")).state_dict()
    assert max(float((b[k] - init[k]).abs().max()) for k in b) > 1e-3  # both ranks really trained
