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


# ---------------------------------------------------------------------------------------------
# Hostile input: limits, folder confinement, encodings, error kinds (csrc/io, issue 17)
# ---------------------------------------------------------------------------------------------
from cardionets import native  # noqa: E402
from cardionets.errors import NativeError, NativeLimitExceeded, NativeUnsupported  # noqa: E402


def _header(tmp: Path, name: str, text: str) -> Path:
    p = tmp / f"{name}.hea"
    p.write_text(text)
    return p


def _native_error(hea: Path, kind=NativeError, **limits) -> str:
    with pytest.raises(kind) as info:
        native.load().wfdb_read(str(hea), **limits)
    return str(info.value)


def test_sizes_above_the_limits_are_refused_before_allocating(tmp_path):
    import resource

    C = native.load()
    lim = C.wfdb_default_limits
    # 12 signals x 1.5e18 samples: n * k * 2 overflows int64
    sig = "".join(f"big.dat 16 200 16 0 0 0 0 L{i}\n" for i in range(12))
    hea = _header(tmp_path, "big", "big 12 500 1500000000000000000\n" + sig)
    (tmp_path / "big.dat").write_bytes(bytes(48))
    msg = _native_error(hea, NativeLimitExceeded)
    assert "big.hea" in msg and str(lim["max_samples"]) in msg and "Limits::max_samples" in msg
    # a 300-byte header naming a 2 GiB (sparse) signal file and no sample count: refused by the byte
    # limit, not returned as a 4 GB array
    with open(tmp_path / "huge.dat", "wb") as fh:
        fh.truncate(2 << 30)
    hea = _header(tmp_path, "huge", "huge 2 500\n" + "".join(f"huge.dat 16 200 16 0 0 0 0 L{i}\n" for i in range(2)))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    msg = _native_error(hea, NativeLimitExceeded)
    assert "huge.hea" in msg and ("Limits::max_samples" in msg or "Limits::max_signal_bytes" in msg)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 * 1024  # KiB: < 64 MiB more
    # every file a record pulls in counts: two files of 3 MiB each against a 4 MiB limit
    for f in ("a.dat", "b.dat"):
        (tmp_path / f).write_bytes(bytes(3 << 20))
    hea = _header(tmp_path, "two", "two 2 500 1572864\na.dat 16 200 16 0 0 0 0 I\nb.dat 16 200 16 0 0 0 0 II\n")
    assert native.load().wfdb_read(str(hea))["signal"].shape == (2, 1572864)
    msg = _native_error(hea, NativeLimitExceeded, max_signal_bytes=4 << 20)
    assert "b.dat" in msg and "4194304" in msg and "max_signal_bytes" in msg
    # read_ecg names the file too, and the batch reader reports the kind
    with pytest.raises(CardioNetsError, match="big.hea"):
        read_ecg(tmp_path / "big.hea")
    out = C.wfdb_read_many([str(tmp_path / "big.hea"), str(tmp_path / "missing.hea")])
    assert [d["error_kind"] for d in out] == ["limit", "invalid"]


def test_signal_files_stay_in_the_record_folder(tmp_path):
    import os

    inside = tmp_path / "rec"
    inside.mkdir()
    secret = tmp_path / "secret.dat"
    secret.write_bytes(bytes(200))
    line = " 16 200 16 0 0 0 0 I\n"
    for name, fname, fragment in [("dotdot", "../secret.dat", "'..'"), ("abs", str(secret), "absolute path"),
                                  ("deep", "sub/../../secret.dat", "'..'")]:
        hea = _header(inside, name, f"{name} 1 500 10\n{fname}{line}")
        msg = _native_error(hea)
        assert fragment in msg and name in msg, msg
    # a symbolic link out of the folder is refused, one inside it is followed
    os.symlink(secret, inside / "link.dat")
    msg = _native_error(_header(inside, "link", f"link 1 500 10\nlink.dat{line}"))
    assert "outside the record's folder" in msg
    (inside / "real.dat").write_bytes(bytes(20))
    os.symlink(inside / "real.dat", inside / "alias.dat")
    assert native.load().wfdb_read(str(_header(inside, "alias", f"alias 1 500 10\nalias.dat{line}")))["signal"].shape == (1, 10)
    # a folder of links to records kept elsewhere (header and signal file both links): the record's
    # folder is where the header resolves to
    store, farm = tmp_path / "store", tmp_path / "farm"
    store.mkdir()
    farm.mkdir()
    src = _write(store, "16", name="kept")
    for suf in (".hea", ".dat"):
        os.symlink(src.with_suffix(suf), farm / f"kept{suf}")
    assert native.load().wfdb_read(str(farm / "kept.hea"))["signal"].shape == (12, 5000)
    # a subfolder is fine; a directory, a FIFO are not signal files (and a FIFO must not hang)
    (inside / "sub").mkdir()
    (inside / "sub" / "s.dat").write_bytes(bytes(20))
    assert native.load().wfdb_read(str(_header(inside, "subf", f"subf 1 500 10\nsub/s.dat{line}")))["n_samples"] == 10
    msg = _native_error(_header(inside, "dir", f"dir 1 500 10\nsub{line}"))
    assert "not a regular file" in msg
    os.mkfifo(inside / "pipe.dat")
    msg = _native_error(_header(inside, "pipe", f"pipe 1 500 10\npipe.dat{line}"))
    assert "not a regular file" in msg
    os.mkfifo(inside / "fifo.hea")
    assert "not a regular file" in _native_error(inside / "fifo.hea")


def test_non_utf8_headers_are_read_as_latin1(tmp_path):
    hea = _write(tmp_path, "16", name="lat")
    raw = hea.read_bytes().replace(b"# Sex: Male", b"# Sex: M\xe4nnlich").replace(b" V6\n", b" V6 \xb5\n")
    hea.write_bytes(raw)
    ecg = read_ecg(hea)
    assert ecg.signal.shape == (12, 5000)
    d = native.load().wfdb_read(str(hea))
    assert d["comments"][1] == "Sex: M\u00e4nnlich" and d["names"][11] == "V6 \u00b5"
    # micro sign units in Latin-1 scale like uV
    (tmp_path / "u.dat").write_bytes(np.array([1000, 2000], "<i2").tobytes())
    u = tmp_path / "u.hea"
    u.write_bytes(b"u 1 500 2\nu.dat 16 1/\xb5V 16 0 0 0 0 I\n")
    np.testing.assert_allclose(native.load().wfdb_read(str(u))["signal"][0], [1.0, 2.0])
    # an error message that quotes Latin-1 bytes is still a clean str
    bad = tmp_path / "bad.hea"
    bad.write_bytes(b"bad 1 500 2\nu.dat 16 \xe4bc/mV 16 0 0 0 0 I\n")
    msg = _native_error(bad)
    assert "\u00e4bc" in msg and "not a number" in msg


def _encode_other(d: np.ndarray, fmt: str) -> bytes:
    """Interleaved samples [n, k] in a WFDB format the native reader leaves to `wfdb`."""
    flat = d.reshape(-1)
    if fmt == "61":  # 16-bit big-endian
        return flat.astype(">i2").tobytes()
    if fmt == "160":  # 16-bit offset binary
        return (flat + 32768).astype("<u2").tobytes()
    if fmt == "8":  # 8-bit first differences per signal, from the header's initial value 0
        diffs = np.diff(np.vstack([np.zeros((1, d.shape[1]), np.int64), d]), axis=0)
        return diffs.astype(np.int8).reshape(-1).tobytes()
    raise ValueError(fmt)


@pytest.mark.parametrize("fmt", ["8", "61", "160", "516"])
def test_formats_not_decoded_natively_fall_back_to_wfdb(tmp_path, fmt):
    import wfdb

    n_sig = 3
    rng = np.random.default_rng(1)
    if fmt == "8":
        d = np.cumsum(rng.integers(-3, 4, size=(600, n_sig)), axis=0)
    else:
        d = rng.integers(-2000, 2000, size=(600, n_sig)).astype(np.int64)
    if fmt == "516":  # FLAC: wfdb writes it (needs soundfile)
        pytest.importorskip("soundfile")
        wfdb.wrsamp("r", fs=500, units=["mV"] * n_sig, sig_name=LEADS[:n_sig], d_signal=d, fmt=[fmt] * n_sig,
                    adc_gain=[200.0] * n_sig, baseline=[0] * n_sig, write_dir=str(tmp_path))
    else:
        (tmp_path / "r.dat").write_bytes(_encode_other(d, fmt))
        lines = [f"r {n_sig} 500 600"] + [f"r.dat {fmt} 200 16 0 0 0 0 {LEADS[i]}" for i in range(n_sig)]
        (tmp_path / "r.hea").write_text("\n".join(lines) + "\n")
    hea = tmp_path / "r.hea"
    with pytest.raises(NativeUnsupported, match="not decoded natively"):
        native.load().wfdb_read(str(hea))
    assert native.load().wfdb_read_many([str(hea)])[0]["error_kind"] == "unsupported"
    ecg = read_ecg(hea)  # falls back to the wfdb package
    ref = wfdb.rdrecord(str(tmp_path / "r"))
    np.testing.assert_allclose(ecg.signal, ref.p_signal.T, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ecg.signal, d.T / 200.0, rtol=1e-6, atol=1e-6)


def test_multi_sample_frames_fall_back_to_wfdb(tmp_path):
    import wfdb

    rng = np.random.default_rng(2)
    # signal 0 at 2 samples per frame, signal 1 at 1: frames of 3 int16 values
    e0 = rng.integers(-300, 300, size=400).astype(np.int64)
    e1 = rng.integers(-300, 300, size=200).astype(np.int64)
    frames = np.stack([e0[0::2], e0[1::2], e1], axis=1)
    frames.astype("<i2").tofile(tmp_path / "mf.dat")
    (tmp_path / "mf.hea").write_text("mf 2 250 200\nmf.dat 16x2 200 16 0 0 0 0 I\nmf.dat 16 200 16 0 0 0 0 II\n")
    with pytest.raises(NativeUnsupported, match="multi-sample frames"):
        native.load().wfdb_read(str(tmp_path / "mf.hea"))
    rec = wfdb.rdrecord(str(tmp_path / "mf"), smooth_frames=True)
    ecg = read_ecg(tmp_path / "mf.hea")
    assert ecg.signal.shape == (2, 200)
    np.testing.assert_allclose(ecg.signal, rec.p_signal.T, rtol=1e-6, atol=1e-6)


def test_xli_limits():
    C = native.load()
    root = Path(__file__).resolve().parents[2]
    bomb = (root / "csrc" / "fuzz" / "regressions" / "xli" / "lzw-expansion-bomb").read_bytes()
    with pytest.raises(NativeLimitExceeded, match="max_output_bytes"):
        C.xli_decode(bomb, "bomb.xml", True, 1 << 20)
    assert len(C.xli_decode(bomb, "bomb.xml")[0]) > (1 << 20)  # under the default limit it decodes
    with pytest.raises(NativeError, match="runs past the end"):
        C.xli_decode(b"\xff\xff\x00\x00\x00\x00\x00\x00abc", "cut.xml")
    many = b"".join(b"\x00\x00\x00\x00\x00\x00\x00\x00" for _ in range(65))
    with pytest.raises(NativeLimitExceeded, match="max_leads"):
        C.xli_decode(many, "many.xml")
