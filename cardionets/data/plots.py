"""Pictures of a cohort next to the real fixtures: 12-lead ECG grids, ECG lead strips beside a real
PTB-XL record, and cine frames at end-diastole / end-systole beside the real Sunnybrook cine.
Used by ``cardionets synth --plots`` and the demo's cohort stage."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


def default_shared_data() -> Path | None:
    env = os.environ.get("CARDIONETS_SHARED_DATA")
    cand = Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "data"
    return cand if cand.is_dir() else None


def _paper(ax, t_max: float, y_lo: float, y_hi: float) -> None:
    """ECG paper: 0.2 s / 0.5 mV major grid, 0.04 s / 0.1 mV minor grid (two LineCollections:
    tick-based grids cost seconds per figure)."""
    from matplotlib.collections import LineCollection

    xs = np.arange(0, t_max + 1e-9, 0.04)
    ys = np.arange(np.ceil(y_lo * 10) / 10, y_hi + 1e-9, 0.1)
    x_major = np.isclose(np.round(xs / 0.04) % 5, 0)
    y_major = np.isclose(np.round(ys * 10) % 5, 0)
    for major, color, lw in ((False, "#f4c7c7", 0.3), (True, "#e08c8c", 0.6)):
        segs = [[(x, y_lo), (x, y_hi)] for x in xs[x_major == major]]
        segs += [[(0, y), (t_max, y)] for y in ys[y_major == major]]
        ax.add_collection(LineCollection(segs, colors=color, linewidths=lw, zorder=0))
    ax.set_xlim(0, t_max)
    ax.set_ylim(y_lo, y_hi)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_ecg_grid(signal: np.ndarray, fs: float, title: str, path: Path, seconds: float = 2.5) -> Path:
    """Standard 3x4 layout (2.5 s per lead) plus a 10 s lead II rhythm strip."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(13, 7.5))
    layout = [["I", "aVR", "V1", "V4"], ["II", "aVL", "V2", "V5"], ["III", "aVF", "V3", "V6"]]
    n = int(seconds * fs)
    for r, row in enumerate(layout):
        for c, lead in enumerate(row):
            ax = fig.add_axes([0.02 + c * 0.24, 0.72 - r * 0.22, 0.24, 0.2])
            k = LEADS.index(lead)
            seg = signal[k, c * n:(c + 1) * n]
            seg = seg - np.median(signal[k])
            _paper(ax, seconds, -1.5, 1.5)
            ax.plot(np.arange(len(seg)) / fs, seg, color="k", lw=0.7)
            ax.text(0.03, 1.2, lead, fontsize=9)
    ax = fig.add_axes([0.02, 0.05, 0.96, 0.2])
    ii = signal[1] - np.median(signal[1])
    t_max = min(signal.shape[1] / fs, 10.0)
    _paper(ax, t_max, -1.5, 1.5)
    ax.plot(np.arange(int(t_max * fs)) / fs, ii[:int(t_max * fs)], color="k", lw=0.6)
    ax.text(0.05, 1.2, "II", fontsize=9)
    fig.suptitle(title, fontsize=10, y=0.985)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _read_wfdb(path: Path) -> tuple[np.ndarray, float]:
    from ..io import read_ecg

    ecg = read_ecg(path).standard(missing="nan")
    return ecg.signal, ecg.fs


def plot_cines(rows: list[tuple[str, np.ndarray, int]], path: Path) -> Path:
    """rows of (title, cine [t, H, W], ES frame): ED, ES and |ED-ES| difference per row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), 3, figsize=(7.5, 2.5 * len(rows)))
    axes = np.atleast_2d(axes)
    for (title, cine, es), ax in zip(rows, axes):
        ax[0].imshow(cine[0], cmap="gray")
        ax[1].imshow(cine[es], cmap="gray")
        ax[2].imshow(np.abs(cine[0] - cine[es]), cmap="magma")
        ax[0].set_ylabel(title, fontsize=7)
        for a, t in zip(ax, ("ED (frame 0)", f"ES (frame {es})", "|ED - ES|")):
            a.set_title(t, fontsize=8)
            a.set_xticks([])
            a.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def write_cohort_plots(cohort_dir: str | Path, out_dir: str | Path, shared_data: str | Path | None = None,
                       n_subjects: int = 3) -> list[Path]:
    """PNGs beside the real fixtures: ECG grids of a healthy subject and a few diseased ones, and one
    cine figure (ED, ES, |ED - ES|) of a healthy subject, a DCM, an HCM and the highest LV mass."""
    import pandas as pd

    from ..io.cmr import read_cmr

    cohort_dir, out_dir = Path(cohort_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    subj = pd.read_parquet(cohort_dir / "subjects.parquet")
    truth = pd.read_parquet(cohort_dir / "truth.parquet") if (cohort_dir / "truth.parquet").is_file() else None
    phen = pd.read_parquet(cohort_dir / "phenotypes.parquet")
    picks = list(range(min(n_subjects, len(subj))))
    if truth is not None:                              # a varied set: healthy, DCM, HCM, high LV mass, MI, PH
        healthy = (truth.cad == 0) & truth.cm.isna() & (truth.ph == 0) & (truth.hf == 0)
        wanted = [truth.index[healthy], truth.index[truth.cm == "DCM"], truth.index[truth.cm == "HCM"],
                  [int(phen.LVM.idxmax())], truth.index[truth.mi_territory.notna()], truth.index[truth.ph > 0]]
        picks = list(dict.fromkeys(int(w[0]) for w in wanted if len(w)))[:max(n_subjects, 1) + 1] or picks
    paths: list[Path] = []
    cine_rows = []
    for i in picks:
        row = subj.iloc[i]
        sig, fs = _read_wfdb(cohort_dir / row.ecg_path)
        tag = ""
        if truth is not None:
            t = truth.iloc[i]
            tag = ", ".join(x for x in [f"MI {t.mi_territory}" if isinstance(t.mi_territory, str) else
                                        ("CAD" if t.cad > 0 else ""), "HF" if t.hf > 0 else "",
                                        str(t.cm) if isinstance(t.cm, str) else "", "PH" if t.ph > 0 else "",
                                        "LBBB" if t.lbbb else ""] if x) or "no disease"
        if i == int(phen.LVM.idxmax()):
            tag = f"{tag}, highest LV mass" if tag else "highest LV mass"
        title = f"synthetic {row.subject_id} ({row.sex}, {row.age:.0f} y; {tag})"
        paths.append(plot_ecg_grid(sig, fs, title, out_dir / f"ecg_{row.subject_id}.png"))
        p = phen.iloc[i]
        cine_rows.append((f"synthetic {row.subject_id}\n{tag}\nEDV {p.LVEDV:.0f} ESV {p.LVESV:.0f} LVM {p.LVM:.0f}",
                          read_cmr(cohort_dir / row.cmr_path), int(row.cmr_es_frame)))
    shared = Path(shared_data) if shared_data else default_shared_data()
    if shared is not None:
        real = shared / "ecg" / "cinc2021" / "HR06000.hea"
        if real.exists():
            sig, fs = _read_wfdb(real)
            paths.append(plot_ecg_grid(sig, fs, "REAL: PTB-XL HR06000 (CinC 2021)", out_dir / "ecg_real_HR06000.png"))
        sb = shared / "cmr" / "sunnybrook_SCD0000101"
        if sb.is_dir():
            cine = read_cmr(sb, slice_location=-50.2)
            es = int(np.argmin([(f > 0.3).sum() for f in cine[:30]]))
            cine_rows.append(("REAL: Sunnybrook SC-HF-I-1\n(short axis, mid)", cine, es))
    paths.append(plot_cines(cine_rows, out_dir / "cine_ed_es.png"))
    return paths
