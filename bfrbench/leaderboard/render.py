"""Render a suite: ``results.json`` (canonical), ``results.csv``, ``README.md``, ``index.html`` and ``plots/``.

``render_suite`` reads the work index that ``run_suite`` writes (``<work>/index.json``), builds the results with
:func:`bfrbench.leaderboard.results.build_results`, draws the plots and writes the four files atomically. When
the numbers did not change (same ``content_sha256``) the previous ``generated`` block (date, command) is kept,
so re-rendering an unchanged suite leaves every file byte-identical.

The page is one static file: inline CSS and JS, no network, relative links to ``plots/*.png``; any table sorts
by clicking a header. Opening it with ``#selftest`` runs a self-test (sort by a column twice, check the order)
and writes the outcome to ``<html data-selftest="pass">`` for the headless-browser test.
"""

from __future__ import annotations

import csv
import html
import io
import os
from pathlib import Path
from typing import Any

from bfrbench.artifacts import read_artifact, read_json_file
from bfrbench.errors import ArtifactError
from bfrbench.io import atomic_write_json, atomic_write_text
from bfrbench.leaderboard import plots as P
from bfrbench.leaderboard.results import Entry, build_results
from bfrbench.leaderboard.suite import Suite, load_suite

__all__ = ["render_suite", "render_markdown", "render_csv", "render_html", "load_index", "fmt"]


def fmt(v: float | None) -> str:
    """Display precision: 1 decimal >= 100, 2 decimals >= 10, else 4 significant-ish decimals."""
    if v is None:
        return "–"
    a = abs(v)
    return f"{v:.1f}" if a >= 100 else f"{v:.2f}" if a >= 10 else f"{v:.4f}" if a < 1 else f"{v:.3f}"


def load_index(work_dir: Path) -> tuple[list[Entry], dict[str, Any]]:
    """Entries (and the raw index) of ``<work>/index.json``; empty when the suite was never run."""
    path = work_dir / "index.json"
    if not path.is_file():
        return [], {}
    idx = read_artifact(path, "leaderboard-index")

    def p(s: str) -> Path:
        q = Path(s)
        return q if q.is_absolute() else work_dir / q

    entries = [Entry(method=e["method"], method_name=e["method_name"], testset=e["testset"],
                     testset_dir=p(e["testset_dir"]), run_dir=p(e["run_dir"]), eval_dir=p(e["eval_dir"]))
               for e in idx.get("entries", [])]
    return entries, dict(idx.items())


def _cell(row: dict[str, Any], spec: str, *, ci: bool) -> str:
    v = row["values"].get(spec)
    if not v or v.get("mean") is None:
        return "–"
    s = fmt(v["mean"])
    mark = ((row.get("vs_baseline") or {}).get("metrics", {}).get(spec) or {}).get("mark", "")
    s += mark
    if ci and v.get("ci95"):
        s += f" [{fmt(v['ci95'][0])}, {fmt(v['ci95'][1])}]"
    return s


def _kind_mark(row: dict[str, Any]) -> str:
    return "reproduced" if row["kind"] == "reproduced" else "reported †"


def _cite(c: dict[str, str]) -> str:
    s = f"{c['paper']}, {c['table']}, p. {c['page']}"
    s += f" <{c['url']}>" if c.get("url") else ""
    return s + (f"; note: {c['note']}" if c.get("note") else "")


def render_markdown(results: dict[str, Any]) -> str:
    """README.md: one table per test set (rank, kind, method, metrics with 95% CI and significance marks)."""
    s = results["suite"]
    specs = list(results.get("metric_order") or results["metrics"])
    arrows = {k: "↑" if v["higher_is_better"] else "↓" for k, v in results["metrics"].items()}
    lines = [f"# {s['title']}", "",
             f"Suite `{s['name']}` v{s['version']} · main score `{s['main_score']}` · "
             f"results `content_sha256` `{results['content_sha256'][:16]}`", "",
             "Rows marked *reproduced* were run by bfrbench from the artifacts named in `results.json` "
             "(verify with `bfrbench verify results.json`); rows marked *reported †* quote a paper (citations below) "
             "and were not re-run. Values: mean [bootstrap 95% CI]"
             + (f"; `*` / `**`: differs from the baseline `{s.get('baseline')}` with p < {s['statistics']['alpha']} / "
                f"p < {s['statistics']['alpha'] / 10:g} (paired bootstrap and Wilcoxon signed-rank both). "
                if s.get("baseline") else ". ")
             + "Ranks: competition ranking with ties, per test set.", ""]
    citations: list[str] = []
    for ts in sorted({r["testset"] for r in results["rows"]}):
        rows = [r for r in results["rows"] if r["testset"] == ts]
        cols = [sp for sp in specs if any(sp in r["values"] for r in rows)]
        info = results["testsets"].get(ts, {})
        lines += [f"## {ts}", ""]
        if info.get("manifest_sha256"):
            lines += [f"Preset `{info.get('preset')}`, {info.get('images')} images, seed {info.get('seed')}, "
                      f"manifest `{info['manifest_sha256'][:16]}`.", ""]
        lines.append("| rank | kind | method | " + " | ".join(f"{c} {arrows[c]}" for c in cols) + " |")
        lines.append("|---:|---|---|" + "---:|" * len(cols))
        for r in rows:
            name = r["method"]
            if r["kind"] == "reported":
                c = _cite(r["citation"])
                if c not in citations:
                    citations.append(c)
                name += f" [{citations.index(c) + 1}]"
            lines.append(f"| {r.get('rank') or '–'} | {_kind_mark(r)} | {name} | "
                         + " | ".join(_cell(r, c, ci=True) for c in cols) + " |")
        lines.append("")
    plots = results.get("plots") or {}
    if plots:
        lines += ["## Plots", ""]
        for ts, pl in sorted(plots.items()):
            for key in ("perception_distortion", "severity"):
                if pl.get(key):
                    lines.append(f"![{key} {ts}]({pl[key]})")
            for m, path in sorted((pl.get("samples") or {}).items()):
                lines.append(f"- samples {ts} / {m}: [{path}]({path})")
        lines.append("")
    if citations:
        lines += ["## Citations (reported rows)", ""] + [f"{i + 1}. {c}" for i, c in enumerate(citations)] + [""]
    return "\n".join(lines)


def render_csv(results: dict[str, Any]) -> str:
    """results.csv: one line per row; per metric: mean, ci95_lo, ci95_hi, rank, significance mark."""
    specs = list(results.get("metric_order") or results["metrics"])
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    head = ["testset", "kind", "method", "rank"]
    for sp in specs:
        head += [sp, f"{sp}.ci95_lo", f"{sp}.ci95_hi", f"{sp}.rank", f"{sp}.sig"]
    w.writerow(head + ["citation"])
    for r in results["rows"]:
        line: list[Any] = [r["testset"], r["kind"], r["method"], r.get("rank") or ""]
        for sp in specs:
            v = r["values"].get(sp) or {}
            ci = v.get("ci95") or ["", ""]
            mark = ((r.get("vs_baseline") or {}).get("metrics", {}).get(sp) or {}).get("mark", "")
            line += ["" if v.get("mean") is None else repr(float(v["mean"])), ci[0] if ci[0] == "" else repr(ci[0]),
                     ci[1] if ci[1] == "" else repr(ci[1]), (r.get("ranks") or {}).get(sp, ""), mark]
        w.writerow(line + [_cite(r["citation"]) if r["kind"] == "reported" else ""])
    return buf.getvalue()


_CSS = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}
th{background:#f0f0f0;cursor:pointer;user-select:none}th.asc::after{content:" \\25B2"}th.desc::after{content:" \\25BC"}
td.t{text-align:left}.ci{color:#777;font-size:.8em}.rep{background:#fff7e0}.badge{font-size:.75em;padding:0 .4em;
border-radius:.6em}.b-rep{background:#f5c542}.b-run{background:#8fd18f}img{max-width:100%;border:1px solid #ddd}
.plots{display:flex;flex-wrap:wrap;gap:1em}.plots figure{margin:0;max-width:560px}small{color:#666}"""

_JS = r"""(function(){
var errs=[];window.addEventListener('error',function(e){errs.push(String(e.message));
 document.documentElement.setAttribute('data-errors',errs.join(' | '));});
function key(td){var v=td.getAttribute('data-v');if(v===null||v===''){return null;}var f=parseFloat(v);return isNaN(f)?v:f;}
function sortBy(th){var table=th.closest('table');var idx=Array.prototype.indexOf.call(th.parentNode.children,th);
 var asc=!th.classList.contains('asc');var body=table.tBodies[0];var rows=Array.prototype.slice.call(body.rows);
 rows.sort(function(a,b){var x=key(a.cells[idx]),y=key(b.cells[idx]);if(x===null&&y===null)return 0;
  if(x===null)return 1;if(y===null)return -1;var c=(typeof x==='number'&&typeof y==='number')?x-y:String(x).localeCompare(String(y));
  return asc?c:-c;});
 rows.forEach(function(r){body.appendChild(r);});
 Array.prototype.forEach.call(th.parentNode.children,function(h){h.classList.remove('asc','desc');});
 th.classList.add(asc?'asc':'desc');}
window.bfrSort=sortBy;
document.querySelectorAll('th').forEach(function(th){th.addEventListener('click',function(){sortBy(th);});});
function column(table,idx){return Array.prototype.map.call(table.tBodies[0].rows,function(r){return key(r.cells[idx]);})
 .filter(function(v){return v!==null;});}
function ordered(a,asc){for(var i=1;i<a.length;i++){if(asc?a[i-1]>a[i]:a[i-1]<a[i])return false;}return true;}
function selftest(){var out='pass';try{var table=document.querySelector('table.lb');
 var th=table.querySelector('th.num');var idx=Array.prototype.indexOf.call(th.parentNode.children,th);
 th.click();var a=column(table,idx);if(!ordered(a,true))out='fail: not ascending '+a.join(',');
 th.click();var d=column(table,idx);if(out==='pass'&&!ordered(d,false))out='fail: not descending '+d.join(',');
 if(out==='pass'&&!th.classList.contains('desc'))out='fail: header state';
 var bad=Array.prototype.filter.call(document.images,function(im){return !(im.complete&&im.naturalWidth>0);});
 if(out==='pass'&&bad.length)out='fail: broken image '+bad[0].getAttribute('src');
 out+=' rows='+a.length+' images='+document.images.length;}catch(e){out='fail: '+e;}
 document.documentElement.setAttribute('data-selftest',out);}
if(location.hash==='#selftest'){window.addEventListener('load',selftest);}
})();"""


def _e(s: Any) -> str:
    return html.escape(str(s), quote=True)


def render_html(results: dict[str, Any]) -> str:
    """index.html: sortable tables (click a header), reported vs reproduced badges, CIs, plots, sample links."""
    s = results["suite"]
    specs = list(results.get("metric_order") or results["metrics"])
    plots = results.get("plots") or {}
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{_e(s['title'])}</title>", f"<style>{_CSS}</style></head><body>",
           f"<h1>{_e(s['title'])}</h1>",
           f"<p>Suite <code>{_e(s['name'])}</code> v{_e(s['version'])} · main score <code>{_e(s['main_score'])}</code>"
           + (f" · baseline <code>{_e(s.get('baseline'))}</code>" if s.get("baseline") else "")
           + f" · content <code>{_e(results['content_sha256'][:16])}</code></p>",
           '<p><span class="badge b-run">reproduced</span> run by bfrbench with full provenance (results.json); '
           '<span class="badge b-rep">reported</span> quoted from a paper, not re-run. Values: mean with bootstrap '
           '95% CI; '
           + ("* / ** significant difference from the baseline (paired). " if s.get("baseline") else "")
           + 'Click a column header to sort.</p>']
    for ts in sorted({r["testset"] for r in results["rows"]}):
        rows = [r for r in results["rows"] if r["testset"] == ts]
        cols = [sp for sp in specs if any(sp in r["values"] for r in rows)]
        out.append(f"<h2>{_e(ts)}</h2>")
        out.append(f'<table class="lb" id="t-{_e(ts)}"><thead><tr><th class="num">rank</th><th>kind</th><th>method</th>')
        for c in cols:
            arrow = "↑" if results["metrics"][c]["higher_is_better"] else "↓"
            out.append(f'<th class="num" title="{_e(results["metrics"][c]["label"])}">{_e(c)} {arrow}</th>')
        out.append("<th>source</th></tr></thead><tbody>")
        for r in rows:
            rep = r["kind"] == "reported"
            out.append(f'<tr class="{"rep" if rep else "run"}"><td data-v="{r.get("rank") or ""}">{r.get("rank") or "–"}</td>')
            out.append(f'<td class="t" data-v="{r["kind"]}"><span class="badge {"b-rep" if rep else "b-run"}">'
                       f'{"reported" if rep else "reproduced"}</span></td>')
            sample = ((plots.get(ts) or {}).get("samples") or {}).get(r["method"]) if not rep else None
            link = f' <a href="{_e(sample)}"><small>samples</small></a>' if sample else ""
            out.append(f'<td class="t" data-v="{_e(r["method"])}">{_e(r["method"])}{link}</td>')
            for c in cols:
                v = r["values"].get(c) or {}
                mean = v.get("mean")
                mark = ((r.get("vs_baseline") or {}).get("metrics", {}).get(c) or {}).get("mark", "")
                ci = v.get("ci95")
                ci_s = f'<br><span class="ci">[{fmt(ci[0])}, {fmt(ci[1])}]</span>' if ci else ""
                out.append(f'<td data-v="{"" if mean is None else repr(float(mean))}">{fmt(mean)}{_e(mark)}{ci_s}</td>')
            src = _e(_cite(r["citation"])) if rep else f'<small>{_e(r["provenance"]["restored_sha256"][:12])}</small>'
            out.append(f'<td class="t" data-v="">{src}</td></tr>')
        out.append("</tbody></table>")
        pl = plots.get(ts) or {}
        figs = [(k, pl[k]) for k in ("perception_distortion", "severity") if pl.get(k)]
        if figs:
            out.append('<div class="plots">')
            for k, path in figs:
                out.append(f'<figure><img src="{_e(path)}" alt="{_e(k)} {_e(ts)}"><figcaption>{_e(k.replace("_", "-"))}'
                           f"</figcaption></figure>")
            out.append("</div>")
    gen = results.get("generated") or {}
    out.append(f"<p><small>generated {_e(gen.get('date', ''))} by bfrbench {_e(gen.get('bfrbench', ''))}</small></p>")
    out.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(out) + "\n"


def _make_plots(suite: Suite, results: dict[str, Any], entries: list[Entry], out_dir: Path) -> dict[str, Any]:
    plots: dict[str, Any] = {}
    specs = list(results.get("metric_order") or results["metrics"])
    per_image_specs = [sp for sp in specs if not results["metrics"][sp]["set_level"]]
    main = suite.main_score if suite.main_score in per_image_specs else (per_image_specs[0] if per_image_specs else None)
    for ts in sorted({r["testset"] for r in results["rows"]}):
        rows = [r for r in results["rows"] if r["testset"] == ts]
        pl: dict[str, Any] = {}
        axes = P.pick_pd_axes([sp for sp in specs if any(sp in r["values"] for r in rows)], suite.plots.get("perception_distortion"))
        if axes and P.perception_distortion_plot(rows, axes[0], axes[1], out_dir / "plots" / f"pd-{ts}.png", title=ts):
            pl["perception_distortion"] = f"plots/pd-{ts}.png"
        bd = results["breakdowns"].get(ts)
        if bd and main and P.severity_plot(bd, main, out_dir / "plots" / f"severity-{ts}.png", title=f"{ts}: {main}"):
            pl["severity"] = f"plots/severity-{ts}.png"
        k = int(suite.plots.get("samples") or 0)
        for e in sorted((e for e in entries if e.testset == ts), key=lambda e: e.method):
            ids = sorted((results.get("per_image", {}).get(ts) or {}).get("ids", []))[:k] or \
                sorted(p.stem for p in (e.testset_dir / "lq").glob("*.png"))[:k]
            rel = f"plots/samples-{ts}-{e.method}.png"
            if P.sample_grid(e.testset_dir, e.run_dir, ids, out_dir / rel, label=e.method):
                pl.setdefault("samples", {})[e.method] = rel
        if pl:
            plots[ts] = pl
    return plots


def render_suite(suite: str | os.PathLike[str] | Suite, *, work_dir: str | os.PathLike[str] | None = None,
                 out_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Write results.json/.csv, README.md, index.html and plots/ for a suite; returns the results dict.

    Args:
        suite: name, folder or loaded :class:`Suite`.
        work_dir: where ``run_suite`` left its index (default ``<suite>/_work``).
        out_dir: where to write (default the suite folder).
    """
    from bfrbench import __version__
    from bfrbench.leaderboard.results import content_hash
    from bfrbench.provenance import git_revision

    s = suite if isinstance(suite, Suite) else load_suite(suite)
    out = Path(out_dir) if out_dir else s.path
    work = Path(work_dir) if work_dir else s.path / "_work"
    entries, index = load_index(work)
    if not entries and not s.reported:
        raise ArtifactError(f"{work / 'index.json'}: missing; run `bfrbench leaderboard run {s.name}` first")
    results = build_results(s, entries, out_dir=out)
    results["plots"] = _make_plots(s, results, entries, out)
    results["content_sha256"] = content_hash(results)
    old_path = out / "results.json"
    old = read_json_file(old_path) if old_path.is_file() else {}
    if old.get("content_sha256") == results["content_sha256"] and "generated" in old:
        results["generated"] = old["generated"]
    else:
        import datetime as dt
        import sys

        results["generated"] = {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "bfrbench": __version__,
            "git": git_revision(), "command": list(sys.argv), "timings": index.get("timings", {}),
        }
    atomic_write_json(out / "results.json", results)
    atomic_write_text(out / "results.csv", render_csv(results))
    atomic_write_text(out / "README.md", render_markdown(results))
    atomic_write_text(out / "index.html", render_html(results))
    return results
