"""Issue 10, bullet 4: a weight file without a registered SHA-256 is not trusted silently, and imports or
fetches never change which metrics are the defaults.

Reproduced: a random 1 MB file imported as ``arcface-buffalo_l-w600k_r50`` (no registered SHA-256) used to
be accepted and to switch ``ids``/``deg`` to ArcFace, whose default model (webface_r50) was still missing.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from bfrbench import weights as W
from bfrbench.cli import main
from bfrbench.metrics import parse_spec
from bfrbench.metrics.engine import default_metric_specs, registry_default_specs

NAME = "arcface-buffalo_l-w600k_r50"


@pytest.fixture()
def junk(tmp_path: Path) -> Path:
    f = tmp_path / "w600k_r50.onnx"
    f.write_bytes(random.Random(3).randbytes(1 << 20))
    return f


def test_import_without_registered_hash_needs_a_decision(junk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert W.get_weight(NAME).sha256 is None
    assert main(["weights", "import", NAME, str(junk)]) == 1
    err = capsys.readouterr().err
    assert f"'{NAME}' has no registered SHA-256, so {junk} cannot be checked: pass --sha256 HEX" in err
    assert "--trust-on-first-use" in err and "not imported" in err
    assert not W.is_present(NAME) and W.recorded_sha256(NAME) is None
    assert main(["weights", "import", NAME, str(junk), "--sha256", "ab" * 32]) == 1
    assert f"{junk}: SHA-256 " in capsys.readouterr().err and not W.is_present(NAME)
    assert main(["weights", "import", NAME, str(junk), "--sha256", "xyz"]) == 1
    assert "not a SHA-256 hex digest" in capsys.readouterr().err


def test_import_with_user_hash_or_tofu_records_it(junk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sha = hashlib.sha256(junk.read_bytes()).hexdigest()
    assert main(["weights", "import", NAME, str(junk), "--sha256", sha.upper()]) == 0
    assert W.recorded_sha256(NAME) == sha and W.verify(NAME) == sha
    other = junk.with_name("other.onnx")
    other.write_bytes(b"x" * 10)
    assert main(["weights", "import", NAME, str(other), "--trust-on-first-use"]) == 1  # the recorded hash wins
    assert f"does not match the expected {sha}" in capsys.readouterr().err


def test_registered_hash_still_rejects_a_wrong_file(junk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = W.get_weight("openai-clip-rn50")
    assert w.sha256 is not None
    assert main(["weights", "import", w.name, str(junk), "--trust-on-first-use"]) == 1
    assert f"does not match the expected {w.sha256}" in capsys.readouterr().err and not W.is_present(w.name)


def test_importing_a_weight_does_not_change_the_default_metrics(junk: Path) -> None:
    before, registry = default_metric_specs(), registry_default_specs()
    left: dict[str, str] = {}
    default_metric_specs(left_out=left)
    assert "ids:dlib" in before and "ids:arcface" not in before and "ids:arcface" in registry
    assert left["lpips:vgg"] == "torchvision-vgg16" and "ids:arcface" not in left  # falls back, not left out
    assert W.import_file(NAME, junk, trust_on_first_use=True).is_file()
    assert default_metric_specs() == before and registry_default_specs() == registry
    assert parse_spec("ids").column == "ids:dlib" and parse_spec("deg").column == "deg:dlib"
