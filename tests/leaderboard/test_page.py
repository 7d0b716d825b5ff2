"""The static page in headless Chromium: loads from file://, sorts on header click, no console errors, screenshot."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.browser

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--enable-logging=stderr", "--v=0"]


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("headless Chromium not installed (Debian package `chromium`; `make sysdeps` installs it)")


def _run(args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    ud = tmp / f"profile{len(list(tmp.glob('profile*')))}"
    return subprocess.run([_chromium(), *FLAGS, f"--user-data-dir={ud}", *args], capture_output=True, text=True,
                          timeout=120)


def _console_problems(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ":CONSOLE" in ln or "Uncaught" in ln]


def test_page_loads_sorts_without_console_errors(rendered_toy: Path, tmp_path: Path) -> None:
    page = rendered_toy / "index.html"
    res = _run(["--virtual-time-budget=5000", "--dump-dom", page.as_uri() + "#selftest"], tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    m = re.search(r'data-selftest="([^"]*)"', res.stdout)
    assert m, "self-test did not run: " + res.stdout[:500]
    assert m.group(1).startswith("pass"), m.group(1)
    assert "rows=4" in m.group(1) and "images=2" in m.group(1)  # 4 rows; PD plane and severity plot loaded
    assert not re.search(r"<html[^>]*data-errors=", res.stdout)
    assert _console_problems(res.stderr) == []
    # after the self-test clicked the rank header twice, the table is in descending rank order
    ranks = [int(x) for x in re.findall(r'<tr class="(?:run|rep)"><td data-v="(\d+)"', res.stdout)]
    assert ranks == sorted(ranks, reverse=True) and len(ranks) == 4


def test_self_test_and_console_check_catch_a_broken_page(rendered_toy: Path, tmp_path: Path) -> None:
    html = (rendered_toy / "index.html").read_text()
    broken = tmp_path / "broken.html"
    shutil.copytree(rendered_toy / "plots", tmp_path / "plots")
    broken.write_text(html.replace("</body>", '<img src="plots/missing.png"><script>noSuchFunction();</script></body>'))
    res = _run(["--virtual-time-budget=5000", "--dump-dom", broken.as_uri() + "#selftest"], tmp_path)
    assert 'data-selftest="fail: broken image plots/missing.png' in res.stdout
    assert "noSuchFunction" in re.search(r'data-errors="([^"]*)"', res.stdout).group(1)
    assert any("noSuchFunction" in ln for ln in _console_problems(res.stderr))


def test_screenshot_and_links(rendered_toy: Path, tmp_path: Path) -> None:
    from bfrbench.io import read_image

    shot = tmp_path / "page.png"
    res = _run([f"--screenshot={shot}", "--window-size=1200,1400", "--virtual-time-budget=3000",
                (rendered_toy / "index.html").as_uri()], tmp_path)
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    img = read_image(shot)
    assert img.shape[:2] == (1400, 1200) and float(img.std()) > 10  # not a blank page

    class Links(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.refs: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            d = dict(attrs)
            ref = d.get("src") if tag in ("img", "script") else d.get("href") if tag in ("a", "link") else None
            if ref:
                self.refs.append(ref)

    p = Links()
    p.feed((rendered_toy / "index.html").read_text())
    assert sum(r.startswith("plots/samples-") for r in p.refs) == 3  # one sample grid per reproduced method
    for r in p.refs:
        assert not re.match(r"^(https?:)?//", r), f"page must not load from the network: {r}"
        assert (rendered_toy / r).is_file(), r
    grid = read_image(rendered_toy / "plots" / "samples-mild-good.png")
    assert grid.shape == (22 + 3 * 128, 3 * 128, 3)
    assert np.all(np.isfinite(grid))
