"""Demo stage "real-ecgs": the real ECG fixtures (tests/fixtures/ecg: PhysioNet/CinC 2021 WFDB
records, a PTB record, and one file of each vendor format) read, preprocessed by the native
pipeline (one record checked against the float64 scipy reference), and screened into Parquet with
the method stage's fine-tuned cardionets models (one row per input file: phenotypes, CM
probability, quality flags, model version, error). The models were trained on the synthetic demo
cohort, so their predictions on real recordings show the pipeline working, not a clinical result."""
from __future__ import annotations

import json
import time
from pathlib import Path

from matplotlib.figure import Figure
import numpy as np
import pyarrow.parquet as pq

from .. import dsp, dsp_reference
from ..errors import CardioNetsError
from ..fixtures import fixture_dir
from ..io import read_ecg
from ..preprocess import DEFAULT_SPEC
from ..screen import screen
from .context import DemoContext, StageResult


def fixture_files(ecg_dir: Path, quick: bool) -> list[Path]:
    cinc = sorted((ecg_dir / "cinc2021").glob("*.hea"))
    files = (cinc[::5] if quick else cinc) + sorted((ecg_dir / "ptb").glob("*.hea"))
    files += sorted(p for p in (ecg_dir / "formats").glob("*") if p.is_file())
    return files


def _figure(raw: np.ndarray, fs: float, crop: np.ndarray, path: Path, title: str) -> None:
    fig = Figure(figsize=(11, 5.5))
    axes = fig.subplots(2, 1)
    t = np.arange(raw.shape[1]) / fs
    axes[0].plot(t, raw[1], lw=0.7, color="tab:blue")
    axes[0].set(title=f"{title}: lead II as read ({fs:g} Hz, mV)", xlabel="s", ylabel="mV")
    axes[1].plot(np.arange(crop.shape[1]) / DEFAULT_SPEC.fs, crop[1], lw=0.7, color="tab:red")
    axes[1].set(title=f"the model's input: {DEFAULT_SPEC.fs:g} Hz, band-pass {DEFAULT_SPEC.highpass_hz:g}-"
                      f"{DEFAULT_SPEC.lowpass_hz:g} Hz, first {DEFAULT_SPEC.crop_len / DEFAULT_SPEC.fs:g} s crop, "
                      "standardised", xlabel="s",
                ylabel="z")
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def stage_real_ecgs(ctx: DemoContext) -> StageResult:
    out = ctx.stage_dir("real-ecgs")
    ecg_dir = fixture_dir() / "ecg"
    files = fixture_files(ecg_dir, ctx.quick)
    rows, ecgs = [], []
    t0 = time.perf_counter()
    for path in files:
        try:
            ecg = read_ecg(path)
        except CardioNetsError as exc:
            rows.append({"file": path.name, "error": str(exc)})
            continue
        res = dsp.preprocess_ecg(ecg, on_fatal="nan")
        rows.append({"file": str(path.relative_to(ecg_dir)), "format": ecg.meta.get("format"), "fs": ecg.fs,
                     "leads": ecg.n_leads, "seconds": round(ecg.duration, 2), "crops": int(res.signal.shape[0]),
                     "flags": dsp.describe_flags(int(res.flags))})
        ecgs.append((path, ecg, res))
    read_s = time.perf_counter() - t0
    if not ecgs:
        return StageResult(f"no ECG fixture could be read in {ecg_dir}", metrics={"errors": len(rows)})
    path, ecg, res = ecgs[0]  # one record against the float64 scipy reference
    std = ecg.standard()
    max_err = float(np.abs(res.signal - dsp_reference.preprocess(std.signal.astype(np.float64), ecg.fs)).max())
    fig = out / "ecg_raw_vs_preprocessed.png"
    _figure(std.signal, ecg.fs, res.signal[0], fig, path.name)
    (out / "records.json").write_text(json.dumps({"records": rows, "reference_check": {
        "file": path.name, "max_abs_err": max_err}}, indent=2, default=str))
    # Screening into Parquet with the method stage's cardionets models (quality rows only without them).
    method = ctx.artifacts.get("method")
    models = [method["runs"][k] for k in ("phenotypes/cardionets", "disease:CM/cardionets")] if method else None
    summary = screen([str(p) for p in files], models, out / "screen", progress=False, device=ctx.device,
                     merge=True)
    table = pq.read_table(summary.merged) if summary.merged else None
    n_pred = 0
    if table is not None and "prob.CM" in table.column_names:
        n_pred = int(np.isfinite(np.asarray(table.column("prob.CM").to_pylist(), dtype=float)).sum())
    formats = sorted({r["format"] for r in rows if r.get("format")})
    flagged = sum(bool(r.get("flags")) for r in rows)
    what = (f"screened with the demo's cardionets models into Parquet: {summary.ok} rows ok, {n_pred} with "
            f"82 phenotypes + a CM probability" if models else
            "preprocessed into Parquet quality rows (no trained model: the method stage did not run)")
    return StageResult(
        f"read {len(ecgs)}/{len(files)} real ECG files ({', '.join(formats)}) in {read_s:.1f} s; {flagged} with "
        f"quality flags; native preprocessing = scipy float64 reference to {max_err:.1e}; {what}",
        outputs=[str(summary.merged or out / "screen"), str(fig), str(out / "records.json")],
        metrics={"records": len(ecgs), "files": len(files), "flagged": flagged, "max_abs_err_vs_scipy": max_err,
                 "screen": {"ok": summary.ok, "errors": summary.errors, "merged": summary.merged,
                            "model_version": summary.model_version}, "figure": str(fig)})
