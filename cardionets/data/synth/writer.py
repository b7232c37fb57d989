"""Write a synthetic cohort to disk in the formats real data comes in.

Layout of ``out/``::

    subjects.parquet     subject_id, age, sex, height, weight, bmi, bsa, hr, imaging_date, ecg_date,
                         ecg_path, cmr_path (relative to out/), cmr_es_frame, cmr_lv_row, cmr_lv_col
    phenotypes.parquet   subject_id + the 82 PHENOTYPE_NAMES columns
    diagnoses.parquet    subject_id, icd10, date
    truth.parquet        simulator ground truth (disease severities, MI territory, LBBB, ...)
    ecg/<id>.hea/.dat    WFDB, 12 leads, 500 Hz, 10 s, format 16, 1 uV per count (gain 1000/mV)
    cmr/<id>_la4ch.nii.gz  NIfTI int16 (x, y, 1, t=50), 1.8 mm pixels, frame time in pixdim[4] (ms)
    cohort.json          generator, version (GENERATOR_VERSION), format, preset, seed, n, diseases;
                         the same document is in subjects.parquet's schema metadata
                         ("cardionets.cohort")

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
from ...preprocess import STANDARD_LEADS
from ...progress import beat
from ..schema import DISEASES
from .anatomy import sample_anatomy
from .diseases import PRESETS, DiseaseState, sample_diseases, sample_pericarditis
from .ecg_model import FS, simulate_ecg
from .phenotypes import generate_phenotypes, heart_rate_at_imaging
from .rhythm import sample_rhythm
from .subjects import Subject, sample_subject
from .cine_model import render_cine
import ctypes
import ctypes.util
import pandas as pd
import shutil
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

# 2: anatomical 4-chamber cine renderer (profile tables, crescent RV, valves)
# 3: the NIfTI affine states the display orientation
# 4: ECG calibrated to adult normal limits and the real fixtures (QRS loop, rhythm, noise), one
#    anatomy per subject for ECG and cine, cine with its surroundings, pericardial disease (PERI)
# 5: 4-chamber anatomy at real size (LV ~90-100 mm at ED, the heart ~14 x 10 cm in the 173 mm
#    field), bullet LV, normal walls drawn 1.4 x the phenotype, oval atria with pulmonary veins, hinged
#    mitral / tricuspid leaflets over the cycle, papillary muscle, trabeculation; epicardial fat
#    with BMI; blood brightest
GENERATOR_VERSION = 5
COHORT_FORMAT = 1          # the on-disk layout below (tables, WFDB, NIfTI, cohort.json)


def _rngs(seed: int, index: int) -> tuple[np.random.Generator, ...]:
    """Independent streams of one subject: subject/diseases/phenotypes, ECG, cine, and anatomy,
    rhythm and pericardium (a fourth stream, so adding it left the first three unchanged)."""
    ss = np.random.SeedSequence([int(seed), int(index)])
    return tuple(np.random.default_rng(c) for c in ss.spawn(4))


def draw_subject(index: int, seed: int, preset: str) -> tuple[Subject, DiseaseState, dict[str, float]]:
    """Subject (with its anatomy), disease state and phenotypes of subject ``index``."""
    r_subj, _, _, r_extra = _rngs(seed, index)
    s = sample_subject(index, r_subj)
    d = sample_diseases(s, r_subj, preset)
    sample_pericarditis(s, d, r_extra, preset)
    sample_rhythm(s, d, r_extra)
    s.anatomy = sample_anatomy(s, r_extra)
    ph = generate_phenotypes(s, d, r_subj)
    return s, d, ph


def cohort_info(cohort_dir: str | Path) -> dict:
    """The ``cohort.json`` of a cohort directory ({} when absent): generator, version, format, seed,
    preset, n, diseases; figures cite ``version`` to say which cohort they come from."""
    p = Path(cohort_dir) / "cohort.json"
    return json.loads(p.read_text()) if p.is_file() else {}


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
        lines.append(f"{name}.dat 16 1000(0)/mV 16 0 {int(counts[k, 0])} {checks[k]} 0 {STANDARD_LEADS[k]}")
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
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-3, 64 << 20)     # M_MMAP_THRESHOLD: serve <64 MB from the heap
        libc.mallopt(-1, 256 << 20)    # M_TRIM_THRESHOLD: keep up to 256 MB of freed heap
    except (OSError, AttributeError):
        pass


def render_subject(args: tuple[int, int, str, str]) -> dict:
    """Worker: draw subject ``index`` and write its ECG and cine; returns its table rows."""
    index, seed, preset, out = args
    out_dir = Path(out)
    s, d, ph = draw_subject(index, seed, preset)
    _, r_ecg, r_cmr, _ = _rngs(seed, index)
    hr = heart_rate_at_imaging(s, d)
    ecg = simulate_ecg(s, d, ph, hr, s.anatomy, r_ecg)
    ecg_rel = f"ecg/{s.subject_id}"
    write_wfdb(out_dir / ecg_rel, ecg, FS, [f"Age: {int(s.age)}", f"Sex: {s.sex}", "Dx: synthetic"])
    cine, info = render_cine(ph, d, hr, r_cmr, anatomy=s.anatomy, male=s.male, bmi=s.bmi)
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
    truth["anatomy_frontal_deg"] = s.anatomy.frontal_deg
    truth["anatomy_transverse_deg"] = s.anatomy.transverse_deg
    truth["cine_angle_deg"] = s.anatomy.cine_angle_deg
    return {"subject": subj, "phenotypes": {"subject_id": s.subject_id, **ph}, "diagnoses": diag, "truth": truth}


def write_cohort(out: str | Path, n: int, seed: int = 0, preset: str = "ukb", workers: int | None = None,
                 progress: bool = True) -> Path:
    """Generate ``n`` subjects into ``out`` (see the module docstring for the layout)."""
    if preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
    if n < 1:
        raise InputError(f"--n must be at least 1, got {n}")
    out = Path(out)
    if (out / "cache").is_dir():                 # caches of a previous cohort in this directory
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
    info = {"generator": "cardionets.data.synth", "version": GENERATOR_VERSION, "format": COHORT_FORMAT,
            "n": n, "seed": seed, "preset": preset, "diseases": list(DISEASES)}
    _to_parquet_with_info(subjects, out / "subjects.parquet", info)
    phen.to_parquet(out / "phenotypes.parquet", index=False)
    diag.to_parquet(out / "diagnoses.parquet", index=False)
    truth.to_parquet(out / "truth.parquet", index=False)
    (out / "cohort.json").write_text(json.dumps(info, indent=2))
    return out


def _to_parquet_with_info(df, path: Path, info: dict) -> None:
    """Parquet with the cohort's generator and version in the schema metadata (key
    ``cardionets.cohort``), so the manifest itself says which cohort it belongs to."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[b"cardionets.cohort"] = json.dumps(info).encode()
    pq.write_table(table.replace_schema_metadata(meta), path)


def _progress(it, total: int, enabled: bool):
    if enabled:
        it = tqdm(it, total=total, desc="synth", unit="subject")
    for i, row in enumerate(it):
        beat("synth", i + 1, total, "subjects")
        yield row
