"""CMR phenotypes of a synthetic subject: healthy values from body size, sex and age, then the
diseases acting on them. Every phenotype is derived from a few shared latent factors, so the
correlations follow physiology (volumes scale with BSA and each other, EF and strain move together,
mass follows volume and wall thickness).

Figures used (healthy UK Biobank Caucasians, SSFP at 1.5 T; Petersen et al. 2017, JCMR 19:18):
LV ejection fraction 58 +- 5% (men) and 61 +- 5% (women); LV mass index 53 +- 9 g/m2 (men) and
42 +- 7 g/m2 (women); LV/RV volumes larger in men (LVEDV about 166 +- 32 vs 124 +- 21 mL) and
smaller with age; RV EDV ~10% above LV EDV, RV EF a little below LV EF in men. Atria (same source,
rounded): LA maximal volume index ~38 +- 10 mL/m2 with LA EF ~60%, RA maximal volume index ~50 +- 13
mL/m2 (men) / 43 +- 11 (women) with RA EF ~46%; both grow with age.
Wall thickness and strain (UKB automated analysis, Bai et al. 2020, Nat Med 26:1654): mean LV wall
thickness ~6 mm (men) / ~5 mm (women) at ED, thicker at the base and septum; global circumferential
strain about -22%, radial about +40%, longitudinal about -19%, all falling in magnitude with EF.
"""
from __future__ import annotations

import numpy as np

from ..schema import AHA_SEGMENTS, ELL_SEGMENTS_AHA, PHENOTYPE_NAMES
from .diseases import DiseaseState
from .subjects import Subject

# wall-thickness multipliers per AHA segment (basal > mid > apical; septum slightly thicker)
_WT_PATTERN = np.array([1.06, 1.12, 1.12, 1.04, 1.00, 1.00,
                        0.98, 1.07, 1.07, 1.00, 0.96, 0.96,
                        0.86, 0.90, 0.86, 0.84])
_WT_PATTERN = _WT_PATTERN / _WT_PATTERN.mean()
# circumferential strain magnitude grows from base to apex
_ECC_PATTERN = np.array([0.92] * 6 + [1.0] * 6 + [1.14] * 4)
_ERR_PATTERN = np.array([1.0] * 6 + [1.04] * 6 + [0.92] * 4)
_SEPTAL = (2, 3, 8, 9, 14)


def wall_thickness_from_mass(lvm: float, lvedv: float) -> float:
    """Mean LV wall thickness (mm) of a shell of myocardial volume lvm/1.05 (g/mL) around a cavity
    of lvedv: surface ~ EDV^(2/3); calibrated so 105 g around 165 mL gives 6.0 mm."""
    return 6.0 * (lvm / 105.0) / (lvedv / 165.0) ** (2.0 / 3.0)


def mass_from_wall_thickness(wt: float, lvedv: float) -> float:
    return 105.0 * (wt / 6.0) * (lvedv / 165.0) ** (2.0 / 3.0)


def generate_phenotypes(s: Subject, d: DiseaseState, rng: np.random.Generator) -> dict[str, float]:
    z = s.latent
    age_d = s.age - 63.5
    # ---- LV size, function and mass (healthy) ------------------------------------------------
    edvi = (83.0 if s.male else 73.0) + (13.0 if s.male else 11.0) * z["size"] - 0.35 * age_d - 0.25 * (s.hr - 63.0)
    edv = max(edvi, 40.0) * s.bsa
    ef = (58.0 if s.male else 61.0) + 5.0 * z["ef"]
    lvmi = (53.0 if s.male else 42.0) + (9.0 if s.male else 7.0) * (0.55 * z["size"] + 0.83 * z["wall"])
    lvmi -= (0.15 if s.male else 0.0) * age_d
    if d.hypertension:
        lvmi *= 1.10
    lvm = max(lvmi, 20.0) * s.bsa
    wt_mean = wall_thickness_from_mass(lvm, edv)
    wt = wt_mean * _WT_PATTERN * np.exp(0.05 * rng.standard_normal(16))
    contraction = np.ones(16)       # regional function, 1 = normal
    ecc_global = -(0.36 * ef + 0.9 * z["strain"])
    err_global = 0.66 * ef + 3.0 * z["strain"]
    ell_global = -(0.31 * ef + 0.8 * z["strain"] + 0.03 * age_d)
    # ---- RV and atria (healthy) -----------------------------------------------------------------
    rvedv = edv * (1.10 if s.male else 1.04) * np.exp(0.07 * z["rv"])
    rvef = ef - (3.0 if s.male else 1.0) + 4.0 * (0.6 * z["ef"] + 0.8 * z["rvef"])
    lavi = 36.0 + 9.0 * z["la"] + 0.25 * age_d + (4.0 if d.hypertension else 0.0)
    laef = 60.0 + 6.0 * z["laef"] - 0.2 * age_d
    ravi = (50.0 if s.male else 43.0) + 11.0 * z["ra"] + 0.15 * age_d
    raef = 46.0 + 8.0 * z["raef"]
    hcm_septal = 1.0
    # ---- diseases ---------------------------------------------------------------------------
    if d.cad > 0:
        terr = {"LAD": (1, 2, 7, 8, 13, 14), "RCA": (3, 4, 9, 10, 15), "LCX": (5, 6, 11, 12, 16)}
        # chronic ischaemia: mild hypokinesia somewhere, infarct: akinesia + thinning in the scar
        ischaemic = terr[str(rng.choice(list(terr)))]
        for seg in ischaemic:
            contraction[seg - 1] *= 1.0 - 0.15 * d.cad * rng.uniform(0.3, 1.0)
        for seg in d.mi_segments:
            contraction[seg - 1] *= 1.0 - 0.85 * d.mi_extent * rng.uniform(0.7, 1.0)
            wt[seg - 1] *= 1.0 - 0.4 * d.mi_extent
        scar = len(d.mi_segments) / 16.0 * d.mi_extent
        edv *= 1.0 + 0.9 * scar                     # remodelling
    if d.hf > 0:
        if d.hf_reduced:
            target = rng.normal(33.0, 7.0)
            contraction *= np.clip(1.0 - d.hf * (1.0 - target / max(ef, 1.0)), 0.3, 1.0)
            edv *= 1.0 + 0.35 * d.hf
        else:
            wt *= 1.0 + 0.15 * d.hf
        lavi *= 1.0 + 0.4 * d.hf
        laef -= 12.0 * d.hf
    if d.cm == "DCM":
        k = d.cm_severity
        edv *= 1.0 + 0.75 * k * rng.uniform(0.7, 1.3)
        contraction *= 1.0 - 0.5 * k
        wt *= 1.0 - 0.18 * k
        rvedv *= 1.0 + 0.25 * k
        rvef -= 12.0 * k
        lavi *= 1.0 + 0.5 * k
        laef -= 15.0 * k
    elif d.cm == "HCM":
        k = d.cm_severity
        hcm_septal = 1.0 + k * rng.uniform(1.3, 2.4)   # septum 13-25 mm
        for seg in _SEPTAL:
            wt[seg - 1] *= hcm_septal
            contraction[seg - 1] *= 1.0 - 0.35 * k     # hypertrophied segments deform less
        wt *= 1.0 + 0.2 * k
        edv *= 1.0 - 0.18 * k
        ef += 7.0 * k
        lavi *= 1.0 + 0.5 * k
        laef -= 10.0 * k
    elif d.cm == "RCM":
        k = d.cm_severity
        wt *= 1.0 + 0.55 * k                            # infiltration (amyloid-like)
        edv *= 1.0 - 0.2 * k
        contraction *= 1.0 - 0.15 * k
        ell_global *= 1.0 - 0.45 * k
        lavi *= 1.0 + 0.8 * k
        ravi *= 1.0 + 0.7 * k
        laef -= 25.0 * k
        raef -= 18.0 * k
    if d.ph > 0:
        k = d.ph
        rvedv *= 1.0 + 0.65 * k * rng.uniform(0.7, 1.3)
        rvef -= 20.0 * k
        ravi *= 1.0 + 0.5 * k
        raef -= 12.0 * k
        edv *= 1.0 - 0.1 * k                            # LV underfilling
    # ---- assemble: function follows regional contraction ----------------------------------
    c_mean = float(contraction.mean())
    ef = float(np.clip(ef * (0.25 + 0.75 * c_mean), 8.0, 85.0))
    esv = edv * (1.0 - ef / 100.0)
    sv = edv - esv
    wt = np.clip(wt, 2.0, 35.0)
    lvm = mass_from_wall_thickness(float(wt.mean()), edv) * np.exp(0.03 * rng.standard_normal())
    rvef = float(np.clip(rvef, 10.0, 80.0))
    rvesv = rvedv * (1.0 - rvef / 100.0)
    la_max = max(lavi, 12.0) * s.bsa
    laef = float(np.clip(laef, 5.0, 80.0))
    la_min = la_max * (1.0 - laef / 100.0)
    ra_max = max(ravi, 15.0) * s.bsa
    raef = float(np.clip(raef, 5.0, 75.0))
    ra_min = ra_max * (1.0 - raef / 100.0)
    # regional strain = healthy global strain x base-to-apex pattern x regional contraction
    ecc = ecc_global * _ECC_PATTERN * contraction * np.exp(0.06 * rng.standard_normal(16))
    err = err_global * _ERR_PATTERN * contraction * np.exp(0.08 * rng.standard_normal(16))
    ell_c = np.array([contraction[a - 1] for a in ELL_SEGMENTS_AHA])
    ell = ell_global * ell_c * np.exp(0.07 * rng.standard_normal(6))
    if d.cm == "RCM":   # apical sparing of longitudinal strain
        ell = ell * np.array([0.7, 0.85, 1.25, 1.25, 0.85, 0.7])
    hr = heart_rate_at_imaging(s, d)
    out: dict[str, float] = {
        "LVEDV": edv, "LVESV": esv, "LVSV": sv, "LVEF": ef, "LVCO": sv * hr / 1000.0,
        "LVCI": sv * hr / 1000.0 / s.bsa, "LVM": lvm, "LVEDVi": edv / s.bsa, "LVMi": lvm / s.bsa,
        "RVEDV": rvedv, "RVESV": rvesv, "RVSV": rvedv - rvesv, "RVEF": rvef,
        "RVEDVi": rvedv / s.bsa,
        "LAV_max": la_max, "LAV_min": la_min, "LASV": la_max - la_min, "LAEF": laef, "LAV_max_i": la_max / s.bsa,
        "RAV_max": ra_max, "RAV_min": ra_min, "RASV": ra_max - ra_min, "RAEF": raef, "RAV_max_i": ra_max / s.bsa,
    }
    for i, seg in enumerate(AHA_SEGMENTS):
        out[f"WT_AHA_{seg}"] = float(wt[i])
        out[f"Ecc_AHA_{seg}"] = float(ecc[i])
        out[f"Err_AHA_{seg}"] = float(err[i])
    out["WT_global"] = float(wt.mean())
    out["Ecc_global"] = float(ecc.mean())
    out["Err_global"] = float(err.mean())
    for i in range(6):
        out[f"Ell_{i + 1}"] = float(ell[i])
    out["Ell_global"] = float(ell.mean())
    assert set(out) == set(PHENOTYPE_NAMES), "phenotypes drifted from the schema"
    return {k: float(out[k]) for k in PHENOTYPE_NAMES}


def heart_rate_at_imaging(s: Subject, d: DiseaseState) -> float:
    """Resting heart rate at imaging: faster with heart failure, cardiomyopathy and acute
    pericarditis; in atrial fibrillation the (rate-controlled) ventricular response, 78 +- 12 bpm."""
    if d.af:
        return float(np.clip(78.0 + 1.2 * (s.hr - 63.0), 50.0, 130.0))
    return float(s.hr * (1.0 + 0.12 * d.hf + 0.08 * (d.cm is not None) + 0.15 * d.peri_acute))
