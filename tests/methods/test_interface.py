"""Restorer interface: metadata, config round trip, typed key=value options, listing, entry-point plugin."""

import json
from typing import Literal

import numpy as np
import pytest

from bfrbench.errors import ConfigError
from bfrbench.methods import METHODS, Restorer
from bfrbench.methods._base import parse_options


class _Opts(Restorer):
    name = "opts"

    def __init__(self, *, n: int = 1, x: float = 0.5, flag: bool = False, mode: Literal["a", "b"] = "a",
                 maybe: int | None = None, tags: list[str] | None = None, device: str = "cpu", dtype: str = "fp32",
                 batch_size: int = 1) -> None:
        super().__init__(device=device, dtype=dtype, batch_size=batch_size)


def test_parse_options_types_by_annotation():
    got = parse_options(_Opts, ["n=3", "x=1e-2", "flag=yes", "mode=b", "maybe=none", "tags=p", "tags=q=r"])
    assert got == {"n": 3, "x": 0.01, "flag": True, "mode": "b", "maybe": None, "tags": ["p", "q=r"]}
    assert parse_options(_Opts, ["maybe=7"]) == {"maybe": 7}
    for bad, msg in (["n=2.5"], "expected an integer"), (["flag=maybe"], "expected a boolean"), \
            (["mode=c"], "accepted values are a, b"), (["nokey"], "must look like key=value"), \
            (["device=cuda"], "use --device"), (["zz=1"], "accepted options: n, x, flag, mode, maybe, tags"):
        with pytest.raises(ConfigError, match=msg):
            parse_options(_Opts, bad)


def test_config_round_trip_and_dtypes():
    r = METHODS.create("classical", h=7.0, dtype="bf16", batch_size=2)
    cfg = r.config()
    assert cfg["h"] == 7.0 and cfg["dtype"] == "bf16" and cfg["batch_size"] == 2
    again = type(r).from_config(json.loads(json.dumps(cfg)))
    assert again.config() == cfg
    import torch

    assert r.torch_dtype() is torch.bfloat16
    with pytest.raises(ConfigError, match="dtype must be one of fp32, fp16, bf16"):
        METHODS.create("lq", dtype="fp8")
    with pytest.raises(ConfigError, match="batch_size must be an integer >= 1"):
        METHODS.create("lq", batch_size=0)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            METHODS.create("toy-torch", device="cuda")


def test_weight_hashes_tolerate_unregistered_and_missing():
    class NeedsWeights(Restorer):
        name = "needs-weights"
        weights = ("no-such-weight-file",)

    assert NeedsWeights().weight_hashes() == {"no-such-weight-file": None}


def test_entry_point_plugin_is_listed(capsys):
    from bfrbench.cli import main

    assert "toy" in METHODS.names()  # from tests/plugin_pkg's entry point
    assert main(["methods", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["toy"]["stochastic"] is True and rows["toy"]["class"] == "bfrbench_toy:ToyRestorer"
    assert rows["lq"]["weights_status"] == "none needed" and rows["command"]["uses_refs"] is True
    assert main(["methods", "list"]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[:5] == ["name", "refs", "stochastic", "steps", "weights"]
    assert any(line.startswith("toy ") and " yes " in line for line in table.splitlines())


def test_weights_status_counts_missing():
    from bfrbench.methods.listing import weights_status
    from bfrbench.weights import all_weights

    names = sorted(all_weights())[:2]
    if len(names) < 2:
        pytest.skip("weights catalogue is empty")
    status, flags = weights_status(names + ["not-registered"])
    assert set(flags) == set(names) | {"not-registered"} and flags["not-registered"] is None
    assert "1 unregistered" in status


@pytest.mark.slow
def test_end_to_end_with_the_real_builder(tmp_path, astronaut_face):
    from bfrbench.io import write_png
    from bfrbench.methods.runner import restore

    build_testset = pytest.importorskip("bfrbench.testset").build_testset
    src = tmp_path / "hq"
    for i in range(2):
        write_png(src / f"p{i}.png", np.roll(astronaut_face, 30 * i, axis=1))
    build_testset("gfpgan", src, tmp_path / "ts", seed=0, show_progress=False)
    s = restore("classical", tmp_path / "ts", tmp_path / "run")
    assert s["counts"] == {"total": 2, "ok": 2, "failed": 0, "resumed": 0, "restored": 2}
    assert s["testset"]["name"]
