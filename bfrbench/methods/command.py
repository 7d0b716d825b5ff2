"""The command adapter: benchmark a method that lives in its own repository and environment.

The runner hands a batch of LQ faces to :class:`CommandRestorer`, which stages them as PNGs in a fresh
work folder, runs a command built from a template, then maps the command's output images back to ids.
Protocol (docs/methods/command.md):

* ``mode="folder"``: one command per batch. Placeholders: ``{input_dir}`` (``<id>.png`` files),
  ``{output_dir}``, ``{ref_dir}`` (``<id>/<k>.png``), ``{refs_file}`` (CSV ``id,ref_paths`` with a JSON list
  of absolute paths), ``{seeds_file}`` (CSV ``id,seed``), ``{work_dir}``, ``{device}``, ``{dtype}``,
  ``{batch_size}``, ``{seed}`` (seed of the batch's first image: prefer image mode for per-image seeds).
* ``mode="image"``: one command per image, adding ``{id}``, ``{input_path}``, ``{output_path}``
  (``{output_dir}/<id>.png``), ``{seed}`` (that image's seed) and ``{ref_paths}``, a token that expands
  into one argument per reference (for scripts like ReF-LDM's ``--ref_paths a.png b.png``).
* The template is split with ``shlex`` and each token formatted separately (paths with spaces are safe);
  no shell unless ``shell=True``. ``cwd``, ``env`` (``KEY=VAL`` items) and ``collect_from`` accept the same
  placeholders.
* Outputs are searched recursively under ``collect_from`` (default ``{output_dir}``). With ``output_glob``
  (e.g. ``"restored_faces/{id}_00.png"``) exactly that pattern is used; otherwise a file whose stem is
  ``<id>`` (or ``<id>_00``, the official CodeFormer/InterLCM naming for the first face) is taken,
  preferring ``restored_faces/`` and ``final_results/`` and never reading ``cropped_faces/``.
* Each output must decode to 512x512 RGB; otherwise that image fails with the reason. Missing outputs fail.
  A non-zero exit status or a timeout keeps the outputs the command did write and fails the rest.
  The command's stdout and stderr are appended to ``RUN/run.log``.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import os
import shlex
import shutil
import signal
import string
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from bfrbench.errors import ConfigError, MethodError
from bfrbench.methods._base import FACE_SIZE, BatchPartialError, Restorer

__all__ = ["CommandRestorer", "FOLDER_FIELDS", "IMAGE_FIELDS"]

FOLDER_FIELDS = ("input_dir", "output_dir", "ref_dir", "refs_file", "seeds_file", "work_dir", "device", "dtype",
                 "batch_size", "seed")
IMAGE_FIELDS = FOLDER_FIELDS + ("id", "input_path", "output_path", "ref_paths")
_PREFERRED_DIRS = ("restored_faces", "final_results")
_EXCLUDED_DIRS = ("cropped_faces", "cropped_faces_lq", "_bfrbench_input", "_bfrbench_refs")


def _fields(text: str) -> set[str]:
    try:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError as exc:
        raise ConfigError(f"command template {text!r}: {exc} (write literal braces as {{{{ and }}}})") from None


class CommandRestorer(Restorer):
    """Run an external inference command over staged inputs (see the module docstring).

    Args:
        template: command line with placeholders, e.g.
            ``"python inference_codeformer.py -w 0.5 --has_aligned -i {input_dir} -o {output_dir}"``.
        mode: ``"folder"`` (one command per batch) or ``"image"`` (one per image).
        cwd: working directory of the command (the official repository), default: this process's.
        env: extra environment variables, ``["KEY=VAL", ...]``.
        output_glob: pattern relative to ``collect_from`` with ``{id}``; default: the naming heuristic.
        collect_from: folder searched for outputs (default ``{output_dir}``); relative paths are under ``cwd``.
        timeout: seconds per command (None: no limit); on expiry the process group is killed.
        shell: run through ``/bin/sh -c`` (placeholder values are shell-quoted).
        keep_work: keep the staging folder (for debugging) instead of deleting it.
    """

    name = "command"
    paper = "external command (official inference script of any method)"
    license = "Apache-2.0"
    uses_refs = True
    default_batch_size = 64

    def __init__(self, *, template: str, mode: Literal["folder", "image"] = "folder", cwd: str | None = None,
                 env: list[str] | None = None, output_glob: str | None = None, collect_from: str | None = None,
                 timeout: float | None = None, shell: bool = False, keep_work: bool = False, device: str = "cpu",
                 dtype: str = "fp32", batch_size: int = 1) -> None:
        super().__init__(device=device, dtype=dtype, batch_size=batch_size)
        if mode not in ("folder", "image"):
            raise ConfigError(f"command: mode must be 'folder' or 'image', got {mode!r}")
        if not template or not template.strip():
            raise ConfigError("command: template is empty; e.g. `options` template='python infer.py -i "
                              "{input_dir} -o {output_dir}'")
        allowed = set(IMAGE_FIELDS if mode == "image" else FOLDER_FIELDS)
        texts = [template, cwd or "", collect_from or "", *(env or [])]
        unknown = set().union(*(_fields(t) for t in texts)) - allowed
        if unknown:
            raise ConfigError(f"command: unknown placeholder(s) {sorted(unknown)} for mode {mode!r}; "
                              f"known: {', '.join(sorted(allowed))}")
        if output_glob is not None and "{id}" not in output_glob:
            raise ConfigError(f"command: output_glob {output_glob!r} must contain {{id}}")
        for item in env or []:
            if "=" not in item or not item.partition("=")[0]:
                raise ConfigError(f"command: env item {item!r} must look like KEY=VAL")
        if timeout is not None and timeout <= 0:
            raise ConfigError(f"command: timeout must be > 0 seconds, got {timeout!r}")
        self.template, self.mode, self.cwd, self.env = template, mode, cwd, list(env or [])
        self.output_glob, self.collect_from, self.timeout = output_glob, collect_from, timeout
        self.shell, self.keep_work = shell, keep_work

    def _config(self) -> dict[str, Any]:
        return {"template": self.template, "mode": self.mode, "cwd": self.cwd, "env": self.env,
                "output_glob": self.output_glob, "collect_from": self.collect_from, "timeout": self.timeout,
                "shell": self.shell, "keep_work": self.keep_work}

    # -- staging --------------------------------------------------------------------------------
    def _stage(self, work: Path, ids: Sequence[str], lq: np.ndarray, refs: Sequence[Sequence[np.ndarray]] | None,
               seeds: Sequence[int]) -> dict[str, Any]:
        from bfrbench.io import encode_png

        inp, ref_dir, out = work / "_bfrbench_input", work / "_bfrbench_refs", work / "output"
        for d in (inp, ref_dir, out):
            d.mkdir(parents=True)
        ref_lists: dict[str, list[str]] = {}
        for i, item in enumerate(ids):
            (inp / f"{item}.png").write_bytes(encode_png(lq[i]))
            paths = []
            for k, r in enumerate(refs[i] if refs is not None else []):
                p = ref_dir / item / f"{k:02d}.png"
                p.parent.mkdir(exist_ok=True)
                p.write_bytes(encode_png(r))
                paths.append(str(p))
            ref_lists[item] = paths
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["id", "ref_paths"])
        w.writerows([item, json.dumps(ref_lists[item])] for item in ids)
        (work / "refs.csv").write_text(buf.getvalue(), encoding="utf-8")
        (work / "seeds.csv").write_text("id,seed\n" + "".join(f"{i},{s}\n" for i, s in zip(ids, seeds)), encoding="utf-8")
        return {"input_dir": str(inp), "output_dir": str(out), "ref_dir": str(ref_dir),
                "refs_file": str(work / "refs.csv"), "seeds_file": str(work / "seeds.csv"), "work_dir": str(work),
                "device": self.device, "dtype": self.dtype, "batch_size": str(self.batch_size),
                "seed": str(seeds[0] if len(seeds) else 0), "_ref_lists": ref_lists}

    # -- running --------------------------------------------------------------------------------
    def _argv(self, values: dict[str, Any], ref_paths: Sequence[str]) -> list[str] | str:
        fmt = {k: v for k, v in values.items() if not k.startswith("_")}
        if self.shell:
            quoted = {k: shlex.quote(str(v)) for k, v in fmt.items()}
            quoted["ref_paths"] = " ".join(shlex.quote(p) for p in ref_paths)
            return self.template.format_map(quoted)
        argv: list[str] = []
        for tok in shlex.split(self.template):
            if tok == "{ref_paths}":
                argv.extend(ref_paths)
            else:
                argv.append(tok.format_map({**fmt, "ref_paths": " ".join(ref_paths)}))
        return argv

    def _run(self, values: dict[str, Any], ref_paths: Sequence[str], label: str) -> tuple[int | None, str]:
        """Run the command; returns (exit status or None on timeout, last stderr line)."""
        fmt = {k: v for k, v in values.items() if not k.startswith("_")}
        argv = self._argv(values, ref_paths)
        cwd = self.cwd.format_map(fmt) if self.cwd else None
        if cwd is not None and not Path(cwd).is_dir():
            raise MethodError(f"command: cwd {cwd!r} is not a folder")
        env = dict(os.environ)
        env.update(dict(item.format_map(fmt).split("=", 1) for item in self.env))
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(argv, cwd=cwd, env=env, shell=self.shell, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            raise MethodError(f"command: cannot start {argv if isinstance(argv, str) else argv[0]!r}: {exc}") from exc
        try:
            out, err = proc.communicate(timeout=self.timeout)
            status: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            status = None
        stdout, stderr = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
        shown = argv if isinstance(argv, str) else shlex.join(argv)
        self._log(f"=== command [{label}] {_dt.datetime.now().isoformat(timespec='seconds')} "
                  f"{f'timeout after {self.timeout}s' if status is None else f'exit {status}'} "
                  f"({time.perf_counter() - t0:.1f} s)\n$ {shown}\n--- stdout\n{stdout}--- stderr\n{stderr}")
        lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
        return status, (lines[-1].strip() if lines else "")

    def _log(self, text: str) -> None:
        if self.run_dir is None:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.run_dir / "run.log", "a", encoding="utf-8") as fh:
            fh.write(text if text.endswith("\n") else text + "\n")

    # -- collecting -------------------------------------------------------------------------------
    def _root(self, values: dict[str, Any]) -> Path:
        fmt = {k: v for k, v in values.items() if not k.startswith("_")}
        if not self.collect_from:
            return Path(values["output_dir"])
        root = Path(self.collect_from.format_map(fmt))
        if not root.is_absolute() and self.cwd:
            root = Path(self.cwd.format_map(fmt)) / root
        return root

    def _find(self, root: Path, item: str, files: list[Path]) -> Path | str:
        """The output file for ``item``, or a reason string when missing/ambiguous."""
        import glob

        if self.output_glob is not None:
            hits = sorted(root.glob(self.output_glob.replace("{id}", glob.escape(item))))
            if len(hits) == 1:
                return hits[0]
            return (f"no output matching {self.output_glob.replace('{id}', item)!r} under {root}" if not hits
                    else f"ambiguous outputs for {item!r}: {', '.join(str(h.relative_to(root)) for h in hits)}")
        ranked = []
        for f in files:
            stem_rank = 0 if f.stem == item else 1 if f.stem in (f"{item}_00", f"{item}_0") else None
            if stem_rank is None:
                continue
            parts = f.relative_to(root).parts[:-1]
            dir_rank = 0 if any(p in _PREFERRED_DIRS for p in parts) else 1
            ranked.append(((stem_rank, dir_rank), f))
        if not ranked:
            return f"no output named {item}.png (or {item}_00.png) under {root}"
        ranked.sort(key=lambda t: (t[0], str(t[1])))
        best = [f for r, f in ranked if r == ranked[0][0]]
        if len(best) > 1:
            return f"ambiguous outputs for {item!r}: {', '.join(str(f.relative_to(root)) for f in best)}"
        return best[0]

    def _collect(self, root: Path, ids: Sequence[str]) -> tuple[list[np.ndarray | None], list[str | None]]:
        from bfrbench.io import list_images, read_image

        files = [] if not root.is_dir() else [
            f for f in list_images(root) if not any(p in _EXCLUDED_DIRS for p in f.relative_to(root).parts)]
        outs: list[np.ndarray | None] = []
        reasons: list[str | None] = []
        for item in ids:
            found = self._find(root, item, files) if root.is_dir() else f"output folder {root} does not exist"
            if isinstance(found, str):
                outs.append(None)
                reasons.append(found)
                continue
            try:
                img = read_image(found)
            except Exception as exc:
                outs.append(None)
                reasons.append(str(exc))
                continue
            if img.shape != (FACE_SIZE, FACE_SIZE, 3):
                outs.append(None)
                reasons.append(f"output {found} is {img.shape[1]}x{img.shape[0]}, expected {FACE_SIZE}x{FACE_SIZE}")
                continue
            outs.append(img)
            reasons.append(None)
        return outs, reasons

    # -- Restorer API -------------------------------------------------------------------------------
    def restore(self, lq: np.ndarray, *, refs: Sequence[Sequence[np.ndarray]] | None = None,
                seeds: Sequence[int] | None = None, context: Sequence[dict[str, Any]] | None = None) -> np.ndarray:
        n = len(lq)
        ids = [str((context[i] if context else {}).get("id", f"img{i:05d}")) for i in range(n)]
        seeds = list(seeds) if seeds is not None else [0] * n
        base = self.run_dir / ".work" if self.run_dir is not None else None
        if base is not None:
            base.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="cmd-", dir=base))
        try:
            values = self._stage(work, ids, lq, refs, seeds)
            if self.mode == "folder":
                status, last = self._run(values, [], f"{ids[0]}..{ids[-1]} ({n} images)")
                outs, reasons = self._collect(self._root(values), ids)
                statuses = [(status, last)] * n
            else:
                outs, reasons, statuses = [], [], []
                for i, item in enumerate(ids):
                    v = {**values, "id": item, "seed": str(seeds[i]),
                         "input_path": str(Path(values["input_dir"]) / f"{item}.png"),
                         "output_path": str(Path(values["output_dir"]) / f"{item}.png")}
                    st = self._run(v, values["_ref_lists"][item], item)
                    o, r = self._collect(self._root(v), [item])
                    outs += o
                    reasons += r
                    statuses.append(st)
        finally:
            if not self.keep_work:
                shutil.rmtree(work, ignore_errors=True)
        for i, (status, last) in enumerate(statuses):
            if reasons[i] is not None and status != 0:
                what = f"timed out after {self.timeout} s" if status is None else f"exited with status {status}"
                reasons[i] = f"command {what} before writing a usable output ({reasons[i]}); " \
                             f"last stderr line: {last or '(empty)'}; see run.log"
        if all(r is None for r in reasons):
            return np.stack(outs)  # type: ignore[arg-type]
        bad = sum(r is not None for r in reasons)
        raise BatchPartialError(f"command: {bad} of {n} images failed", outs, reasons)
