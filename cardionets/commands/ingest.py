"""`cardionets ingest ukb|mimic-iv-ecg`: turn a UK Biobank or MIMIC-IV-ECG download into a cohort
directory (the format `cardionets synth` writes: subjects / phenotypes / diagnoses Parquet tables),
pointing at the files where they are. Every participant or ECG keeps a row; missing or broken
parts are recorded with their reason (ecg_error, cmr_error, issues), counted in
ingest_summary.json and listed in ingest_issues.csv. ecg_manifest.csv lists the ECG files for
`cardionets screen`. Step by step, with the expected folder layouts: docs/cohorts.md."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="UK Biobank or MIMIC-IV-ECG download -> cohort directory (docs/cohorts.md)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_subparsers(dest="source", metavar="SOURCE")
    src.required = True
    u = src.add_parser("ukb", help="UK Biobank: field table + bulk 20205 ECG XML + 20208 long-axis cine zips",
                       description="UK Biobank -> cohort. The field table gives dates (53), sex (31), age (21003), "
                                   "BSA (22427), ICD-10 41270/41280 and ICD-9 41271/41281 diagnoses and the cardiac "
                                   "phenotypes 24100-24181; the bulk folders the ECGs and cines (searched recursively "
                                   "for <eid>_20205_<instance>_0.xml and <eid>_20208_<instance>_0.zip).")
    u.add_argument("--fields", type=Path, metavar="CSV", help="main dataset extract (CSV/TSV/Parquet) with an eid column")
    u.add_argument("--ecg-dir", type=Path, metavar="DIR", help="folder of field-20205 ECG XML files")
    u.add_argument("--cmr-dir", type=Path, metavar="DIR", help="folder of field-20208 long-axis DICOM zips")
    u.add_argument("--out", type=Path, required=True, metavar="DIR", help="cohort directory to write")
    u.add_argument("--instance", type=int, default=2, help="assessment instance of the imaging visit (default 2)")
    u.add_argument("--phenotype-table", type=Path, metavar="CSV",
                   help="your own phenotypes (e.g. a segmentation pipeline's output); they win over field values")
    u.add_argument("--phenotype-columns", metavar="MAP",
                   help="column mapping for --phenotype-table: 'src=LVEDV,src2=LVEF' or a CSV with column,phenotype")
    u.add_argument("--no-cmr-check", action="store_true",
                   help="do not read and preprocess every cine while ingesting (faster; broken zips then fail in training)")
    u.add_argument("--workers", type=int, default=1, help="processes reading the files (default 1)")
    u.add_argument("--no-progress", action="store_true", help="no progress bar")
    u.set_defaults(func=run_ukb)
    m = src.add_parser("mimic-iv-ecg", help="MIMIC-IV-ECG record_list.csv + WFDB files + MIMIC-IV hosp diagnoses",
                       description="MIMIC-IV-ECG -> ECG-only cohort, one row per ECG. Diagnoses (ICD-9 and ICD-10) "
                                   "from hosp/diagnoses_icd, dated by their admission (hosp/admissions) and counted "
                                   "for an ECG when dated on or before its ecg_time.")
    m.add_argument("--ecg-root", type=Path, required=True, metavar="DIR",
                   help="MIMIC-IV-ECG folder (record_list.csv, files/, optional machine_measurements.csv)")
    m.add_argument("--hosp", type=Path, metavar="DIR", help="MIMIC-IV hosp folder (diagnoses_icd, admissions, patients)")
    m.add_argument("--out", type=Path, required=True, metavar="DIR", help="cohort directory to write")
    m.add_argument("--diagnosis-time", choices=["admit", "discharge"], default="admit",
                   help="date of a hospital diagnosis: its admission's admittime (default) or dischtime")
    m.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N records of record_list.csv")
    m.add_argument("--no-ecg-check", action="store_true", help="only check that each record's header exists")
    m.add_argument("--workers", type=int, default=1, help="processes reading the files (default 1)")
    m.add_argument("--no-progress", action="store_true", help="no progress bar")
    m.set_defaults(func=run_mimic)


def run_ukb(args: argparse.Namespace) -> int:
    from ..cohorts.common import print_summary
    from ..cohorts.ukb import ingest_ukb
    from ..errors import InputError

    if not (args.fields or args.ecg_dir or args.cmr_dir):
        raise InputError("give at least one of --fields, --ecg-dir, --cmr-dir")
    s = ingest_ukb(args.fields, args.out, ecg_dir=args.ecg_dir, cmr_dir=args.cmr_dir, instance=args.instance,
                   phenotype_table=args.phenotype_table, phenotype_columns=args.phenotype_columns,
                   check_cmr=not args.no_cmr_check, workers=args.workers, progress=not args.no_progress)
    print_summary(s, args.out)
    return 0


def run_mimic(args: argparse.Namespace) -> int:
    from ..cohorts.common import print_summary
    from ..cohorts.mimic import ingest_mimic_ecg

    s = ingest_mimic_ecg(args.ecg_root, args.out, hosp=args.hosp, diagnosis_time=args.diagnosis_time,
                         check_ecg_files=not args.no_ecg_check, limit=args.limit, workers=args.workers,
                         progress=not args.no_progress)
    print_summary(s, args.out)
    return 0
