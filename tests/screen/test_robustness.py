"""200 good records mixed with 40 kinds of bad files: exactly one row per file, the right reason,
and the good rows identical to a clean run's."""
from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cardionets.screen import screen


def _copy_record(src_hea: Path, dst_dir: Path, name: str, *, header=None, dat=None) -> Path:
    """Copy a WFDB record under a new name, optionally rewriting the header text or the signal bytes."""
    dst_dir.mkdir(parents=True, exist_ok=True)
    text = src_hea.read_text().replace(src_hea.stem, name)
    raw = src_hea.with_suffix(".dat").read_bytes()
    (dst_dir / f"{name}.hea").write_text(header(text) if header else text)
    (dst_dir / f"{name}.dat").write_bytes(dat(raw) if dat else raw)
    return dst_dir / f"{name}.hea"


def _npz(path: Path, sig, fs=500.0, leads=None):
    kw = {"signal": np.asarray(sig, np.float32), "fs": np.float64(fs)}
    if leads is not None:
        kw["leads"] = np.asarray(leads)
    np.savez(path, **kw)


def _bad_files(d: Path, good_hea: Path, real: Path) -> dict[str, str]:
    """Write the bad files; return {file name: expected error code or 'ok:<flag>'}."""
    rng = np.random.default_rng(0)
    d.mkdir(parents=True)
    exp: dict[str, str] = {}
    t = np.arange(5000) / 500.0
    base = np.stack([np.sin(2 * np.pi * (1 + 0.1 * j) * t) for j in range(12)]).astype(np.float32)
    std12 = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]

    def hdr_line0(fn):  # rewrite the record line of a header
        return lambda txt: "\n".join([fn(txt.splitlines()[0])] + txt.splitlines()[1:]) + "\n"

    # -- WFDB variants
    _copy_record(good_hea, d, "trunc_dat", dat=lambda b: b[: len(b) // 3]); exp["trunc_dat.hea"] = "unreadable"
    _copy_record(good_hea, d, "lying_nsamp", header=hdr_line0(lambda l: l.rsplit(" ", 1)[0] + " 50000"))
    exp["lying_nsamp.hea"] = "unreadable"
    _copy_record(good_hea, d, "lying_nsig", header=hdr_line0(lambda l: l.replace(" 12 ", " 14 ", 1)))
    exp["lying_nsig.hea"] = "unreadable"
    _copy_record(good_hea, d, "zero_fs", header=hdr_line0(lambda l: l.replace(" 500 ", " 0 ", 1)))
    exp["zero_fs.hea"] = "unreadable|quality"
    _copy_record(good_hea, d, "low_fs", header=hdr_line0(lambda l: l.replace(" 500 5000", " 50 5000", 1)))
    exp["low_fs.hea"] = "quality"
    _copy_record(good_hea, d, "short_rec", header=hdr_line0(lambda l: l.replace(" 5000", " 1000", 1)),
                 dat=lambda b: b[: 1000 * 24]); exp["short_rec.hea"] = "quality"
    _copy_record(good_hea, d, "bad_fmt", header=lambda txt: txt.replace(".dat 16 ", ".dat 999 "))
    exp["bad_fmt.hea"] = "unreadable"
    _copy_record(good_hea, d, "missing_dat"); (d / "missing_dat.dat").unlink(); exp["missing_dat.hea"] = "unreadable"
    _copy_record(good_hea, d, "no_signals", header=lambda txt: "no_signals 0 500 5000\n")
    exp["no_signals.hea"] = "unreadable|leads|quality"
    _copy_record(good_hea, d, "neg_nsamp", header=hdr_line0(lambda l: l.replace(" 5000", " -5", 1)))
    exp["neg_nsamp.hea"] = "unreadable"
    _copy_record(good_hea, d, "six_leads", header=lambda txt: "\n".join(
        [txt.splitlines()[0].replace(" 12 ", " 6 ", 1)] + txt.splitlines()[1:7]) + "\n",
        dat=lambda b: np.frombuffer(b, "<i2").reshape(-1, 12)[:, :6].copy().tobytes())
    exp["six_leads.hea"] = "ok:missing_leads|leads|quality"
    (d / "garbage.hea").write_bytes(rng.integers(0, 256, 3000, dtype=np.uint8).tobytes()); exp["garbage.hea"] = "unreadable"
    (d / "orphan.dat").write_bytes(good_hea.with_suffix(".dat").read_bytes()); exp["orphan.dat"] = "unsupported_format"
    (d / "orphan.mat").write_bytes(b"\x00" * 64); exp["orphan.mat"] = "unreadable|unsupported_format"
    # -- plain garbage
    (d / "empty.bin").write_bytes(b""); exp["empty.bin"] = "empty_file"
    (d / "empty.hea").write_bytes(b""); exp["empty.hea"] = "empty_file"
    (d / "random.bin").write_bytes(rng.integers(0, 256, 20000, dtype=np.uint8).tobytes()); exp["random.bin"] = "unsupported_format"
    (d / "readme.txt").write_text("not an ECG\n"); exp["readme.txt"] = "unsupported_format"
    (d / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200)); exp["image.png"] = "unsupported_format"
    (d / "data.gz").write_bytes(gzip.compress(b"x" * 1000)); exp["data.gz"] = "unsupported_format"
    (d / "utf16.txt").write_bytes("\ufeffhello".encode("utf-16")); exp["utf16.txt"] = "unsupported_format"
    (d / "broken_link").symlink_to(d / "does_not_exist"); exp["broken_link"] = "unreadable"
    # -- XML
    bomb = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">' +
            "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)) +
            ']>\n<CardiologyXML><x>&lol9;</x></CardiologyXML>\n')
    (d / "bomb.xml").write_text(bomb); exp["bomb.xml"] = "unreadable"
    (d / "other_root.xml").write_text("<?xml version='1.0'?><html><body/></html>"); exp["other_root.xml"] = "unsupported_format"
    fx = real / "ecg" / "formats"
    for name, src in (("cardiosoft_cut.xml", "cardiosoft_ukb_style.xml"), ("hl7_cut.xml", "hl7_aecg_example.xml"),
                      ("sierra_cut.xml", "philips_sierra_1.xml")):
        raw = (fx / src).read_bytes()
        (d / name).write_bytes(raw[: len(raw) // 2]); exp[name] = "unreadable"
    (d / "cardiosoft_nodata.xml").write_text("<?xml version='1.0'?><CardiologyXML><PatientInfo/></CardiologyXML>")
    exp["cardiosoft_nodata.xml"] = "unreadable"
    # -- DICOM
    shutil.copy(real / "cmr" / "sunnybrook_SCD0000101" / "101.dcm", d / "cmr_image.dcm"); exp["cmr_image.dcm"] = "unreadable"
    raw = (fx / "dicom_waveform_ge_style.dcm").read_bytes()
    (d / "ecg_cut.dcm").write_bytes(raw[: len(raw) // 2]); exp["ecg_cut.dcm"] = "unreadable"
    # -- arrays with bad content
    nan = base.copy(); nan[3, 100:200] = np.nan; _npz(d / "nan.npz", nan); exp["nan.npz"] = "quality"
    inf = base.copy(); inf[0, 5] = np.inf; _npz(d / "inf.npz", inf); exp["inf.npz"] = "quality"
    _npz(d / "flat.npz", np.zeros_like(base)); exp["flat.npz"] = "quality"
    clip = np.clip(base * 3, -1, 1); _npz(d / "clipped.npz", clip); exp["clipped.npz"] = "ok:clipped"
    big = base * 100; _npz(d / "huge_amp.npz", big); exp["huge_amp.npz"] = "ok:amplitude"
    _npz(d / "wrong_rate.npz", base, fs=20.0); exp["wrong_rate.npz"] = "quality"
    _npz(d / "one_lead.npz", base[:1], leads=["II"]); exp["one_lead.npz"] = "quality|leads"
    _npz(d / "fifteen_unnamed.npz", np.concatenate([base, base[:3]])); exp["fifteen_unnamed.npz"] = "unreadable"
    _npz(d / "fifteen_odd.npz", np.concatenate([base, base[:3]]), leads=[f"L{i}" for i in range(15)])
    exp["fifteen_odd.npz"] = "leads|quality|unreadable"
    _npz(d / "transposed.npz", base.T); exp["transposed.npz"] = "unreadable"
    np.savez(d / "no_signal.npz", other=np.zeros(3)); exp["no_signal.npz"] = "unreadable"
    np.save(d / "bare.npy", base); exp["bare.npy"] = "unreadable"  # a .npy carries no sampling rate
    np.save(d / "strings.npy", np.array(["a", "b"])); exp["strings.npy"] = "unreadable"
    (d / "cut.npz").write_bytes((d / "nan.npz").read_bytes()[:300]); exp["cut.npz"] = "unreadable"
    # a real 15-lead record (12 standard + Frank XYZ): the 12 standard leads are scored
    for suffix in (".hea", ".dat", ".xyz"):
        shutil.copy(real / "ecg" / "ptb" / f"s0010_re{suffix}", d / f"s0010_re{suffix}")
    exp["s0010_re.hea"] = "ok:"
    return exp


@pytest.fixture(scope="module")
def mixed(screen_cohort, real_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("mixed")
    good = root / "good"
    heas = sorted(screen_cohort.glob("*.hea"))
    for k in range(5):  # 200 good records: the 40-record cohort under 5 sub-directories
        for h in heas:
            _copy_record(h, good / f"site{k}", h.stem)
    mixed = root / "mixed"
    shutil.copytree(good, mixed / "good", symlinks=True)
    exp = _bad_files(mixed / "bad", heas[0], real_data)
    return good, mixed, exp


def test_mixed_directory(mixed, screen_model, tmp_path):
    good, mixed_dir, exp = mixed
    assert len(exp) >= 40
    clean = screen([good], screen_model, tmp_path / "clean", merge=True, progress=False, batch_size=16)
    assert clean.processed == 200 and clean.ok == 200
    s = screen([mixed_dir], screen_model, tmp_path / "mixed", merge=True, progress=False, batch_size=16)
    df = pd.read_parquet(tmp_path / "mixed" / "screen.parquet")
    assert len(df) == 200 + len(exp) == s.processed and df["path"].is_unique
    bad = df[df["path"].str.contains("/bad/")]
    got = {Path(p).name: (None if pd.isna(e) else e, q) for p, e, q in zip(bad["path"], bad["error"], bad["quality"])}
    for k, v in sorted(got.items()):
        print(f"{k:24s} {v}")
    assert set(got) == set(exp), set(got) ^ set(exp)
    for name, want in exp.items():
        err, quality = got[name]
        if want.startswith("ok:"):
            allowed_err = [w for w in want[3:].split("|") if w and w not in ("missing_leads",)]
            if err is None:
                flag = want[3:].split("|")[0]
                assert not flag or flag in quality, (name, quality)
            else:
                assert err.split(":", 1)[0] in allowed_err, (name, err)
        else:
            assert err is not None, (name, "scored, expected an error")
            assert err.split(":", 1)[0] in want.split("|"), (name, err)
    specific = {"nan.npz": "nan_inf", "inf.npz": "nan_inf", "flat.npz": "flat_record", "wrong_rate.npz": "unsupported_rate",
                "short_rec.hea": "too_short", "low_fs.hea": "unsupported_rate", "bomb.xml": "ntit"}
    for name, word in specific.items():
        assert word in got[name][0].lower().replace("entities", "entit"), (name, got[name][0])
    # good rows: identical to the clean run's
    a = pd.read_parquet(tmp_path / "clean" / "screen.parquet").set_index("record_id").sort_index()
    b = df[df["path"].str.contains("/good/")].copy()
    b["record_id"] = b["record_id"].str.replace("good/", "", regex=False)
    b = b.set_index("record_id").sort_index()
    assert list(a.index) == list(b.index)
    cols = [c for c in a.columns if c.startswith(("phenotype.", "prob."))]
    np.testing.assert_allclose(b[cols].to_numpy(), a[cols].to_numpy(), rtol=1e-5, atol=1e-5)
    assert (b["quality_flags"] == a["quality_flags"]).all() and b["error"].isna().all()
