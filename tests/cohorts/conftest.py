"""UK Biobank- and MIMIC-layout trees from the real fixtures, and their ingested cohorts (once per session)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from trees import build_mimic_tree, build_ukb_tree  # noqa: E402


@pytest.fixture(scope="session")
def ukb_tree(tmp_path_factory):
    return build_ukb_tree(tmp_path_factory.mktemp("ukb") / "download")


@pytest.fixture(scope="session")
def mimic_tree(tmp_path_factory):
    return build_mimic_tree(tmp_path_factory.mktemp("mimic") / "download")


@pytest.fixture(scope="session")
def ukb_cohort(ukb_tree, tmp_path_factory):
    from cardionets.cohorts import ingest_ukb

    out = tmp_path_factory.mktemp("ukb") / "cohort"
    summary = ingest_ukb(ukb_tree["fields"], out, ecg_dir=ukb_tree["ecg_dir"], cmr_dir=ukb_tree["cmr_dir"],
                         phenotype_table=ukb_tree["segmentation"], phenotype_columns="lv_edv_ml=LVEDV",
                         progress=False)
    return out, summary


@pytest.fixture(scope="session")
def mimic_cohort(mimic_tree, tmp_path_factory):
    from cardionets.cohorts import ingest_mimic_ecg

    out = tmp_path_factory.mktemp("mimic") / "cohort"
    summary = ingest_mimic_ecg(mimic_tree["ecg_root"], out, hosp=mimic_tree["hosp"], progress=False)
    return out, summary
