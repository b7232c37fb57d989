"""The C++ library reads and preprocesses ECGs with no Python involved (csrc/tests/test_dsp.cpp,
csrc/tests/test_wfdb.cpp), built by CMake through the cpp_build fixture."""
from __future__ import annotations

import subprocess


def test_cpp_preprocesses_a_record_without_python(cpp_build, real_data, repo_root):
    record = real_data / "ecg" / "cinc2021" / "HR06000.hea"
    res = subprocess.run([str(cpp_build / "test_dsp"), str(record)], capture_output=True, text=True, cwd=repo_root,
                         timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "3 x 12 x 2250" in res.stdout


def test_cpp_wfdb_reader(cpp_build, tmp_path):
    res = subprocess.run([str(cpp_build / "test_wfdb"), str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
