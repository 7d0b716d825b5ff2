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
    """Plain-text table (for the terminal)."""
    cells = [[str(c) for c in columns]] + [[_fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 1000 else f"{v:.1f}"
    return "" if v is None else str(v)
