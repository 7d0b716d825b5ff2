"""``bfrbench train clrface`` (each stage) then ``bfrbench restore --method clrface``; the adapter's contract."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bfrbench.errors import ConfigError


def test_cli_trained_run_restores_a_test_set(clr_run: Path, tiny_testset: Path, tmp_path: Path) -> None:
    from bfrbench.cli import main
    from bfrbench.io.images import read_image

    for stage in ("autoencoder", "prior", "irn", "mask"):
        assert (clr_run / f"{stage}.safetensors").is_file()
        assert (clr_run / "train" / stage / "log.csv").read_text().count("\n") == 4  # header + 3 iterations
    out = tmp_path / "out"
    rc = main(["restore", "--method", "clrface", "--testset", str(tiny_testset), "--out", str(out), "--limit", "2",
               "--option", f"weights={clr_run}", "--option", "steps=2", "--seed", "5"])
    assert rc == 0
    run = json.loads((out / "run.json").read_text())
    assert run["counts"]["ok"] == 2 and run["options"]["weights"] == str(clr_run)
    assert set(run["weights"]) == {"clrface-autoencoder", "clrface-prior", "clrface-irn", "clrface-mask"}
    img = read_image(out / "face000.png")
    assert img.shape == (512, 512, 3) and img.std() > 0


def test_refuses_without_weights_and_says_how_to_train(tiny_testset: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    from bfrbench.cli import main
    from bfrbench.methods import METHODS

    rc = main(["restore", "--method", "clrface", "--testset", str(tiny_testset), "--out", str(tmp_path / "o")])
    assert rc == 1
    err = capsys.readouterr().err
    assert "bfrbench train clrface --stage" in err and "weights=RUN" in err
    with pytest.raises(ConfigError, match="do not exist"):
        METHODS.get("clrface")(weights=str(tmp_path / "nope"))


@pytest.fixture(scope="module")
def lq_batch(tiny_testset: Path) -> np.ndarray:
    from bfrbench.io.images import read_image

    return np.stack([read_image(tiny_testset / "lq" / f"face{i:03d}.png") for i in range(3)])


def test_batch_equals_single_images_and_seeds_matter(clr_run: Path, lq_batch: np.ndarray) -> None:
    from bfrbench.methods.clrface import CLRFace

    r = CLRFace(weights=str(clr_run), steps=2, eta=0.5, batch_size=3)
    seeds = [11, 12, 13]
    batch = r.restore(lq_batch, seeds=seeds)
    assert batch.shape == (3, 512, 512, 3) and batch.dtype == np.uint8
    for i in range(3):
        assert np.array_equal(r.restore(lq_batch[i:i + 1], seeds=[seeds[i]])[0], batch[i])
    other = r.restore(lq_batch[:1], seeds=[99])[0]
    assert not np.array_equal(other, batch[0])
    fused = CLRFace(weights=str(clr_run), steps=2, eta=0.5, batch_size=3, batch_mode="fused").restore(lq_batch, seeds=seeds)
    assert np.abs(fused.astype(int) - batch.astype(int)).max() <= 2  # float re-association only
    assert "clrface-mask" in r.weight_hashes()


def test_bundle_file_restores_like_the_run_folder(clr_run: Path, lq_batch: np.ndarray, tmp_path: Path) -> None:
    from bfrbench.methods.clrface import CLRFace
    from bfrbench.methods.clrface.weights_format import export_bundle

    bundle = export_bundle(clr_run, tmp_path / "clrface.safetensors")
    a = CLRFace(weights=str(clr_run), steps=2).restore(lq_batch[:1], seeds=[3])
    b = CLRFace(weights=str(bundle), steps=2).restore(lq_batch[:1], seeds=[3])
    assert np.array_equal(a, b)
    off = CLRFace(weights=str(bundle), steps=2, guidance=0.0).restore(lq_batch[:1], seeds=[3])
    assert not np.array_equal(a, off)  # the identity guidance acts


def test_bf16_path_runs(clr_run: Path, lq_batch: np.ndarray) -> None:
    from bfrbench.methods.clrface import CLRFace

    out = CLRFace(weights=str(clr_run), steps=1, dtype="bf16").restore(lq_batch[:1], seeds=[1])
    ref = CLRFace(weights=str(clr_run), steps=1).restore(lq_batch[:1], seeds=[1])
    assert out.shape == ref.shape and np.abs(out.astype(int) - ref.astype(int)).mean() < 10


def test_bad_weights_name_the_file(clr_run: Path, lq_batch: np.ndarray, tmp_path: Path) -> None:
    import shutil

    from bfrbench.errors import ArtifactError
    from bfrbench.methods.clrface import CLRFace
    from bfrbench.methods.clrface.weights_format import load_weights

    bad = tmp_path / "run"
    shutil.copytree(clr_run, bad, ignore=shutil.ignore_patterns("train"))
    (bad / "prior.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ArtifactError, match="prior.safetensors"):
        CLRFace(weights=str(bad)).restore(lq_batch[:1], seeds=[0])
    (bad / "prior.safetensors").unlink()
    with pytest.raises(ArtifactError, match="--stage prior"):
        CLRFace(weights=str(bad)).restore(lq_batch[:1], seeds=[0])
    _, states, _ = load_weights(clr_run)
    meta = __import__("safetensors").safe_open(str(clr_run / "irn.safetensors"), framework="pt").metadata()
    assert meta["stage"] == "irn" and meta["recipe"] == "clr-test" and len(meta["faces_sha256"]) == 64
    assert set(states) == {"autoencoder", "prior", "irn", "mask"}
