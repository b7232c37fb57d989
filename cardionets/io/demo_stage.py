"""Demo stage "ecg-preprocess": read the real ECG fixtures in every format, preprocess them with the
native pipeline, check one record against the float64 scipy reference, and write a summary and a
figure of one record before and after preprocessing."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np


def fixture_ecg_dir() -> Path:
    """The real ECG fixtures (tests/fixtures/ecg in the source tree; cardionets.fixtures)."""
    from ..fixtures import fixture_dir

    return fixture_dir() / "ecg"


def fixture_files(ecg_dir: Path, quick: bool) -> list[Path]:
    cinc = sorted((ecg_dir / "cinc2021").glob("*.hea"))
    files = (cinc[::5] if quick else cinc) + sorted((ecg_dir / "ptb").glob("*.hea"))
    files += sorted(p for p in (ecg_dir / "formats").glob("*") if p.is_file())
    return files


def _figure(raw, fs: float, crop, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(11, 5.5))
    t = np.arange(raw.shape[1]) / fs
    axes[0].plot(t, raw[1], lw=0.7, color="tab:blue")
    axes[0].set(title=f"{title}: lead II as read ({fs:g} Hz, mV)", xlabel="s", ylabel="mV")
    axes[1].plot(np.arange(crop.shape[1]) / 250.0, crop[1], lw=0.7, color="tab:red")
    axes[1].set(title="after resample 250 Hz, band-pass 0.67-40 Hz, first 9 s crop, standardised",
                xlabel="s", ylabel="z")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def stage_ecg_preprocess(ctx):
    from ..demo import StageResult
    from .. import dsp, dsp_reference
    from ..errors import CardioNetsError
    from . import read_ecg

    out = ctx.stage_dir("ecg-preprocess")
    ecg_dir = fixture_ecg_dir()
    rows, ecgs = [], []
    t_read = t_pre = 0.0
    for path in fixture_files(ecg_dir, ctx.quick):
        t0 = time.perf_counter()
        try:
            ecg = read_ecg(path)
        except CardioNetsError as exc:
            rows.append({"file": path.name, "error": str(exc)})
            continue
        t1 = time.perf_counter()
        res = dsp.preprocess_ecg(ecg, on_fatal="nan")
        t_pre += time.perf_counter() - t1
        t_read += t1 - t0
        rows.append({"file": str(path.relative_to(ecg_dir)), "format": ecg.meta.get("format"), "fs": ecg.fs,
                     "leads": ecg.n_leads, "seconds": round(ecg.duration, 2), "crops": int(res.signal.shape[0]),
                     "age": ecg.meta.get("age"), "sex": ecg.meta.get("sex"),
                     "flags": dsp.describe_flags(int(res.flags))})
        ecgs.append((path, ecg, res))
    if not ecgs:
        return StageResult(f"no ECG fixture could be read in {ecg_dir}", metrics={"errors": len(rows)})
    # One record against the float64 scipy reference.
    path, ecg, res = ecgs[0]
    std = ecg.standard()
    ref = dsp_reference.preprocess(std.signal.astype(np.float64), ecg.fs)
    max_err = float(np.abs(res.signal - ref).max())
    fatal = [r["file"] for r in rows if "flags" in r and set(r["flags"]) & {
        f.name for f in dsp.flags_table().values() if f.fatal}]
    fig = out / "ecg_raw_vs_preprocessed.png"
    _figure(std.signal, ecg.fs, res.signal[0], fig, path.name)
    summary = {"records": rows, "reference_check": {"file": path.name, "max_abs_err": max_err},
               "seconds": {"read": t_read, "preprocess": t_pre}}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    formats = sorted({r["format"] for r in rows if r.get("format")})
    return StageResult(
        f"read {len(ecgs)} real ECGs ({', '.join(formats)}), preprocessed natively to [crops, 12, 2250]; "
        f"{len(fatal)} with fatal quality flags; max |native - scipy| = {max_err:.1e} on {path.name}",
        outputs=[str(out / "summary.json"), str(fig)],
        metrics={"records": len(ecgs), "errors": len(rows) - len(ecgs), "fatal": len(fatal),
                 "max_abs_err_vs_scipy": max_err, "read_ms_per_record": 1e3 * t_read / len(ecgs),
                 "preprocess_ms_per_record": 1e3 * t_pre / len(ecgs)})
