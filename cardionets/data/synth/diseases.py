"""Diseases of the synthetic cohort: who has what, since when, and with which ICD-10 code.

Prevalences of the ``ukb`` preset follow the paper's UK Biobank cohort (CAD about 5.4%, HF 0.6%,
CM 0.2%); PH ~0.3% is of the order of the UKB I27 prevalence. ``enriched`` raises them for training
demos. Risk rises with age and male sex for CAD/HF (hazard ratio ~1.06 per year and ~2 for men, as
in the Framingham-type scores); the rate is renormalised so the marginal prevalence matches.

Each disease is *prevalent* (diagnosed on/before imaging; counts for labels) or *incident*
(diagnosed after imaging; the disease process is milder at imaging and the label rule ignores it),
like UK Biobank's hospital-record diagnoses around the imaging visit.
ICD-10 codes: CAD I25.2 (old MI) / I25.1 / I20.9; HF I50.0 / I50.9; CM I42.0 (DCM), I42.1/I42.2
(HCM), I42.5 (RCM); PH I27.0 / I27.2; pericardial disease I30.0 / I30.9 (acute pericarditis),
I31.1 (chronic constrictive), I31.3 / I31.9 (effusion, other); comorbid codes that do not count:
I10, E11.9, I48.9 (also set for every subject in AF on the ECG, :mod:`.rhythm`).

Pericardial disease (ICD-10 I30-I32, the fifth screening target) is rare in hospital records:
acute pericarditis occurs in ~28 per 100,000 per year (Italian urban area, Imazio et al. 2007,
Circulation 115:2739), hospitalisation for it in 3.3 per 100,000 person-years (Finland, Kyto et al.
2014, Circulation 130:1601), i.e. ~0.07% over the ~20 years of hospital records before a UK Biobank
imaging visit; effusion and other pericardial codes (I31) are several times more frequent, so
~0.25% prevalent I30-I32 is the order of magnitude used here (approximate). A quarter of the
prevalent cases are in the acute or recurrent phase at imaging (diagnosed in the 6 weeks before;
recurrence in ~30% within 18 months), showing the ECG stage I signature (diffuse
concave ST elevation with PR depression; Spodick 2003, JAMA 289:1150) and an effusion rim of
3-10 mm on the cine; the others are past episodes with a thickened pericardium (3-6 mm, normal
<= 2 mm; Bogaert & Francone 2009, JCMR 11:14), small residual effusion in some, and flattened T
waves in some (ECG stage III-IV).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from .subjects import Subject

PRESETS: dict[str, dict[str, float]] = {
    # prevalent fractions (label-positive by the date rule)
    "ukb": {"CAD": 0.054, "HF": 0.006, "DCM": 0.0008, "HCM": 0.0008, "RCM": 0.0004, "PH": 0.003, "PERI": 0.0025},
    "enriched": {"CAD": 0.20, "HF": 0.09, "DCM": 0.04, "HCM": 0.035, "RCM": 0.025, "PH": 0.06, "PERI": 0.06},
}
INCIDENT_FRACTION = 0.3   # extra diagnoses dated after imaging, relative to the prevalent rate
TERRITORIES = {           # AHA segments perfused by each coronary artery (Cerqueira et al. 2002)
    "LAD": (1, 2, 7, 8, 13, 14),
    "RCA": (3, 4, 9, 10, 15),
    "LCX": (5, 6, 11, 12, 16),
}

# E[exp(0.06 (age-63.5))] for age ~ N(63.5, 7.5) and E[exp(0.7 male)] for 48% men: the risk weight
# is divided by these so the marginal prevalence equals the preset.
_AGE_NORM = float(np.exp(0.5 * (0.06 * 7.5) ** 2))
_SEX_NORM = 0.52 + 0.48 * float(np.exp(0.7))


@dataclass
class DiseaseState:
    """What the simulator needs to act on phenotypes, ECG and cine."""
    cad: float = 0.0                 # severity 0..1 (0 = absent)
    mi_territory: str | None = None
    mi_segments: tuple[int, ...] = ()
    mi_extent: float = 0.0           # transmurality-like 0..1
    hf: float = 0.0
    hf_reduced: bool = True          # HFrEF vs HFpEF
    cm: str | None = None            # DCM / HCM / RCM
    cm_severity: float = 0.0
    ph: float = 0.0
    hypertension: bool = False
    lbbb: bool = False
    # pericardial disease (see sample_pericarditis)
    peri: float = 0.0                # 0 = none; else inflammation severity 0..1
    peri_acute: bool = False         # acute / recurrent phase at imaging (ECG stage I, effusion)
    effusion_mm: float = 0.0         # pericardial effusion rim at end-diastole
    pericardium_mm: float = 1.5      # pericardial thickness (normal <= 2 mm on CMR)
    # rhythm and conduction (rhythm.sample_rhythm)
    af: bool = False
    rbbb: bool = False
    lafb: bool = False
    pac_per_min: float = 0.0
    pvc_per_min: float = 0.0
    st_t_nonspecific: bool = False   # minor ST-T changes (flat / low T) not explained by a disease
    diagnoses: list[tuple[str, date]] = field(default_factory=list)


def _risk(subject: Subject, age_k: float = 0.06, male_k: float = 0.7) -> float:
    return float(np.exp(age_k * (subject.age - 63.5)) / _AGE_NORM * np.exp(male_k * subject.male) / _SEX_NORM)


def _onset(rng: np.random.Generator, imaging: date, prevalent: bool) -> tuple[date, float]:
    """Diagnosis date and severity factor at imaging."""
    if prevalent:
        return imaging - timedelta(days=int(rng.integers(0, 4500))), 1.0
    return imaging + timedelta(days=int(rng.integers(1, 2500))), float(rng.uniform(0.25, 0.6))


def sample_diseases(subject: Subject, rng: np.random.Generator, preset: str = "ukb") -> DiseaseState:
    p = PRESETS[preset]
    st = DiseaseState()
    img = subject.imaging_date
    r_cad = _risk(subject)
    u = rng.random()
    if u < p["CAD"] * r_cad * (1 + INCIDENT_FRACTION):
        prevalent = u < p["CAD"] * r_cad
        when, sev = _onset(rng, img, prevalent)
        st.cad = sev * float(rng.uniform(0.5, 1.0))
        if rng.random() < 0.45:      # about 45% of CAD diagnoses in UKB carry a past MI
            st.mi_territory = str(rng.choice(["LAD", "RCA", "LCX"], p=[0.5, 0.3, 0.2]))
            segs = TERRITORIES[st.mi_territory]
            k = int(rng.integers(max(2, len(segs) // 2), len(segs) + 1))
            start = int(rng.integers(0, len(segs) - k + 1))
            st.mi_segments = tuple(segs[start:start + k])
            st.mi_extent = sev * float(rng.uniform(0.4, 1.0))
            st.diagnoses.append(("I25.2", when))
        else:
            st.diagnoses.append((str(rng.choice(["I25.1", "I20.9"])), when))
    r_hf = _risk(subject, 0.07, 0.5) * (3.0 if st.mi_territory else 1.0) / (1 + 2.0 * p["CAD"] * 0.45)
    u = rng.random()
    if u < p["HF"] * r_hf * (1 + INCIDENT_FRACTION):
        when, sev = _onset(rng, img, u < p["HF"] * r_hf)
        st.hf = sev
        st.hf_reduced = bool(rng.random() < 0.7)
        st.diagnoses.append((str(rng.choice(["I50.0", "I50.9"])), when))
    u = rng.random()
    edges = np.cumsum([p["DCM"], p["HCM"], p["RCM"]]) * (1 + INCIDENT_FRACTION)
    if u < edges[-1]:
        kind = int(np.searchsorted(edges, u, side="right"))
        st.cm = ("DCM", "HCM", "RCM")[kind]
        lo = edges[kind - 1] if kind else 0.0
        prevalent = (u - lo) < (edges[kind] - lo) / (1 + INCIDENT_FRACTION)
        when, sev = _onset(rng, img, prevalent)
        st.cm_severity = sev * float(rng.uniform(0.6, 1.0))
        code = {"DCM": "I42.0", "HCM": str(rng.choice(["I42.1", "I42.2"])), "RCM": "I42.5"}[st.cm]
        st.diagnoses.append((code, when))
    u = rng.random()
    if u < p["PH"] * (1 + INCIDENT_FRACTION):
        when, sev = _onset(rng, img, u < p["PH"])
        st.ph = sev * float(rng.uniform(0.5, 1.0))
        st.diagnoses.append((str(rng.choice(["I27.0", "I27.2"])), when))
    st.lbbb = bool(rng.random() < (0.5 if st.cm == "DCM" else 0.3 if st.hf and st.hf_reduced else 0.006))
    # comorbidities that leave traces but do not count as labels
    if rng.random() < 0.22 * _risk(subject, 0.04, 0.3):
        st.hypertension = True
        st.diagnoses.append(("I10", img - timedelta(days=int(rng.integers(-800, 5000)))))
    if rng.random() < 0.06:
        st.diagnoses.append(("E11.9", img - timedelta(days=int(rng.integers(-800, 5000)))))
    if rng.random() < 0.02:
        st.diagnoses.append(("I48.9", img - timedelta(days=int(rng.integers(-800, 5000)))))
    return st


def sample_pericarditis(subject: Subject, d: DiseaseState, rng: np.random.Generator, preset: str = "ukb") -> None:
    """Pericardial disease of a subject (module docstring): severity, phase, effusion, thickness and
    the I30-I32 code with its date."""
    p = PRESETS[preset]["PERI"]
    u = rng.random()
    if u >= p * (1 + INCIDENT_FRACTION):
        d.effusion_mm = float(max(0.0, rng.normal(0.3, 0.4)))      # physiological pericardial fluid
        d.pericardium_mm = float(np.clip(rng.normal(1.5, 0.3), 1.0, 2.2))
        return
    img = subject.imaging_date
    prevalent = u < p
    acute = prevalent and rng.random() < 0.25
    if acute:
        when, sev = img - timedelta(days=int(rng.integers(0, 42))), 1.0
    else:
        when, sev = _onset(rng, img, prevalent)
    d.peri = sev * float(rng.uniform(0.5, 1.0))
    d.peri_acute = bool(acute)
    if acute:
        d.effusion_mm = float(rng.uniform(3.0, 10.0))
        d.pericardium_mm = float(rng.uniform(2.5, 4.5))
        code = str(rng.choice(["I30.0", "I30.9"]))
    elif prevalent:
        d.effusion_mm = float(rng.uniform(0.0, 3.0)) if rng.random() < 0.4 else 0.3
        d.pericardium_mm = float(rng.uniform(3.0, 6.0))
        code = str(rng.choice(["I30.9", "I31.1", "I31.3", "I31.9"], p=[0.5, 0.1, 0.25, 0.15]))
    else:                                        # diagnosed after imaging: a subclinical rim at most
        d.effusion_mm = float(rng.uniform(0.0, 2.0))
        d.pericardium_mm = float(rng.uniform(1.5, 3.0))
        code = str(rng.choice(["I30.0", "I30.9", "I31.3"]))
    d.diagnoses.append((code, when))
