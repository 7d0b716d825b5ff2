"""Golden test: the whole pseudo-target loop replaying the official run's saved noise (tiny scale).

Fixture: ../shared/fixtures/dtbfr/pseudo_target_loop.* (official ``sample_func_ir_aligned`` with the tiny SwinIR and
UNet, K=25, start 15, reg_end 9, N=8, 64x64). The loop runs free (each step takes our own previous output), so errors
accumulate as in a real run. Tolerances (README): per-step tensors 1e-5 (relative 1e-5 on large ones), final 1e-4.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from bfrbench.errors import ConfigError
from bfrbench.methods.dtbfr.pseudo import PseudoTargetConfig, PseudoTargetSampler, per_image_noise, to_uint8


@pytest.fixture(scope="module")
def loop(dtbfr_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(dtbfr_dir / "pseudo_target_loop.safetensors"))


def replay(meta: dict[str, Any], t: dict[str, torch.Tensor]) -> Iterator[torch.Tensor]:
    """The stored draws in the official order (README step 6 / ``random_draw_order``)."""
    yield t["init.q_noise"]
    for st in meta["steps"]:
        yield t[f"step{st['t_respaced']:02d}.p_noise"]
        if st["lowpass"]:
            yield t[f"step{st['t_respaced']:02d}.q_noise"]


def test_tiny_loop_replays_official_run(dtbfr_json: Any, loop: dict[str, torch.Tensor], swinir_tiny: Any,
                                        iddpm_tiny: Any) -> None:
    meta = dtbfr_json("pseudo_target_loop.json")
    hp = meta["scaled_hyperparameters"]
    cfg = PseudoTargetConfig(steps=int(hp["timestep_respacing"]), start=hp["start_timesteps"],
                             reg_end=hp["reg_end_timesteps"], down_N=hp["down_N"], image_size=hp["im_size"])
    sampler = PseudoTargetSampler(iddpm_tiny, cfg, swinir_tiny)
    assert sampler.diffusion.s.timestep_map.tolist() == meta["respaced_schedule"]["timestep_map"]
    draws = replay(meta, loop)
    kinds: list[str] = []

    def noise(like: torch.Tensor) -> torch.Tensor:
        z = next(draws)
        assert z.shape == like.shape
        kinds.append("x")
        return z

    trace: dict[str, torch.Tensor] = {}
    out = sampler(loop["lq"], noise, restore=True, trace=trace)
    assert len(kinds) == len(meta["random_draw_order"]) == 1 + 15 + 6
    assert next(draws, None) is None
    steps = {st["t_respaced"]: st for st in meta["steps"]}
    assert [i for i in range(15) if f"step{i:02d}.sample_after_lowpass" in trace] == \
        sorted(i for i, st in steps.items() if st["lowpass"]) == list(range(9, 15))
    worst = 0.0
    for k, ref in loop.items():
        if k in ("lq", "final_output_0_1"):
            continue
        err = float((trace[k].double() - ref.double()).abs().max())
        bound = 1e-5 + 1e-5 * float(ref.abs().max())
        assert err <= bound, f"{k}: max abs error {err:.3g} > {bound:.3g}"
        worst = max(worst, err)
    final_err = float((out - loop["final_output_0_1"]).abs().max())
    assert final_err <= 1e-4
    u8, ref_u8 = to_uint8(out), to_uint8(loop["final_output_0_1"])
    assert float((u8.int() - ref_u8.int()).abs().max()) <= 1


def test_noise_is_per_image_and_batch_invariant(swinir_tiny: Any, iddpm_tiny: Any, loop: dict[str, torch.Tensor]
                                                ) -> None:
    """Each image draws from its own generator: a batch of two equals each image alone (same seeds)."""
    cfg = PseudoTargetConfig(steps=25, start=4, reg_end=2, down_N=8, image_size=64)
    sampler = PseudoTargetSampler(iddpm_tiny, cfg, swinir_tiny)
    imgs = torch.cat([loop["ir_output"], loop["ir_output"].flip(-1)])

    def gens(*seeds: int) -> list[torch.Generator]:
        return [torch.Generator().manual_seed(s) for s in seeds]

    both = sampler(imgs, per_image_noise(gens(1, 2), "cpu"))
    one = sampler(imgs[1:], per_image_noise(gens(2), "cpu"))
    assert float((both[1:] - one).abs().max()) <= 1e-6
    again = sampler(imgs, per_image_noise(gens(1, 2), "cpu"))
    assert torch.equal(both, again)
    other = sampler(imgs, per_image_noise(gens(1, 3), "cpu"))
    assert torch.equal(other[0], both[0]) and float((other[1] - both[1]).abs().max()) > 1e-3
    with pytest.raises(ConfigError, match="64x64"):
        sampler(torch.zeros(1, 3, 32, 32), per_image_noise(gens(1), "cpu"))
    with pytest.raises(ConfigError, match="start < steps"):
        PseudoTargetConfig(steps=25, start=25)
