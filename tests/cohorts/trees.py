"""Small UK Biobank- and MIMIC-IV-ECG-layout trees built from the real fixtures (tests/fixtures):
CardioSoft XML written from real CinC records under UK Biobank names, the real Sunnybrook DICOM
frames repackaged into field-20208-style zips with UK Biobank series descriptions, CinC WFDB
records in the MIMIC-IV-ECG folder layout with record_list.csv and small hosp tables."""
from __future__ import annotations

import io
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

FIX = Path(__file__).resolve().parents[1] / "fixtures"
SUNNYBROOK = FIX / "cmr" / "sunnybrook_SCD0000101"
CINC = FIX / "ecg" / "cinc2021"
TEMPLATE_XML = FIX / "ecg" / "formats" / "cardiosoft_ukb_style.xml"
LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")

# eid -> what its bulk files are
UKB_GOOD = [f"10000{i:02d}" for i in range(1, 8)]          # 1000001..1000007: XML + 4Ch zip + fields
EID_NO_ECG = "1000008"          # zip, fields, no XML
EID_CORRUPT_ZIP = "1000009"     # XML, fields, zip of garbage bytes
EID_NO_4CH = "1000010"          # XML, fields, zip with only a short-axis series
EID_ZIP_SLIP = "1000011"        # XML, fields, zip with a '../' entry
EID_BAD_XML = "1000012"         # truncated XML, fields, no zip
EID_BULK_ONLY = "1000013"       # XML + zip, no row in the field table


def cardiosoft_xml(record: str) -> str:
    """The CardioSoft fixture with its rhythm strip replaced by the real CinC ``record`` (5 uV/LSB)."""
    from cardionets.io import read_ecg

    ecg = read_ecg(CINC / f"{record}.hea").standard()
    counts = np.round(ecg.signal.astype(np.float64) * 200.0).astype(np.int64)
    text = TEMPLATE_XML.read_text(encoding="latin-1")
    head, strip = text.split("<StripData>", 1)
    body = "\n".join(f'\t\t<WaveformData lead="{n}">{",".join(map(str, counts[i]))}</WaveformData>'
                     for i, n in enumerate(LEADS))
    strip = re.sub(r"(\t\t<WaveformData.*</WaveformData>\n?)+", body + "\n", strip, flags=re.S)
    strip = re.sub(r"<ChannelSampleCountTotal>\d+</ChannelSampleCountTotal>",
                   f"<ChannelSampleCountTotal>{counts.shape[1]}</ChannelSampleCountTotal>", strip)
    return head + "<StripData>" + strip


def _series_bytes(description: str, number: int, uid_suffix: str, n_frames: int | None = None) -> list[tuple[str, bytes]]:
    import pydicom

    pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE
    out = []
    files = sorted(SUNNYBROOK.glob("*.dcm"))[:n_frames]
    for f in files:
        ds = pydicom.dcmread(str(f))
        ds.SeriesDescription = description
        ds.SeriesNumber = number
        ds.SeriesInstanceUID = f"1.2.826.0.1.3680043.8.498.{uid_suffix}"
        ds.SOPInstanceUID = f"1.2.826.0.1.3680043.8.498.{uid_suffix}.{ds.InstanceNumber}"
        buf = io.BytesIO()
        ds.save_as(buf)
        out.append((f"{ds.SOPInstanceUID}.dcm", buf.getvalue()))
    return out


def ukb_zip(path: Path, *, four_ch: bool = True, slip: bool = False) -> Path:
    """A field-20208-style zip: the Sunnybrook frames as CINE_segmented_LAX_4Ch (when ``four_ch``)
    and a 5-frame CINE_segmented_SAX_b1 series, plus UK Biobank's manifest.csv (typo and all)."""
    members = []
    if four_ch:
        members += _series_bytes("CINE_segmented_LAX_4Ch", 12, "12")
    members += _series_bytes("CINE_segmented_SAX_b1", 14, "14", n_frames=5)
    lines = ["filename,patientid,studyid,aet,date,time,series discription"]
    for name, _ in members:
        desc = "CINE_segmented_LAX_4Ch" if ".12." in name else "CINE_segmented_SAX_b1"
        lines.append(f"{name},0000000,1,ANON,Mar 14, 2016,104205,{desc}")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
        zf.writestr("manifest.csv", "\n".join(lines) + "\n")
        if slip:
            zf.writestr("../../evil.dcm", members[0][1])
    return path


def build_ukb_tree(root: Path) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    ecg, cmr = root / "bulk" / "20205", root / "bulk" / "20208"
    ecg.mkdir(parents=True)
    (cmr / "batch1").mkdir(parents=True)                    # nested: the bulk folders are searched recursively
    records = sorted(p.stem for p in CINC.glob("*.hea"))
    good_zip = ukb_zip(root / "good.zip")
    xml_eids = UKB_GOOD + [EID_CORRUPT_ZIP, EID_NO_4CH, EID_ZIP_SLIP, EID_BULK_ONLY]
    for k, eid in enumerate(xml_eids):
        (ecg / f"{eid}_20205_2_0.xml").write_text(cardiosoft_xml(records[k]), encoding="latin-1")
    (ecg / f"{UKB_GOOD[0]}_20205_3_0.xml").write_text(cardiosoft_xml(records[0]), encoding="latin-1")  # repeat visit
    (ecg / f"{EID_BAD_XML}_20205_2_0.xml").write_text(cardiosoft_xml(records[0])[:5000], encoding="latin-1")
    for eid in UKB_GOOD + [EID_NO_ECG, EID_BULK_ONLY]:
        shutil.copy(good_zip, cmr / "batch1" / f"{eid}_20208_2_0.zip")
    (cmr / f"{EID_CORRUPT_ZIP}_20208_2_0.zip").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 40)
    ukb_zip(cmr / f"{EID_NO_4CH}_20208_2_0.zip", four_ch=False)
    ukb_zip(cmr / f"{EID_ZIP_SLIP}_20208_2_0.zip", slip=True)
    good_zip.unlink()

    eids = UKB_GOOD + [EID_NO_ECG, EID_CORRUPT_ZIP, EID_NO_4CH, EID_ZIP_SLIP, EID_BAD_XML]
    rows = []
    for k, eid in enumerate(eids):
        r = {"eid": eid, "53-2.0": "2016-03-14", "31-0.0": str(k % 2), "21003-2.0": str(60 + k),
             "50-2.0": "170", "21002-2.0": "75", "22427-2.0": "1.9", "foo": "x"}
        for j, fid in enumerate(range(24100, 24182)):
            r[f"{fid}-2.0"] = f"{100 + k + j * 0.5:.1f}"
        rows.append(r)
    rows.append({"eid": "1000014", "53-2.0": None, "31-0.0": "1", "foo": "y"})  # never imaged: not in the cohort
    df = pd.DataFrame(rows)
    dx = {  # eid: [(41270 code, 41280 date), ...]
        UKB_GOOD[0]: [("I251", "2012-05-01"), ("I500", "2019-01-01")],          # CAD counts; HF after the exam
        UKB_GOOD[1]: [("I420", "2015-12-31")],                                    # CM, DCM subtype
        UKB_GOOD[2]: [("I272", "31/31/2015"), ("E119", "2010-01-01")],            # PH with a date that does not parse
        UKB_GOOD[3]: [("I422", "2016-03-14")],                                    # HCM on the exam day: counts
    }
    eids = eids + ["1000014"]
    width = max(len(v) for v in dx.values())
    for a in range(width):
        df[f"41270-0.{a}"] = [dx.get(e, [])[a][0] if a < len(dx.get(e, [])) else None for e in eids]
        df[f"41280-0.{a}"] = [dx.get(e, [])[a][1] if a < len(dx.get(e, [])) else None for e in eids]
    df["41271-0.0"] = [("4280" if e == UKB_GOOD[4] else None) for e in eids]   # ICD-9 heart failure
    df["41281-0.0"] = [("2001-06-01" if e == UKB_GOOD[4] else None) for e in eids]
    df.loc[df["eid"] == UKB_GOOD[5], "53-2.0"] = "not-a-date"
    df.loc[df["eid"] == UKB_GOOD[6], "24103-2.0"] = "abc"                          # LVEF not a number
    fields = root / "ukb_fields.csv"
    df.to_csv(fields, index=False)
    seg = root / "segmentation.csv"
    pd.DataFrame({"eid": UKB_GOOD[:2], "lv_edv_ml": [150.0, 151.0], "note": ["a", "b"]}).to_csv(seg, index=False)
    return {"fields": fields, "ecg_dir": root / "bulk" / "20205", "cmr_dir": root / "bulk" / "20208",
            "segmentation": seg}


# MIMIC: subject -> [(study_id, ecg_time, record, admission diagnoses)]
MIMIC_ECGS = [
    ("10000032", "40000001", "2149-06-01 10:00:00", "HR06000"),
    ("10000032", "40000002", "2150-01-02 08:30:00", "HR06001"),
    ("10000048", "40000003", "2141-03-01 12:00:00", "HR06002"),
    ("10000048", "40000004", "2141-04-01 12:00:00", "HR06003"),
    ("10000056", "40000005", "2160-01-01 09:00:00", "HR06004"),
    ("10000056", "40000006", "2160-02-01 09:00:00", "JS20000"),
    ("10000064", "40000007", "2170-05-05 07:00:00", "JS20001"),
    ("10000064", "40000008", "2170-06-05 07:00:00", "JS20002"),
    ("10000072", "40000009", "2180-01-01 00:00:00", "JS20003"),
    ("10000072", "40000010", "2180-02-01 00:00:00", "JS20004"),
    ("10000080", "40000011", "2185-01-01 00:00:00", "JS20005"),
    ("10000080", "40000012", "not a time", "JS20006"),
    ("10000088", "40000013", "2190-01-01 00:00:00", None),                  # record missing on disk
]
MIMIC_DX = [  # subject_id, hadm_id, icd_code, icd_version
    ("10000032", "20000001", "I214", "10"),      # CAD, admission 2150-01-01: before ECG 2, after ECG 1
    ("10000048", "20000002", "4280", "9"),       # HF (ICD-9), admission 2140
    ("10000056", "20000003", "42511", "9"),      # HCM (ICD-9), admission 2159
    ("10000064", "20000004", "I270", "10"),      # PH, admission 2170-06-01: only ECG 8
    ("10000072", "20000005", "I420", "10"),      # DCM, admission 2179
    ("10000072", "20000005", "4019", "9"),       # hypertension: counts for nothing
    ("10000080", "29999999", "I500", "10"),      # admission not in admissions.csv
]
MIMIC_ADM = [("20000001", "10000032", "2150-01-01 00:00:00", "2150-01-05 00:00:00"),
             ("20000002", "10000048", "2140-02-01 00:00:00", "2140-02-03 00:00:00"),
             ("20000003", "10000056", "2159-06-01 00:00:00", "2159-06-02 00:00:00"),
             ("20000004", "10000064", "2170-06-01 00:00:00", "2170-06-10 00:00:00"),
             ("20000005", "10000072", "2179-01-01 00:00:00", "2179-01-04 00:00:00")]


def build_mimic_tree(root: Path) -> dict[str, Path]:
    ecg_root, hosp = root / "mimic-iv-ecg", root / "mimiciv" / "hosp"
    hosp.mkdir(parents=True)
    ecg_root.mkdir(parents=True)
    rec_rows, mm_rows = [], []
    for subj, study, t, record in MIMIC_ECGS:
        rel = f"files/p{subj[:4]}/p{subj}/s{study}/{study}"
        rec_rows.append({"subject_id": subj, "study_id": study, "file_name": study, "ecg_time": t, "path": rel})
        mm_rows.append({"subject_id": subj, "study_id": study, "cart_id": "6848296", "ecg_time": t,
                        "report_0": "Sinus rhythm", "report_1": "Normal ECG", "rr_interval": "857", "qrs_axis": "45"})
        if record is None:
            continue
        d = ecg_root / rel
        d.parent.mkdir(parents=True)
        hea = (CINC / f"{record}.hea").read_text().replace(record, study)
        (d.parent / f"{study}.hea").write_text(hea)
        shutil.copy(CINC / f"{record}.mat", d.parent / f"{study}.mat")
    pd.DataFrame(rec_rows).to_csv(ecg_root / "record_list.csv", index=False)
    pd.DataFrame(mm_rows).to_csv(ecg_root / "machine_measurements.csv", index=False)
    pd.DataFrame(MIMIC_DX, columns=["subject_id", "hadm_id", "icd_code", "icd_version"]).assign(seq_num=1).to_csv(
        hosp / "diagnoses_icd.csv.gz", index=False)
    pd.DataFrame(MIMIC_ADM, columns=["hadm_id", "subject_id", "admittime", "dischtime"]).to_csv(
        hosp / "admissions.csv", index=False)
    pd.DataFrame({"subject_id": sorted({r[0] for r in MIMIC_ECGS}), "gender": "F", "anchor_age": "60",
                  "anchor_year": "2150"}).to_csv(hosp / "patients.csv", index=False)
    return {"ecg_root": ecg_root, "hosp": hosp}
