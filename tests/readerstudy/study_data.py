"""Inputs of a small reader study, built from a tiny synthetic cohort (shared by the tests and the
example in docs/reader_study.md).

* cohort: ``write_cohort(n=12, seed=7, preset="enriched")`` with its diagnoses replaced so that
  cardiomyopathy (I42.0, dated a year before imaging) is known for subjects 0, 1, 4, 5 and 6;
* "generated" cines: subjects 0-3's real cines blurred, with noise and shifted by 3 frames, written
  by the generator's own NIfTI writer under the ECG's name (what ``cardionets generate`` writes);
* model predictions (a CSV as ``cardionets screen`` would give): prob.CM per subject, right for
  some subjects and wrong for others (PREDICTED_CM);
* sheets: a perfect reader, a seeded random reader, and one who calls everything real.

``python tests/readerstudy/study_data.py OUT`` writes all of it, makes a pack, fills and scores the
sheets and prints the table (the example in the docs).
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pandas as pd

CM_SUBJECTS = (0, 1, 4, 5, 6)
GENERATED_SUBJECTS = (0, 1, 2, 3)
PREDICTED_CM = {0: 0.9, 1: 0.2, 2: 0.7, 3: 0.1, 4: 0.8, 5: 0.6, 6: 0.3, 7: 0.1, 8: 0.55, 9: 0.2, 10: 0.1, 11: 0.4}


def build_inputs(root: Path) -> dict[str, Path]:
    from scipy.ndimage import gaussian_filter

    from cardionets.data.synth import write_cohort
    from cardionets.generate.writers import write_nifti
    from cardionets.io import read_cmr

    root = Path(root)
    cohort = write_cohort(root / "cohort", n=12, seed=7, preset="enriched", workers=1, progress=False)
    subj = pd.read_parquet(cohort / "subjects.parquet")
    ids = subj["subject_id"].astype(str).tolist()
    dates = pd.to_datetime(subj["imaging_date"])
    diag = pd.DataFrame({"subject_id": [ids[i] for i in CM_SUBJECTS], "icd10": ["I42.0"] * len(CM_SUBJECTS),
                         "date": [dates[i] - pd.Timedelta(days=365) for i in CM_SUBJECTS]})
    diag.to_parquet(cohort / "diagnoses.parquet", index=False)
    gen = root / "generated"
    rng = np.random.default_rng(0)
    for i in GENERATED_SUBJECTS:
        x = read_cmr(cohort / subj["cmr_path"].iloc[i])
        y = np.roll(gaussian_filter(x, (0, 1.0, 1.0)), 3, axis=0) + 0.04 * rng.standard_normal(x.shape)
        ecg_name = Path(subj["ecg_path"].iloc[i]).name.split(".")[0]
        write_nifti(gen / f"{ecg_name}.nii.gz", np.clip(y, -1, 1))
    preds = root / "screen.csv"
    with open(preds, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["record_id", "path", "prob.CM"])
        for i, p in PREDICTED_CM.items():
            w.writerow([f"ecg/{ids[i]}", str(cohort / subj["ecg_path"].iloc[i]), p])
    return {"cohort": cohort, "generated": gen, "predictions": preds}


def fill_sheet(blank: Path, out: Path, answers: dict[str, tuple[str, int | None, str | None]], reader: str = "") -> Path:
    """Copy the blank sheet with answers: case -> (real_or_generated, confidence, disease_present)."""
    rows = list(csv.DictReader(open(blank, newline="")))
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            ans, conf, dis = answers[r["case_id"]]
            r.update({"reader": reader, "real_or_generated": ans, "confidence": "" if conf is None else conf})
            if "disease_present" in r:
                r["disease_present"] = dis or ""
            w.writerow(r)
    return out


def reader_answers(key: dict, seed: int = 3) -> dict[str, dict]:
    """Three readers' answers for the key's cases."""
    rng = np.random.default_rng(seed)
    perfect, random, all_real = {}, {}, {}
    for c in key["cases"]:
        lab = c.get("disease_label")
        yes = None if lab is None else ("yes" if lab else "no")
        perfect[c["case_id"]] = (c["truth"], 5, yes)
        random[c["case_id"]] = (str(rng.choice(["real", "generated"])), int(rng.integers(1, 6)),
                                None if lab is None else str(rng.choice(["yes", "no"])))
        all_real[c["case_id"]] = ("r", None, None if lab is None else "n")
    return {"perfect": perfect, "random": random, "all_real": all_real}


def main(out: Path) -> None:
    from cardionets.readerstudy import PackSettings, make_pack, score_sheets, table_markdown, write_results

    inp = build_inputs(out / "inputs")
    key = make_pack(inp["cohort"], inp["generated"], out / "pack", out / "key.json", predictions=inp["predictions"],
                    settings=PackSettings(disease="CM", seed=4), progress=False)
    sheets = [fill_sheet(out / "pack" / "case_sheet.csv", out / f"sheet_{name}.csv", ans, reader=name)
              for name, ans in reader_answers(key).items()]
    res = score_sheets(out / "key.json", sheets, pack=out / "pack")
    write_results(res, out / "scores")
    print(table_markdown(res))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
