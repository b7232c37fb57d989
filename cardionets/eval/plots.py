"""Report figures. Each function returns a matplotlib Figure drawn on the Agg canvas (no pyplot,
no global backend switch, no display needed); :func:`save_png` writes it.

Every model keeps one colour across all figures (``model_colors``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

__all__ = ["model_colors", "save_png", "roc_figure", "calibration_figure", "label_efficiency_figure",
           "scatter_figure", "confusion_figure", "similarity_figure", "tsne_figure", "ratio_figure"]

_PALETTE = ["#7f7f7f", "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
            "#17becf", "#bcbd22"]


def model_colors(models: list[str]) -> dict[str, str]:
    return {m: _PALETTE[i % len(_PALETTE)] for i, m in enumerate(models)}


def _figure(w: float, h: float) -> Figure:
    fig = Figure(figsize=(w, h), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Figure, path: str | Path, dpi: int = 110) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, format="png")
    return path


def _legend(ax, **kw) -> None:
    """A legend when the axes hold labelled artists; otherwise say there was nothing to draw."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kw)
    else:
        ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center", color="0.5")


def _grid(fig: Figure, n: int, ncols: int):
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return axes[:n]


def roc_figure(curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray, float]]], colors: dict[str, str]) -> Figure:
    """curves[task][model] = (fpr, tpr, auc)."""
    tasks = list(curves)
    fig = _figure(4.0 * min(len(tasks), 4), 4.4 * int(np.ceil(len(tasks) / 4)))
    for ax, task in zip(_grid(fig, len(tasks), 4), tasks):
        ax.plot([0, 1], [0, 1], ls=":", c="0.6", lw=1)
        for m, (fpr, tpr, auc) in curves[task].items():
            ax.plot(fpr, tpr, c=colors.get(m), lw=1.6, label=f"{m} ({auc:.3f})")
        ax.set(title=task, xlabel="1 - specificity", ylabel="sensitivity", xlim=(0, 1), ylim=(0, 1.01))
        ax.set_aspect("equal")
        _legend(ax, fontsize=7, loc="lower right", title="AUC", title_fontsize=7)
    return fig


def calibration_figure(curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]], colors: dict[str, str]) -> Figure:
    """curves[task][model] = (mean predicted probability per bin, observed fraction per bin)."""
    tasks = list(curves)
    fig = _figure(4.0 * min(len(tasks), 4), 4.4 * int(np.ceil(len(tasks) / 4)))
    for ax, task in zip(_grid(fig, len(tasks), 4), tasks):
        ax.plot([0, 1], [0, 1], ls=":", c="0.6", lw=1, label="perfect")
        for m, (pred, obs) in curves[task].items():
            ax.plot(pred, obs, marker="o", ms=3, c=colors.get(m), lw=1.3, label=m)
        ax.set(title=task, xlabel="mean predicted probability", ylabel="observed fraction positive",
               xlim=(0, 1), ylim=(0, 1))
        ax.set_aspect("equal")
        _legend(ax, fontsize=7, loc="upper left")
    return fig


def label_efficiency_figure(series: dict[str, dict[str, list[tuple[float, float, float, float]]]],
                            ylabels: dict[str, str], colors: dict[str, str]) -> Figure:
    """series[task][model] = [(fraction, estimate, low, high), ...]."""
    tasks = list(series)
    fig = _figure(4.2 * min(len(tasks), 4), 4.1 * int(np.ceil(len(tasks) / 4)))
    for ax, task in zip(_grid(fig, len(tasks), 4), tasks):
        nm = len(series[task])
        for k, (m, pts) in enumerate(series[task].items()):
            pts = sorted(p for p in pts if p[1] is not None)
            if not pts:
                continue
            f, est, lo, hi = (np.array([p[i] if p[i] is not None else np.nan for p in pts], float) for i in range(4))
            dodge = 1.2 * (k - (nm - 1) / 2)                   # percentage points, keeps CIs apart
            ax.errorbar(100 * f + dodge, est, yerr=[est - lo, hi - est], c=colors.get(m), marker="o", ms=4,
                        capsize=2, lw=1.4, label=m)
        ax.set(title=task, xlabel="% of training labels", ylabel=ylabels.get(task, ""))
        ax.set_xticks([10, 25, 50, 75, 100])
        ax.grid(alpha=0.3)
        _legend(ax, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
    return fig


def ratio_figure(series: dict[str, dict[str, list[tuple[int, float, float, float]]]], colors: dict[str, str]) -> Figure:
    """series[task][model] = [(negatives per positive, auc, low, high), ...]."""
    tasks = list(series)
    fig = _figure(4.2 * min(len(tasks), 4), 4.0 * int(np.ceil(len(tasks) / 4)))
    for ax, task in zip(_grid(fig, len(tasks), 4), tasks):
        ratios = sorted({p[0] for pts in series[task].values() for p in pts})
        xpos = {r: i for i, r in enumerate(ratios)}
        nm = len(series[task])
        for k, (m, pts) in enumerate(series[task].items()):
            pts = sorted(p for p in pts if p[1] is not None)
            x = np.array([xpos[p[0]] for p in pts], float) + 0.06 * (k - (nm - 1) / 2)
            est, lo, hi = (np.array([p[i] for p in pts], float) for i in (1, 2, 3))
            ax.errorbar(x, est, yerr=[est - lo, hi - est], c=colors.get(m), marker="o", ms=4, capsize=2,
                        lw=1.4, label=m)
        ax.set_xticks(range(len(ratios)), [f"1:{r}" for r in ratios])
        ax.set(title=task, xlabel="positive : negative", ylabel="AUC")
        ax.grid(alpha=0.3)
        _legend(ax, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
    return fig


def scatter_figure(panels: dict[str, dict[str, tuple[np.ndarray, np.ndarray, float | None]]],
                   colors: dict[str, str], max_points: int = 3000, seed: int = 0) -> Figure:
    """panels[model][phenotype] = (true, pred, r2): rows are models, columns phenotypes."""
    models = list(panels)
    phens = list(next(iter(panels.values())))
    fig = _figure(2.5 * len(phens) + 0.4, 2.5 * len(models) + 0.3)
    axes = fig.subplots(len(models), len(phens), squeeze=False)
    rng = np.random.default_rng(seed)
    for i, m in enumerate(models):
        for j, ph in enumerate(phens):
            ax = axes[i, j]
            t, p, r2 = panels[m][ph]
            ok = np.isfinite(t) & np.isfinite(p)
            t, p = t[ok], p[ok]
            if t.size > max_points:
                keep = rng.choice(t.size, max_points, replace=False)
                t, p = t[keep], p[keep]
            ax.scatter(t, p, s=4, alpha=0.35, c=colors.get(m), edgecolors="none", rasterized=True)
            if t.size:
                lo, hi = np.percentile(np.r_[t, p], [0.5, 99.5])
                pad = 0.05 * (hi - lo + 1e-12)
                ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], c="0.3", lw=0.8, ls="--")
                ax.set_xlim(lo - pad, hi + pad)
                ax.set_ylim(lo - pad, hi + pad)
            ax.text(0.03, 0.95, f"R²={r2:.2f}" if r2 is not None else "R²=n/a", transform=ax.transAxes,
                    va="top", fontsize=8)
            ax.tick_params(labelsize=7)
            if i == 0:
                ax.set_title(ph, fontsize=9)
            if j == 0:
                ax.set_ylabel(f"{m}\npredicted", fontsize=8)
            if i == len(models) - 1:
                ax.set_xlabel("true", fontsize=8)
    return fig


def confusion_figure(matrices: dict[str, np.ndarray], classes: list[str]) -> Figure:
    """Row-normalised confusion matrices (rows: true class), counts annotated; one panel per model."""
    models = list(matrices)
    fig = _figure(3.0 * min(len(models), 5) + 0.6, 2.9 * int(np.ceil(len(models) / 5)))
    axes = _grid(fig, len(models), 5)
    im = None
    for ax, m in zip(axes, models):
        cm = np.asarray(matrices[m], float)
        norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        im = ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
        for a in range(cm.shape[0]):
            for b in range(cm.shape[1]):
                ax.text(b, a, f"{int(cm[a, b])}\n{norm[a, b]:.0%}", ha="center", va="center", fontsize=7,
                        color="white" if norm[a, b] > 0.6 else "black")
        ax.set_xticks(range(len(classes)), classes, fontsize=8)
        ax.set_yticks(range(len(classes)), classes, fontsize=8)
        ax.set(title=m, xlabel="predicted", ylabel="true")
    if im is not None:
        fig.colorbar(im, ax=list(axes), shrink=0.8, label="row fraction")
    return fig


def similarity_figure(maps: dict[str, tuple[np.ndarray, np.ndarray | None]], n_examples: int = 3) -> Figure:
    """maps[model] = (similarity [N, g, g], frames [N, H, W] or None). Rows: models; columns: the
    first ``n_examples`` subjects and the mean map. A shared colour scale across models per column
    makes models comparable; frames, when given, are drawn beneath the map (bilinear overlay)."""
    models = list(maps)
    n_ex = min(n_examples, min(v[0].shape[0] for v in maps.values()))
    ncol = n_ex + 1
    fig = _figure(2.3 * ncol + 0.8, 2.2 * len(models) + 0.4)
    axes = fig.subplots(len(models), ncol, squeeze=False)
    allv = np.concatenate([v[0][:n_ex].ravel() for v in maps.values()] + [v[0].mean(0).ravel() for v in maps.values()])
    vmin, vmax = np.percentile(allv, [1, 99])
    im = None
    for i, m in enumerate(models):
        sim, frames = maps[m]
        g = sim.shape[-1]
        for j in range(ncol):
            ax = axes[i, j]
            s = sim[j] if j < n_ex else sim.mean(0)
            if frames is not None:
                f = frames[j] if j < n_ex else frames.mean(0)
                ax.imshow(f, cmap="gray", extent=(0, g, g, 0))
                im = ax.imshow(s, cmap="jet", alpha=0.45, vmin=vmin, vmax=vmax, extent=(0, g, g, 0),
                               interpolation="bilinear")
            else:
                im = ax.imshow(s, cmap="jet", vmin=vmin, vmax=vmax, extent=(0, g, g, 0), interpolation="nearest")
            for q in range(1, g):                                # patch boundaries of the g x g grid
                ax.axhline(q, c="white", lw=0.4, alpha=0.5)
                ax.axvline(q, c="white", lw=0.4, alpha=0.5)
            ax.set_xlim(0, g)
            ax.set_ylim(g, 0)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(f"subject {j + 1}" if j < n_ex else "mean over subjects", fontsize=9)
            if j == 0:
                ax.set_ylabel(m, fontsize=9)
    if im is not None:  # an opaque colour bar even when the maps are drawn translucent over frames
        sm = ScalarMappable(norm=Normalize(vmin, vmax), cmap="jet")
        fig.colorbar(sm, ax=axes.ravel().tolist(), shrink=0.7, label="cosine similarity")
    return fig


def tsne_figure(points: dict[str, tuple[np.ndarray, np.ndarray, list[str]]]) -> Figure:
    """points[model] = (xy [N, 2], labels [N], label names)."""
    models = list(points)
    fig = _figure(3.4 * min(len(models), 5), 3.4 * int(np.ceil(len(models) / 5)) + 0.3)
    cmap = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
    handles = {}
    for ax, m in zip(_grid(fig, len(models), 5), models):
        xy, lab, names = points[m]
        for k in np.unique(lab):
            sel = lab == k
            name = names[k] if 0 <= k < len(names) else str(k)
            handles[name] = ax.scatter(xy[sel, 0], xy[sel, 1], s=5, alpha=0.6, c=cmap[int(k) % len(cmap)],
                                       edgecolors="none", label=name, rasterized=True)
        ax.set_title(m, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncol=min(len(handles), 8),
               fontsize=8, markerscale=3)
    return fig
