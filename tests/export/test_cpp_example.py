"""examples/cpp/screen_ecg (native WFDB reader + C++ DSP + AOTInductor via libtorch) vs Python `screen`.

Slow: configuring against libtorch, compiling the example (torch headers) and one AOTI compile take
several minutes on a loaded 2-core machine.
"""
from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow


def _build(repo_root):
    import torch

    if shutil.which("cmake") is None:
        pytest.skip("cmake not found")
    build = repo_root / "build" / "cpp-example"
    build.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cmake", "-S", str(repo_root), "-B", str(build), "-DCARDIONETS_PYTHON=OFF",
                    "-DCARDIONETS_TESTS=OFF", "-DCMAKE_BUILD_TYPE=Release",
                    f"-DCMAKE_PREFIX_PATH={torch.utils.cmake_prefix_path}"], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build), "--target", "screen_ecg", "-j2"], check=True, capture_output=True)
    exe = build / "examples" / "cpp" / "screen_ecg"
    assert exe.exists()
    return exe


def test_cpp_example_matches_python_screen(repo_root, export_model_dir, real_data, tmp_path):
    from cardionets.export import export_aoti
    from cardionets.screen import load_screen_model, screen

    exe = _build(repo_root)
    model = load_screen_model(export_model_dir)
    pkg = export_aoti(model, tmp_path / "model.pt2", max_batch=4)
    rec = real_data / "ecg" / "cinc2021" / "HR06000.hea"
    res = subprocess.run([str(exe), str(pkg), str(rec)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    screen([rec], export_model_dir, tmp_path / "py", merge=True, progress=False)
    row = pd.read_parquet(tmp_path / "py" / "screen.parquet").iloc[0]
    assert got["quality_flags"] == int(row["quality_flags"])
    for key, prefix in (("phenotypes", "phenotype."), ("probabilities", "prob.")):
        names = list(got[key])
        assert names == [c[len(prefix):] for c in row.index if c.startswith(prefix)]
        cpp = np.array([got[key][n] for n in names])
        py = row[[prefix + n for n in names]].to_numpy(np.float64)
        assert np.abs(cpp - py).max() <= 1e-4, (key, np.abs(cpp - py).max())
