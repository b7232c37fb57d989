"""`cardionets read-ecg` prints each file's summary and quality flags; errors name the file."""
from __future__ import annotations

import json

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
    assert "missing.hea" in capsys.readouterr().out
