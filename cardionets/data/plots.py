"""Pictures of a cohort next to the real fixtures (``cardionets.fixtures``): 12-lead ECG grids, a
real CinC record's grid, cine frames at end-diastole / end-systole beside the real Sunnybrook cine,
and the real-vs-synthetic comparison (ECG strips, cine frames, intensity densities, tissue classes).
Used by ``cardionets synth --plots`` and the demo's cohort stage."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from ..errors import InputError
from ..preprocess import STANDARD_LEADS
from ..progress import beat
from .synth.writer import cohort_info
from ..fixtures import fixture_dir
from ..io import read_ecg
from ..io.cmr import inspect_cmr, read_cmr
from ..profile.cine_features import intensity_histogram
import pandas as pd
from skimage.filters import threshold_multiotsu

REAL_ECG = "ecg/cinc2021/E07506.hea"          # 66-year-old woman, sinus rhythm (CinC 2021, Georgia)
REAL_CINE = "cmr/sunnybrook_SCD0000101"        # Sunnybrook SC-HF-I-1, mid-ventricular short axis


def fixtures_or_none(fixtures: str | Path | None = None) -> Path | None:
    """The real-fixture directory (given, or :func:`cardionets.fixtures.fixture_dir`); None when a
    package installed without the source tree has none (the plots then show synthetic data only)."""
    if fixtures is not None:
        p = Path(fixtures)
        if not (p / "ecg").is_dir():
            raise InputError(f"{p}: not a fixture directory (no ecg/ inside)")
        return p
    try:
        return fixture_dir()
    except InputError:
        return None


def _paper(ax, t_max: float, y_lo: float, y_hi: float) -> None:
    """ECG paper: 0.2 s / 0.5 mV major grid, 0.04 s / 0.1 mV minor grid (two LineCollections:
    tick-based grids cost seconds per figure)."""
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
    fig = Figure(figsize=(13, 7.5))
    layout = [["I", "aVR", "V1", "V4"], ["II", "aVL", "V2", "V5"], ["III", "aVF", "V3", "V6"]]
    n = int(seconds * fs)
    for r, row in enumerate(layout):
        for c, lead in enumerate(row):
            ax = fig.add_axes([0.02 + c * 0.24, 0.72 - r * 0.22, 0.24, 0.2])
            k = STANDARD_LEADS.index(lead)
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
    return path


def _read_wfdb(path: Path) -> tuple[np.ndarray, float]:
    ecg = read_ecg(path).standard(missing="nan")
    return ecg.signal, ecg.fs


def plot_cines(rows: list[tuple[str, np.ndarray, int]], path: Path) -> Path:
    """rows of (title, cine [t, H, W], ES frame): ED, ES and |ED-ES| difference per row."""
    fig = Figure(figsize=(7.5, 2.5 * len(rows)))
    axes = fig.subplots(len(rows), 3)
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
    return path


def _synthetic_tag(t) -> str:
    tags = [f"MI {t.mi_territory}" if isinstance(t.mi_territory, str) else ("CAD" if t.cad > 0 else ""),
            "HF" if t.hf > 0 else "", str(t.cm) if isinstance(t.cm, str) else "", "PH" if t.ph > 0 else "",
            ("acute pericarditis" if getattr(t, "peri_acute", False) else "PERI") if getattr(t, "peri", 0) > 0 else "",
            "AF" if getattr(t, "af", False) else "", "LBBB" if t.lbbb else "", "RBBB" if getattr(t, "rbbb", False) else ""]
    return ", ".join(x for x in tags if x) or "no disease"


def _healthy(truth):
    ok = (truth.cad == 0) & truth.cm.isna() & (truth.ph == 0) & (truth.hf == 0) & ~truth.lbbb
    for col in ("peri", "af", "rbbb", "st_t_nonspecific"):
        if col in truth.columns:
            ok &= ~truth[col].astype(bool)
    return ok


def _generator_tag(cohort_dir: Path) -> str:
    """' (generator vN)' from the cohort's cohort.json, so a figure names the cohort it shows."""
    version = cohort_info(cohort_dir).get("version")
    return f" (generator v{version})" if version is not None else ""


def write_cohort_plots(cohort_dir: str | Path, out_dir: str | Path, fixtures: str | Path | None = None,
                       n_subjects: int = 3) -> list[Path]:
    """PNGs beside the real fixtures: ECG grids of a healthy subject and a few diseased ones, the
    real CinC record's grid, one cine figure (ED, ES, |ED - ES|) of a healthy subject, a DCM, an HCM
    and the highest LV mass above the real Sunnybrook cine, and ``real_vs_synthetic.png``."""
    cohort_dir, out_dir = Path(cohort_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    subj = pd.read_parquet(cohort_dir / "subjects.parquet")
    truth = pd.read_parquet(cohort_dir / "truth.parquet") if (cohort_dir / "truth.parquet").is_file() else None
    phen = pd.read_parquet(cohort_dir / "phenotypes.parquet")
    picks = list(range(min(n_subjects, len(subj))))
    if truth is not None:                     # a varied set: healthy, DCM, HCM, high LV mass, MI, PH, pericarditis
        wanted = [truth.index[_healthy(truth)], truth.index[truth.cm == "DCM"], truth.index[truth.cm == "HCM"],
                  [int(phen.LVM.idxmax())], truth.index[truth.mi_territory.notna()], truth.index[truth.ph > 0]]
        if "peri_acute" in truth.columns:
            wanted.append(truth.index[truth.peri_acute.astype(bool)])
        picks = list(dict.fromkeys(int(w[0]) for w in wanted if len(w)))[:max(n_subjects, 1) + 1] or picks
    paths: list[Path] = []
    cine_rows = []
    for i in picks:
        row = subj.iloc[i]
        sig, fs = _read_wfdb(cohort_dir / row.ecg_path)
        tag = _synthetic_tag(truth.iloc[i]) if truth is not None else ""
        if i == int(phen.LVM.idxmax()):
            tag = f"{tag}, highest LV mass" if tag else "highest LV mass"
        title = f"synthetic {row.subject_id} ({row.sex}, {row.age:.0f} y; {tag}){_generator_tag(cohort_dir)}"
        paths.append(plot_ecg_grid(sig, fs, title, out_dir / f"ecg_{row.subject_id}.png"))
        beat("cohort figures", len(paths))
        p = phen.iloc[i]
        cine_rows.append((f"synthetic {row.subject_id}{_generator_tag(cohort_dir)}\n{tag}\nEDV {p.LVEDV:.0f} ESV {p.LVESV:.0f} LVM {p.LVM:.0f}",
                          read_cmr(cohort_dir / row.cmr_path), int(row.cmr_es_frame)))
    fx = fixtures_or_none(fixtures)
    if fx is not None:
        real = fx / REAL_ECG
        if real.exists():
            sig, fs = _read_wfdb(real)
            paths.append(plot_ecg_grid(sig, fs, "REAL: CinC 2021 E07506 (Georgia; 66 y woman, sinus rhythm)",
                                       out_dir / "ecg_real_E07506.png"))
        sb = fx / REAL_CINE
        if sb.is_dir():
            cine = inspect_cmr(sb).x             # a short-axis slice on purpose: its view warning is expected
            es = int(np.argmin([(f > 0.3).sum() for f in cine[:30]]))
            cine_rows.append(("REAL: Sunnybrook SC-HF-I-1\n(short axis, mid)", cine, es))
    beat("cohort figures", len(paths))
    paths.append(plot_cines(cine_rows, out_dir / "cine_ed_es.png"))
    beat("cohort figures", len(paths))
    paths.append(plot_real_vs_synthetic(cohort_dir, out_dir / "real_vs_synthetic.png", fixtures=fx))
    return paths


def _strip(ax, sig: np.ndarray, fs: float, leads: tuple[str, ...], seconds: float, title: str) -> None:
    """Leads stacked on ECG paper, ``seconds`` each, baseline-centred."""
    n = int(seconds * fs)
    gap = 2.0
    _paper(ax, seconds, -gap * len(leads) + 0.8, 1.2)
    for k, lead in enumerate(leads):
        x = sig[STANDARD_LEADS.index(lead), :n]
        x = x - np.median(x)
        ax.plot(np.arange(len(x)) / fs, x - gap * k, color="k", lw=0.6)
        ax.text(0.04, 0.6 - gap * k, lead, fontsize=7)
    ax.set_title(title, fontsize=8)


def plot_real_vs_synthetic(cohort_dir: str | Path, path: Path, fixtures: str | Path | None = None,
                           n_hist: int = 100) -> Path:
    """One figure: ECG strips (II, V1, V5) of a real CinC record and of a healthy synthetic subject of
    similar age and sex; cine frames (synthetic 4-chamber ED / ES, real Sunnybrook short axis ED /
    ES: the only real cine fixture, a different view); their three-class (Otsu) tissue maps; and the
    intensity densities of the normalised cines (``n_hist`` synthetic cines vs the real one)."""
    cohort_dir = Path(cohort_dir)
    subj = pd.read_parquet(cohort_dir / "subjects.parquet")
    truth = pd.read_parquet(cohort_dir / "truth.parquet") if (cohort_dir / "truth.parquet").is_file() else None
    cand = subj[_healthy(truth).to_numpy()] if truth is not None and _healthy(truth).any() else subj
    fem = cand[cand.sex == "Female"]
    cand = fem if len(fem) else cand
    row = cand.iloc[int(np.argmin(np.abs(cand.age.to_numpy() - 66.0)))]
    fx = fixtures_or_none(fixtures)
    fig = Figure(figsize=(12, 9.6))
    # --- ECG strips -------------------------------------------------------------------------------
    sig, fs = _read_wfdb(cohort_dir / row.ecg_path)
    ax = fig.add_axes([0.03, 0.62, 0.45, 0.34])
    _strip(ax, sig, fs, ("II", "V1", "V5"), 5.0,
           f"SYNTHETIC {row.subject_id} ({row.sex}, {row.age:.0f} y, no disease){_generator_tag(cohort_dir)}")
    if fx is not None and (fx / REAL_ECG).exists():
        rs, rfs = _read_wfdb(fx / REAL_ECG)
        ax = fig.add_axes([0.52, 0.62, 0.45, 0.34])
        _strip(ax, rs, rfs, ("II", "V1", "V5"), 5.0, "REAL: CinC 2021 E07506 (66 y woman, sinus rhythm)")
    # --- cines: frames and tissue classes -----------------------------------------------------------
    syn = read_cmr(cohort_dir / row.cmr_path)
    es = int(row.cmr_es_frame)
    panels = [("synthetic 4-chamber, ED", syn[0]), (f"synthetic 4-chamber, ES (frame {es})", syn[es])]
    real = None
    if fx is not None and (fx / REAL_CINE).is_dir():
        real = inspect_cmr(fx / REAL_CINE).x          # short axis on purpose: no view warning
        res = int(np.argmin([(f > 0.3).sum() for f in real[:30]]))
        panels += [("REAL Sunnybrook short axis, ED", real[0]), (f"REAL short axis, ES (frame {res})", real[res])]
    for k, (title, frame) in enumerate(panels):
        ax = fig.add_axes([0.03 + k * 0.245, 0.33, 0.22, 0.25])
        ax.imshow(frame, cmap="gray", vmin=-1, vmax=1)
        ax.set_title(title, fontsize=8)
        ax.set_axis_off()
    for k, (title, frame) in enumerate(panels[::2]):
        ax = fig.add_axes([0.03 + k * 0.245, 0.04, 0.22, 0.25])
        ax.imshow(np.digitize(frame, threshold_multiotsu(frame, classes=3)), cmap="viridis")
        ax.set_title(("synthetic" if k == 0 else "REAL") + ": 3-class Otsu tissue map (ED)", fontsize=8)
        ax.set_axis_off()
    # --- intensity densities ----------------------------------------------------------------------
    ax = fig.add_axes([0.56, 0.06, 0.41, 0.22])
    centres = np.linspace(-1, 1, 65)[:-1] + 1 / 64
    hists = [intensity_histogram(read_cmr(cohort_dir / p)) for p in subj.cmr_path.iloc[:n_hist]]
    ax.plot(centres, np.mean(hists, axis=0), color="tab:blue", label=f"synthetic 4-chamber ({len(hists)} cines)")
    if real is not None:
        ax.plot(centres, intensity_histogram(real), color="tab:orange", label="REAL Sunnybrook short axis")
    ax.set_title("intensity density of the normalised cines (all frames)", fontsize=8)
    ax.set_xlabel("normalised intensity (0.5th..99.5th percentile -> -1..1)", fontsize=7)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
    fig.savefig(path, dpi=72)
    return path
