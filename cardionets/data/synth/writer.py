"""Write a synthetic cohort to disk in the formats real data comes in.

Layout of ``out/``::

    subjects.parquet     subject_id, age, sex, height, weight, bmi, bsa, hr, imaging_date, ecg_date,
                         ecg_path, cmr_path (relative to out/), cmr_es_frame, cmr_lv_row, cmr_lv_col
    phenotypes.parquet   subject_id + the 82 PHENOTYPE_NAMES columns
    diagnoses.parquet    subject_id, icd10, date
    truth.parquet        simulator ground truth (disease severities, MI territory, LBBB, ...)
    ecg/<id>.hea/.dat    WFDB, 12 leads, 500 Hz, 10 s, format 16, 1 uV per count (gain 1000/mV)
    cmr/<id>_la4ch.nii.gz  NIfTI int16 (x, y, 1, t=50), 1.8 mm pixels, frame time in pixdim[4] (ms)
    cohort.json          preset, seed, n, generator version

Subjects, diseases and phenotypes are drawn in the main process (cheap); the ECG and cine of each
subject are rendered by a pool of worker processes, each subject from its own seed
(SeedSequence([seed, index])), so the cohort is identical for any number of workers.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ...errors import InputError
from .diseases import PRESETS, DiseaseState, sample_diseases
from .ecg_model import FS, LEADS, simulate_ecg
from .phenotypes import generate_phenotypes, heart_rate_at_imaging
from .subjects import Subject, sample_subject

GENERATOR_VERSION = 3       # 3: NIfTI affine states the display orientation; 2: anatomical 4-chamber renderer


def _rngs(seed: int, index: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    ss = np.random.SeedSequence([int(seed), int(index)])
    a, b, c = ss.spawn(3)
    return np.random.default_rng(a), np.random.default_rng(b), np.random.default_rng(c)


def draw_subject(index: int, seed: int, preset: str) -> tuple[Subject, DiseaseState, dict[str, float]]:
    r_subj, _, _ = _rngs(seed, index)
    s = sample_subject(index, r_subj)
    d = sample_diseases(s, r_subj, preset)
    ph = generate_phenotypes(s, d, r_subj)
    return s, d, ph


def write_wfdb(path_stem: Path, signal_mv: np.ndarray, fs: int, comments: list[str]) -> None:
    """WFDB record: ``<stem>.hea`` + ``<stem>.dat`` in format 16 (little-endian int16, samples of
    all leads interleaved), gain 1000 counts/mV, baseline 0, with the standard 12 lead names.
    Written directly (the format is a few lines; ``wfdb.wrsamp`` spends ~75 ms per record in pandas);
    tests read it back with ``wfdb.rdrecord``."""
    counts = np.clip(np.rint(np.asarray(signal_mv, dtype=np.float64) * 1000.0), -32767, 32767).astype("<i2")
    n_sig, n = counts.shape
    name = path_stem.name
    (path_stem.parent / f"{name}.dat").write_bytes(np.ascontiguousarray(counts.T).tobytes())
    checks = [int(((int(c.astype(np.int64).sum()) + 32768) % 65536) - 32768) for c in counts]  # 16-bit checksum
    lines = [f"{name} {n_sig} {fs} {n}"]
    for k in range(n_sig):
        lines.append(f"{name}.dat 16 1000(0)/mV 16 0 {int(counts[k, 0])} {checks[k]} 0 {LEADS[k]}")
    lines += [f"# {c}" for c in comments]
    (path_stem.parent / f"{name}.hea").write_text("\n".join(lines) + "\n")


def write_nifti(path: Path, cine: np.ndarray, spacing: float, frame_ms: float) -> None:
    """cine int16 [t, rows, cols] -> NIfTI (x=cols, y=rows, 1, t). The affine states the display
    layout the renderer draws (columns towards the patient's left, rows towards posterior, RAS
    axes negated), so cardionets.io.read_cmr's canonical orientation leaves the cine as drawn."""
    import nibabel as nib

    data = np.ascontiguousarray(cine.transpose(2, 1, 0)[:, :, None, :])     # [x, y, 1, t]
    affine = np.diag([-spacing, -spacing, 8.0, 1.0])
    img = nib.Nifti1Image(data, affine)
    img.header.set_xyzt_units("mm", "msec")
    img.header["pixdim"][4] = frame_ms
    img.header.set_data_dtype(np.int16)
    nib.save(img, str(path))


def _tune_malloc() -> None:
    """Keep glibc from returning every large temporary to the kernel: the cine renderer allocates
    and frees ~2 MB arrays thousands of times, and with the default thresholds each one is a fresh
    mmap + page faults (measured: 27 ms of system time per subject, 1.3 ms with these settings).
    No-op where mallopt is unavailable."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-3, 64 << 20)     # M_MMAP_THRESHOLD: serve <64 MB from the heap
        libc.mallopt(-1, 256 << 20)    # M_TRIM_THRESHOLD: keep up to 256 MB of freed heap
    except (OSError, AttributeError):
        pass


def render_subject(args: tuple[int, int, str, str]) -> dict:
    """Worker: draw subject ``index`` and write its ECG and cine; returns its table rows."""
    from .cine_model import render_cine

    index, seed, preset, out = args
    out_dir = Path(out)
    s, d, ph = draw_subject(index, seed, preset)
    _, r_ecg, r_cmr = _rngs(seed, index)
    hr = heart_rate_at_imaging(s, d)
    ecg = simulate_ecg(s, d, ph, hr, r_ecg)
    ecg_rel = f"ecg/{s.subject_id}"
    write_wfdb(out_dir / ecg_rel, ecg, FS, [f"Age: {int(s.age)}", f"Sex: {s.sex}", "Dx: synthetic"])
    cine, info = render_cine(ph, d, hr, r_cmr)
    cmr_rel = f"cmr/{s.subject_id}_la4ch.nii.gz"
    write_nifti(out_dir / cmr_rel, cine, info.spacing, info.frame_ms)
    subj = {"subject_id": s.subject_id, "age": round(s.age, 1), "sex": s.sex, "height": s.height,
            "weight": s.weight, "bmi": s.bmi, "bsa": s.bsa, "hr": hr,
            "imaging_date": s.imaging_date, "ecg_date": s.imaging_date,
            "ecg_path": ecg_rel + ".hea", "cmr_path": cmr_rel, "cmr_es_frame": info.es_frame,
            "cmr_lv_row": info.lv_center_rc[0], "cmr_lv_col": info.lv_center_rc[1]}
    diag = [{"subject_id": s.subject_id, "icd10": code, "date": when} for code, when in d.diagnoses]
    truth = {k: v for k, v in asdict(d).items() if k != "diagnoses"}
    truth["mi_segments"] = ",".join(map(str, d.mi_segments))
    truth["subject_id"] = s.subject_id
    return {"subject": subj, "phenotypes": {"subject_id": s.subject_id, **ph}, "diagnoses": diag, "truth": truth}


def write_cohort(out: str | Path, n: int, seed: int = 0, preset: str = "ukb", workers: int | None = None,
                 progress: bool = True) -> Path:
    """Generate ``n`` subjects into ``out`` (see the module docstring for the layout)."""
    import pandas as pd

    if preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
    if n < 1:
        raise InputError(f"--n must be at least 1, got {n}")
    out = Path(out)
    if (out / "cache").is_dir():                 # caches of a previous cohort in this directory
        import shutil

        shutil.rmtree(out / "cache")
    (out / "ecg").mkdir(parents=True, exist_ok=True)
    (out / "cmr").mkdir(parents=True, exist_ok=True)
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    jobs = [(i, seed, preset, str(out)) for i in range(n)]
    # import the heavy modules once here, so forked workers inherit them instead of each paying ~0.5 s
    import nibabel  # noqa: F401
    import scipy.interpolate  # noqa: F401
    import scipy.ndimage  # noqa: F401
    import scipy.signal  # noqa: F401

    from . import cine_model  # noqa: F401
    if workers > 1 and n > 4:
        import multiprocessing as mp

        ctx = mp.get_context("spawn") if os.name == "nt" else mp.get_context("fork")
        with ctx.Pool(workers, initializer=_tune_malloc) as pool:
            rows = list(_progress(pool.imap(render_subject, jobs, chunksize=8), n, progress))
    else:
        _tune_malloc()
        rows = list(_progress(map(render_subject, jobs), n, progress))
    subjects = pd.DataFrame([r["subject"] for r in rows])
    for col in ("imaging_date", "ecg_date"):
        subjects[col] = pd.to_datetime(subjects[col])
    phen = pd.DataFrame([r["phenotypes"] for r in rows])
    diag = pd.DataFrame([x for r in rows for x in r["diagnoses"]], columns=["subject_id", "icd10", "date"])
    diag["date"] = pd.to_datetime(diag["date"])
    truth = pd.DataFrame([r["truth"] for r in rows])
    subjects.to_parquet(out / "subjects.parquet", index=False)
    phen.to_parquet(out / "phenotypes.parquet", index=False)
    diag.to_parquet(out / "diagnoses.parquet", index=False)
    truth.to_parquet(out / "truth.parquet", index=False)
    (out / "cohort.json").write_text(json.dumps({"generator": "cardionets.data.synth", "version": GENERATOR_VERSION,
                                                 "n": n, "seed": seed, "preset": preset}, indent=2))
    return out


def _progress(it, total: int, enabled: bool):
    if not enabled:
        return it
    from tqdm import tqdm

    return tqdm(it, total=total, desc="synth", unit="subject")
