"""``bfrbench.weights`` as a package: one ``__all__``, every name importable, no import cycle between modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import bfrbench.weights as W

SUBMODULES = ("registry", "cache", "download", "hf", "fetching")
ROOT = Path(__file__).resolve().parents[1]


def test_all_names_exist_and_are_unique() -> None:
    assert len(W.__all__) == len(set(W.__all__))
    missing = [n for n in W.__all__ if not hasattr(W, n)]
    assert not missing, missing
    for n in ("check_file", "resolve", "fetch", "select", "weight_hashes", "WeightFile", "import_snapshot"):
        assert n in W.__all__
    # every public function/class of a submodule's own __all__ is the same object through the package
    for mod in SUBMODULES:
        sub = __import__(f"bfrbench.weights.{mod}", fromlist=["__all__"])
        for n in set(sub.__all__) & set(W.__all__):
            assert getattr(W, n) is getattr(sub, n), (mod, n)


@pytest.mark.parametrize("first", SUBMODULES)
def test_each_submodule_imports_first_in_a_fresh_interpreter(first: str) -> None:
    """A cycle shows as an ImportError (partially initialised module) when the wrong module comes first."""
    code = (f"import bfrbench.weights.{first}\n"
            "import bfrbench.weights as W\n"
            "assert all(hasattr(W, n) for n in W.__all__)\n"
            "print(len(W.all_weights()))\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr
    assert int(res.stdout.strip()) > 10


def test_modules_import_only_lower_layers() -> None:
    """registry < cache < download/hf < fetching: no module imports a higher one (at import time or lazily)."""
    order = {"registry": 0, "cache": 1, "download": 1, "hf": 2, "fetching": 3}
    for mod, level in order.items():
        text = (ROOT / "bfrbench" / "weights" / f"{mod}.py").read_text(encoding="utf-8")
        for other, lvl in order.items():
            if other != mod and f"bfrbench.weights.{other} import" in text:
                assert lvl < level, f"{mod} imports {other}"
        assert "from bfrbench.weights import" not in text and "from bfrbench import weights" not in text, mod


def test_weight_hashes_is_the_one_provenance_digest(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Restorers and metrics record weights through ``weight_hashes``: verified digest, or None when unusable."""
    import hashlib

    from bfrbench.metrics import METRICS

    payload = b"weights-payload" * 1000
    sha = hashlib.sha256(payload).hexdigest()
    entries = [W.WeightFile(name="t-wh-reg", filename="a.bin", sha256=sha, license="test", source="test"),
               W.WeightFile(name="t-wh-tofu", filename="b.bin", license="test", source="test"),
               W.WeightFile(name="t-wh-absent", filename="c.bin", sha256=sha, license="test", source="test"),
               W.WeightFile(name="t-wh-bad", filename="d.bin", sha256=sha, license="test", source="test")]
    for w in entries:
        monkeypatch.setitem(W.registry._EXTRA, w.name, w)
    for name in ("t-wh-reg", "t-wh-tofu"):
        p = W.cache_path(W.get_weight(name))
        p.parent.mkdir(parents=True)
        p.write_bytes(payload)
    bad = W.cache_path(W.get_weight("t-wh-bad"))
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not the registered file")
    got = W.weight_hashes(["t-wh-reg", "t-wh-tofu", "t-wh-absent", "t-wh-bad", "t-wh-unregistered"])
    assert got == {"t-wh-reg": sha, "t-wh-tofu": sha, "t-wh-absent": None, "t-wh-bad": None,
                   "t-wh-unregistered": None}
    assert W.recorded_sha256("t-wh-tofu") == sha  # first use recorded the digest

    custom = tmp_path / "custom.bin"
    custom.write_bytes(b"a fine-tuned file")
    used = {"t-wh-reg": W.cache_path(W.get_weight("t-wh-reg")), "t-wh-tofu": custom, "my-own": custom}
    own = hashlib.sha256(b"a fine-tuned file").hexdigest()
    assert W.weight_hashes(used) == {"t-wh-reg": sha, "t-wh-tofu": own, "my-own": own}

    # a metric and a restorer go through the same function
    psnr = METRICS.get("psnr")("rgb")
    monkeypatch.setattr(type(psnr), "weights_for", classmethod(lambda cls, v: ("t-wh-reg", "t-wh-absent")))
    assert psnr.weight_hashes() == {"t-wh-reg": sha, "t-wh-absent": None}
