"""`cardionets read-ecg` prints each file's summary and quality flags; errors name the file, go to stderr
(and as objects in --json), the batch goes on and the exit status says something failed; outputs of
inputs sharing a stem never overwrite each other."""
from __future__ import annotations

import json
import shutil

import numpy as np

from cardionets.cli import main


def test_read_ecg_command(real_data, tmp_path, capsys):
    files = [str(real_data / "ecg" / "formats" / "hl7_aecg_example.xml"),
             str(real_data / "ecg" / "cinc2021" / "HR06001.hea")]
    assert main(["read-ecg", *files, "--preprocess-to", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "12 leads" in out and "500 Hz" in out and "preprocessed to (3, 12, 2250)" in out
    assert np.load(tmp_path / "HR06001.npy").shape == (3, 12, 2250)
    assert main(["read-ecg", "--json", files[1]]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["fs"] == 500 and doc["meta"]["sex"] in ("M", "F")
    assert main(["read-ecg", str(tmp_path / "missing.hea")]) == 1
    captured = capsys.readouterr()
    assert "missing.hea" in captured.err and "1 of 1" in captured.err and captured.out == ""


def test_batch_goes_on_and_json_stays_json(real_data, tmp_path, capsys):
    good = real_data / "ecg" / "cinc2021" / "HR06001.hea"
    bad = tmp_path / "bad.xml"
    bad.write_text("<?xml version='1.0'?><CardiologyXML><StripData>")
    nan = tmp_path / "nan.npz"
    sig = np.zeros((12, 5000), np.float32)
    sig[:, 10] = np.nan
    np.savez(nan, signal=sig, fs=500.0, age=np.nan)
    rc = main(["read-ecg", "--json", str(bad), str(good), str(nan), str(tmp_path / "none.hea")])
    captured = capsys.readouterr()
    assert rc == 1
    docs = [json.loads(line) for line in captured.out.splitlines()]  # every line valid JSON (no NaN)
    assert [d["file"] for d in docs] == [str(bad), str(good), str(nan), str(tmp_path / "none.hea")]
    assert docs[0]["error"]["type"] == "InputError" and "bad.xml" in docs[0]["error"]["message"]
    assert docs[1]["fs"] == 500 and "error" not in docs[1]
    assert docs[2]["meta"]["age"] is None and "nan_inf" in docs[2]["quality_flags"]
    assert "error" in docs[3]
    assert "NaN" not in captured.out and "Infinity" not in captured.out
    assert "bad.xml" in captured.err and "2 of 4 file(s) could not be read" in captured.err


def test_preprocess_to_never_overwrites(real_data, tmp_path, capsys):
    src = real_data / "ecg" / "cinc2021"
    for d, rec in (("a", "HR06001"), ("b", "HR06002")):  # two different records, both called rec
        (tmp_path / d).mkdir()
        shutil.copy(src / f"{rec}.mat", tmp_path / d / f"{rec}.mat")
        (tmp_path / d / "rec.hea").write_text((src / f"{rec}.hea").read_text().replace(rec, "rec", 1))
    out = tmp_path / "out"
    assert main(["read-ecg", str(tmp_path / "a" / "rec.hea"), str(tmp_path / "b" / "rec.hea"),
                 "--preprocess-to", str(out)]) == 0
    capsys.readouterr()
    written = sorted(p.name for p in out.glob("*.npy"))
    assert written == ["a__rec__hea.npy", "b__rec__hea.npy"]
    assert not np.allclose(np.load(out / written[0]), np.load(out / written[1]))


def test_output_names_never_collide():
    from cardionets.io.naming import output_names

    assert output_names(["x/HR1.hea", "y/HR2.hea"]) == ["HR1", "HR2"]  # unique stems stay short
    assert output_names(["d/a/rec.hea", "d/b/rec.hea", "d/c.xml"]) == ["a__rec__hea", "b__rec__hea", "c"]
    assert output_names(["rec.hea", "rec.xml", "rec.hea"]) == ["rec__hea", "rec__xml", "rec__hea"]
    names = output_names(["a/rec.hea", "b/rec.hea", "a__rec__hea.xml"])
    assert len(set(names)) == 3
