"""Reader-study results as files: results.json, table.md and confusion.png (one panel per reader and
the pooled reads; rows truth, columns answer)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from ..eval.plots import confusion_figure, save_png


def _iv(d: dict | None, digits: int = 2) -> str:
    if not d or d.get("estimate") is None:
        return "n/a"
    lo, hi = d.get("low"), d.get("high")
    if lo is None or hi is None:
        return f"{d['estimate']:.{digits}f}"
    frac = f" ({d['k']}/{d['n']})" if "k" in d else ""
    return f"{d['estimate']:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]{frac}"


def _p(p: float | None) -> str:
    if p is None:
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _k(k: float | None) -> str:
    return "n/a" if k is None else f"{k:.3f}"


def _cm(c: dict) -> str:
    """Two table cells: the truth-real row and the truth-generated row (answered real / generated)."""
    return (f"{c['truth_real']['answer_real']} / {c['truth_real']['answer_generated']} | "
            f"{c['truth_generated']['answer_real']} / {c['truth_generated']['answer_generated']}")


def table_markdown(r: dict) -> str:
    c = r["cases"]
    lines = [f"# Reader study, pack {r['pack_id']}", "",
             f"{c['n']} cases ({c['real']} real, {c['generated']} generated), {len(r['readers'])} reader(s). "
             "Intervals: Wilson 95% (AUC: bootstrap, 1,000 resamples). Positive class: generated.", "",
             "## Real or generated?", "",
             "| reader | answered | accuracy [95% CI] | p vs 50% | sensitivity (generated) | specificity (real) "
             "| real cases: answered real / gen. | generated cases: answered real / gen. | graded AUC |",
             "|---|---|---|---|---|---|---|---|---|"]
    rows = [(x["reader"], x["answered"], x["source"]) for x in r["readers"]]
    rows.append(("pooled reads", r["pooled"]["reads"], r["pooled"]["source"]))
    for name, n, s in rows:
        lines.append(f"| {name} | {n} | {_iv(s['accuracy'])} | {_p(s['p_vs_chance'])} | {_iv(s['sensitivity'])} | "
                     f"{_iv(s['specificity'])} | {_cm(s['confusion'])} | {_iv(s.get('graded_auc'))} |")
    ag = r["agreement"].get("source")
    if ag:
        lines += ["", _agreement_text(ag, "real-or-generated answers")]
    if r.get("disease"):
        lines += _disease_markdown(r)
    return "\n".join(lines) + "\n"


def _agreement_text(ag: dict, what: str) -> str:
    pairs = ", ".join(f"{p['readers'][0]}-{p['readers'][1]} {_k(p['cohen_kappa'])} (n={p['n']})"
                      for p in ag["cohen_pairs"])
    return (f"Agreement on {what}: Fleiss' kappa {_k(ag['fleiss_kappa'])} over {ag['fleiss_n_cases']} cases "
            f"answered by all {ag['n_readers']} readers; Cohen's kappa per pair: {pairs}.")


def _disease_markdown(r: dict) -> list[str]:
    d = r["disease"]
    lines = ["", f"## {d} present? Readers and the model on the same cases", "",
             "| reader | cases | reader accuracy [95% CI] | sensitivity | specificity | model accuracy (same cases) "
             "| McNemar p (b / c) |", "|---|---|---|---|---|---|---|"]
    for x in r["readers"]:
        for sub in ("all", "real", "generated"):
            b = x["disease"].get(sub)
            if not b:
                continue
            vm = b.get("vs_model")
            model = _iv(vm["model_accuracy"]) if vm else "n/a"
            mc = f"{_p(vm['mcnemar']['p'])} ({vm['mcnemar']['b']} / {vm['mcnemar']['c']})" if vm else "n/a"
            lines.append(f"| {x['reader']} | {sub} ({b['reader']['n']}) | {_iv(b['reader']['accuracy'])} | "
                         f"{_iv(b['reader']['sensitivity'])} | {_iv(b['reader']['specificity'])} | {model} | {mc} |")
    for sub in ("all", "real", "generated"):
        b = r["pooled"]["disease"].get(sub)
        if b:
            lines.append(f"| pooled reads | {sub} ({b['n']}) | {_iv(b['accuracy'])} | {_iv(b['sensitivity'])} | "
                         f"{_iv(b['specificity'])} | | |")
    m = r.get("model")
    if m:
        lines += ["", "| model (from the ECG) | cases | accuracy | sensitivity | specificity |", "|---|---|---|---|---|"]
        for sub in ("all", "real", "generated"):
            if m.get(sub):
                lines.append(f"| model | {sub} ({m[sub]['n']}) | {_iv(m[sub]['accuracy'])} | "
                             f"{_iv(m[sub]['sensitivity'])} | {_iv(m[sub]['specificity'])} |")
        if m["cases_without_prediction"]:
            lines.append(f"\n{m['cases_without_prediction']} case(s) have no model prediction.")
    else:
        lines.append("\nNo model predictions in the key (give `reader-study make --predictions`).")
    lines.append("\nMcNemar: b = cases only the reader got right, c = only the model; exact two-sided test.")
    ag = r["agreement"].get("disease")
    if ag:
        lines += ["", _agreement_text(ag, f"{d} answers")]
    return lines


def confusion_png(r: dict, path: Path) -> Path:
    mats = {}
    for name, s in [(x["reader"], x["source"]) for x in r["readers"]] + [("pooled reads", r["pooled"]["source"])]:
        c = s["confusion"]
        mats[name] = np.array([[c["truth_real"]["answer_real"], c["truth_real"]["answer_generated"]],
                               [c["truth_generated"]["answer_real"], c["truth_generated"]["answer_generated"]]])
    fig = confusion_figure(mats, ["real", "generated"])
    for ax in fig.axes[:len(mats)]:
        ax.set_xlabel("answer")
    return save_png(fig, path)


def write_results(r: dict, out: str | Path, plot: bool = True) -> dict[str, Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"results": out / "results.json", "table": out / "table.md"}
    paths["results"].write_text(json.dumps(r, indent=1))
    paths["table"].write_text(table_markdown(r))
    if plot:
        paths["confusion"] = confusion_png(r, out / "confusion.png")
    return paths
