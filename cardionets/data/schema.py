"""The cohort schema every dataset, model head and report codes against.

* :data:`PHENOTYPE_NAMES` -- the 82 CMR phenotypes in a fixed order (the regression targets), named
  after UK Biobank's imaging-derived phenotypes (IDPs) of the cardiac MRI return (Bai et al. 2020,
  Nat Med 26:1654 "A population-based phenome-wide association study of cardiac and aortic structure
  and function"; Petersen et al. 2017, JCMR 19:18 reference ranges). Units in :data:`PHENOTYPE_UNITS`.
* :data:`DISEASES` -- the screening targets, with the ICD-10 rule of :data:`ICD10_RULES`: the
  paper's four (CAD I20-I25, HF I50, CM I42-I43, PH I27) and pericardial disease (PERI I30-I32),
  which the earlier version of the method (CardiacNets) screened for. This is the one home of the
  list: datasets, fine-tuning, the experiment grid and screening import it.
* :data:`CM_SUBTYPES` -- cardiomyopathy subtypes (DCM, HCM, RCM) and their ICD-10 codes.
"""
from __future__ import annotations

# AHA 17-segment model, segments 1-16 (the apex, 17, has no wall-thickness IDP in UKB):
# basal 1-6, mid 7-12: anterior, anteroseptal, inferoseptal, inferior, inferolateral, anterolateral;
# apical 13-16: anterior, septal, inferior, lateral.
AHA_SEGMENTS = tuple(range(1, 17))
AHA_NAMES = ("basal anterior", "basal anteroseptal", "basal inferoseptal", "basal inferior",
             "basal inferolateral", "basal anterolateral", "mid anterior", "mid anteroseptal",
             "mid inferoseptal", "mid inferior", "mid inferolateral", "mid anterolateral",
             "apical anterior", "apical septal", "apical inferior", "apical lateral")
# Longitudinal strain in UKB comes from the 4-chamber view: 6 segments around the LV there.
# In the 4-chamber plane they are these AHA segments (septal base -> apex -> lateral base).
ELL_SEGMENTS_AHA = (3, 9, 14, 16, 12, 6)

_VENTRICLES = ["LVEDV", "LVESV", "LVSV", "LVEF", "LVCO", "LVCI", "LVM", "LVEDVi", "LVMi",
               "RVEDV", "RVESV", "RVSV", "RVEF", "RVEDVi"]
_ATRIA = ["LAV_max", "LAV_min", "LASV", "LAEF", "LAV_max_i", "RAV_max", "RAV_min", "RASV", "RAEF", "RAV_max_i"]
_WT = [f"WT_AHA_{s}" for s in AHA_SEGMENTS] + ["WT_global"]
_ECC = [f"Ecc_AHA_{s}" for s in AHA_SEGMENTS] + ["Ecc_global"]
_ERR = [f"Err_AHA_{s}" for s in AHA_SEGMENTS] + ["Err_global"]
_ELL = [f"Ell_{i}" for i in range(1, 7)]

PHENOTYPE_NAMES: list[str] = _VENTRICLES + _ATRIA + _WT + _ECC + _ERR + _ELL + ["Ell_global"]
assert len(PHENOTYPE_NAMES) == 82 and len(set(PHENOTYPE_NAMES)) == 82

PHENOTYPE_UNITS: dict[str, str] = {}
for _n in PHENOTYPE_NAMES:
    if _n.endswith("EF"):
        PHENOTYPE_UNITS[_n] = "%"
    elif _n in ("LVCO",):
        PHENOTYPE_UNITS[_n] = "L/min"
    elif _n in ("LVCI",):
        PHENOTYPE_UNITS[_n] = "L/min/m2"
    elif _n in ("LVM",):
        PHENOTYPE_UNITS[_n] = "g"
    elif _n in ("LVMi",):
        PHENOTYPE_UNITS[_n] = "g/m2"
    elif _n.startswith("WT_"):
        PHENOTYPE_UNITS[_n] = "mm"
    elif _n.startswith(("Ecc_", "Err_", "Ell_")):
        PHENOTYPE_UNITS[_n] = "%"
    elif _n.endswith("i") or _n.endswith("_i"):
        PHENOTYPE_UNITS[_n] = "mL/m2"
    else:
        PHENOTYPE_UNITS[_n] = "mL"

DISEASES: tuple[str, ...] = ("CAD", "HF", "CM", "PH", "PERI")
# what each name means, in words (reports, reader instructions)
DISEASE_TITLES: dict[str, str] = {"CAD": "coronary artery disease", "HF": "heart failure", "CM": "cardiomyopathy",
                                  "PH": "pulmonary hypertension",
                                  "PERI": "pericardial disease (pericarditis, effusion, constriction)"}
assert tuple(DISEASE_TITLES) == DISEASES

# ICD-10 rule of the paper: a code counts for a disease if its category (3 characters) is in range.
ICD10_RULES: dict[str, tuple[str, str]] = {
    "CAD": ("I20", "I25"),
    "HF": ("I50", "I50"),
    "CM": ("I42", "I43"),
    "PH": ("I27", "I27"),
    "PERI": ("I30", "I32"),      # acute pericarditis, other pericardial disease (effusion, constriction)
}

CM_SUBTYPES: tuple[str, ...] = ("DCM", "HCM", "RCM")
# ICD-10 codes of the subtypes (I42.0 dilated, I42.1 obstructive / I42.2 other hypertrophic,
# I42.5 other restrictive). Other I42/I43 codes are CM without a subtype (-1).
CM_SUBTYPE_CODES: dict[str, int] = {"I420": 0, "I421": 1, "I422": 1, "I425": 2}


def icd10_category(code: str) -> str:
    """'I25.2' / 'I252' / 'i25' -> 'I25'."""
    return str(code).strip().upper().replace(".", "")[:3]


def icd10_disease(code: str) -> str | None:
    """The disease of :data:`DISEASES` an ICD-10 code counts for, or None."""
    cat = icd10_category(code)
    for name, (lo, hi) in ICD10_RULES.items():
        if len(cat) == 3 and cat[0] == lo[0] and lo <= cat <= hi:
            return name
    return None


def cm_subtype_of(code: str) -> int:
    """-1 unless the code names a cardiomyopathy subtype (0 DCM, 1 HCM, 2 RCM)."""
    return CM_SUBTYPE_CODES.get(str(code).strip().upper().replace(".", "")[:4], -1)
