"""bfrbench.weights.download against a real HTTP server on 127.0.0.1 (Range, cuts, retries, hashes)."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from weights_http import FileServer, closed_port_url

from bfrbench.errors import ChecksumError, DownloadError
from bfrbench.weights.download import CHUNK, download

PAYLOAD = random.Random(7).randbytes(2 * CHUNK + 12345)  # > 2 read chunks; halves are > 1 chunk
SHA = hashlib.sha256(PAYLOAD).hexdigest()
FAST = {"timeout": 5.0, "backoff": 0.0}


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


def test_good_file(server: FileServer, tmp_path: Path) -> None:
    dest = tmp_path / "sub" / "w.bin"
    res = download([server.url("/w.bin")], dest, sha256=SHA, size=len(PAYLOAD), **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert (res.sha256, res.size, res.requests, res.resumed) == (SHA, len(PAYLOAD), 1, False)
    assert not (tmp_path / "sub" / "w.bin.part").exists()
    assert server.requests == [{"path": "/w.bin", "range": None}]


def test_wrong_hash_deletes_part(server: FileServer, tmp_path: Path) -> None:
    dest = tmp_path / "w.bin"
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as ei:
        download([server.url("/w.bin")], dest, sha256=wrong, **FAST)
    msg = str(ei.value)
    assert wrong in msg and SHA in msg and "w.bin" in msg
    assert not dest.exists() and not dest.with_name("w.bin.part").exists()


def test_cut_then_resumed_in_same_call(server: FileServer, tmp_path: Path) -> None:
    server.cut_next = 1
    res = download([server.url("/w.bin")], tmp_path / "w.bin", sha256=SHA, retries=2, **FAST)
    assert res.requests == 2 and res.resumed
    half = (len(PAYLOAD)) // 2
    assert [r["range"] for r in server.requests] == [None, f"bytes={half}-"]
    assert hashlib.sha256((tmp_path / "w.bin").read_bytes()).hexdigest() == SHA


def test_interrupted_then_resumed_by_next_call(server: FileServer, tmp_path: Path) -> None:
    dest = tmp_path / "w.bin"
    server.cut_next = 1
    with pytest.raises(DownloadError, match="connection"):
        download([server.url("/w.bin")], dest, sha256=SHA, retries=0, **FAST)
    part = dest.with_name("w.bin.part")
    assert part.stat().st_size == len(PAYLOAD) // 2 and not dest.exists()
    res = download([server.url("/w.bin")], dest, sha256=SHA, retries=0, **FAST)
    assert server.requests[-1]["range"] == f"bytes={len(PAYLOAD) // 2}-"
    assert res.resumed and res.sha256 == SHA and dest.read_bytes() == PAYLOAD and not part.exists()


def test_server_ignoring_range_restarts(server: FileServer, tmp_path: Path) -> None:
    dest = tmp_path / "w.bin"
    dest.with_name("w.bin.part").write_bytes(b"garbage that is not the prefix")
    server.ignore_range = True
    res = download([server.url("/w.bin")], dest, sha256=SHA, **FAST)
    assert server.requests[0]["range"] == "bytes=30-"  # asked, but got a 200 with the whole body
    assert not res.resumed and dest.read_bytes() == PAYLOAD


def test_part_already_complete_gets_416(server: FileServer, tmp_path: Path) -> None:
    dest = tmp_path / "w.bin"
    dest.with_name("w.bin.part").write_bytes(PAYLOAD)
    res = download([server.url("/w.bin")], dest, sha256=SHA, size=len(PAYLOAD), **FAST)
    assert res.sha256 == SHA and dest.read_bytes() == PAYLOAD and res.requests == 1


def test_404_is_not_retried(server: FileServer, tmp_path: Path) -> None:
    url = server.url("/missing.bin")
    with pytest.raises(DownloadError) as ei:
        download([url], tmp_path / "m.bin", retries=3, **FAST)
    assert url in str(ei.value) and "404" in str(ei.value)
    assert len(server.requests) == 1


def test_503_is_retried(server: FileServer, tmp_path: Path) -> None:
    server.fail_status["/w.bin"] = [503, 503]
    res = download([server.url("/w.bin")], tmp_path / "w.bin", sha256=SHA, retries=2, **FAST)
    assert res.requests == 3 and res.sha256 == SHA


def test_mirror_fallback(server: FileServer, tmp_path: Path) -> None:
    urls = [closed_port_url(), server.url("/gone.bin"), server.url("/w.bin")]
    res = download(urls, tmp_path / "w.bin", sha256=SHA, **FAST)
    assert res.url == urls[2] and res.sha256 == SHA


def test_size_mismatch_skips_url(server: FileServer, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=f"server reports {len(PAYLOAD)} bytes"):
        download([server.url("/w.bin")], tmp_path / "w.bin", size=len(PAYLOAD) + 1, **FAST)


def test_unreachable_fails_fast(tmp_path: Path) -> None:
    url = closed_port_url()
    t0 = time.perf_counter()
    with pytest.raises(DownloadError) as ei:
        download([url], tmp_path / "x.bin", retries=3, timeout=2.0)
    assert time.perf_counter() - t0 < 3.0
    assert url in str(ei.value)


def test_offline_env_makes_no_request(server: FileServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BFRBENCH_OFFLINE", "1")
    with pytest.raises(DownloadError, match="BFRBENCH_OFFLINE"):
        download([server.url("/w.bin")], tmp_path / "w.bin", **FAST)
    assert server.requests == []


def test_file_url_and_bad_scheme(tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(PAYLOAD[:1000])
    res = download([src.as_uri()], tmp_path / "out.bin", sha256=hashlib.sha256(PAYLOAD[:1000]).hexdigest())
    assert res.size == 1000
    with pytest.raises(DownloadError, match="unsupported URL scheme"):
        download(["ftp://example.invalid/x"], tmp_path / "y.bin")
