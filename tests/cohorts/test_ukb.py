"""cardionets ingest ukb on a UK Biobank-layout tree built from real fixture files."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cardionets.data import Cohort, PHENOTYPE_NAMES
from cardionets.data.schema import DISEASES
from cardionets.errors import InputError
from trees import (EID_BAD_XML, EID_BULK_ONLY, EID_CORRUPT_ZIP, EID_NO_4CH, EID_NO_ECG, EID_ZIP_SLIP, UKB_GOOD)


def _subjects(cohort):
    return pd.read_parquet(cohort / "subjects.parquet").set_index("subject_id")


def test_manifest_rows_paths_and_reasons(ukb_cohort):
    out, summary = ukb_cohort
    s = _subjects(out)
    assert len(s) == 13 and summary["rows"] == 13             # every participant keeps a row
    good = s.loc[UKB_GOOD]
    assert good["ecg_path"].str.endswith("_20205_2_0.xml").all()       # instance 2, not the repeat visit
    assert good["cmr_path"].str.endswith("_20208_2_0.zip").all()
    assert (good["cmr_series"] == "CINE_segmented_LAX_4Ch").all() and (good["cmr_series_number"] == 12).all()
    assert (good["cmr_frames"] == 20).all() and (good["cmr_series_uid"] == "1.2.826.0.1.3680043.8.498.12").all()
    assert good["cmr_warnings"].str.contains("short-axis slice").all()  # Sunnybrook is a SAX slice in disguise
    assert s.loc[EID_NO_ECG, "ecg_error"].startswith("missing") and pd.isna(s.loc[EID_NO_ECG, "ecg_path"])
    assert "not well-formed XML" in s.loc[EID_BAD_XML, "ecg_error"] and EID_BAD_XML in s.loc[EID_BAD_XML, "ecg_error"]
    assert "not a readable zip" in s.loc[EID_CORRUPT_ZIP, "cmr_error"]
    assert "no 4ch cine series" in s.loc[EID_NO_4CH, "cmr_error"] and "CINE_segmented_SAX_b1" in s.loc[EID_NO_4CH, "cmr_error"]
    assert "zip-slip" in s.loc[EID_ZIP_SLIP, "cmr_error"] and f"{EID_ZIP_SLIP}_20208" in s.loc[EID_ZIP_SLIP, "cmr_error"]
    assert "no row in the field table" in s.loc[EID_BULK_ONLY, "issues"]
    assert summary["ecg_usable"] == 11 and summary["cmr_usable"] == 9
    assert summary["rows_with_issue"] == {
        "cmr_missing": 1, "cmr_no_4ch_series": 1, "cmr_unreadable": 2, "diagnosis_date_unparsed": 1,
        "ecg_missing": 1, "ecg_unreadable": 1, "imaging_date_unparsed": 1, "not_in_fields": 1,
        "phenotype_not_a_number": 1}
    assert json.loads((out / "ingest_summary.json").read_text())["rows"] == 13
    issues = pd.read_csv(out / "ingest_issues.csv")
    assert len(issues) == sum(summary["issues"].values())
    assert any("'foo'" in w for w in summary["warnings"])                # unknown column named, not fatal
    assert any("other instances" in w for w in summary["warnings"])
    assert any("1 participant(s) of the field table have no instance-2 imaging visit" in w for w in summary["warnings"])
    ecgs = pd.read_csv(out / "ecg_manifest.csv")
    assert len(ecgs) == 12 and set(ecgs.columns) == {"record_id", "path"}


def test_dates_and_labels(ukb_cohort):
    out, _ = ukb_cohort
    c = Cohort(out)
    s = c.manifest.subjects.set_index("subject_id")
    lab = pd.DataFrame(c.labels, columns=list(DISEASES), index=c.subject_ids)
    assert lab.loc[UKB_GOOD[0]].tolist() == [1, 0, 0, 0, 0]          # I251 before the exam; I500 after it
    assert lab.loc[UKB_GOOD[1]].tolist() == [0, 0, 1, 0, 0]          # I420 (DCM)
    assert lab.loc[UKB_GOOD[2]].tolist() == [0, 0, 0, 0, 0]          # I272 with an unparseable date: kept, not counted
    assert lab.loc[UKB_GOOD[3]].tolist() == [0, 0, 1, 0, 0]          # I422 dated on the exam day counts
    assert lab.loc[UKB_GOOD[4]].tolist() == [0, 1, 0, 0, 0]          # ICD-9 4280 (field 41271)
    sub = dict(zip(c.subject_ids, c.cm_subtype))
    assert sub[UKB_GOOD[1]] == 0 and sub[UKB_GOOD[3]] == 1 and sub[UKB_GOOD[0]] == -1
    assert pd.isna(s.loc[UKB_GOOD[5], "imaging_date"])
    assert s.loc[UKB_GOOD[0], "imaging_date"] == pd.Timestamp("2016-03-14")
    assert s.loc[UKB_GOOD[0], "ecg_date"] == pd.Timestamp("2016-03-14 10:42:05")   # from the XML
    d = pd.read_parquet(out / "diagnoses.parquet")
    row = d[(d.subject_id == UKB_GOOD[4])].iloc[0]
    assert (row.code, row.icd_version, row.icd10) == ("4280", 9, "I50")
    assert s.loc[UKB_GOOD[0], "sex"] == "F" and s.loc[UKB_GOOD[1], "sex"] == "M"


def test_phenotype_mapping(ukb_cohort, ukb_tree):
    out, _ = ukb_cohort
    ph = pd.read_parquet(out / "phenotypes.parquet").set_index("subject_id")
    assert set(PHENOTYPE_NAMES) <= set(ph.columns)
    k = 2                                                           # UKB_GOOD[2] row index in the field table
    row = ph.loc[UKB_GOOD[k]]
    ids = list(range(24100, 24182))
    fields = pd.read_csv(ukb_tree["fields"], dtype=str).set_index("eid").loc[UKB_GOOD[k]]
    from cardionets.cohorts.ukb import idp_fields

    for fid, name in idp_fields().items():
        assert row[name] == pytest.approx(float(fields[f"{fid}-2.0"])), name
    assert len(idp_fields()) == 76 and 24118 not in idp_fields() and set(idp_fields()) < set(ids)
    assert row["LVEDVi"] == pytest.approx(row["LVEDV"] / 1.9) and row["LVCI"] == pytest.approx(row["LVCO"] / 1.9)
    assert ph.loc[UKB_GOOD[0], "LVEDV"] == 150.0                   # the user's table wins ...
    assert ph.loc[UKB_GOOD[0], "LVEDVi"] == pytest.approx(150.0 / 1.9)   # ... and the index follows it
    assert np.isnan(ph.loc[UKB_GOOD[6], "LVEF"])                   # 'abc' -> missing, with a reason
    assert np.isnan(ph.loc[EID_BULK_ONLY, "LVEDV"])


def test_field_column_formats_and_bad_tables(tmp_path, ukb_tree):
    from cardionets.cohorts import ingest_ukb
    from cardionets.cohorts.ukb import parse_field_column

    assert parse_field_column("24100-2.0") == (24100, 2, 0)
    assert parse_field_column("f.41270.0.12") == (41270, 0, 12)
    assert parse_field_column("p53_i2") == (53, 2, 0) and parse_field_column("p41280_a3") == (41280, 0, 3)
    assert parse_field_column("foo") is None
    rap = pd.DataFrame({"participant.eid": [UKB_GOOD[0]], "p53_i2": ["2016-03-14"], "p41270": ["I251|I500"],
                        "p41280_a0": ["2012-05-01"], "p41280_a1": ["2019-01-01"], "p24103_i2": ["55"]})
    rap.to_csv(tmp_path / "rap.csv", index=False)
    s = ingest_ukb(tmp_path / "rap.csv", tmp_path / "rap", progress=False)
    c = Cohort(tmp_path / "rap")
    assert c.labels[0].tolist() == [1, 0, 0, 0, 0] and s["rows"] == 1
    assert pd.read_parquet(tmp_path / "rap" / "phenotypes.parquet")["LVEF"].iloc[0] == 55.0
    pd.DataFrame({"id": [1]}).to_csv(tmp_path / "noeid.csv", index=False)
    with pytest.raises(InputError, match="noeid.csv: no participant column"):
        ingest_ukb(tmp_path / "noeid.csv", tmp_path / "x", progress=False)
    with pytest.raises(InputError, match="unknown phenotype"):
        ingest_ukb(ukb_tree["fields"], tmp_path / "y", phenotype_table=ukb_tree["segmentation"],
                   phenotype_columns="lv_edv_ml=LV_EDV", progress=False)
    with pytest.raises(InputError, match="segmentation.csv: mapped column"):
        ingest_ukb(ukb_tree["fields"], tmp_path / "z", phenotype_table=ukb_tree["segmentation"],
                   phenotype_columns="nope=LVEDV", progress=False)


def test_cli(ukb_tree, tmp_path, capsys):
    from cardionets.cli import main

    rc = main(["ingest", "ukb", "--fields", str(ukb_tree["fields"]), "--ecg-dir", str(ukb_tree["ecg_dir"]),
               "--out", str(tmp_path / "c"), "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0 and "13 rows" in out and "ecg_missing" in out
    s = pd.read_parquet(tmp_path / "c" / "subjects.parquet")
    assert s["cmr_path"].isna().all() and s["cmr_error"].str.startswith("missing").all()
    assert main(["ingest", "ukb", "--out", str(tmp_path / "d")]) == 2
