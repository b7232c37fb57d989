"""The reproducible report: predictions in, one self-contained HTML page + results.json + PNGs out.

    from cardionets.eval.report import build_report
    files = build_report(results, "runs/report")      # results: cardionets.eval.results.Results

Writes into ``out_dir``:
  report.html       every table and figure, figures embedded as base64 PNG data URIs, inline CSS,
                    no JavaScript, nothing loaded from elsewhere (opens from disk, can be mailed)
  results.json      every number (compute_statistics), strict JSON (NaN -> null)
  predictions.npz   the Results themselves (Results.load rebuilds the report without re-running)
  figures/*.png     the figures
Sections whose data are absent say "not run".
"""
from __future__ import annotations

import base64
import html
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .. import __version__
from . import plots
from .report_template import PAGE
from .results import Results
from .statistics import SECTIONS, compute_statistics
from sklearn.calibration import calibration_curve
from sklearn.metrics import roc_curve
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from threadpoolctl import threadpool_limits

__all__ = ["build_report", "ReportFiles"]

MAX_SCATTER_PHENOTYPES = 8


@dataclass
class ReportFiles:
    html: Path
    json: Path
    predictions: Path
    figures: list[Path] = field(default_factory=list)
    statistics: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- formatting helpers
def _e(x) -> str:
    return html.escape(str(x))


def _iv(d: dict | None, digits: int = 3, wrap: bool = False) -> str:
    """0.838 (0.795&ndash;0.885); with a negative bound (R²) the bounds are comma-separated so a
    minus sign never follows the dash; ``wrap`` puts the interval on its own line (wide tables)."""
    if not d or d.get("estimate") is None:
        return "n/a"
    if d.get("low") is None or d.get("high") is None:
        return f"{d['estimate']:.{digits}f}"
    sep = ", " if min(d["low"], d["high"]) < 0 else "&ndash;"
    ci = f"({d['low']:.{digits}f}{sep}{d['high']:.{digits}f})"
    return f"{d['estimate']:.{digits}f}<br><small>{ci}</small>" if wrap else f"{d['estimate']:.{digits}f} {ci}"


def _num(x, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _p(p) -> str:
    if p is None:
        return "&ndash;"
    s = "&lt;0.001" if p < 0.001 else f"{p:.3f}"
    return f'<span class="sig">{s}</span>' if p < 0.05 else s


def _table(header: list[str], rows: list[tuple[str, list[str], bool]]) -> str:
    """rows: (first cell, other cells (HTML), is_reference_row)."""
    th = "".join(f"<th{' class=name' if i == 0 else ''}>{h}</th>" for i, h in enumerate(header))
    body = "".join(f"<tr{' class=ref' if ref else ''}><td class=name>{_e(n)}</td>"
                   + "".join(f"<td>{c}</td>" for c in cells) + "</tr>" for n, cells, ref in rows)
    return f'<div class="scroll"><table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table></div>'


def _not_run(what: str) -> str:
    return f'<p class="notrun">Not run: {_e(what)}</p>'


class _Figures:
    def __init__(self, out_dir: Path):
        self.dir = out_dir / "figures"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.paths: list[Path] = []

    def add(self, fig, name: str, caption: str) -> str:
        path = plots.save_png(fig, self.dir / f"{name}.png")
        self.paths.append(path)
        return self.embed(path, caption)

    @staticmethod
    def embed(path: Path, caption: str) -> str:
        mime = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif"}.get(
            path.suffix.lower(), "image/png")
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return (f'<figure><img alt="{_e(caption)}" src="data:{mime};base64,{data}">'
                f"<figcaption>{_e(caption)}</figcaption></figure>")


# ----------------------------------------------------------------------------- sections
def _summary(st: dict, res: Results) -> str:
    ref = res.reference
    tasks = list(st["screening"])
    models = res.ordered(set().union(*[st["screening"][t].keys() for t in tasks], st["phenotypes"].keys()))
    header = ["Model"]
    for t in tasks:
        header += [f"{_e(t)} AUC (95% CI)", "p"]
    if st["phenotypes"]:
        header += ["mean R² (95% CI)", "p"]
    rows = []
    for m in models:
        cells = []
        for t in tasks:
            r = st["screening"][t].get(m)
            if r is None:
                cells += ["&ndash;", "&ndash;"]
                continue
            cells.append(_iv(r["auc"]))
            d = (r.get("vs_reference") or {}).get("delong")
            cells.append("ref" if m == ref else _p(d["p_value"] if d else None))
        if st["phenotypes"]:
            r = st["phenotypes"].get(m)
            if r is None:
                cells += ["&ndash;", "&ndash;"]
            else:
                avg = r["average"]
                ci = avg.get("r2_ci") or {}
                cells.append(_iv({"estimate": avg["r2"], "low": ci.get("low"), "high": ci.get("high")}))
                pr = (r.get("vs_reference") or {}).get("permutation_mean_r2")
                cells.append("ref" if m == ref else _p(pr["p_value"] if pr else None))
        rows.append((m, cells, m == ref))
    note = (f'<p class="note">AUC: bootstrap percentile 95% CI ({st["settings"]["n_bootstrap"]} stratified '
            f"resamples); p: two-sided DeLong test against <b>{_e(ref)}</b> on the same test cases. Mean R²: "
            f"unweighted mean over phenotypes, joint bootstrap CI; p: paired permutation test "
            f'({st["settings"]["n_permutations"]} permutations) against {_e(ref)}. Bold: p &lt; 0.05.</p>')
    return _table(header, rows) + note


def _screening(st: dict, res: Results) -> str:
    out = []
    for t, block in st["screening"].items():
        header = ["Model", "n (pos)", "AUC (95% CI)", "AP", "threshold", "Sensitivity", "Specificity", "PPV",
                  "NPV", "Accuracy", "F1", "Balanced acc.", "p DeLong /<br>bal. acc. / AP"]
        rows = []
        for m, r in block.items():
            vs = r.get("vs_reference") or {}
            rows.append((m, [
                f"{r['n']} ({r['n_positive']})", _iv(r["auc"], wrap=True), _num(r["average_precision"]),
                _num(r["threshold"]["value"])] + [_iv(r[k], wrap=True) for k in (
                    "sensitivity", "specificity", "ppv", "npv", "accuracy", "f1", "balanced_accuracy")] + [
                "ref" if m == res.reference else " / ".join(_p((vs.get(k) or {}).get("p_value")) for k in (
                    "delong", "permutation_balanced_accuracy", "permutation_average_precision")),
            ], m == res.reference))
        rules = sorted({r["threshold"]["rule"] for r in block.values()})
        out.append(f"<h3>{_e(t)}</h3>" + _table(header, rows)
                   + f'<p class="note">Threshold: {_e("; ".join(rules))}. Sensitivity, specificity, PPV, NPV, '
                     f"accuracy: Wilson 95% intervals; F1 and balanced accuracy: bootstrap intervals.</p>")
    return "".join(out)


def _roc_and_calibration(st: dict, res: Results, figs: _Figures, colors) -> tuple[str, str]:
    roc, cal, cal_notes = {}, {}, []
    for t, d in res.screening.items():
        roc[t], cal[t] = {}, {}
        for m in res.ordered(d):
            p = d[m]
            if not 0 < p.y_true.sum() < p.y_true.size:
                continue
            fpr, tpr, _ = roc_curve(p.y_true, p.y_score)
            roc[t][m] = (fpr, tpr, st["screening"][t][m]["auc"]["estimate"])
            if p.y_score.min() < 0 or p.y_score.max() > 1:
                cal_notes.append(f"{t}/{m}: scores are not probabilities in [0, 1]; no calibration curve")
                continue
            prob_true, prob_pred = calibration_curve(p.y_true, p.y_score, n_bins=10, strategy="quantile")
            cal[t][m] = (prob_pred, prob_true)
    roc_html = figs.add(plots.roc_figure(roc, colors), "roc", "ROC curves on the test split, AUC in the legend.")
    cal_html = figs.add(plots.calibration_figure(cal, colors), "calibration",
                        "Calibration: observed fraction of positives against mean predicted probability, "
                        "10 quantile bins. CardioNets' screening heads are trained with positive-class "
                        "weights (negatives / positives), which lifts scores above the observed prevalence: "
                        "AUC and the validation threshold are unaffected, the scores are not risks.")
    if cal_notes:
        cal_html += '<p class="note">' + "<br>".join(_e(n) for n in cal_notes) + "</p>"
    return roc_html, cal_html


def _ratios(st: dict, res: Results, figs: _Figures, colors) -> str:
    out, series = [], {}
    for t, rr in st["ratios"].items():
        ratios = list(rr)
        models = res.ordered(set().union(*[d.keys() for d in rr.values()]))
        header = ["Model"]
        for r in ratios:
            header += [f"1:{r} AUC (95% CI)", "p"]
        rows = []
        for m in models:
            cells = []
            for r in ratios:
                x = rr[r].get(m)
                cells.append(_iv(x["auc"]) if x else "&ndash;")
                cells.append("ref" if m == res.reference else
                             _p((x or {}).get("delong_vs_reference", {}).get("p_value")))
            rows.append((m, cells, m == res.reference))
        out.append(f"<h3>{_e(t)}</h3>" + _table(header, rows))
        series[t] = {m: [(int(r), rr[r][m]["auc"]["estimate"], rr[r][m]["auc"]["low"], rr[r][m]["auc"]["high"])
                         for r in ratios if m in rr[r] and rr[r][m]["auc"]["estimate"] is not None] for m in models}
    out.append(figs.add(plots.ratio_figure(series, colors), "ratios",
                        "Test AUC (95% CI) when training with 1, 2, 5 or 10 negatives per positive."))
    return "".join(out)


def _label_efficiency(st: dict, res: Results, figs: _Figures, colors) -> str:
    out, series, ylabels = [], {}, {}
    for t, block in st["label_efficiency"].items():
        pts = block["points"]
        fracs = sorted({p["fraction"] for v in pts.values() for p in v})
        header = ["Model"] + [f"{100 * f:.0f}%" for f in fracs]
        rows = []
        for m, v in pts.items():
            by = {p["fraction"]: p for p in v}
            rows.append((m, [_iv(by.get(f)) if f in by else "&ndash;" for f in fracs], m == res.reference))
        out.append(f"<h3>{_e(t)} ({_e(block['metric'])})</h3>" + _table(header, rows))
        series[t] = {m: [(p["fraction"], p["estimate"], p["low"], p["high"]) for p in v] for m, v in pts.items()}
        ylabels[t] = block["metric"] or ""
    out.append(figs.add(plots.label_efficiency_figure(series, ylabels, colors), "label_efficiency",
                        "Label efficiency: test metric (95% CI) against the fraction of training labels used."))
    return "".join(out)


def _phenotypes(st: dict, res: Results, figs: _Figures, colors) -> str:
    ph = st["phenotypes"]
    models = list(ph)
    names = ph[models[0]]["names"]
    def r2_cell(x: dict | None) -> str:
        """x: a per-phenotype entry (r2, r2_ci) or the average (r2, r2_ci)."""
        if x is None:
            return "&ndash;"
        ci = x.get("r2_ci") or {}
        return _iv({"estimate": x["r2"], "low": ci.get("low"), "high": ci.get("high")})

    header = ["Phenotype"] + [f"{_e(m)} R² (95% CI)" for m in models]
    rows = [(nm, [r2_cell(ph[m]["per_phenotype"].get(nm)) for m in models], False) for nm in names]
    rows.append(("mean", [r2_cell(ph[m]["average"]) for m in models], True))
    html_ = _table(header, rows)
    header2 = ["Phenotype"] + [f"{_e(m)} r / MAE / RMSE" for m in models]
    rows2 = []
    for nm in names:
        cells = []
        for m in models:
            x = ph[m]["per_phenotype"].get(nm)
            cells.append("&ndash;" if x is None else
                         f"{_num(x['pearson_r'])} / {_num(x['mae'], 2)} / {_num(x['rmse'], 2)}")
        rows2.append((nm, cells, False))
    html_ += _table(header2, rows2)
    others = [m for m in models if "vs_reference" in ph[m]]
    if others:
        header3 = ["Phenotype"] + [f"d ({_e(m)} vs {_e(res.reference)})" for m in others]
        rows3 = [(nm, [_num(ph[m]["vs_reference"].get("cohens_d_abs_error", {}).get(nm), 2) for m in others], False)
                 for nm in names]
        html_ += _table(header3, rows3) + (
            '<p class="note">Paired Cohen\'s d of per-subject absolute errors (model minus reference); '
            "positive: the model errs more than the reference.</p>")
    shown = names[:MAX_SCATTER_PHENOTYPES]
    panels = {m: {nm: (res.phenotypes[m].y_true[:, j], res.phenotypes[m].y_pred[:, j],
                       ph[m]["per_phenotype"][nm]["r2"]) for j, nm in enumerate(res.phenotypes[m].names) if nm in shown}
              for m in models}
    cap = "Predicted against true phenotype values on the test split (dashed: identity)."
    if len(names) > len(shown):
        cap += f" First {len(shown)} of {len(names)} phenotypes shown."
    html_ += figs.add(plots.scatter_figure(panels, colors), "phenotype_scatter", cap)
    return html_


def _subtypes(st: dict, res: Results, figs: _Figures) -> str:
    sub = st["subtypes"]
    classes = res.subtype_classes
    header = (["Model", "Accuracy (Wilson 95% CI)", "Balanced acc.", "macro AUC", "mAP"]
              + [f"{_e(c)} AUC (95% CI)" for c in classes] + ["p bal. acc.", "p mAP"])
    rows = []
    for m, r in sub.items():
        vs = r.get("vs_reference") or {}
        pvals = [("ref" if m == res.reference else _p((vs.get(k) or {}).get("p_value")))
                 for k in ("permutation_balanced_accuracy", "permutation_mAP")]
        rows.append((m, [_iv(r["accuracy"]), _num(r["balanced_accuracy"]), _num(r["macro_auc"]), _num(r["mAP"])]
                     + [_iv(r["per_class"][c]["auc"]) for c in r["classes"]] + pvals, m == res.reference))
    html_ = _table(header, rows) + '<p class="note">Predicted subtype: argmax of the class scores. AUC and AP ' \
        "one-vs-rest. p: paired permutation tests against the reference.</p>"
    html_ += figs.add(plots.confusion_figure({m: np.array(r["confusion_matrix"]) for m, r in sub.items()}, classes),
                      "subtype_confusion", "Confusion matrices (rows: true subtype; counts and row fractions).")
    return html_


def _kfold(st: dict, res: Results) -> str:
    out = []
    for t, block in st["kfold"].items():
        header = ["Model", "k", "AUC per fold", "mean ± SD", "pooled (95% CI)"]
        rows = [(m, [str(r["k"]), ", ".join(f"{v:.3f}" for v in r["per_fold"]),
                     f"{r['mean']:.3f} ± {r['std']:.3f}", _iv(r["pooled_ci"])], m == res.reference)
                for m, r in block.items()]
        out.append(f"<h3>{_e(t)}</h3>" + _table(header, rows))
    note = "Pooled: AUC of all held-out predictions concatenated over folds (bootstrap 95% CI)."
    if res.meta.get("kfold_note"):
        note += " " + str(res.meta["kfold_note"])
    out.append(f'<p class="note">{_e(note)}</p>')
    return "".join(out)


def _similarity(st: dict, res: Results, figs: _Figures) -> str:
    maps = {m: (res.similarity[m].similarity, res.similarity[m].frames) for m in res.ordered(res.similarity)}
    html_ = figs.add(plots.similarity_figure(maps), "similarity",
                     "Cosine similarity between each subject's ECG embedding and each CMR patch token "
                     "(6×6 grid over the 96×96 frame); rows: models; shared colour scale.")
    rows = [(m, [str(s["n"]), _num(s["mean"]), _num(s["std_over_patches_of_mean_map"])], m == res.reference)
            for m, s in st["similarity"].items()]
    return html_ + _table(["Model", "subjects", "mean similarity", "SD over patches of the mean map"], rows)


def _tsne(res: Results, figs: _Figures, seed: int, tsne_max: int) -> str:
    pts = {}
    rng = np.random.default_rng(seed)
    for m in res.ordered(res.embeddings):
        e = res.embeddings[m]
        keep = np.sort(rng.choice(e.z.shape[0], tsne_max, replace=False)) if e.z.shape[0] > tsne_max \
            else np.arange(e.z.shape[0])
        z = e.z[keep]
        if z.shape[0] < 4:                                    # t-SNE needs perplexity (>= 2) < n points
            continue
        if z.shape[1] > 50 and z.shape[0] > 50:
            z = PCA(50, random_state=seed).fit_transform(z)   # the usual PCA-50 before t-SNE
        perplexity = float(min(30.0, max(2.0, (z.shape[0] - 1) / 3.0)))
        # One thread: Barnes-Hut t-SNE's OpenMP threads spin badly on a shared, loaded CPU
        # (measured 28 s vs 1.7 s for 200 points here); 500 iterations suffice for a picture.
        with threadpool_limits(1):
            xy = TSNE(2, perplexity=perplexity, init="pca", max_iter=500, random_state=seed).fit_transform(z)
        pts[m] = (xy, e.labels[keep], e.label_names)
    if not pts:
        return _not_run("fewer than 4 test subjects with embeddings")
    n = max(len(v[1]) for v in pts.values())
    return figs.add(plots.tsne_figure(pts), "tsne",
                    f"t-SNE of test-set ECG embeddings (up to {n} subjects per model, PCA-50 first), "
                    "coloured by label.")


def _generation(st: dict, res: Results, figs: _Figures) -> str:
    g = res.generation
    out = []
    gm = st["generation"].get("metrics", {})
    if gm:
        out.append(_table(["Metric", "mean ± SD", "n"],
                          [(k, [f"{v['mean']:.4g} ± {v['std']:.3g}", str(v["n"])], False) for k, v in gm.items()]))
    for i, s in enumerate(g.strips):
        p = Path(s)
        cap = g.captions[i] if i < len(g.captions) else p.stem
        if not p.is_file():
            out.append(f'<p class="note">Missing strip image: {_e(p)}</p>')
            continue
        dst = figs.dir / f"cine_strip_{i:02d}{p.suffix.lower()}"
        if p.resolve() != dst.resolve():
            shutil.copyfile(p, dst)
        figs.paths.append(dst)
        out.append(figs.embed(dst, f"Generated vs real cine: {cap}"))
    if not g.strips:
        out.append('<p class="note">No cine strips were given.</p>')
    return "".join(out)


# ----------------------------------------------------------------------------- entry point
def build_report(results: Results | dict, out_dir: str | Path, *, n_boot: int = 1000, n_perm: int = 10000, seed: int = 0,
                 title: str = "CardioNets evaluation report", tsne_max: int = 600,
                 progress: Callable[[str], None] | None = None) -> ReportFiles:
    """Compute every statistic from the predictions in ``results`` (a Results, or the same structure
    as plain dicts, see Results.from_dict) and write the report to ``out_dir``."""
    if isinstance(results, dict):
        results = Results.from_dict(results)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda s: None)
    t0 = time.time()
    st = compute_statistics(results, n_boot=n_boot, n_perm=n_perm, seed=seed, progress=say)
    figs = _Figures(out)
    colors = plots.model_colors(results.models + sorted(
        {m for d in results.screening.values() for m in d} - set(results.models)))
    body: dict[str, str] = {}
    ok = {k: v == "ok" for k, v in st["sections"].items()}
    say("figures")
    if ok["summary"]:
        body["summary"] = _summary(st, results)
    if ok["screening"]:
        body["screening"] = _screening(st, results)
        body["roc"], body["calibration"] = _roc_and_calibration(st, results, figs, colors)
    if ok["ratios"]:
        body["ratios"] = _ratios(st, results, figs, colors)
    if ok["label_efficiency"]:
        body["label_efficiency"] = _label_efficiency(st, results, figs, colors)
    if ok["phenotypes"]:
        body["phenotypes"] = _phenotypes(st, results, figs, colors)
    if ok["subtypes"]:
        body["subtypes"] = _subtypes(st, results, figs)
    if ok["kfold"]:
        body["kfold"] = _kfold(st, results)
    if ok["similarity"]:
        body["similarity"] = _similarity(st, results, figs)
    if ok["embeddings"]:
        say("t-SNE")
        body["embeddings"] = _tsne(results, figs, seed, tsne_max)
    if ok["generation"]:
        body["generation"] = _generation(st, results, figs)

    why = {"summary": "no screening or phenotype predictions", "screening": "no screening predictions",
           "roc": "no screening predictions", "calibration": "no screening predictions",
           "ratios": "no negative:positive ratio experiments", "label_efficiency": "no label-efficiency runs",
           "phenotypes": "no phenotype predictions", "subtypes": "no cardiomyopathy-subtype predictions",
           "kfold": "no k-fold runs", "similarity": "no ECG-CMR similarity maps",
           "embeddings": "no embeddings", "generation": "no generator checkpoint / generated cines"}
    why.update({k: str(v) for k, v in results.meta.get("why_not_run", {}).items() if k in why})  # from the runner
    sections, toc = [], []
    for key, heading in SECTIONS:
        toc.append(f'<li><a href="#{key}">{_e(heading)}</a>{"" if ok[key] else " (not run)"}</li>')
        sections.append(f'<section id="{key}"><h2>{_e(heading)}</h2>'
                        + (body.get(key, "") if ok[key] else _not_run(why[key])) + "</section>")
    sections.append(
        '<section id="methods"><h2>Methods</h2><p class="note">'
        f"Binary threshold: Youden's J on the validation split, applied unchanged to test (0.5 when no "
        f"validation predictions were given). AUC CIs: {n_boot} stratified bootstrap resamples, percentile. "
        "Proportions: Wilson score intervals. Comparisons with the reference model on the same test cases: "
        f"DeLong test (AUC), paired permutation tests with {n_perm} permutations (balanced accuracy, AP/mAP, "
        "mean R²), paired Cohen's d (absolute phenotype errors). Definitions and references: "
        "<code>docs/evaluation.md</code>.</p></section>")
    meta = results.meta
    subtitle = " · ".join(f"{_e(k)}: {_e(v)}" for k, v in meta.items() if isinstance(v, (str, int, float))) \
        or "evaluation of predictions"
    page = PAGE.substitute(
        title=_e(title), subtitle=subtitle, toc="\n".join(toc), body="\n".join(sections),
        generated=_e(f"cardionets {__version__} · seed {seed} · {n_boot} bootstrap resamples · "
                     f"{n_perm} permutations · built in {time.time() - t0:.1f} s"))
    html_path = out / "report.html"
    html_path.write_text(page, encoding="utf-8")
    json_path = out / "results.json"
    json_path.write_text(json.dumps(st, indent=1, allow_nan=False), encoding="utf-8")
    pred_path = results.save(out / "predictions.npz")
    return ReportFiles(html_path, json_path, pred_path, figs.paths, st)
