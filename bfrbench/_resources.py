"""Where the data that ships with bfrbench lives: degradation presets, protocols and published suites.

The source of truth stays in the checkout's top-level folders (``datasets_build/`` and ``leaderboards/``);
the build (``setup.py``'s ``build_py``) copies them into the wheel as ``bfrbench/_data/<folder>/``. This module
is the one place that knows both layouts:

* installed from a wheel or sdist: ``importlib.resources.files("bfrbench") / "_data" / <folder>``;
* a source checkout or an editable install (no ``_data`` inside the package): ``<checkout>/<folder>``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["DATA_FOLDERS", "data_root"]

DATA_FOLDERS: tuple[str, ...] = ("datasets_build", "leaderboards")


def data_root(folder: str) -> Path:
    """The folder ``datasets_build`` or ``leaderboards`` as installed (see the module docstring).

    Raises:
        ValueError: ``folder`` is not one of :data:`DATA_FOLDERS`.
    """
    if folder not in DATA_FOLDERS:
        raise ValueError(f"folder must be one of {', '.join(DATA_FOLDERS)}, got {folder!r}")
    packaged = resources.files("bfrbench") / "_data" / folder
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[1] / folder
