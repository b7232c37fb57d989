"""``reader-study make``: a blinded, randomised pack of real and generated cines, and its key.

Pack layout (what readers receive)::

    PACK/README.txt           instructions (no case-level information)
    PACK/case_sheet.csv       one row per case to fill in (:mod:`.sheet`)
    PACK/cases/C01.gif        the cine, looping
    PACK/cases/C01.png        a strip of frames with ED / ES marked

The key (JSON, kept apart: a path outside the pack) maps each case id to its source file, real or
generated, subject id, true disease label and the model's prediction, with the pack's fingerprint
(:func:`.blinding.pack_fingerprint`) and the blinding audit (:func:`.blinding.check_pack`).

Every case goes through the same steps, so nothing but the image content differs: read and
normalised by :func:`cardionets.io.read_cmr` (orientation, heart-centred 96 x 96 crop at 1.8 mm,
50 phases of one cycle, 0.5-99.5th percentile intensity scaling), drawn by
:mod:`cardionets.generate.writers` (GIF at one frame time and scale, strip), file times set to one
fixed date. Selection and order come from one seeded generator: the same inputs and seed give a
byte-identical pack (without ``--seed`` a fresh seed is drawn and stored in the key).
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..data.schema import DISEASE_TITLES
from ..errors import InputError
from .blinding import CASES_DIR, check_pack, images_id, pack_fingerprint
from .sheet import columns, write_blank_sheet
from .sources import (Candidate, CohortIndex, attach_identity, attach_predictions, generated_from_folder,
                      is_cohort_dir, load_predictions, real_from_cohort, real_from_folder)
from ..generate.writers import write_gif, write_strip
from ..io import read_cmr

KEY_FORMAT = "cardionets-reader-study-key"
KEY_VERSION = 1
SHEET_NAME = "case_sheet.csv"
FIXED_MTIME = 946684800            # 2000-01-01 00:00 UTC: file times say nothing about the order of writing
DISEASE_WORDS = DISEASE_TITLES                  # one home: cardionets.data.schema


@dataclass
class PackSettings:
    n_real: int | None = None          # default: as many as generated cases
    n_generated: int | None = None     # default: every generated cine found
    disease: str | None = None         # e.g. "CM": a disease study
    positive_fraction: float = 0.5     # disease studies: share of label-positive cases per source
    threshold: float = 0.5             # model probability -> prediction
    seed: int | None = None
    frame_ms: float = 40.0             # GIF frame time
    gif_scale: int = 3                 # GIF enlargement (96 px -> 288 px)
    strip_frames: int = 10
    strip_scale: int = 2
    split: str = "all"                 # real cines from a cohort: all rows or one split (seed split_seed)
    split_seed: int = 0
    allow_same_subject: bool = False   # allow a subject's real cine beside its generated one

    def check(self) -> None:
        if self.disease is not None and self.disease not in DISEASE_WORDS:
            raise InputError(f"--disease must be one of {', '.join(DISEASE_WORDS)}, got {self.disease!r}")
        for name in ("n_real", "n_generated"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise InputError(f"--{name.replace('_', '-')} must be at least 1, got {v}")
        if not 0.0 <= self.positive_fraction <= 1.0:
            raise InputError(f"--positive-fraction must be in [0, 1], got {self.positive_fraction}")
        if not 20 <= self.frame_ms <= 1000:
            raise InputError(f"--frame-ms must be 20-1000 ms (GIF viewers slow shorter frames down), got {self.frame_ms}")
        if not 1 <= self.gif_scale <= 8 or not 1 <= self.strip_scale <= 8:
            raise InputError("--gif-scale and --strip-scale must be 1-8")
        if not 2 <= self.strip_frames <= 50:
            raise InputError(f"--strip-frames must be 2-50, got {self.strip_frames}")


# ------------------------------------------------------------------------------------------ selection
def _choose(cands: list[Candidate], n: int, rng: np.random.Generator, disease: str | None,
            positive_fraction: float, what: str, notes: list[str]) -> list[Candidate]:
    """``n`` of ``cands`` at random; in a disease study round(n * positive_fraction) positives when
    there are enough (the rest negatives)."""
    if n > len(cands):
        raise InputError(f"{n} {what} cases asked for, only {len(cands)} available")
    if disease is None:
        return [cands[i] for i in rng.choice(len(cands), size=n, replace=False)]
    pos = [c for c in cands if c.label == 1]
    neg = [c for c in cands if c.label == 0]
    want = int(round(n * positive_fraction))
    n_pos = min(want, len(pos))
    n_neg = min(n - n_pos, len(neg))
    n_pos = min(len(pos), n - n_neg)
    if n_pos != want:
        notes.append(f"{what}: {n_pos} {disease}-positive of {n} cases ({want} wanted, {len(pos)} available)")
    picked = [pos[i] for i in rng.choice(len(pos), size=n_pos, replace=False)]
    picked += [neg[i] for i in rng.choice(len(neg), size=n_neg, replace=False)]
    return picked


def _check_paths(out: Path, key: Path, force: bool) -> None:
    out_r, key_r = out.resolve(), key.resolve()
    if key_r == out_r or out_r in key_r.parents:
        raise InputError(f"--key {key} is inside the pack {out}: readers would receive the answers; "
                         "store the key elsewhere")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out}: exists and is not an empty directory (a pack is written into a new directory)")
    if key.exists() and not force:
        raise InputError(f"{key}: a key already exists (another pack's answers?); choose another path or --force")
    if key.suffix.lower() != ".json":
        raise InputError(f"--key {key}: the key is a JSON file; name it *.json")


def _readme(n: int, pack_id: str, s: PackSettings, frames: int, size: int) -> str:
    disease_line = (f"     disease_present     yes or no: does this heart show {DISEASE_WORDS[s.disease]}?\n"
                    if s.disease else "")
    return f"""CardioNets reader study - pack {pack_id}

This folder holds {n} cases. Each is a 4-chamber cine cardiac MRI of one heartbeat. Some are
real acquisitions, others were generated by a computer model from an ECG; how many of each is
not disclosed.

Files, in cases/ (case ids are assigned at random):
  C..gif   the cine, looping: {frames} frames of one cycle, {int(s.frame_ms)} ms per frame
  C..png   {s.strip_frames} evenly spaced frames, then the end-diastolic (ED, red outline) and
           end-systolic (ES, blue outline) frames, both found automatically

Every case was prepared in exactly the same way (resampled to {frames} phases of one cycle, cropped
to {size} x {size} pixels of 1.8 mm around the heart, intensities scaled between their 0.5th and
99.5th percentiles, drawn at the same size and speed). Nothing but the images tells the cases apart.

What to do
1. Copy {SHEET_NAME} and name the copy after yourself (for example case_sheet_AB.csv). You may
   put your name or initials in the reader column; otherwise the file name names you.
2. For every case, watch the GIF (the strip may help) and fill in:
     real_or_generated   real or generated (r / g)
     confidence          1 = a guess ... 5 = certain (optional)
{disease_line}     notes               anything you wish to add (not scored)
   Leave case_id and pack_id as they are; keep one row per case.
3. Work on your own and do not discuss cases until every reader has returned a sheet.
4. Return the filled sheet to the study organiser.
"""


def _set_times(root: Path) -> None:
    for p in sorted(root.rglob("*"), reverse=True):
        os.utime(p, (FIXED_MTIME, FIXED_MTIME))
    os.utime(root, (FIXED_MTIME, FIXED_MTIME))


def _write_json(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    tmp.replace(path)


# ------------------------------------------------------------------------------------------ main
def make_pack(real: str | Path, generated: str | Path, out: str | Path, key: str | Path, *,
              cohort: str | Path | None = None, predictions: str | Path | None = None,
              settings: PackSettings | None = None, force: bool = False, progress: bool = True) -> dict:
    """Write the pack into ``out`` and its key to ``key``; returns the summary (also in the key)."""
    s = settings or PackSettings()
    s.check()
    real, generated, out, key = Path(real), Path(generated), Path(out), Path(key)
    _check_paths(out, key, force)
    if not real.exists():
        raise InputError(f"--real {real}: no such file or directory")
    if predictions is not None and s.disease is None:
        raise InputError("--predictions are the model's disease probabilities: give --disease too")
    index = None
    if is_cohort_dir(real):
        if cohort is not None and Path(cohort).resolve() != real.resolve():
            raise InputError("--cohort is for a folder of real cines; --real is already a cohort directory")
        index = CohortIndex(real)
        reals = real_from_cohort(index, s.split, s.split_seed)
    else:
        if s.split != "all":
            raise InputError("--split chooses rows of a cohort; --real is a folder of cines")
        index = CohortIndex(cohort) if cohort is not None else None
        reals = real_from_folder(real)
    gens = generated_from_folder(generated)
    attach_identity(gens + reals, index, s.disease)
    if predictions is not None:
        attach_predictions(gens + reals, load_predictions(predictions, s.disease), s.threshold, index)

    seed = int(np.random.SeedSequence().entropy % (2 ** 32)) if s.seed is None else int(s.seed)
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    chosen_gen = _choose(gens, s.n_generated or len(gens), rng, s.disease, s.positive_fraction, "generated", notes)
    if not s.allow_same_subject:
        taken = {c.subject_id for c in chosen_gen}
        before = len(reals)
        reals = [c for c in reals if c.subject_id not in taken]
        if before != len(reals):
            notes.append(f"real: {before - len(reals)} cine(s) left out: their subjects have a generated case "
                         "(--allow-same-subject keeps them)")
    n_real = s.n_real or min(len(chosen_gen), len(reals))
    if s.n_real is None and n_real < len(chosen_gen):
        notes.append(f"real: only {n_real} real cines available for {len(chosen_gen)} generated ones")
    chosen_real = _choose(reals, n_real, rng, s.disease, s.positive_fraction, "real", notes)
    cases = [chosen_gen[i] if i < len(chosen_gen) else chosen_real[i - len(chosen_gen)]
             for i in rng.permutation(len(chosen_gen) + len(chosen_real))]
    width = max(2, len(str(len(cases))))
    ids = [f"C{i + 1:0{width}d}" for i in range(len(cases))]

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / CASES_DIR).mkdir(parents=True)
    t0 = time.perf_counter()
    try:
        rows, frames, size = [], 0, 0
        it = list(zip(ids, cases))
        if progress:
            from tqdm import tqdm

            it = tqdm(it, desc="reader-study cases", unit="case")
        for cid, c in it:
            cine = read_cmr(c.path)                                   # [T, H, W] in [-1, 1]
            frames, size = cine.shape[0], cine.shape[1]
            gif = write_gif(tmp / CASES_DIR / f"{cid}.gif", cine, frame_ms=s.frame_ms, scale=s.gif_scale)
            png = write_strip(tmp / CASES_DIR / f"{cid}.png", [(cid, cine)], n_frames=s.strip_frames,
                              scale=s.strip_scale)
            rows.append({"case_id": cid, "truth": c.truth, "gif": gif.relative_to(tmp).as_posix(),
                         "png": png.relative_to(tmp).as_posix()})
        pack_id = images_id(pack_fingerprint(tmp)["files"])
        write_blank_sheet(tmp / SHEET_NAME, ids, pack_id, s.disease)
        (tmp / "README.txt").write_text(_readme(len(cases), pack_id, s, frames, size), encoding="utf-8")
        _set_times(tmp)
        fixed_text = (tmp / "README.txt").read_text(encoding="utf-8") + ",".join(columns(s.disease))
        secrets = {x for c in cases for x in (c.subject_id, c.name, c.path.name)
                   if x and x.lower() not in fixed_text.lower()}    # the template's own words are no leak
        audit = check_pack(tmp, rows, secrets)
        fp = pack_fingerprint(tmp)
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    seconds = time.perf_counter() - t0
    key_obj = {
        "format": KEY_FORMAT, "version": KEY_VERSION,
        "pack_id": fp["pack_id"], "pack_sha256": fp["pack_sha256"], "files": fp["files"],
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seed": seed, "disease": s.disease, "sheet_columns": columns(s.disease),
        "settings": asdict(s) | {"seed": seed},
        "inputs": {"real": str(real.resolve()), "generated": str(generated.resolve()),
                   "cohort": str(index.root.resolve()) if index is not None else None,
                   "predictions": str(Path(predictions).resolve()) if predictions is not None else None},
        "cases": [{"case_id": cid, "truth": c.truth, "source_file": str(c.path.resolve()), "name": c.name,
                   "subject_id": c.subject_id, "disease_label": c.label, "model_probability": c.probability,
                   "model_prediction": c.prediction} for cid, c in zip(ids, cases)],
        "counts": {"cases": len(cases), "real": len(chosen_real), "generated": len(chosen_gen)},
        "blinding_audit": audit, "notes": notes, "seconds": round(seconds, 2),
    }
    _write_json(key, key_obj)
    return key_obj


def load_key(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such key file")
    try:
        key = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a JSON key ({exc})") from exc
    if not isinstance(key, dict) or key.get("format") != KEY_FORMAT:
        raise InputError(f"{path}: not a reader-study key (written by `cardionets reader-study make`)")
    if key.get("version") != KEY_VERSION:
        raise InputError(f"{path}: key version {key.get('version')}, this CardioNets reads version {KEY_VERSION}")
    for field, kind in (("pack_id", str), ("pack_sha256", str), ("files", dict)):
        if not isinstance(key.get(field), kind):
            raise InputError(f"{path}: the key has no valid {field!r}")
    cases = key.get("cases")
    if not isinstance(cases, list) or not cases or not all(
            isinstance(c, dict) and c.get("truth") in ("real", "generated") and isinstance(c.get("case_id"), str)
            for c in cases):
        raise InputError(f"{path}: the key's case list is missing or malformed")
    return key
