"""Protocol presets: shipped files are valid and sourced; --protocol refldm selects exactly ReF-LDM's Table 7
columns; a protocol drives evaluate() end to end (offline metrics) and is recorded in summary.json."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from metrics_helpers import make_testset

from bfrbench.errors import ConfigError, MissingWeightsError
from bfrbench.metrics.protocol import list_protocols, load_protocol

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_protocols_are_valid_and_cite_a_commit() -> None:
    names = list_protocols()
    assert {"vqfr", "refldm", "refldm-eval", "dtbfr", "dtbfr-real"} <= set(names)
    for n in names:
        p = load_protocol(n)
        assert p.name == n and p.version >= 1 and len(set(p.specs)) == len(p.specs)
        assert re.fullmatch(r"[0-9a-f]{40}", p.source.get("commit", "")), n
        assert all(m.script and m.verified for m in p.metrics), n
        assert (p.fid_stats is not None) == any(s.endswith("-stats") for s in p.specs)


def test_refldm_protocol_is_table7_of_the_ffhq_ref_suite() -> None:
    p = load_protocol("refldm")
    suite = yaml.safe_load((ROOT / "leaderboards" / "ffhq-ref" / "suite.yaml").read_text())
    table7 = set(suite["metric_info"])  # the columns of ReF-LDM's Table 7 as the suite reports them
    for row in suite["reported"]:
        assert set(row["values"]) <= table7
    assert p.table["suite"] == "ffhq-ref"
    assert list(p.table["columns"]) == p.specs == ["ids:arcface", "flpips:vgg", "lpips:vgg", "fid:clean-stats"]
    assert set(p.table["columns"].values()) == table7
    assert p.fid_stats == "fid-stats-ffhq512-cleanfid-trainval70k"


def test_evaluate_with_refldm_protocol_resolves_exactly_those_metrics(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from bfrbench.metrics import evaluate

    monkeypatch.setenv("BFRBENCH_HOME", str(tmp_path / "home"))  # none of the Table 7 weights present
    ts, rs, _ = make_testset(tmp_path, 2, size=128)
    with pytest.raises(MissingWeightsError, match=r"'ids:arcface'"):  # the first of Table 7's columns
        evaluate(ts, rs, tmp_path / "ev", protocol="refldm", cache=False, log=None)
    with pytest.raises(ConfigError, match="either metrics or protocol 'refldm'"):
        evaluate(ts, rs, tmp_path / "ev", metrics=["psnr"], protocol="refldm", cache=False, log=None)
    with pytest.raises(ConfigError, match="not found.*refldm"):
        evaluate(ts, rs, tmp_path / "ev", protocol="no-such-paper", cache=False, log=None)


def test_protocol_file_drives_evaluate_and_cli(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bfrbench.metrics import evaluate

    proto = tmp_path / "mini.yaml"
    proto.write_text(
        "name: mini\nversion: 3\npaper: test\nsource: {repo: TencentARC/VQFR, commit: "
        "239c77a78152473eca83270c40be083bb0ae0f4a}\nmetrics:\n"
        "  - {spec: 'psnr:vqfr', column: PSNR, script: s, verified: v}\n"
        "  - {spec: 'ssim:pyiqa', column: SSIM, script: s, verified: v}\n"
        "  - {spec: niqe, column: NIQE, script: s, verified: v}\n")
    ts, rs, ids = make_testset(tmp_path, 2, size=128)
    s = evaluate(ts, rs, tmp_path / "ev", protocol=str(proto), cache=False, log=None)
    df = pd.read_parquet(tmp_path / "ev" / "per_image.parquet")
    assert list(df.columns) == ["id", "psnr:vqfr", "ssim:pyiqa", "niqe:basicsr", "error"]
    assert s["protocol"]["name"] == "mini" and s["protocol"]["version"] == 3 and len(s["protocol"]["sha256"]) == 64
    assert s["protocol"]["columns"] == {"psnr:vqfr": "PSNR", "ssim:pyiqa": "SSIM", "niqe:basicsr": "NIQE"}
    cmd = [sys.executable, "-m", "bfrbench", "evaluate", "--testset", str(ts), "--restored", str(rs),
           "--out", str(tmp_path / "cli"), "--protocol", str(proto), "--metrics", "psnr", "--no-cache"]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 1 and "either metrics or protocol 'mini'" in r.stderr


def test_malformed_protocol_names_file_and_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nversion: 1\npaper: p\nsource: s\nmetrics:\n  - {spec: 'psnr:nope'}\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: metrics\[0\]\.spec 'psnr:nope'"):
        load_protocol(bad)
    bad.write_text("name: bad\nversion: 1\npaper: p\nsource: s\nmetrics:\n  - {spec: 'fid:clean-stats'}\n")
    with pytest.raises(ConfigError, match="needs 'fid_stats'"):
        load_protocol(bad)


def test_suite_can_name_a_protocol(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bfrbench.leaderboard.suite import load_suite

    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "suite.yaml").write_text("name: s\nversion: 1\nmain_score: 'psnr:vqfr'\nprotocol: vqfr\n")
    s = load_suite(folder)
    assert [m.spec for m in s.metrics] == load_protocol("vqfr").specs and s.protocol == "vqfr"
    assert s.fid_stats == "fid-stats-ffhq512-basicsr"
    (folder / "suite.yaml").write_text("name: s\nversion: 1\nmain_score: psnr:rgb\nprotocol: vqfr\nmetrics: [psnr:rgb]\n")
    with pytest.raises(ConfigError, match="protocol: and 'metrics' are exclusive"):
        load_suite(folder)
