"""Every ECG fixture under tests/fixtures/ecg reads correctly; XML, DICOM and NumPy readers."""
from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from cardionets.errors import CardioNetsError, InputError
from cardionets.io import STANDARD_LEADS, detect_format, read_ecg, to_standard_order

FORMATS = {
    "cardiosoft_ukb_style.xml": ("cardiosoft", 500, 5000),
    "dicom_waveform_ge_style.dcm": ("dicom", 500, 5000),
    "dicom_waveform_mortara.dcm": ("dicom", 1000, 10000),
    "hl7_aecg_example.xml": ("hl7", 500, 5000),
    "philips_sierra_1.xml": ("sierra", 500, 5500),
}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_format_fixture(real_data, name):
    fmt, fs, n = FORMATS[name]
    path = real_data / "ecg" / "formats" / name
    assert detect_format(path) == fmt
    ecg = read_ecg(path)
    assert ecg.meta["format"] == fmt and ecg.fs == fs and ecg.signal.shape == (12, n)
    assert set(ecg.leads) == set(STANDARD_LEADS)
    std = ecg.standard()
    assert std.leads == list(STANDARD_LEADS)
    x = std.signal.astype(np.float64)
    assert np.isfinite(x).all()
    # physiological: millivolt scale, Einthoven's law holds for the stored limb leads
    assert 0.02 < np.median(x.std(axis=1)) < 1.0
    assert np.abs(x).max() < 10
    body = slice(0, n - int(0.5 * fs))  # Sierra strips end with a 1 mV calibration pulse
    assert np.abs(x[2, body] - (x[1, body] - x[0, body])).max() < 0.05
    assert np.abs(x[3, body] + (x[0, body] + x[1, body]) / 2).max() < 0.05


def test_dicom_matches_pydicom(real_data):
    import pydicom

    for name in ("dicom_waveform_ge_style.dcm", "dicom_waveform_mortara.dcm"):
        path = real_data / "ecg" / "formats" / name
        ref = pydicom.dcmread(str(path)).waveform_array(0).T / 1000.0  # uV -> mV
        np.testing.assert_allclose(read_ecg(path).signal, ref, rtol=1e-6, atol=1e-6)


def test_xml_values_match_the_text(real_data):
    text = (real_data / "ecg" / "formats" / "cardiosoft_ukb_style.xml").read_text(encoding="latin-1")
    strip = text[text.index("<StripData>"):]
    first = re.search(r'<WaveformData lead="V1">\s*([-\d,\s]+)', strip).group(1)
    v1 = np.array([int(v) for v in first.replace("\n", "").split(",")[:50] if v.strip()])
    ecg = read_ecg(real_data / "ecg" / "formats" / "cardiosoft_ukb_style.xml")
    np.testing.assert_allclose(ecg.signal[ecg.leads.index("V1"), :50], v1 * 0.005, atol=1e-7)
    assert ecg.meta["age"] == 66 and ecg.meta["sex"] == "F" and "Sinus rhythm" in ecg.meta["diagnosis"]

    text = (real_data / "ecg" / "formats" / "hl7_aecg_example.xml").read_text()
    i = text.index("MDC_ECG_LEAD_V1")
    digits = re.search(r"<digits>([-\d\s]+)", text[i:]).group(1).split()[:40]
    ecg = read_ecg(real_data / "ecg" / "formats" / "hl7_aecg_example.xml")
    np.testing.assert_allclose(ecg.signal[ecg.leads.index("V1"), :40], np.array(digits, float) * 2.5e-3, atol=1e-7)
    assert ecg.meta["sex"] == "M" and ecg.meta["age"] == 46


def test_sierra_xli_decodes_to_a_plausible_ecg(real_data):
    from scipy.signal import find_peaks

    from cardionets import dsp

    ecg = read_ecg(real_data / "ecg" / "formats" / "philips_sierra_1.xml")
    assert "Sinus rhythm" in ecg.meta["diagnosis"][0]
    x = ecg.standard().signal
    # the calibration pulse: exactly 1 mV on lead I near the end
    assert np.isclose(x[0, -150:-60], 1.0).all()
    filt = dsp.filter_record(x[:, :5000], 500)
    peaks, _ = find_peaks(filt[10], height=0.6 * filt[10].max(), distance=100)
    rate = 60.0 * 250 / np.median(np.diff(peaks))
    assert 50 < rate < 100, rate  # "V-rate 50-99" in the device's own statement
    assert 0.8 < filt[10].max() < 3.0  # R amplitude in V5, mV


def test_numpy_arrays_and_content_detection(tmp_path, real_data):
    ecg = read_ecg(real_data / "ecg" / "cinc2021" / "HR06000.hea")
    np.save(tmp_path / "a.npy", ecg.signal)
    with pytest.raises(InputError, match="fs="):
        read_ecg(tmp_path / "a.npy")
    a = read_ecg(tmp_path / "a.npy", fs=500)
    np.testing.assert_array_equal(a.signal, ecg.signal)
    np.savez(tmp_path / "b.npz", signal=ecg.signal, fs=500, leads=np.array(ecg.leads), age=59)
    b = read_ecg(tmp_path / "b.npz")
    assert b.fs == 500 and b.leads == ecg.leads and b.meta["age"] == 59
    # content, not extension, decides
    shutil.copy(real_data / "ecg" / "formats" / "dicom_waveform_ge_style.dcm", tmp_path / "scan.xml")
    assert read_ecg(tmp_path / "scan.xml").meta["format"] == "dicom"
    shutil.copy(real_data / "ecg" / "formats" / "hl7_aecg_example.xml", tmp_path / "ecg.dat")
    assert read_ecg(tmp_path / "ecg.dat").meta["format"] == "hl7"


def test_lead_helper_derives_limb_leads(real_data):
    ecg = read_ecg(real_data / "ecg" / "cinc2021" / "JS20003.hea")
    eight = [ecg.leads.index(n) for n in ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")]
    sig, names = to_standard_order(ecg.signal[eight], [ecg.leads[i] for i in eight])
    assert names == list(STANDARD_LEADS)
    np.testing.assert_allclose(sig, ecg.standard().signal, atol=0.02)  # stored leads are rounded to 1 uV
    with pytest.raises(InputError, match="missing lead"):
        to_standard_order(ecg.signal[:2], ["I", "V1"])
    sig, _ = to_standard_order(ecg.signal[:2], ["I", "V1"], missing="nan")
    assert np.isnan(sig[1]).all() and not np.isnan(sig[6]).any()


def test_bad_files(tmp_path, real_data):
    text = (real_data / "ecg" / "formats" / "hl7_aecg_example.xml").read_text()
    (tmp_path / "cut.xml").write_text(text[: len(text) // 2])
    with pytest.raises(InputError, match="cut.xml"):
        read_ecg(tmp_path / "cut.xml")
    (tmp_path / "other.xml").write_text("<?xml version='1.0'?><svg></svg>")
    with pytest.raises(InputError, match="root element <svg>"):
        read_ecg(tmp_path / "other.xml")
    (tmp_path / "empty.bin").write_bytes(b"")
    with pytest.raises(CardioNetsError, match="unrecognised"):
        read_ecg(tmp_path / "empty.bin")
    with pytest.raises(InputError, match="no such file"):
        read_ecg(tmp_path / "nothing.hea")
