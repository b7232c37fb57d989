"""Hostile input is normal input: every malformed, lying, oversized or malicious file of every reader
ends in a CardioNets error naming the file, within 30 s and 2 GiB (measured in a subprocess); valid
records the native reader does not decode (formats 61 / 160, multi-sample frames, a latin-1 header)
are read through the wfdb fallback; non-voltage channels are dropped, never read as mV; limits and
model sizes are checked before anything is allocated."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cardionets import limits
from cardionets.errors import CardioNetsError, LimitExceeded
from cardionets.io import read_ecg
from tests.io.hostile_inputs import LEADS, write_hostile

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from cardionets.io import read_ecg
from cardionets.errors import CardioNetsError
out = {}
for name in json.loads(sys.argv[2]):
    t = time.perf_counter()
    try:
        read_ecg(Path(sys.argv[1]) / name)
        out[name] = {"error": None}
    except CardioNetsError as exc:
        out[name] = {"error": str(exc), "type": type(exc).__name__}
    except BaseException as exc:
        out[name] = {"error": str(exc), "type": "RAW " + type(exc).__name__}
    out[name]["seconds"] = time.perf_counter() - t
print(json.dumps({"files": out, "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, real_data):
    folder = tmp_path_factory.mktemp("hostile")
    return folder, write_hostile(folder, real_data)


def test_every_hostile_file_is_a_named_error_in_bounded_time_and_memory(hostile):
    folder, cases = hostile
    assert len(cases) >= 50
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(folder), json.dumps(sorted(cases))],
                          capture_output=True, text=True, timeout=600, env={**__import__("os").environ,
                                                                           "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    problems = []
    for name, reason in sorted(cases.items()):
        got = report["files"][name]
        err = got["error"]
        if err is None or got["type"].startswith("RAW"):
            problems.append(f"{name}: {got}")
        elif name not in err or not re.search(reason, err, re.I):
            problems.append(f"{name}: message lacks the file name or {reason!r}: {err[:300]}")
        elif got["seconds"] > 30:
            problems.append(f"{name}: {got['seconds']:.1f} s")
    assert not problems, "\n".join(problems)
    assert report["peak_rss_bytes"] < 2 << 30, report["peak_rss_bytes"]


def _write_wfdb(folder: Path, name: str, d: np.ndarray, fmt: str, spf: int = 1) -> Path:
    """A 12-lead record in format ``fmt`` (16, 61 big-endian, 160 offset binary), ``spf`` samples per frame."""
    raw = {"16": d.astype("<i2"), "61": d.astype(">i2"), "160": (d.astype(np.int32) + 32768).astype("<u2")}[fmt]
    raw.tofile(folder / f"{name}.dat")
    n = d.shape[0]  # frames; with spf > 1 each row holds spf consecutive samples of each signal
    fmt_field = fmt + (f"x{spf}" if spf > 1 else "")
    lines = [f"{name} 12 500 {n}"] + [f"{name}.dat {fmt_field} 200/mV 16 0 0 0 0 {LEADS[i]}" for i in range(12)]
    (folder / f"{name}.hea").write_text("\n".join(lines) + "\n")
    return folder / f"{name}.hea"


@pytest.mark.parametrize("fmt,spf", [("61", 1), ("160", 1), ("16", 2)])
def test_formats_the_native_reader_skips_are_read(tmp_path, fmt, spf):
    import wfdb

    rng = np.random.default_rng(3)
    frames = rng.integers(-2000, 2000, (5000, 12))
    d = np.repeat(frames, spf, axis=1)  # multi-sample frames: each signal's spf samples of a frame are equal
    hea = _write_wfdb(tmp_path, f"r{fmt}x{spf}", d, fmt, spf)
    ecg = read_ecg(hea)
    ref = wfdb.rdrecord(str(hea.with_suffix("")))
    assert ecg.signal.shape == (12, ref.sig_len) and ecg.meta["reader"] == "wfdb"
    np.testing.assert_allclose(ecg.signal, ref.p_signal.T, atol=1e-5)
    np.testing.assert_allclose(ecg.signal[:, :100], frames[:100].T / 200.0, atol=1e-5)


def test_latin1_header_reads_and_batch_is_isolated(tmp_path):
    from cardionets.io.ecg_wfdb import read_wfdb_many

    d = np.random.default_rng(4).integers(-2000, 2000, (5000, 12))
    good = _write_wfdb(tmp_path, "good", d, "16")
    latin = _write_wfdb(tmp_path, "latin", d, "16")
    latin.write_bytes(latin.read_bytes() + b"# Diagnose: Herzinsuffizienz \xe4\xf6\xfc\n")
    f160 = _write_wfdb(tmp_path, "f160", d, "160")
    (tmp_path / "broken.hea").write_text("broken 12 500 5000\nbroken.dat 16\n")
    np.testing.assert_allclose(read_ecg(latin).signal, read_ecg(good).signal)
    got = read_wfdb_many([good, latin, tmp_path / "broken.hea", f160, tmp_path / "absent.hea"])
    assert [type(g).__name__ for g in got] == ["ECG", "ECG", "InputError", "ECG", "InputError"]
    assert "broken.hea" in str(got[2]) and "absent.hea" in str(got[4])
    for g in (got[1], got[3]):
        np.testing.assert_allclose(g.signal, got[0].signal, atol=1e-6)


def test_non_voltage_channels_are_dropped_not_read_as_mv(tmp_path):
    d = np.random.default_rng(5).integers(-2000, 2000, (5000, 12))
    hea = _write_wfdb(tmp_path, "mixed", d, "16")
    lines = hea.read_text().splitlines()
    lines[2] = lines[2].replace("200/mV", "200/mmHg")  # lead II is a pressure channel
    lines[7] = lines[7].replace("200/mV", "200/uV")  # V1 in microvolts
    hea.write_text("\n".join(lines) + "\n")
    ecg = read_ecg(hea)
    assert "II" not in ecg.leads and ecg.meta["dropped_signals"] == [{"name": "II", "unit": "mmHg"}]
    np.testing.assert_allclose(ecg.signal[ecg.leads.index("V1")], d[:, 6] / 200.0 * 1e-3, rtol=1e-5)
    with pytest.raises(CardioNetsError, match="missing lead"):
        ecg.standard(derive=False)


def test_signal_files_in_a_subfolder_are_allowed(tmp_path):
    d = np.random.default_rng(6).integers(-2000, 2000, (5000, 12))
    _write_wfdb(tmp_path, "rec", d, "16")
    (tmp_path / "sig").mkdir()
    (tmp_path / "rec.dat").rename(tmp_path / "sig" / "rec.dat")
    hea = tmp_path / "rec.hea"
    hea.write_text(hea.read_text().replace("rec.dat", "sig/rec.dat"))
    assert read_ecg(hea).signal.shape == (12, 5000)
    hea.write_text(hea.read_text().replace("sig/rec.dat", "sig/../../rec.dat"))
    with pytest.raises(CardioNetsError, match="outside"):
        read_ecg(hea)


def test_limits_are_overridable(tmp_path, monkeypatch):
    d = np.random.default_rng(7).integers(-2000, 2000, (5000, 12))
    hea = _write_wfdb(tmp_path, "rec", d, "16")
    with limits.override(samples=50_000), pytest.raises(LimitExceeded, match="samples = 50,000"):
        read_ecg(hea)
    monkeypatch.setenv("CARDIONETS_LIMIT_SAMPLES", "59999")
    with pytest.raises(LimitExceeded, match="CARDIONETS_LIMIT_SAMPLES"):
        read_ecg(hea)
    monkeypatch.setenv("CARDIONETS_LIMIT_SAMPLES", "1M")
    assert read_ecg(hea).n_samples == 5000
    monkeypatch.setenv("CARDIONETS_LIMIT_SAMPLES", "lots")
    with pytest.raises(CardioNetsError, match="CARDIONETS_LIMIT_SAMPLES='lots'"):
        read_ecg(hea)


def test_a_config_describing_a_huge_model_is_refused_before_building(tmp_path):
    import resource

    import cardionets
    from cardionets.screen.untrained import write_untrained_model

    run = write_untrained_model(tmp_path / "m", "tiny", width=32, depth=1, heads=2) / "phenotypes"
    cfg = json.loads((run / "config.json").read_text())
    cfg["ecg_encoder"]["width"] = 20_000  # ~4.8e9 parameters: 19 GB in fp32
    (run / "config.json").write_text(json.dumps(cfg))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(LimitExceeded, match="model_params"):
        cardionets.CardioNets.from_pretrained(run)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 << 10  # KiB: nothing was built
    (run / "config.json").write_text("{not json")
    with pytest.raises(CardioNetsError, match="not valid JSON"):
        cardionets.CardioNets.from_pretrained(run)
