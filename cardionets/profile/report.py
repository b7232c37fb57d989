"""Write a profile: per-record tables, the summary (JSON), the comparison table (CSV) and plots."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
import pandas as pd

from ..data.ecg_features import PROFILE_FEATURES
from .cine_features import CINE_FEATURES
from .compare import compare_features
from .measure import SetProfile

# the ECG features drawn in the comparison plot (the rest are in the tables)
ECG_PLOT = ("hr_bpm", "rr_irregularity", "pr_ms", "qrs_ms", "qtc_ms", "axis_deg", "r_v1_mv", "s_v1_mv",
            "r_v3_mv", "r_v5_mv", "s_v5_mv", "transition_lead", "sokolow_mv", "cornell_mv", "qrs_ptp_sum_mv",
            "t_ii_mv", "t_v5_mv", "t_qrs_v5", "st_mean_mv", "p_amp_ii_mv", "noise_rel", "wander_rel",
            "premature_fraction", "non_dominant_fraction")


def comparisons(a: SetProfile, b: SetProfile) -> dict[str, pd.DataFrame]:
    out = {}
    if len(a.ecg) and len(b.ecg):
        out["ecg"] = compare_features(a.ecg, b.ecg, PROFILE_FEATURES)
    if len(a.cine) and len(b.cine):
        out["cine"] = compare_features(a.cine, b.cine, CINE_FEATURES)
    return out


def _hist_grid(a: pd.DataFrame, b: pd.DataFrame | None, names, labels, title: str, path: Path,
               table: pd.DataFrame | None) -> Path:
    names = [n for n in names if n in a.columns]
    cols = 6
    rows = int(np.ceil(len(names) / cols))
    fig = Figure(figsize=(2.3 * cols, 1.75 * rows))
    axes = fig.subplots(rows, cols)
    axes = np.atleast_1d(axes).ravel()
    ks = dict(zip(table["feature"], table["ks"])) if table is not None else {}
    for ax, k in zip(axes, names):
        xa = a[k].to_numpy(dtype=float)
        xa = xa[np.isfinite(xa)]
        xb = b[k].to_numpy(dtype=float) if b is not None else np.zeros(0)
        xb = xb[np.isfinite(xb)]
        both = np.r_[xa, xb]
        if len(both) == 0:
            ax.set_axis_off()
            continue
        lo, hi = np.percentile(both, [1, 99])
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        bins = np.linspace(lo, hi, 25)
        for x, color, lab in ((xa, "tab:blue", labels[0]), (xb, "tab:orange", labels[1])):
            if len(x):
                ax.hist(np.clip(x, lo, hi), bins=bins, density=True, alpha=0.5, color=color, label=lab)
                ax.axvline(np.median(x), color=color, lw=1.2)
        t = k if k not in ks or not np.isfinite(ks[k]) else f"{k}  KS {ks[k]:.2f}"
        ax.set_title(t, fontsize=7)
        ax.tick_params(labelsize=6)
        ax.set_yticks([])
    for ax in axes[len(names):]:
        ax.set_axis_off()
    handles, labs = axes[0].get_legend_handles_labels()
    fig.legend(handles, labs, loc="upper right", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(path, dpi=72)
    return path


def _cine_plot(a: SetProfile, b: SetProfile | None, table: pd.DataFrame | None, path: Path) -> Path:
    sets = [s for s in (a, b) if s is not None and len(s.cine)]
    fig = Figure(figsize=(13, 7))
    ax = fig.add_axes([0.05, 0.58, 0.3, 0.35])
    centres = np.linspace(-1, 1, 65)[:-1] + 1 / 64
    for s, color in zip(sets, ("tab:blue", "tab:orange")):
        if s.cine_histogram is not None:
            ax.plot(centres, s.cine_histogram, color=color, label=f"{s.name} ({len(s.cine)})")
    ax.set_title("intensity density (normalised cines, all frames)", fontsize=8)
    ax.legend(fontsize=7)
    ax.tick_params(labelsize=6)
    names = list(CINE_FEATURES)
    ks = dict(zip(table["feature"], table["ks"])) if table is not None else {}
    for i, k in enumerate(names):
        r, c = divmod(i, 6)
        axk = fig.add_axes([0.40 + c * 0.1, 0.72 - r * 0.2, 0.085, 0.14])
        for j, (s, color) in enumerate(zip(sets, ("tab:blue", "tab:orange"))):
            v = s.cine[k].to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            if len(v):
                axk.scatter(np.full(len(v), j) + np.random.default_rng(0).uniform(-0.2, 0.2, len(v)), v,
                            s=4, color=color, alpha=0.6)
        t = k if k not in ks or not np.isfinite(ks[k]) else f"{k}\nKS {ks[k]:.2f}"
        axk.set_title(t, fontsize=6)
        axk.set_xticks([])
        axk.tick_params(labelsize=5)
    fig.suptitle("cine profile" + (f": {a.name} vs {b.name}" if b is not None else f": {a.name}"), fontsize=9)
    fig.savefig(path, dpi=72)
    return path


def write_profile(out: Path, a: SetProfile, b: SetProfile | None) -> dict:
    """Tables, JSON summary and plots under ``out``; returns the summary document."""
    out.mkdir(parents=True, exist_ok=True)
    doc = {"sets": [a.summary()] + ([b.summary()] if b is not None else [])}
    for tag, s in (("a", a), ("b", b)):
        if s is None:
            continue
        if len(s.ecg):
            s.ecg.to_csv(out / f"ecg_features_{tag}.csv", index=False)
        if len(s.cine):
            s.cine.to_csv(out / f"cine_features_{tag}.csv", index=False)
    files = []
    comp = comparisons(a, b) if b is not None else {}
    for kind, table in comp.items():
        table.to_csv(out / f"compare_{kind}.csv", index=False)
        doc[f"compare_{kind}"] = json.loads(table.to_json(orient="records"))
    labels = (a.name, b.name if b is not None else "")
    if len(a.ecg) or (b is not None and len(b.ecg)):
        files.append(_hist_grid(a.ecg, b.ecg if b is not None else None, ECG_PLOT, labels,
                                "ECG profile" + (f": {a.name} vs {b.name}" if b is not None else f": {a.name}"),
                                out / "ecg_profile.png", comp.get("ecg")))
    if len(a.cine) or (b is not None and len(b.cine)):
        files.append(_cine_plot(a, b, comp.get("cine"), out / "cine_profile.png"))
    doc["files"] = [str(p) for p in files]
    (out / "profile.json").write_text(json.dumps(doc, indent=2, default=str))
    return doc
