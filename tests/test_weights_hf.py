"""Hugging Face repository entries of the weights registry (bfrbench/weights/hf.py), offline.

A snapshot folder made here stands in for ``huggingface-cli download REPO --revision REV --local-dir DIR``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bfrbench import weights as W
from bfrbench.cli import main
from bfrbench.errors import ChecksumError, DownloadError, RegistryError, WeightsError
from bfrbench.weights.hf import hf_files, import_snapshot

REV = "0123456789abcdef0123456789abcdef01234567"
FILES = {"unet/config.json": b'{"a": 1}\n', "unet/diffusion_pytorch_model.safetensors": b"\x00weights" * 1000,
         "scheduler/scheduler_config.json": b'{"b": 2}\n'}


@pytest.fixture()
def group(monkeypatch: pytest.MonkeyPatch) -> list[W.WeightFile]:
    """A registered test repository: the config with a published digest, the others trust-on-first-use."""
    sha = hashlib.sha256(FILES["unet/config.json"]).hexdigest()
    entries = hf_files("tst-pipe", "owner/pipe", REV,
                       [("unet-config", "unet/config.json", sha),
                        ("unet", "unet/diffusion_pytorch_model.safetensors", None),
                        ("scheduler-config", "scheduler/scheduler_config.json", None)],
                       license="test", source="test")
    for w in entries:
        monkeypatch.setitem(W.registry._EXTRA, w.name, w)
    return entries


def _snapshot(root: Path, files: dict[str, bytes] = FILES) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def test_hf_entries_pin_revision_and_paths(group: list[W.WeightFile]) -> None:
    w = W.get_weight("tst-pipe-unet")
    assert w.urls == (f"https://huggingface.co/owner/pipe/resolve/{REV}/unet/diffusion_pytorch_model.safetensors",)
    assert w.extra["hf_revision"] == REV and w.extra["hf_path"] == "unet/diffusion_pytorch_model.safetensors"
    assert W.select(["tst-pipe"]) == sorted(e.name for e in group)
    with pytest.raises(ValueError, match="40-hex commit"):
        hf_files("x", "owner/x", "main", [("a", "a.json", None)], license="t", source="t")


def test_hf_snapshot_import_verifies_every_file(group: list[W.WeightFile], tmp_path: Path) -> None:
    # two files have no registered digest: refused unless the user opts into trust on first use (docs/security.md)
    with pytest.raises(ChecksumError, match="no registered SHA-256.*`trust_on_first_use=True`.*nothing imported"):
        import_snapshot("tst-pipe", _snapshot(tmp_path / "snap"))
    assert not any(W.is_present(w) for w in group)
    paths = import_snapshot("tst-pipe", tmp_path / "snap", trust_on_first_use=True)
    assert [p.read_bytes() for p in paths] == [FILES[w.extra["hf_path"]] for w in group]
    assert W.resolve("tst-pipe-unet").read_bytes() == FILES["unet/diffusion_pytorch_model.safetensors"]
    # trust on first use: the digest seen at import is recorded and enforced from then on
    assert W.expected_sha256("tst-pipe-unet") == hashlib.sha256(FILES["unet/diffusion_pytorch_model.safetensors"]).hexdigest()
    bad = _snapshot(tmp_path / "bad", {**FILES, "unet/diffusion_pytorch_model.safetensors": b"corrupt"})
    with pytest.raises(ChecksumError, match="tst-pipe-unet.*nothing imported"):
        import_snapshot("tst-pipe", bad)
    assert W.resolve("tst-pipe-unet").read_bytes() == FILES["unet/diffusion_pytorch_model.safetensors"]


def test_hf_snapshot_refuses_corrupted_registered_file(group: list[W.WeightFile], tmp_path: Path) -> None:
    snap = _snapshot(tmp_path / "snap", {**FILES, "unet/config.json": b'{"a": 2}\n'})
    with pytest.raises(ChecksumError, match="tst-pipe-unet-config"):
        import_snapshot("tst-pipe", snap)
    assert not any(W.is_present(w) for w in group)  # nothing was placed
    partial = {k: v for k, v in FILES.items() if k != "scheduler/scheduler_config.json"}
    with pytest.raises(WeightsError, match="lacks scheduler/scheduler_config.json"):
        import_snapshot("tst-pipe", _snapshot(tmp_path / "partial", partial))
    with pytest.raises(RegistryError, match="not a Hugging Face repository group"):
        import_snapshot("nope", tmp_path / "snap")


def test_hf_fetch_offline_says_how_to_import(group: list[W.WeightFile], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BFRBENCH_OFFLINE", "1")
    with pytest.raises(DownloadError, match=r"offline.*huggingface-cli download owner/pipe --revision "
                                            rf"{REV}.*bfrbench weights import tst-pipe DIR"):
        W.fetch("tst-pipe-unet")


def test_hf_fetch_uses_pinned_revision_and_checks_digest(group: list[W.WeightFile], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    calls: list[tuple[str, str, str | None]] = []
    served = dict(FILES)

    def fake_download(repo_id: str, filename: str, *, revision: str | None = None, local_dir: Path | None = None,
                      **_: object) -> str:  # stands in for the network; writes what the hub would
        calls.append((repo_id, filename, revision))
        assert local_dir is not None
        out = Path(local_dir) / filename
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(served[filename])
        return str(out)

    monkeypatch.delenv("BFRBENCH_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    p = W.fetch("tst-pipe-unet-config")
    assert p == W.cache_path(W.get_weight("tst-pipe-unet-config")) and p.read_bytes() == FILES["unet/config.json"]
    assert calls == [("owner/pipe", "unet/config.json", REV)]
    assert not (p.parent / ".hf").exists()
    served["unet/config.json"] = b"tampered"
    with pytest.raises(ChecksumError, match="does not match the registered"):
        W.fetch("tst-pipe-unet-config", force=True)
    assert p.read_bytes() == FILES["unet/config.json"]  # the verified file was kept


def test_hf_cli_import_folder(group: list[W.WeightFile], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["weights", "import", "tst-pipe", str(_snapshot(tmp_path / "snap"))]) == 1
    assert "--trust-on-first-use" in capsys.readouterr().err
    assert main(["weights", "import", "tst-pipe", str(tmp_path / "snap"), "--trust-on-first-use"]) == 0
    out = capsys.readouterr().out
    assert "tst-pipe-unet: imported" in out and "tst-pipe-scheduler-config: imported" in out
    bad = _snapshot(tmp_path / "bad", {**FILES, "unet/config.json": b"x"})
    assert main(["weights", "import", "tst-pipe", str(bad)]) == 1
    assert "SHA-256" in capsys.readouterr().err


def test_hf_registered_interlcm_repositories() -> None:
    names = W.select(["lcm-dreamshaper-v7", "sd15"])
    assert names == ["lcm-dreamshaper-v7-scheduler-config", "lcm-dreamshaper-v7-unet", "lcm-dreamshaper-v7-unet-config",
                     "lcm-dreamshaper-v7-vae", "lcm-dreamshaper-v7-vae-config", "sd15-unet-config"]
    for n in names:
        w = W.get_weight(n)
        assert len(w.extra["hf_revision"]) == 40 and w.urls[0].endswith(w.extra["hf_path"])
