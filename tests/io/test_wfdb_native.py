"""The native WFDB reader: every format it decodes against `wfdb`, multi-file records, and bad input."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cardionets import dsp
from cardionets.errors import CardioNetsError
from cardionets.io import read_ecg

LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
RANGES = {"16": 30000, "212": 2000, "24": 4_000_000, "32": 100_000_000, "80": 120}


def _write(tmp: Path, fmt: str, n_sig: int = 12, n: int = 5000, fs: int = 500, name: str = "rec") -> Path:
    import wfdb

    rng = np.random.default_rng(int(fmt))
    d = rng.integers(-RANGES[fmt], RANGES[fmt], size=(n, n_sig)).astype(np.int64)
    d[7, 0] = -RANGES[fmt] + 1
    wfdb.wrsamp(name, fs=fs, units=["mV"] * n_sig, sig_name=LEADS[:n_sig], d_signal=d, fmt=[fmt] * n_sig,
                adc_gain=[200.0 + i for i in range(n_sig)], baseline=[i - 3 for i in range(n_sig)],
                write_dir=str(tmp), comments=["Age: 63", "Sex: Male", "Dx: 164889003"])
    return tmp / f"{name}.hea"


@pytest.mark.parametrize("fmt", ["16", "212", "24", "32", "80"])
def test_formats_match_wfdb(tmp_path, fmt):
    import wfdb

    for n in (5000, 4999):  # odd sample count exercises 212's half-packed last pair
        hea = _write(tmp_path, fmt, n=n, name=f"r{n}")
        ref = wfdb.rdrecord(str(hea.with_suffix("")))
        ecg = read_ecg(hea)
        assert ecg.signal.shape == (12, n)
        assert ecg.fs == 500 and ecg.leads == LEADS
        assert ecg.meta["age"] == 63 and ecg.meta["sex"] == "M" and ecg.meta["dx"] == ["164889003"]
        np.testing.assert_allclose(ecg.signal, ref.p_signal.T, rtol=1e-6, atol=1e-6)


def test_multi_file_record_and_uv_units(tmp_path):
    import wfdb

    hea = _write(tmp_path, "16", name="a")
    text = hea.read_text().splitlines()
    # Move the last 4 signals to a second file written separately (format 16, 4 interleaved signals).
    d = wfdb.rdrecord(str(hea.with_suffix("")), physical=False).d_signal
    d[:, 8:].astype("<i2").tofile(tmp_path / "a_b.dat")
    d[:, :8].astype("<i2").tofile(tmp_path / "a.dat")
    lines = [text[0].replace(" 12 ", " 12 ", 1)]
    for i, line in enumerate(text[1:13]):
        parts = line.split()
        parts[0] = "a.dat" if i < 8 else "a_b.dat"
        parts[6] = "0"  # checksums no longer apply
        if i == 11:
            parts[2] = parts[2].replace("/mV", "/uV")
        lines.append(" ".join(parts))
    hea.write_text("\n".join(lines + text[13:]) + "\n")
    ref = wfdb.rdrecord(str(hea.with_suffix("")))
    ecg = read_ecg(hea)
    np.testing.assert_allclose(ecg.signal[:11], ref.p_signal.T[:11], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ecg.signal[11], ref.p_signal.T[11] / 1000.0, rtol=1e-6, atol=1e-9)


def _expect(path: Path, *fragments: str, preprocess: bool = False):
    with pytest.raises(CardioNetsError) as info:
        ecg = read_ecg(path)
        if preprocess:
            dsp.preprocess_ecg(ecg)
    msg = str(info.value)
    assert path.stem in msg, msg
    for f in fragments:
        assert f in msg, msg
    return msg


def test_bad_input_raises_clear_errors(tmp_path):
    # truncated signal file
    hea = _write(tmp_path, "16", name="trunc")
    dat = tmp_path / "trunc.dat"
    dat.write_bytes(dat.read_bytes()[:50_001])
    _expect(hea, "truncated")
    # header lies about the sample count
    hea = _write(tmp_path, "16", name="lie")
    hea.write_text(hea.read_text().replace("lie 12 500 5000", "lie 12 500 50000", 1))
    _expect(hea, "50000 samples")
    # unknown format code
    hea = _write(tmp_path, "16", name="fmt")
    hea.write_text(hea.read_text().replace("fmt.dat 16", "fmt.dat 999"))
    _expect(hea, "unknown WFDB format code 999")
    # non-numeric gain
    hea = _write(tmp_path, "16", name="gain")
    lines = hea.read_text().splitlines()
    parts = lines[3].split()
    parts[2] = "abc/mV"
    lines[3] = " ".join(parts)
    hea.write_text("\n".join(lines) + "\n")
    _expect(hea, "gain", "'abc'", "not a number")
    # 0 leads
    (tmp_path / "zero.hea").write_text("zero 0 500 5000\n")
    _expect(tmp_path / "zero.hea", "0 signals")
    # a 1-lead record reads, but cannot be preprocessed as a 12-lead ECG
    one = _write(tmp_path, "16", n_sig=1, name="one")
    assert read_ecg(one).signal.shape == (1, 5000)
    _expect(one, "missing_leads", preprocess=True)
    # a 2 s record reads, but is too short for a 9 s crop
    short = _write(tmp_path, "16", n=1000, name="short")
    assert read_ecg(short).duration == 2.0
    _expect(short, "too_short", preprocess=True)
    # garbage header
    (tmp_path / "junk.hea").write_bytes(b"\x00\x01\x02 binary")
    _expect(tmp_path / "junk.hea")


def test_cinc_mat_container_is_checked(tmp_path, real_data):
    src = real_data / "ecg" / "cinc2021" / "HR06000"
    (tmp_path / "HR06000.hea").write_text((src.with_suffix(".hea")).read_text())
    raw = bytearray(src.with_suffix(".mat").read_bytes())
    raw[4:8] = (11).to_bytes(4, "little")  # MATLAB header now claims 11 rows
    (tmp_path / "HR06000.mat").write_bytes(bytes(raw))
    _expect(tmp_path / "HR06000.hea", "MATLAB v4 matrix is 11 x 5000")


def test_read_many_parallel(real_data, tmp_path):
    from cardionets.io.ecg_wfdb import read_wfdb_many

    recs = sorted((real_data / "ecg" / "cinc2021").glob("*.hea"))[:5] + [tmp_path / "missing.hea"]
    out = read_wfdb_many(recs, threads=2)
    assert all(o.signal.shape == (12, 5000) for o in out[:5])
    assert isinstance(out[5], CardioNetsError)
    np.testing.assert_array_equal(out[2].signal, read_ecg(recs[2]).signal)
