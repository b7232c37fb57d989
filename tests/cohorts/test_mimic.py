"""cardionets ingest mimic-iv-ecg on a MIMIC-layout tree (CinC WFDB records, small hosp tables)."""
from __future__ import annotations

import pandas as pd
import pytest

from cardionets.data import Cohort
from cardionets.data.schema import DISEASES
from cardionets.errors import InputError


def _labels(out):
    c = Cohort(out)
    return pd.DataFrame(c.labels, columns=list(DISEASES),
                        index=c.manifest.subjects["exam_id"]).astype(int), c


def test_rows_and_reasons(mimic_cohort):
    out, summary = mimic_cohort
    s = pd.read_parquet(out / "subjects.parquet").set_index("exam_id")
    assert len(s) == 13 and s.loc["40000001", "subject_id"] == "10000032"
    assert s.loc["40000013", "ecg_error"].startswith("missing: no ") and pd.isna(s.loc["40000013", "ecg_path"])
    assert s["cmr_path"].isna().all()
    assert "ecg_time" in s.loc["40000012", "issues"] and pd.isna(s.loc["40000012", "ecg_date"])
    assert s.loc["40000001", "machine_report"] == "Sinus rhythm; Normal ECG" and s.loc["40000001", "mm_qrs_axis"] == 45.0
    assert s.loc["40000002", "age"] == 60.0 and s.loc["40000002", "sex"] == "F"
    assert summary["rows_with_issue"] == {"diagnosis_admission_unknown": 2, "ecg_missing": 1, "ecg_time_unparsed": 1}
    assert summary["ecg_usable"] == 12 and summary["cmr_usable"] == 0


def test_labels_dated_against_each_ecg(mimic_cohort):
    out, _ = mimic_cohort
    lab, c = _labels(out)
    assert lab.loc["40000001"].tolist() == [0, 0, 0, 0, 0]        # ECG before the CAD admission
    assert lab.loc["40000002"].tolist() == [1, 0, 0, 0, 0]        # after it (ICD-10 I214)
    assert lab.loc["40000003"].tolist() == [0, 1, 0, 0, 0]        # ICD-9 4280
    assert lab.loc["40000005"].tolist() == [0, 0, 1, 0, 0]        # ICD-9 42511: HCM
    assert lab.loc["40000007"].tolist() == [0, 0, 0, 0, 0] and lab.loc["40000008"].tolist() == [0, 0, 0, 1, 0]
    assert lab.loc["40000009"].tolist() == [0, 0, 1, 0, 0]        # I420 DCM (+ ICD-9 4019 counting for nothing)
    assert lab.loc["40000011"].tolist() == [0, 0, 0, 0, 0]        # admission unknown: not counted
    sub = dict(zip(c.manifest.subjects["exam_id"], c.cm_subtype))
    assert sub["40000005"] == 1 and sub["40000009"] == 0


def test_discharge_time_window(mimic_tree, tmp_path):
    from cardionets.cohorts import ingest_mimic_ecg

    ingest_mimic_ecg(mimic_tree["ecg_root"], tmp_path / "c", hosp=mimic_tree["hosp"], diagnosis_time="discharge",
                     progress=False)
    lab, _ = _labels(tmp_path / "c")
    assert lab.loc["40000002", "CAD"] == 0                     # still in hospital at the ECG: not yet discharged
    assert lab.loc["40000008", "PH"] == 0 and lab.loc["40000003", "HF"] == 1


def test_bad_layouts(tmp_path, mimic_tree):
    from cardionets.cohorts import ingest_mimic_ecg

    with pytest.raises(InputError, match="no record_list.csv"):
        ingest_mimic_ecg(tmp_path, tmp_path / "x", progress=False)
    (tmp_path / "r").mkdir()
    pd.DataFrame({"subject_id": [1], "path": ["a"]}).to_csv(tmp_path / "r" / "record_list.csv", index=False)
    with pytest.raises(InputError, match=r"record_list.csv: missing column\(s\) \['study_id', 'ecg_time'\]"):
        ingest_mimic_ecg(tmp_path / "r", tmp_path / "y", progress=False)
    with pytest.raises(InputError, match="no diagnoses_icd"):
        ingest_mimic_ecg(mimic_tree["ecg_root"], tmp_path / "z", hosp=tmp_path, progress=False)
