"""`cardionets profile`: the ECG feature extractor on real records, set discovery, the comparison
and the command's outputs."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cardionets.cli import main
from cardionets.data.ecg_features import PROFILE_FEATURES, delineate, profile_record
from cardionets.fixtures import fixture_dir
from cardionets.io import read_ecg
from cardionets.profile import compare_features, discover, measure_set


def _real(name: str):
    e = read_ecg(fixture_dir() / "ecg" / "cinc2021" / f"{name}.hea").standard(missing="nan")
    return e.signal, e.fs


def test_profile_of_a_normal_real_record():
    """E07506: 66-year-old woman, sinus rhythm (its CinC label) -- the numbers a reader would give."""
    f = profile_record(*_real("E07506"))
    assert set(f) == set(PROFILE_FEATURES)
    assert 55 < f["hr_bpm"] < 80 and f["rr_irregularity"] < 0.05 and f["p_present"] == 1.0
    assert 120 <= f["pr_ms"] <= 200 and 60 <= f["qrs_ms"] <= 100 and 360 <= f["qtc_ms"] <= 470
    assert 0 < f["axis_deg"] < 90 and 2 <= f["transition_lead"] <= 5
    assert f["t_v5_mv"] > 0.1 and f["noise_rel"] < 0.05 and f["wander_rel"] < 0.5


def test_profile_sees_af_and_missing_leads():
    f = profile_record(*_real("E07501"))            # CinC label 427084000: sinus tachycardia
    assert f["hr_bpm"] > 100
    sig, fs = _real("JS20004")                        # V2, V4, V6 are flat in this record
    g = profile_record(sig, fs)
    assert np.isnan(g["r_v2_mv"]) and np.isnan(g["transition_lead"]) and np.isfinite(g["r_v5_mv"])
    # a synthetic irregular rhythm: beats at random intervals, no P wave
    rng = np.random.default_rng(0)
    x = np.zeros((12, 5000))
    t = 0.3
    while t < 9.7:
        i = int(t * 500)
        x[:, i - 10:i + 10] += np.hanning(20) * 1.0
        t += rng.uniform(0.45, 1.1)
    h = profile_record(x + 0.003 * rng.standard_normal(x.shape), 500.0)
    assert h["rr_irregularity"] > 0.1 and h["p_present"] == 0.0


def test_delineation_is_rate_independent():
    """The same record resampled to 250 and 1000 Hz gives the same intervals within a few ms."""
    from scipy.signal import resample_poly

    sig, fs = _real("HR06004")
    base = delineate(sig, fs)
    for up, down in ((1, 2), (2, 1)):
        d = delineate(resample_poly(sig, up, down, axis=1), fs * up / down)
        assert abs((d.off - d.on) - (base.off - base.on)) <= 3
        assert abs(d.rr_s - base.rr_s) < 0.01


def test_compare_features_distances():
    a = pd.DataFrame({"x": np.arange(100.0), "axis_deg": np.r_[np.full(50, 170.0), np.full(50, -170.0)]})
    b = pd.DataFrame({"x": np.arange(100.0) + 10.0, "axis_deg": np.full(100, 180.0)})
    c = compare_features(a, b, ["x", "axis_deg", "missing"]).set_index("feature")
    assert c.loc["x", "diff"] == pytest.approx(-10.0) and c.loc["x", "wasserstein"] == pytest.approx(10.0)
    assert 0.05 < c.loc["x", "ks"] < 0.15
    assert abs(abs(c.loc["axis_deg", "median_a"]) - 180.0) < 15.0      # circular median, not 0
    assert "missing" not in c.index


def test_discover_sets(tmp_path):
    fx = fixture_dir()
    cine_set = discover(fx / "cmr")
    assert cine_set.cines == [str(fx / "cmr" / "sunnybrook_SCD0000101")] and not cine_set.ecgs
    ecg_set = discover(fx / "ecg" / "cinc2021")
    assert len(ecg_set.ecgs) == 25 and all(p.endswith(".hea") for p in ecg_set.ecgs)
    pd.DataFrame({"path": ["cinc2021/E07506.hea", str(fx / "ecg" / "ptb" / "s0010_re.hea")]}).to_csv(
        tmp_path / "m.csv", index=False)
    (tmp_path / "cinc2021").symlink_to(fx / "ecg" / "cinc2021")
    m = discover(tmp_path / "m.csv")
    assert len(m.ecgs) == 2 and m.ecgs[0] == str(tmp_path / "cinc2021" / "E07506.hea")


def test_profile_command(tiny_cohort, tmp_path, capsys):
    out = tmp_path / "prof"
    real = fixture_dir() / "ecg" / "cinc2021"
    assert main(["profile", str(tiny_cohort), str(real), "--out", str(out), "--max-records", "10"]) == 0
    text = capsys.readouterr().out
    assert "ECG tiny vs cinc2021 (reference)" in text and "sokolow_mv" in text
    for f in ("ecg_features_a.csv", "ecg_features_b.csv", "cine_features_a.csv", "compare_ecg.csv",
              "profile.json", "ecg_profile.png", "cine_profile.png"):
        assert (out / f).is_file(), f
    assert (out / "ecg_profile.png").stat().st_size < 300_000
    doc = json.loads((out / "profile.json").read_text())
    assert doc["sets"][0]["n_ecg"] == 10 and doc["sets"][0]["n_cine"] == 10 and doc["sets"][1]["n_ecg"] == 10
    assert {r["feature"] for r in doc["compare_ecg"]} == set(PROFILE_FEATURES)
    # one set, JSON on stdout
    assert main(["profile", str(fixture_dir() / "cmr"), "--json"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert one["sets"][0]["n_cine"] == 1 and "bright_largest_share" in one["sets"][0]["cine"]
    assert one["sets"][0]["n_warnings"] == 1 and "short axis" in one["sets"][0]["warnings"][0]["warning"]


def test_profile_command_errors(tmp_path, capsys):
    (tmp_path / "notes.bin").write_bytes(b"\x00" * 64)
    assert main(["profile", str(tmp_path)]) == 2
    assert "no readable ECG or cine" in capsys.readouterr().err
    assert main(["profile", str(tmp_path / "absent")]) == 2


def test_measure_set_lists_unreadable_files(tmp_path):
    (tmp_path / "a.hea").write_text("garbage\n")
    p = measure_set(str(tmp_path), progress=False)
    assert len(p.ecg) == 0 and len(p.errors) == 1 and "a.hea" in p.errors[0][0]
