"""Reproducible leaderboards: suites, statistics, breakdowns, plots, rendering, verification, regression gate.

A suite is a folder ``leaderboards/<suite>/`` with a ``suite.yaml`` (schema in :mod:`bfrbench.leaderboard.suite`
and ``docs/leaderboard.md``). ``run_suite`` builds, restores and evaluates what is missing (every stage cached by
a content/config hash), ``render_suite`` turns evaluations plus reported rows into ``results.json`` (canonical),
``results.csv``, ``README.md``, ``index.html`` and ``plots/``. ``verify_results`` re-hashes what a results file
names; ``compare_results`` is the regression gate.

Modules import their heavy dependencies (pandas, scipy, matplotlib) inside functions.
"""

from __future__ import annotations

from bfrbench.leaderboard.suite import Suite, list_suites, load_suite

__all__ = ["Suite", "list_suites", "load_suite"]
