"""Demo stage "report": the evaluation report of the method stage's predictions
(:func:`cardionets.eval.report.build_report`: bootstrap CIs, DeLong and permutation tests, ROC,
calibration, phenotype scatter, the generated cines) and ``demo.html``, one self-contained page with
the demo's result table, what every stage did, and its figures (images embedded, opens offline)."""
from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np

from ..eval.report import build_report
from ..eval.results import Generation, Results
from .context import DemoContext, StageResult

NOT_IN_DEMO = ("not part of the demo (it compares cardionets with scratch on phenotypes and CM); "
               "`cardionets reproduce` runs it (docs/reproduce.md)")

_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
th{background:#f2f2f2}img{max-width:100%;border:1px solid #ddd}figure{margin:1em 0}
figcaption{font-size:90%;color:#555}.note{color:#555;font-size:92%}code{background:#f5f5f5;padding:0 3px}"""


def _img(path: str | Path, caption: str) -> str:
    p = Path(path)
    if not p.is_file():
        return f'<p class="note">missing figure: {html.escape(str(p))}</p>'
    mime = {".gif": "image/gif", ".jpg": "image/jpeg"}.get(p.suffix.lower(), "image/png")
    data = base64.b64encode(p.read_bytes()).decode("ascii")
    return (f'<figure><img alt="{html.escape(caption)}" src="data:{mime};base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _table_html(md: str) -> str:
    rows = [r.strip().strip("|").split("|") for r in md.strip().splitlines() if not r.startswith("|---")]
    head, body = rows[0], rows[1:]
    return ("<table><tr>" + "".join(f"<th>{html.escape(c.strip())}</th>" for c in head) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{html.escape(c.strip())}</td>" for c in r) + "</tr>" for r in body)
            + "</table>")


def _evaluation(ctx: DemoContext, d: Path) -> Path | None:
    method = ctx.artifacts.get("method")
    if method is None:
        return None
    res = Results(models=["scratch", "cardionets"], reference="cardionets", **method["results"],
                  meta={"cohort": ctx.results["cohort"].metrics["cohort_dir"], "seed": ctx.seed,
                        "model size": "demo (docs/demo.md)",
                        "labelled training subjects": ctx.results["method"].metrics["labelled"],
                        "why_not_run": {k: NOT_IN_DEMO for k in ("ratios", "label_efficiency", "subtypes", "kfold",
                                                                 "similarity", "embeddings")}})
    gen = ctx.results.get("generator")
    if gen is not None and "fac_generated_median" in gen.metrics:
        m = gen.metrics
        res.generation = Generation(
            metrics={"blood-pool area change over the cycle, generated": np.asarray(m["fac_generated"]),
                     "blood-pool area change over the cycle, real": np.asarray(m["fac_real"])},
            strips=[m["gif"], m["strip"], m["area_figure"]],
            captions=["a generated cine (animated)", "real (top) and generated (bottom) cine of one test subject",
                      "blood-pool area per frame, real and generated"])
    else:
        res.meta["why_not_run"]["generation"] = "the demo's generator stage did not run"
    n_boot, n_perm = (200, 200) if ctx.quick else (1000, 2000)
    files = build_report(res, d / "evaluation", n_boot=n_boot, n_perm=n_perm, seed=ctx.seed,
                         title="CardioNets demo: cardionets vs scratch", progress=lambda s: ctx.say(f"      report: {s}"))
    return files.html


def _demo_page(ctx: DemoContext, d: Path, evaluation: Path | None) -> Path:
    r = ctx.results
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>CardioNets demo</title><style>{_CSS}</style>"
             "</head><body><h1>CardioNets demo</h1>",
             "<p>ECG &rarr; what a cardiac MRI would show, end to end on a small synthetic paired cohort and the "
             "real ECG fixtures. What each stage does: docs/demo.md. The paper's full comparison: "
             "<code>cardionets reproduce</code> (docs/reproduce.md).</p>"]
    if "method" in r and r["method"].metrics.get("table"):
        m = r["method"].metrics
        parts.append(f"<h2>cardionets vs scratch (held-out test split, {m['n_test']} subjects)</h2>")
        parts.append(_table_html(m["table"]))
        if "figure" in m:
            parts.append(_img(m["figure"], "test metric per model with its bootstrap 95% CI"))
        parts.append(f"<p class='note'>Both fine-tuned with the same recipe on {m['labelled']} labelled of "
                     f"{m['n_train']} training subjects; cardionets' encoder was first aligned to a CMR encoder "
                     "pretrained on the cines of every training subject. 95% CIs: 1,000 bootstrap resamples.</p>")
    if evaluation is not None:
        parts.append(f"<p>Full statistics, ROC, calibration and phenotype scatter: "
                     f"<a href='{html.escape(str(evaluation.relative_to(d)))}'>evaluation report</a>.</p>")
    parts.append("<h2>Stages</h2><table><tr><th>stage</th><th>what it did</th><th>s</th></tr>")
    for name, res in r.items():
        parts.append(f"<tr><td>{html.escape(name)}</td><td>{html.escape(res.summary)}</td>"
                     f"<td>{res.seconds:.0f}</td></tr>")
    parts.append("</table><h2>Figures</h2>")
    if "real-ecgs" in r and "figure" in r["real-ecgs"].metrics:
        parts.append(_img(r["real-ecgs"].metrics["figure"], "a real ECG fixture as read and as the model sees it"))
    if "generator" in r and "gif" in r["generator"].metrics:
        g = r["generator"].metrics
        parts.append(_img(g["gif"], "a cine generated from a test subject's ECG (animated)"))
        parts.append(_img(g["strip"], "real (top) and generated (bottom) cine, ED (red) and ES (blue) marked"))
        parts.append(_img(g["area_figure"], "blood-pool area per frame: real vs generated"))
    if "cohort" in r:
        for f in r["cohort"].metrics.get("figures", []):
            if Path(f).name.startswith(("real_vs_synthetic", "cines")):
                parts.append(_img(f, f"synthetic cohort: {Path(f).stem.replace('_', ' ')}"))
    parts.append("</body></html>")
    page = d / "demo.html"
    page.write_text("\n".join(parts))
    return page


def stage_report(ctx: DemoContext) -> StageResult:
    d = ctx.stage_dir("report")
    evaluation = _evaluation(ctx, d)
    page = _demo_page(ctx, d, evaluation)
    table = ctx.results["method"].metrics.get("table") if "method" in ctx.results else None
    return StageResult(summary=f"demo page {page}" + (f"; evaluation report {evaluation}" if evaluation else ""),
                       outputs=[str(page)] + ([str(evaluation)] if evaluation else []),
                       metrics={"page": str(page), "evaluation": str(evaluation) if evaluation else None,
                                "table": table})
