"""The synthetic ECG against the real fixtures and its ground-truth links: calibration (medians of
the acceptance features), rhythm and conduction, the shared anatomy, pericarditis."""
from __future__ import annotations

import glob

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from cardionets.data.ecg_features import profile_record
from cardionets.data.synth.diseases import DiseaseState
from cardionets.data.synth.ecg_model import FS, simulate_ecg
from cardionets.data.synth.phenotypes import heart_rate_at_imaging
from cardionets.data.synth.rhythm import beat_sequence, sample_rhythm
from cardionets.data.synth.subjects import sample_subject
from cardionets.data.synth.writer import _rngs, draw_subject
from cardionets.fixtures import fixture_dir
from cardionets.io import read_ecg
from cardionets.profile.compare import compare_features

FEATURES = ["axis_deg", "r_v5_mv", "sokolow_mv", "qrs_ms", "t_qrs_v5", "noise_rel", "wander_rel"]


def _simulate(i: int, seed: int = 0, preset: str = "ukb"):
    s, d, ph = draw_subject(i, seed, preset)
    return s, d, ph, simulate_ecg(s, d, ph, heart_rate_at_imaging(s, d), s.anatomy, _rngs(seed, i)[1])


@pytest.fixture(scope="module")
def synthetic_profile():
    rows, meta = [], []
    for i in range(150):
        s, d, ph, ecg = _simulate(i)
        rows.append(profile_record(ecg, FS))
        meta.append({"LVM": ph["LVM"], "LVEDV": ph["LVEDV"], "frontal": s.anatomy.frontal_deg})
    return pd.DataFrame(rows), pd.DataFrame(meta)


def test_medians_match_the_real_fixtures(synthetic_profile):
    """The acceptance criteria of the cohort on 150 subjects (docs/cohort.md has the 300-subject run)."""
    real = pd.DataFrame([profile_record(*(lambda e: (e.signal, e.fs))(read_ecg(f).standard(missing="nan")))
                         for f in sorted(glob.glob(str(fixture_dir() / "ecg" / "cinc2021" / "*.hea")))])
    c = compare_features(synthetic_profile[0], real, FEATURES).set_index("feature")
    print(c[["median_a", "median_b", "diff", "ratio"]])
    assert abs(c.loc["axis_deg", "diff"]) <= 15.0
    assert abs(c.loc["r_v5_mv", "ratio"] - 1) <= 0.25 and abs(c.loc["sokolow_mv", "ratio"] - 1) <= 0.25
    assert abs(c.loc["qrs_ms", "diff"]) <= 10.0
    assert abs(c.loc["t_qrs_v5", "ratio"] - 1) <= 0.35
    assert c.loc["noise_rel", "ratio"] <= 1.5 and c.loc["wander_rel", "ratio"] <= 1.5


def test_ground_truth_links(synthetic_profile):
    """Voltage tracks LV mass, QRS width tracks LVEDV, the electrical axis follows the anatomy."""
    f, m = synthetic_profile
    assert spearmanr(f.sokolow_mv, m.LVM, nan_policy="omit").statistic > 0.35
    assert spearmanr(f.qrs_ms, m.LVEDV, nan_policy="omit").statistic > 0.4
    assert 0.15 < spearmanr(f.axis_deg, m.frontal, nan_policy="omit").statistic < 0.7
    assert (f.transition_lead.between(2, 4)).mean() > 0.6           # transition zone V2-V4 mostly


def test_rhythm_prevalences():
    rng = np.random.default_rng(1)
    n = 4000
    af = pac = pvc = rbbb = 0
    for i in range(n):
        s = sample_subject(i, rng)
        d = DiseaseState()
        sample_rhythm(s, d, rng)
        af += d.af
        pac += d.pac_per_min > 0
        pvc += d.pvc_per_min > 0
        rbbb += d.rbbb
        if d.af:
            assert any(code == "I48.9" and when <= s.imaging_date for code, when in d.diagnoses)
    assert 0.005 < af / n < 0.035 and 0.08 < pac / n < 0.2 and 0.03 < pvc / n < 0.1 and 0.003 < rbbb / n < 0.025


def test_beat_sequences():
    rng = np.random.default_rng(0)
    d = DiseaseState(af=True)
    af = beat_sequence(75.0, 65.0, d, rng, 10.0)
    rr = np.diff(af.times)
    assert set(af.kinds) == {"F"} and rr.std() / rr.mean() > 0.12
    d = DiseaseState(pvc_per_min=30.0)
    b = beat_sequence(60.0, 65.0, d, np.random.default_rng(3), 60.0)
    v = np.flatnonzero(b.kinds == "V")
    assert len(v) > 5
    k = v[(v > 0) & (v < len(b.times) - 1)][0]
    # compensatory pause: the beats around a PVC are two sinus intervals apart
    assert b.times[k + 1] - b.times[k - 1] == pytest.approx(2.0, abs=0.15)
    assert b.times[k] - b.times[k - 1] < 0.7


def test_bundle_branch_blocks_widen_qrs():
    s, d, ph, _ = _simulate(3)
    widths = {}
    for name, kw in (("normal", {}), ("lbbb", {"lbbb": True}), ("rbbb", {"rbbb": True})):
        d2 = DiseaseState(**{**{k: getattr(d, k) for k in ("hypertension",)}, **kw})
        ecg = simulate_ecg(s, d2, ph, 62.0, s.anatomy, np.random.default_rng(5))
        widths[name] = profile_record(ecg, FS)["qrs_ms"]
    assert widths["lbbb"] > widths["normal"] + 40 and widths["rbbb"] > widths["normal"] + 20


def test_pericarditis_signature_and_label():
    """Acute pericarditis: diffuse ST elevation and PR depression, an I30 code before imaging."""
    from cardionets.data.labels import disease_labels

    found = [i for i in range(600) if draw_subject(i, 0, "enriched")[1].peri_acute][:4]
    assert len(found) >= 2
    for i in found:
        s, d, ph, ecg = _simulate(i, preset="enriched")
        f = profile_record(ecg, FS)
        calm = DiseaseState(**{k: v for k, v in d.__dict__.items() if k not in ("peri", "peri_acute", "diagnoses")})
        ref = profile_record(simulate_ecg(s, calm, ph, heart_rate_at_imaging(s, d), s.anatomy, _rngs(0, i)[1]), FS)
        assert f["st_mean_mv"] > ref["st_mean_mv"] + 0.06
        assert f["pr_seg_ii_mv"] < ref["pr_seg_ii_mv"] - 0.01
        assert d.effusion_mm >= 3.0
        subj = pd.DataFrame({"subject_id": [s.subject_id], "ecg_date": [pd.Timestamp(s.imaging_date)]})
        dx = pd.DataFrame([{"subject_id": s.subject_id, "icd10": c, "date": pd.Timestamp(w)} for c, w in d.diagnoses])
        assert disease_labels(subj, dx)["PERI"].tolist() == [1]
